/*
 * The top page of the Chromium paced run (bench/peers/browser.ts), served by the echo server under test
 * (bench/peers/page.ts) as /bench-page/top.html?c=&id=&lib=&t=&n=. It runs the job itself and reports
 * to the driver's collector (`c`, an http://127.0.0.1:port origin) over plain HTTP, so no debugging
 * protocol is attached to the browser while it runs: with Playwright attached, Chromium serialised
 * every WebSocket frame and HTTP request of the page to the driver (the CDP Network domain), which cost
 * more of its CPU than the sockets did.
 *
 * 1. Adds n iframes, frame j on its own host s<j>.bench.test (browser-frame.js: one socket each), and
 *    collects their states by postMessage until every socket opened or failed (bounded).
 * 2. POSTs {states} to c/opened; the driver answers when the run may start: {t0, rate, total, drainMs}.
 * 3. Tells each open frame to start; waits (bounded) until each said all its echoes are back or
 *    drainMs after the last message was due; asks every frame for its figures (bounded).
 * 4. POSTs {got, states, errors} to c/result. The driver then ends the browser.
 * Both POSTs are simple cross-origin requests (text/plain body, no custom header: no preflight); the
 * collector answers with Access-Control-Allow-Origin.
 */
(() => {
  const q = new URLSearchParams(location.search);
  const collector = q.get('c') ?? '';
  const id = q.get('id') ?? '';
  const n = Math.max(1, Math.min(500, Number(q.get('n') ?? 1)));
  const OPEN_MS = 30_000;
  const COLLECT_MS = 5_000;
  const errors = [];
  const addError = (s) => void (errors.length < 5 && errors.push(String(s).slice(0, 200)));
  addEventListener('error', (e) => addError(e.message ?? e.error));
  addEventListener('unhandledrejection', (e) => addError(`unhandled rejection: ${String(e.reason)}`));

  /** Frame j's last reported state, and the frames heard from by kind of message. */
  const states = Array.from({ length: n }, () => undefined);
  const drained = new Set();
  const results = Array.from({ length: n }, () => undefined);
  const frames = [];
  let wake = () => {};
  addEventListener('message', (e) => {
    const m = e.data;
    const j = typeof m?.j === 'number' ? m.j : -1;
    if (!(j >= 0 && j < n) || e.source !== frames[j]?.contentWindow) return;
    if (m.bench === 'state') states[j] = { state: m.state, error: m.error, transport: m.transport, closes: m.closes, openMs: m.openMs };
    else if (m.bench === 'drained') drained.add(j);
    else if (m.bench === 'result') results[j] = { lat: m.lat, lag: m.lag, closed: m.closed };
    else if (m.bench === 'error') addError(`frame ${j}: ${m.message}`);
    wake();
  });
  /** Resolves when `done()` holds (checked on every message from a frame) or at `until` (epoch ms). */
  const until = (done, at) =>
    new Promise((resolve) => {
      const check = () => {
        if (done() || Date.now() >= at) {
          clearTimeout(t);
          wake = () => {};
          resolve();
        }
      };
      const t = setTimeout(check, Math.max(0, at - Date.now()));
      wake = check;
      check();
    });
  const post = async (path, body) => {
    const res = await fetch(`${collector}/${path}?id=${encodeURIComponent(id)}`, { method: 'POST', body: JSON.stringify(body) });
    if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
    return res.json();
  };

  const run = async () => {
    const t0Open = performance.now();
    const assets = encodeURIComponent(location.origin);
    for (let j = 0; j < n; j++) {
      const f = document.createElement('iframe');
      f.src = `http://s${j}.${location.hostname.replace(/^top\./, '')}:${location.port}/bench-page/frame.html?lib=${q.get('lib')}&t=${encodeURIComponent(q.get('t') ?? '')}&j=${j}&assets=${assets}`;
      frames.push(f);
      document.body.appendChild(f);
    }
    await until(() => states.every((s) => s && s.state !== 'opening'), Date.now() + OPEN_MS);
    const openMs = performance.now() - t0Open;
    const live = states.map((s) => s?.state === 'open');
    // Held by the driver until the run may start (it starts the next row's server meanwhile).
    const go = await post('opened', { states, openMs, pageAt: performance.timeOrigin, errors });
    if (!go || typeof go.t0 !== 'number') return;
    for (let j = 0; j < n; j++) if (live[j]) frames[j].contentWindow.postMessage({ bench: 'start', t0: go.t0, rate: go.rate, n, total: go.total }, '*');
    const lastDue = go.t0 + ((go.total - 1) * 1000) / go.rate;
    await until(() => live.every((l, j) => !l || drained.has(j)), lastDue + go.drainMs);
    const tCollect = Date.now();
    for (const f of frames) f.contentWindow?.postMessage({ bench: 'collect' }, '*');
    await until(() => results.every((r, j) => r || !states[j]), tCollect + COLLECT_MS);
    await post('result', { got: results, states, errors, collectMs: Date.now() - tCollect });
  };
  run().catch((e) => post('result', { error: String(e?.message ?? e), states, errors }).catch(() => {}));
})();
