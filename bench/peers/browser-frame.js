/*
 * One socket of the Chromium paced run (bench/peers/browser.ts), in its own iframe served by the echo
 * server under test (bench/peers/page.ts), so the socket is same-origin with its page. The frame's
 * host (s<j>.bench.test, mapped to 127.0.0.1 by Chromium's --host-resolver-rules) is its own, so each
 * socket gets its own 6-connection HTTP/1.1 pool, as one socket per page would.
 *
 * Query: lib=burrow|sockjs|socketio|native, t=<the library's transport name>, or t=default for the library's
 * own choice (bench:rigs times the open through a faulty proxy; `wsfirst` is Socket.IO with
 * ['websocket', 'polling'], as in bench:fallback); j=<this frame's number>.
 * The frame talks to its top page (browser-top.js) by postMessage only, and only outside the measured
 * window (its state when it changes, once when all its echoes are back, its figures when asked): no
 * driver reaches into the page while it runs. `window.bench` stays for a person with DevTools.
 * Clock: performance.timeOrigin + performance.now(), in epoch ms like the driver's Date.now(): every
 * frame times its own sends and echoes against the same absolute schedule.
 */
(() => {
  const q = new URLSearchParams(location.search);
  const lib = q.get('lib');
  const t = q.get('t');
  const j = Number(q.get('j') ?? -1);
  /** To the top page (cross-origin but same-site: postMessage is the way). */
  const tell = (m) => parent !== window && parent.postMessage({ bench: m.bench, j, ...m }, '*');
  addEventListener('error', (e) => tell({ bench: 'error', message: String(e.message ?? e.error ?? 'error') }));
  addEventListener('unhandledrejection', (e) => tell({ bench: 'error', message: `unhandled rejection: ${String(e.reason)}` }));
  const clock = () => performance.timeOrigin + performance.now();
  const born = performance.now();
  const PAYLOAD = 64;
  const pad = (s) => (s.length >= PAYLOAD ? s : s + '.'.repeat(PAYLOAD - s.length));

  /** What the driver polls and reads. */
  const bench = {
    state: 'opening',
    error: '',
    transport: '',
    /** Message index → ms from its due time to its echo (absent: not back). */
    lat: {},
    /** Message index → ms the send itself came after its due time (this page's own lateness). */
    lag: {},
    closes: 0,
    /** ms from this script's start to the library's open event. */
    openMs: NaN,
    /** ms from this script's start to the first open or failure (a refused native WebSocket's error). */
    settledMs: NaN,
    start,
    stop,
  };
  window.bench = bench;

  let send = () => {};
  let close = () => {};
  let due = () => 0;
  let timer;
  let running = false;

  const report = () =>
    tell({ bench: 'state', state: bench.state, error: bench.error, transport: bench.transport, closes: bench.closes, openMs: bench.openMs, settledMs: bench.settledMs });
  const settle = () => {
    if (Number.isNaN(bench.settledMs)) bench.settledMs = performance.now() - born;
  };
  /** Echoes this frame expects in the run, and how many are back: one message to the top when all are. */
  let expected = Infinity;
  let back = 0;
  const onMessage = (s) => {
    if (typeof s !== 'string' || s.charCodeAt(0) !== 108 /* l */) return;
    const i = Number.parseInt(s.slice(1), 10);
    if (Number.isInteger(i) && !(i in bench.lat)) {
      bench.lat[i] = clock() - due(i);
      if (++back === expected) tell({ bench: 'drained' });
    }
  };
  const opened = (s, c, name) => {
    send = s;
    close = c;
    bench.transport = name();
    bench.openMs = performance.now() - born;
    settle();
    bench.state = 'open';
    report();
  };
  const failed = (why) => {
    bench.closes++;
    settle();
    if (bench.state === 'opening') {
      bench.state = 'failed';
      bench.error = `${why} after ${Math.round(performance.now() - born)} ms`;
    } else if (bench.state === 'open') bench.state = 'closed';
    report();
  };

  try {
    if (lib === 'burrow') {
      // Open timeouts as Socket.IO's and SockJS's `timeout` below: the run measures sessions once open,
      // and N opening at once take a while (Chromium opens one WebSocket at a time per IP and port;
      // on a busy machine the last SSE stream may take longer than the default 1.5 s to say hello).
      const opts = t === 'default' ? { remember: false } : { transports: [t], remember: false, upgrade: false, connectTimeout: 15000, sseTimeout: 15000 };
      const s = new window.Burrow.BurrowSocket(`ws://${location.host}/burrow`, undefined, opts);
      s.onmessage = (e) => onMessage(e.data);
      s.onclose = (e) => failed(`close ${e.code} ${e.reason}`);
      s.onerror = () => {};
      s.onopen = () => opened((d) => s.send(d), () => s.close(), () => s.transport);
    } else if (lib === 'sockjs') {
      const s = new window.SockJS(`${location.origin}/sockjs`, null, t === 'default' ? {} : { transports: [t], timeout: 15000 });
      s.onmessage = (e) => onMessage(e.data);
      s.onclose = (e) => failed(`close ${e.code} ${e.reason}`);
      s.onopen = () => opened((d) => s.send(d), () => s.close(), () => s.transport ?? t);
    } else if (lib === 'socketio') {
      const only = { transports: [t], upgrade: false };
      const wsFirst = { transports: ['websocket', 'polling'], tryAllTransports: true };
      const s = window.io(location.origin, { forceNew: true, reconnection: false, timeout: 15000, ...(t === 'default' ? {} : t === 'wsfirst' ? wsFirst : only) });
      s.on('m', onMessage);
      s.on('connect_error', (e) => failed(`connect_error ${e && e.message}`));
      s.on('disconnect', (r) => failed(`disconnect ${r}`));
      s.once('connect', () => opened((d) => s.emit('m', d), () => s.disconnect(), () => s.io.engine?.transport?.name ?? t));
    } else if (lib === 'native') {
      // The platform WebSocket to Burrow's endpoint, no library: the floor under the others (bench:rigs).
      const s = new WebSocket(`ws://${location.host}/burrow/ws`);
      s.onmessage = (e) => onMessage(e.data);
      s.onerror = settle;
      s.onclose = (e) => failed(`close ${e.code} ${e.reason}`);
      s.onopen = () => opened((d) => s.send(d), () => s.close(), () => 'websocket');
    } else failed(`unknown lib ${lib}`);
  } catch (e) {
    failed(e);
  }

  /**
   * Open loop: message i (all frames together) is due at t0 + i / rate; this frame, number j of n,
   * sends i = j, j + n, j + 2n, ... below `total`, each when it is due, whatever came back.
   */
  function start(t0, rate, n, j, total) {
    due = (i) => t0 + (i * 1000) / rate;
    expected = Math.ceil(Math.max(0, total - j) / n);
    if (back >= expected) tell({ bench: 'drained' });
    running = true;
    let i = j;
    nextDue = i;
    const step = () => {
      timer = undefined;
      const now = clock();
      while (running && i < total && due(i) <= now) {
        bench.lag[i] = now - due(i);
        try {
          send(pad(`l${i}.`));
        } catch (e) {
          bench.error = String(e);
        }
        i += n;
      }
      nextDue = i;
      if (running && i < total) later(step);
    };
    later(step);
  }

  /**
   * The next send's timer, armed from a MessageChannel task rather than from the timer before it: a
   * chain of timers reaches the nesting level (5) past which Chromium lets a timer fire late (leeway,
   * alignment of wake-ups; a few ms at the median here), which would count as latency for everyone.
   */
  const channel = new MessageChannel();
  let armed;
  channel.port1.onmessage = () => {
    if (armed) timer = setTimeout(armed, Math.max(0, due(nextDue) - clock()));
  };
  let nextDue = 0;
  function later(fn) {
    armed = fn;
    channel.port2.postMessage(null);
  }

  addEventListener('message', (e) => {
    const m = e.source === parent ? e.data : undefined;
    if (m?.bench === 'start') start(m.t0, m.rate, m.n, j, m.total);
    else if (m?.bench === 'collect') {
      stop();
      tell({ bench: 'result', lat: bench.lat, lag: bench.lag, closed: bench.state === 'closed' ? 1 : 0 });
    }
  });
  report();

  function stop() {
    running = false;
    armed = undefined;
    clearTimeout(timer);
    try {
      close();
    } catch {
      /* already closed */
    }
  }
})();
