/**
 * The scripted app of the test servers, driven by the client's own messages, so a suite can make the
 * server flood, close or join a room without a control channel of its own:
 *
 *   "flood:N"                     the server sends "s1".."sN", 20 per turn of the event loop, so the
 *                                 flood interleaves with inbound traffic
 *   "cmd:close[:CODE[:REASON]]"   the server closes the session (without a code: close())
 *   "quiet:…"                     recorded by the fixture, not answered
 *   "join:ROOM"                   session.join(ROOM), then "joined:ROOM" to the session
 *   "room:ROOM:TEXT"              burrow.to(ROOM).send(TEXT)
 *   anything else                 echoed: binary as it came, text with `echoPrefix` in front
 *
 * The same app runs in process (startTestServer with `app`) and in every cluster node process.
 */
import type { Burrow, Session } from '@burrow/server';

export type Operation = 'send' | 'close' | 'join' | 'room';

export interface ScriptAppOptions {
  /** Put in front of every text echo ("echo:" for the rig pages). Default: none. */
  echoPrefix?: string;
  /**
   * A send, close or room operation that failed. Default: ignored, because a send to a session that
   * closed mid-flood fails by design; the cluster nodes log them.
   */
  onError?: (what: Operation, session: Session, err: unknown) => void;
}

/** Registers the scripted app's `message` listener on `burrow`. */
export function runScriptApp(burrow: Burrow, options: ScriptAppOptions = {}): void {
  const prefix = options.echoPrefix ?? '';
  const onError = options.onError ?? (() => {});
  burrow.on('message', (session, data) => {
    const failed = (what: Operation) => (err: unknown) => onError(what, session, err);
    if (typeof data !== 'string') {
      session.send(data).catch(failed('send'));
    } else if (data.startsWith('flood:')) {
      const n = Number(data.slice(6));
      let i = 0;
      const slice = (): void => {
        for (let k = 0; k < 20 && i < n; k++) session.send(`s${++i}`).catch(failed('send'));
        if (i < n) setImmediate(slice);
      };
      slice();
    } else if (data === 'cmd:close' || data.startsWith('cmd:close:')) {
      const [, , code, reason] = data.split(':');
      session.close(code ? Number(code) : undefined, reason || undefined).catch(failed('close'));
    } else if (data.startsWith('quiet:')) {
      // recorded only
    } else if (data.startsWith('join:')) {
      const room = data.slice(5);
      session
        .join(room)
        .then(() => session.send(`joined:${room}`))
        .catch(failed('join'));
    } else if (data.startsWith('room:')) {
      const at = data.indexOf(':', 5);
      burrow
        .to(data.slice(5, at))
        .send(data.slice(at + 1))
        .catch(failed('room'));
    } else {
      session.send(prefix + data).catch(failed('send'));
    }
  });
}
