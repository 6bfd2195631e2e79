/**
 * One flood of bench/floods/run.ts, in a process of its own: `attack.ts KIND PORT SECONDS` runs
 * `WIDTH` loops of one hostile input for SECONDS and prints how many it sent. Loopback only, bounded.
 */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';

const [kind = '', portArg = '0', secondsArg = '4'] = process.argv.slice(2);
const port = Number(portArg);
const until = Date.now() + Number(secondsArg) * 1000;
const MADE_UP = 'AAAAAAAAAAAAAAAAAAAAAA';

function open(): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });
}

/** A masked client frame. */
function frame(b0: number, payload: Buffer, declared = payload.length): Buffer {
  const head = declared < 126 ? Buffer.from([b0, 0x80 | declared]) : Buffer.from([b0, 0x80 | 127, 0, 0, 0, 0, 0, 0, 0, 0]);
  if (declared >= 126) head.writeBigUInt64BE(BigInt(declared), 2);
  return Buffer.concat([head, Buffer.alloc(4), payload]);
}

function upgrade(query: string, extra = ''): string {
  return (
    `GET /burrow/ws${query} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`
  );
}

/** Writes `data`, half-closes, and waits for the server to let go. */
async function once_(data: Buffer | string): Promise<void> {
  const s = await open();
  s.on('error', () => {});
  s.resume();
  s.end(data);
  await once(s, 'close');
}

const bad = [frame(0xa1, Buffer.from('x')), frame(0x81, Buffer.from([0xc3, 0x28])), frame(0x82, Buffer.alloc(0), 2 ** 40)];
const big = Buffer.alloc(8 * 1024 * 1024, 0x61);

/** Hostile inputs sent (a ping batch counts once per POST). */
let sent = 0;

const attacks: Record<string, { width: number; one(i: number): Promise<void> }> = {
  // Issue 10 (1): accept-then-close 4001, then a frame ws rejects while it waits for our close.
  'hostile frames on accept-then-close': {
    width: 16,
    one: (i) => once_(Buffer.concat([Buffer.from(upgrade(`?sid=${MADE_UP}&token=x`)), bad[i % bad.length]!])),
  },
  // Issue 10 (2): handshakes ws refuses after Burrow's own checks passed.
  'handshakes ws refuses (orphan class)': {
    width: 16,
    one: (i) => once_(upgrade('', i % 2 ? 'Sec-WebSocket-Protocol: a,,b\r\n' : 'Sec-WebSocket-Protocol: a, a\r\n')),
  },
  // Issue 10 (3): 8 MiB bodies to a made-up id, four at once.
  '8 MiB POSTs to made-up ids': {
    width: 4,
    async one() {
      const s = await open();
      s.on('error', () => {});
      s.resume();
      s.write(`POST /burrow/sessions/${MADE_UP}/send?token=x HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\nContent-Length: ${big.length}\r\n\r\n`);
      s.end(big);
      await once(s, 'close');
    },
  },
  // Issue 10 (4): batches of 4096 pings from sessions whose SSE reader never reads.
  'ping batches, SSE never read': {
    width: 4,
    async one() {
      const hs = await fetch(`http://127.0.0.1:${port}/burrow/sessions`, { method: 'POST', body: '{"v":1}' });
      const { sid, token } = (await hs.json()) as { sid: string; token: string };
      const reader = await open();
      reader.on('error', () => {});
      reader.pause();
      reader.write(`GET /burrow/sessions/${sid}/sse?token=${token}&ack=0 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
      const body = JSON.stringify({ frames: Array.from({ length: 4096 }, () => ({ t: 'ping' })) });
      for (let k = 0; k < 50 && Date.now() < until; k++) {
        const r = await fetch(`http://127.0.0.1:${port}/burrow/sessions/${sid}/send?token=${token}`, { method: 'POST', body });
        await r.arrayBuffer();
        sent++;
      }
      reader.destroy();
    },
  },
};

const attack = attacks[kind];
if (!attack) throw new Error(`unknown flood ${kind}: ${Object.keys(attacks).join(', ')}`);
await Promise.all(
  Array.from({ length: attack.width }, async (_, w) => {
    for (let i = w; Date.now() < until; i += attack.width) {
      if (kind.startsWith('ping')) await attack.one(i).catch(() => {});
      else {
        await attack.one(i).catch(() => {});
        sent++;
      }
    }
  }),
);
process.stdout.write(JSON.stringify({ sent }) + '\n');
