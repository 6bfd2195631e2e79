/**
 * `@burrow/test-support`: test infrastructure shared by the server unit tests, the e2e suites, the
 * benchmarks and the demos. Private, never published; it uses the packages through their public
 * entry points only (DESIGN.md, "Which way imports run"). Processes (ports, temp dirs, redis-server,
 * nginx) are in `@burrow/test-support/procs`.
 */
export { runScriptApp, type Operation, type ScriptAppOptions } from './app.js';
export { startTestServer, type TestServer, type TestServerOptions } from './server.js';
