/**
 * The chat demo's e2e suite, as an app team would write it on @burrow/playwright. Each test runs once
 * per project (websocket, sse, polling); the network tests put the page behind a hostile network and
 * check where it ended up and that people can still talk.
 */
import { type Page } from '@playwright/test';
import { expectTransport, installBurrowHook, NETWORK_MODES, planBehind, restrictNetwork } from '@burrow/playwright';
import { cutTransports } from '@burrow/server/testing';
import { expect, test } from './fixtures.js';

/** Opens the chat as `name` and waits until it is connected. */
async function join(page: Page, name: string): Promise<void> {
  await page.goto('/');
  await expect(page.locator('#state')).toHaveAttribute('data-state', 'open');
  await page.locator('#name').fill(name);
  await page.locator('#name').dispatchEvent('change');
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
        await join(page, 'alice');
        await expectTransport(page, plan!.expected);
        await expect(page.locator('#transport')).toHaveText(plan!.expected);
        if (mode === 'idle-cut' || mode === 'mid-stream-cut') {
          // The network really cut something before the exchange below has to cross it.
          await expect.poll(() => net.cuts, { intervals: [50, 100, 200] }).toBeGreaterThan(0);
        } else {
          expect(net.blocked + net.held).toBeGreaterThan(0);
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
  // A polling session has nothing to cut between two polls: cut until a held poll was among them (it
  // was >= 0 on polling, which could never fail).
  await expect.poll(() => cutTransports(chat.burrow), { intervals: [20, 50, 100] }).toBeGreaterThan(0);
  await say(page, 'after', [page]);
  await expectTransport(page, burrowTransport as 'websocket');
  await expect(page.locator('#state')).toHaveAttribute('data-state', 'open');
});
