/**
 * `limits.maxSendsInFlight`: a session's send POSTs are counted from their proof to their answer,
 * and one past the limit is refused before its body is read. Each may hold up to `maxBatchBytes`
 * while it is read and queued: without a bound, a client with a valid token could make one node
 * hold as many bodies as it opens connections (Engine.IO refuses any overlap of its data POSTs).
 */
import assert from 'node:assert/strict';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { test } from 'vitest';
import { startTestServer } from '@burrow/test-support';
import { postJson } from './helpers.js';

/** A POST whose body is sent in two parts: its headers and a first part now, the rest on `finish()`. */
function heldPost(url: string, body: string): { finish(): void; answer: Promise<{ status: number; json: { ack?: number; error?: string } }> } {
  const req = httpRequest(url, { method: 'POST', headers: { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) } });
  const answer = new Promise<{ status: number; json: { ack?: number; error?: string } }>((resolve, reject) => {
    req.on('error', reject);
    req.on('response', (res: IncomingMessage) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) as { ack?: number; error?: string } }));
    });
  });
  req.write(body.slice(0, 5));
  return { finish: () => void req.end(body.slice(5)), answer };
}

test('a send POST past maxSendsInFlight of its session is refused 503 before its body is read; others and later ones are served', async () => {
  const srv = await startTestServer({ limits: { maxSendsInFlight: 3 } });
  const got: string[] = [];
  srv.burrow.on('message', (s, d) => got.push(`${s.id.slice(0, 4)}:${String(d)}`));
  try {
    const { json: a } = await postJson(`${srv.http}/sessions`, { v: 1 });
    const { json: b } = await postJson(`${srv.http}/sessions`, { v: 1 });
    const sendUrl = (o: { sid: string; token: string }) => `${srv.http}/sessions/${o.sid}/send?token=${o.token}`;
    // Three POSTs of session a, proven (their headers are in) and still reading their bodies.
    let proven = 0;
    let allProven!: () => void;
    const three = new Promise<void>((resolve) => (allProven = resolve));
    srv.server.on('request', (req: IncomingMessage) => {
      if (req.url?.includes(`/${a.sid}/send`) && ++proven === 3) allProven();
    });
    const held = [0, 1, 2].map(() => heldPost(sendUrl(a), '{"frames":[]}'));
    await three;

    const refused = await postJson(sendUrl(a), { frames: [{ t: 'd', seq: 1, text: 'refused' }] });
    assert.equal(refused.status, 503);
    assert.equal(refused.json.error, 'overloaded');
    assert.equal(refused.headers.get('retry-after'), '1');
    // Another session is untouched.
    const other = await postJson(sendUrl(b), { frames: [{ t: 'd', seq: 1, text: 'b1' }] });
    assert.equal(other.status, 200);

    for (const h of held) h.finish();
    for (const h of held) assert.deepEqual(await h.answer, { status: 200, json: { ack: 0 } });
    // Answered, they count no more: the refused message goes again and is applied once.
    const again = await postJson(sendUrl(a), { frames: [{ t: 'd', seq: 1, text: 'a1' }] });
    assert.equal(again.status, 200);
    assert.equal(again.json.ack, 1);
    assert.deepEqual(got, [`${b.sid.slice(0, 4)}:b1`, `${a.sid.slice(0, 4)}:a1`]);
  } finally {
    await srv.close();
  }
});
