/**
 * The drop-in claim, proved differentially: every scenario runs in Chromium against its own
 * `WebSocket` and against `BurrowSocket` forced onto each transport, and what the app can observe
 * (readyState steps, event order, exception names, close codes 1005/1006, binary types) must match.
 */
import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from './fixtures/browser.js';
import { type EchoServers, startEchoServers } from './fixtures/echo-servers.js';

const transports = ['websocket', 'sse', 'polling'] as const;
const scenarios = [
  'echoAndClose', 'closeWithoutCode', 'serverCloses', 'closeWhileConnecting', 'exceptions',
  'binary', 'sendAfterClose', 'subprotocols', 'unreachable', 'handlers',
];

/** What the scenarios page (fixtures/w3c-scenarios.js) puts on `window`. */
type ScenarioWindow = {
  Burrow?: { BurrowSocket?: unknown };
  runScenario(kind: 'native' | 'burrow', name: string, urls: EchoServers['urls'], transport: string): Promise<unknown>;
};

describe('BurrowSocket behaves like Chromium WebSocket', () => {
  let servers: EchoServers;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    servers = await startEchoServers();
    browser = await launchChromium();
    page = await browser.newPage();
    await page.goto(servers.origin + '/');
    await page.waitForFunction(() => typeof (window as unknown as ScenarioWindow).Burrow?.BurrowSocket === 'function');
  });
  afterAll(async () => {
    await browser?.close();
    await servers?.close();
  });

  const run = (kind: 'native' | 'burrow', name: string, transport = 'websocket') =>
    page.evaluate(([k, n, u, t]) => (window as unknown as ScenarioWindow).runScenario(k, n, u, t), [kind, name, servers.urls, transport] as const);

  /**
   * Chromium's own trace of a scenario, the reference every transport is held to. Run by whichever
   * test needs it first and kept, so no test depends on another having run (or passed) before it.
   */
  const nativeTraces = new Map<string, Promise<unknown>>();
  const nativeTrace = (name: string): Promise<unknown> => {
    let trace = nativeTraces.get(name);
    if (!trace) nativeTraces.set(name, (trace = run('native', name)));
    return trace;
  };

  it.each(scenarios)('native trace: %s', async (name) => {
    const trace = await nativeTrace(name);
    assert.ok(Array.isArray(trace) && trace.length > 0);
  });

  describe.each(transports)('over %s', (transport) => {
    it.each(scenarios)('%s', async (name) => {
      const expected = await nativeTrace(name);
      assert.ok(Array.isArray(expected) && expected.length > 0, 'native trace recorded');
      assert.deepEqual(await run('burrow', name, transport), expected);
    });
  });
});
