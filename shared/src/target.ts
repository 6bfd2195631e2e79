/**
 * Whether this code runs in the browser client's bundle (scripts/bundle-client.mjs sets it true).
 * False everywhere else, the server included: what only a server's throughput needs is dead code in
 * the bundle. Not exported from the package: the bundle build alone sets it.
 */
export const BROWSER_BUNDLE: boolean = false;
