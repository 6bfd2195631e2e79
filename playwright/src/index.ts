/**
 * @packageDocumentation
 * `@burrow/playwright`: run an app's Playwright tests over WebSocket, SSE and long polling, and behind
 * hostile networks, with the app's code unchanged and no proxy to install.
 *
 * - {@link test} / {@link burrowProjects}: a `burrowTransport` option and one project per transport.
 * - {@link installBurrowHook}: the client's test hook, for pages outside the `test` fixture.
 * - {@link restrictNetwork}: WebSocket refused, black-holed or silent, SSE buffered, idle and mid-stream cuts.
 * - {@link waitForBurrow} / {@link expectTransport}: what the page's BurrowSocket is on.
 *
 * Server side, `cutTransports(burrow)` of `@burrow/server/testing` drops every live transport.
 */
export { burrowProjects, expect, test, type BurrowFixtures, type BurrowOptions, type BurrowProject } from './fixtures.js';
export { BURROW_TRANSPORTS, installBurrowHook, pinTransport, type BurrowTestHook, type BurrowTransport } from './hook.js';
export { currentTransport, expectTransport, waitForBurrow, type BurrowWaitOptions } from './inspect.js';
export { recordWebSockets, type SocketRecord, webSockets } from './sockets.js';
export {
  NETWORK_MODES,
  restrictNetwork,
  planBehind,
  type NetworkMode,
  type NetworkPlan,
  type NetworkRestriction,
  type RestrictNetworkOptions,
} from './network.js';
