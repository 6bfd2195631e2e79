/**
 * Whether this code runs as the browser bundle (`{path}/client.js`, built by scripts/bundle-client.mjs,
 * which sets it true). False everywhere else: the packages' builds serve Node too. In the bundle, what
 * only Node needs (setImmediate, a CloseEvent shim, the Node entry's platform defaults) is dead code
 * and drops out; every browser the bundle targets has MessageChannel, CloseEvent, fetch and WebSocket.
 */
export const BROWSER_BUNDLE: boolean = false;
