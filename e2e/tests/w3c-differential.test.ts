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

describe('BurrowSocket behaves like Chromium WebSocket', () => {
  let servers: EchoServers;
  let browser: Browser;
  let page: Page;
  const native = new Map<string, unknown>();

  beforeAll(async () => {
    servers = await startEchoServers();
    browser = await launchChromium();
    page = await browser.newPage();
    await page.goto(servers.origin + '/');
    await page.waitForFunction(() => typeof (window as any).Burrow?.BurrowSocket === 'function');
  });
  afterAll(async () => {
    await browser?.close();
    await servers?.close();
  });

  const run = (kind: 'native' | 'burrow', name: string, transport = 'websocket') =>
    page.evaluate(([k, n, u, t]) => (window as any).runScenario(k, n, u, t), [kind, name, servers.urls, transport] as const);

  for (const name of scenarios) {
    it(`native trace: ${name}`, async () => {
      const trace = await run('native', name);
      assert.ok(Array.isArray(trace) && trace.length > 0);
      native.set(name, trace);
    });
  }

  for (const transport of transports) {
    describe(`over ${transport}`, () => {
      for (const name of scenarios) {
        it(name, async () => {
          const expected = native.get(name);
          assert.ok(expected, 'native trace recorded');
          assert.deepEqual(await run('burrow', name, transport), expected);
        });
      }
    });
  }
});
