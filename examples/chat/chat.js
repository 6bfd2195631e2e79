// The chat page's script: plain WebSocket-style code on BurrowSocket.
import { BurrowSocket } from '/burrow/client.js';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const TRANSPORTS = ['websocket', 'sse', 'polling'];
const asked = params.get('transport');
// Only a transport the client knows (any case): anything else (`ws`, a typo) would leave the socket
// with no transport to try, reconnecting for ever. It is said on the page and ignored.
const forced = asked ? TRANSPORTS.find((t) => t === asked.trim().toLowerCase()) : undefined;
$('force').value = forced ?? '';
$('force').addEventListener('change', (e) => {
  const u = new URL(location.href);
  if (e.target.value) u.searchParams.set('transport', e.target.value); else u.searchParams.delete('transport');
  location.href = u.href;
});

const savedName = localStorage.getItem('burrow-chat-name') ?? '';
$('name').value = savedName;

function line(parts) {
  const li = document.createElement('li');
  for (const [cls, text] of parts) {
    const span = document.createElement('span');
    span.className = cls;
    span.textContent = text; // user input is text, never HTML
    li.append(span);
  }
  $('log').append(li);
  $('log').scrollTop = $('log').scrollHeight;
}
const notice = (text) => line([['notice', text]]);
if (asked && !forced) notice(`unknown transport "${asked}" (use websocket, sse or polling): using auto`);
const setState = (state) => { $('state').dataset.state = state; $('state-text').textContent = state; };

const url = new URL('/burrow', location.href);
const options = forced ? { transports: [forced] } : {};
let socket;
let named = false;
/** Delay before opening a new session after the last one ended (doubles up to 8 s, reset on open). */
let rejoinDelay = 250;

function showTransport() {
  $('transport').textContent = socket.transport || '…';
  document.body.dataset.transport = socket.transport;
}

/**
 * "served by": the nodes that said they carry this session (a `node` message on each attach, see
 * app.mjs). A WebSocket or SSE stream is on one node: the latest. Polling behind a round-robin
 * balancer sends each poll to the next node: every node it has been polled on since it went polling.
 */
let servedBy = [];
function showNode(msg) {
  if (msg) servedBy = [...servedBy.filter((m) => m.transport === msg.transport && m.node !== msg.node), msg];
  const last = servedBy[servedBy.length - 1];
  $('stat-node').textContent = !last ? '–' : last.transport === 'polling' ? servedBy.map((m) => m.node).sort().join(', ') : last.node;
}

function hello() {
  const name = $('name').value.trim();
  if (!name || socket.readyState !== BurrowSocket.OPEN) return;
  localStorage.setItem('burrow-chat-name', name);
  socket.send(JSON.stringify({ type: 'hello', name }));
  named = true;
}

/**
 * One BurrowSocket per session. Transport switches and short outages happen inside it; when the
 * session itself ends (the server restarted and forgot it: 4001, lost its store: 4006, or was
 * unreachable past the resume window: 1006), the page joins again with a new one.
 */
function connect() {
  const s = new BurrowSocket(url, [], options);
  socket = s;
  window.chatSocket = s; // for the e2e tests
  named = false;
  servedBy = [];
  showNode();
  // A socket that is no longer the page's (left behind by a rejoin) has nothing more to say.
  const current = (fn) => (e) => {
    if (s === socket) fn(e);
  };
  s.addEventListener('transport', current(showTransport));
  s.addEventListener('reconnecting', current(() => setState('reconnecting')));
  s.addEventListener('reconnected', current(() => setState('open')));
  s.onopen = current(() => {
    rejoinDelay = 250;
    setState('open');
    showTransport();
    $('send').disabled = false;
    notice('connected');
    if ($('name').value.trim()) hello();
  });
  s.onmessage = current((e) => {
    const msg = JSON.parse(e.data);
    if (msg.type === 'node') showNode(msg);
    else if (msg.type === 'say') {
      const t = new Date(msg.at).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
      line([['name', msg.name], ['text', msg.text], ['time', t]]);
    } else if (msg.type === 'joined') notice(`${msg.name} joined · ${msg.online} online`);
    else if (msg.type === 'left') notice(`${msg.name} left · ${msg.online} online`);
    else if (msg.type === 'welcome') notice(`${msg.online} online`);
  });
  s.onclose = current((e) => {
    $('send').disabled = true;
    if (leaving || e.code === 1000) {
      setState('closed');
      notice(`disconnected (${e.code}${e.reason ? ': ' + e.reason : ''})`);
      return;
    }
    setState('reconnecting');
    notice(`connection lost (${e.code}${e.reason ? ': ' + e.reason : ''}) — rejoining…`);
    setTimeout(connect, rejoinDelay);
    rejoinDelay = Math.min(rejoinDelay * 2, 8000);
  });
}

// Leaving the page ends the session at once, so the others' online count is right (not a minute late).
let leaving = false;
addEventListener('pagehide', () => {
  leaving = true;
  socket.close(1000, 'page closed');
});
// Back (or forward) to this page from the browser's back/forward cache: the page is as it was left,
// its session closed by pagehide. Join again with a new one.
addEventListener('pageshow', (e) => {
  if (!e.persisted) return;
  leaving = false;
  rejoinDelay = 250;
  $('send').disabled = true;
  setState('connecting');
  $('transport').textContent = '…';
  notice('back on the page — rejoining…');
  connect();
});

connect();
$('name').addEventListener('change', hello);
$('form').addEventListener('submit', (e) => {
  e.preventDefault();
  const text = $('text').value;
  if (!text.trim()) return;
  if (!named) {
    if (!$('name').value.trim()) $('name').value = 'guest-' + Math.random().toString(36).slice(2, 6);
    hello();
  }
  socket.send(JSON.stringify({ type: 'say', text }));
  $('text').value = '';
});

// The live panel. "served by": the node that carries this page's session, as that node tells the
// session itself (a `node` message, see app.mjs). The counts: sessions per transport and messages per
// second on whichever node answers GET /stats (behind a round-robin balancer, any of them), named.
async function refreshStats() {
  try {
    const res = await fetch('/stats', { cache: 'no-store' });
    if (!res.ok) return;
    const s = await res.json();
    $('stats-node').textContent = s.node ?? '–';
    for (const t of TRANSPORTS) $(`stat-${t}`).textContent = s.sessions ? String(s.sessions[t] ?? 0) : '–';
    $('stat-rate').textContent = String(s.messagesPerSecond ?? 0);
  } catch {
    // The server is away: keep the last numbers.
  }
}
refreshStats();
setInterval(refreshStats, 2000);
