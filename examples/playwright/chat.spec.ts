/**
 * The chat demo's e2e suite, as an app team would write it on @burrow/playwright. Each test runs once
 * per project (websocket, sse, polling); the network tests put the page behind a hostile network and
 * check where it ended up and that people can still talk.
 */
import { type Page } from '@playwright/test';
import { expectTransport, installBurrowHook, NETWORK_MODES, type NetworkMode, type NetworkRestriction, planBehind, restrictNetwork } from '@burrow/playwright';
import { cutTransports } from '@burrow/server/testing';
import { expect, recordWebSockets, type SocketRecord, test, webSockets } from './fixtures.js';

/** Opens the chat as `name` and waits until it is connected. */
async function join(page: Page, name: string): Promise<void> {
  await page.goto('/');
  await expect(page.locator('#state')).toHaveAttribute('data-state', 'open');
  await page.locator('#name').fill(name);
  await page.locator('#name').dispatchEvent('change');
}

/**
 * What `mode` did to the page's WebSockets, as the chat sees them, and to its SSE:
 * - ws-refused: every WebSocket closed by the network, never opened;
 * - ws-blackhole: never opened, and still CONNECTING or given up by the page itself, never closed by
 *   the network;
 * - ws-silent: opened, and not one message arrived;
 * - sse-buffered: SSE responses held, and upgrades refused as ws-refused.
 */
async function expectSignature(page: Page, mode: NetworkMode, net: NetworkRestriction): Promise<void> {
  const all = (check: (s: SocketRecord) => boolean) => async () => {
    const list = await webSockets(page);
    return list.length > 0 && list.every(check) ? 'yes' : JSON.stringify(list);
  };
  const opts = { intervals: [50, 100, 200] };
  const refused = (s: SocketRecord) => !s.opened && s.closed !== null && !s.closed.byClient;
  if (mode === 'ws-refused') {
    expect(net.blocked).toBeGreaterThan(0);
    await expect.poll(all(refused), { message: 'every WebSocket refused by the network', ...opts }).toBe('yes');
  } else if (mode === 'ws-blackhole') {
    expect(net.blocked).toBeGreaterThan(0);
    expect(await all((s) => !s.opened && (s.readyState === 0 || s.closeCalled) && !(s.closed && !s.closed.byClient))(), 'every WebSocket unanswered').toBe('yes');
  } else if (mode === 'ws-silent') {
    expect(net.blocked).toBeGreaterThan(0);
    await expect.poll(all((s) => s.opened && s.messages === 0), { message: 'every WebSocket opened and got nothing', ...opts }).toBe('yes');
  } else if (mode === 'sse-buffered') {
    expect(net.held).toBeGreaterThan(0);
    await expect.poll(all(refused), { message: 'every WebSocket refused by the network', ...opts }).toBe('yes');
  } else {
    throw new Error(`no signature for ${mode}`);
  }
}

/** `from` says `text`; it must show up on every page in `to`. */
async function say(from: Page, text: string, to: Page[]): Promise<void> {
  await from.locator('#text').fill(text);
  await from.locator('#send').click();
  for (const p of to) await expect(p.locator('#log li', { hasText: text })).toHaveCount(1);
}

test('two people chat on the project transport', async ({ context, burrowTransport }) => {
  const [alice, bob] = [await context.newPage(), await context.newPage()];
  await Promise.all([join(alice, 'alice'), join(bob, 'bob')]);
  for (const p of [alice, bob]) {
    await expectTransport(p, burrowTransport as 'websocket');
    // The page's own indicator agrees with the socket.
    await expect(p.locator('#transport')).toHaveText(burrowTransport);
  }
  await say(alice, 'hi bob', [alice, bob]);
  await say(bob, 'hi alice', [alice, bob]);
});

test.describe('behind a hostile network', () => {
  for (const mode of NETWORK_MODES) {
    test.describe(mode, () => {
      // Each mode runs in the projects where it shows something (see planBehind): a network that
      // refuses WebSocket runs in the websocket project, unpinned so the chat can fall back. Skipped
      // before any page is made: the condition reads only the project's option.
      test.skip(({ burrowTransport }) => !planBehind(mode, burrowTransport), `${mode} does not touch this transport`);
      test('people can still talk', async ({ page, burrowTransport }) => {
        const plan = planBehind(mode, burrowTransport);
        if (plan!.hook) await installBurrowHook(page, plan!.hook);
        // Fast idle cuts, so the test meets some; a few mid-stream cuts.
        const net = await restrictNetwork(page, mode, { idleSeconds: 0.5, cutAfter: 3 });
        await recordWebSockets(page);
        await join(page, 'alice');
        await expectTransport(page, plan!.expected);
        await expect(page.locator('#transport')).toHaveText(plan!.expected);
        if (mode === 'idle-cut' || mode === 'mid-stream-cut') {
          // The network really cut something before the exchange below has to cross it.
          await expect.poll(() => net.cuts, { intervals: [50, 100, 200] }).toBeGreaterThan(0);
        } else {
          // The network did what its mode says, and not what another mode does.
          await expectSignature(page, mode, net);
        }
        // Messages go out through the restricted network and come back as the server's broadcast.
        await say(page, 'through the bad network', [page]);
        await say(page, 'still here', [page]);
        await expectTransport(page, plan!.expected);
        await expect(page.locator('#state')).toHaveAttribute('data-state', 'open');
      });
    });
  }
});

test('the server drops every connection mid-chat and nobody notices', async ({ page, chat, burrowTransport }) => {
  await join(page, 'alice');
  await say(page, 'before', [page]);
  const sessionId = () => page.evaluate(() => (window as unknown as { chatSocket: { sessionId: string } }).chatSocket.sessionId);
  const before = await sessionId();
  expect(before).toBeTruthy();
  // A polling session has nothing to cut between two polls: cut until a held poll was among them (it
  // was >= 0 on polling, which could never fail).
  await expect.poll(() => cutTransports(chat.burrow), { intervals: [20, 50, 100] }).toBeGreaterThan(0);
  await say(page, 'after', [page]);
  await expectTransport(page, burrowTransport as 'websocket');
  await expect(page.locator('#state')).toHaveAttribute('data-state', 'open');
  // Nobody noticed: the same session carried on (a lost one would rejoin, as a new session, and say so).
  expect(await sessionId()).toBe(before);
  await expect(page.locator('#log li', { hasText: 'connection lost' })).toHaveCount(0);
  await expect(page.locator('#log li', { hasText: /^connected$/ })).toHaveCount(1);
});
