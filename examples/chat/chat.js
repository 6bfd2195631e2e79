// The chat page's script: plain WebSocket-style code on BurrowSocket.
import { BurrowSocket } from '/burrow/client.js';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const forced = params.get('transport');
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
const setState = (state) => { $('state').dataset.state = state; $('state-text').textContent = state; };

const url = new URL('/burrow', location.href);
const socket = new BurrowSocket(url, [], forced ? { transports: [forced] } : {});
window.chatSocket = socket; // for the e2e tests
const showTransport = () => { $('transport').textContent = socket.transport || '…'; document.body.dataset.transport = socket.transport; };
socket.addEventListener('transport', showTransport);

let named = false;
function hello() {
  const name = $('name').value.trim();
  if (!name || socket.readyState !== BurrowSocket.OPEN) return;
  localStorage.setItem('burrow-chat-name', name);
  socket.send(JSON.stringify({ type: 'hello', name }));
  named = true;
}
socket.onopen = () => {
  setState('open');
  showTransport();
  $('send').disabled = false;
  notice('connected');
  if ($('name').value.trim()) hello();
};
socket.onmessage = (e) => {
  const msg = JSON.parse(e.data);
  if (msg.type === 'say') {
    const t = new Date(msg.at).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
    line([['name', msg.name], ['text', msg.text], ['time', t]]);
  } else if (msg.type === 'joined') notice(`${msg.name} joined · ${msg.online} online`);
  else if (msg.type === 'left') notice(`${msg.name} left · ${msg.online} online`);
  else if (msg.type === 'welcome') notice(`${msg.online} online`);
};
socket.onclose = (e) => {
  setState('closed');
  $('send').disabled = true;
  notice(`disconnected (${e.code}${e.reason ? ': ' + e.reason : ''}) — reload to reconnect`);
};
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

// The live panel: sessions per transport on this node and messages per second (GET /stats).
async function refreshStats() {
  try {
    const res = await fetch('/stats', { cache: 'no-store' });
    if (!res.ok) return;
    const s = await res.json();
    for (const t of ['websocket', 'sse', 'polling']) $(`stat-${t}`).textContent = String(s.sessions?.[t] ?? 0);
    $('stat-rate').textContent = String(s.messagesPerSecond ?? 0);
  } catch {
    // The server is away: keep the last numbers.
  }
}
refreshStats();
setInterval(refreshStats, 2000);
