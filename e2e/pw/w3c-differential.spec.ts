/**
 * The drop-in claim, proved differentially (the @playwright/test port of
 * e2e/tests/w3c-differential.test.ts): every scenario runs in Chromium against its own `WebSocket`
 * and against `BurrowSocket` forced onto the project's transport, and what the app can observe
 * (readyState steps, event order, exception names, close codes 1005/1006, binary types) must match.
 * The scenarios force the transport themselves (`transports: [t]`); the page is made in beforeAll,
 * outside the kit's per-test context, so the kit's hook never touches it.
 */
import type { Page } from '@playwright/test';
import type { EchoServers } from '../tests/fixtures/echo-servers.js';
import { expect, test } from './fixtures.js';

const scenarios = [
  'echoAndClose', 'closeWithoutCode', 'serverCloses', 'closeWhileConnecting', 'exceptions',
  'binary', 'sendAfterClose', 'subprotocols', 'unreachable', 'handlers', 'burst',
  'crossRealm', 'cleanCloseBuffered', 'missingArgument', 'documentBase', 'conversions', 'eventShapes', 'sendKinds', 'constructorArgs', 'receiveShapes', 'bufferedAmountDrains', 'serverCloseAfterMessages', 'handlerErrors',
];

/** What the scenarios page (tests/fixtures/w3c-scenarios.js) puts on `window`. */
type ScenarioWindow = {
  Burrow?: { BurrowSocket?: unknown };
  runScenario(kind: 'native' | 'burrow', name: string, urls: EchoServers['urls'], transport: string): Promise<unknown>;
};

// One page per worker, as the vitest suite has: the scenarios open and close their own sockets.
test.describe.configure({ mode: 'serial' });
let page: Page;
test.beforeAll(async ({ browser, echo }) => {
  page = await browser.newPage();
  await page.goto(echo.origin + '/');
  await page.waitForFunction(() => typeof (window as unknown as ScenarioWindow).Burrow?.BurrowSocket === 'function');
});
test.afterAll(async () => {
  await page?.close();
});

const run = (echo: EchoServers, kind: 'native' | 'burrow', name: string, transport: string) =>
  page.evaluate(([k, n, u, t]) => (window as unknown as ScenarioWindow).runScenario(k, n, u, t), [kind, name, echo.urls, transport] as const);

for (const name of scenarios) {
  test(name, async ({ echo, burrowTransport }) => {
    const transport = burrowTransport === 'auto' ? 'websocket' : burrowTransport;
    const expected = await run(echo, 'native', name, transport);
    expect(Array.isArray(expected) && expected.length > 0, 'native trace recorded').toBe(true);
    expect(await run(echo, 'burrow', name, transport)).toEqual(expected);
  });
}
