/**
 * The store part of a request's session proof (`SessionRegistry.resume`): the record, if the token
 * proves it, touched unless it is closed or an abandon of an unclaimed raced session.
 */
import type { SessionRecord, Store } from '../store/store.js';
import { hashToken, tokenProven, tokenShaped } from './ids.js';

type Token = string | null | undefined;
/** The record as it was before the touch (`found`) and after it (`record`). */
type Proven = { found: SessionRecord; record: SessionRecord };

/**
 * The record of `sid` if `token` proves it (`found`: as it was before the touch, `record`: after),
 * or undefined for an unknown session and a wrong token alike. `ttlMs`: the resume window the touch
 * starts; `socket`: the request's, whose earlier proof of the same token skips the hash.
 */
export async function proveRecord(store: Store, ttlMs: number, sid: string, token: Token, claim: boolean, socket: object | undefined): Promise<Proven | undefined> {
  const sync = store.sync;
  if (!sync && store.touchProven) {
    // A networked store proves and touches in one round trip (the touch only for the right token
    // hash); the token is compared with the record's hash here too, in constant time.
    if (!tokenShaped(token)) return undefined;
    const record = await store.touchProven(sid, hashToken(token), ttlMs, claim);
    if (!record || !tokenProven(socket, sid, token, record.tokenHash)) return undefined;
    // A touch changes neither `closed` nor `raced`, all `resume` reads of `found`.
    return { found: record, record };
  }
  if (sync) return proveRecordNow(store, ttlMs, sid, token, claim, socket);
  const found = await store.get(sid);
  if (!found || !tokenProven(socket, sid, token, found.tokenHash)) return undefined;
  const record = untouched(found, claim) ? found : ((await store.touch(sid, ttlMs, true)) ?? found);
  return { found, record };
}

/**
 * {@link proveRecord} within this call on an in-process store ({@link Store.sync}): read and touched
 * in place, no copy until the touch, no promise hop. Undefined on any other store.
 */
export function proveRecordNow(store: Store, ttlMs: number, sid: string, token: Token, claim: boolean, socket: object | undefined): Proven | undefined {
  const sync = store.sync;
  if (!sync) return undefined;
  const found = sync.peekSync(sid);
  if (!found || !tokenProven(socket, sid, token, found.tokenHash)) return undefined;
  const record = untouched(found, claim) ? { ...found } : (sync.touchSync(sid, ttlMs, true) ?? found);
  return { found, record };
}

/**
 * A closed record keeps its short linger; anything else starts a fresh resume window. An abandon
 * (`claim` false) of a raced session must not count as the claim: it reads without touching.
 */
function untouched(found: SessionRecord, claim: boolean): boolean {
  return found.closed !== undefined || (!claim && found.raced === true && found.activity === 0);
}
