// `npm start`: the chat demo on the in-memory store at http://127.0.0.1:3000 (PORT=8080 npm start to
// use another port).
import { startChat } from './app.mjs';

const port = Number(process.env.PORT || 3000);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`PORT must be a port number (0-65535), not "${process.env.PORT}"`);
  process.exit(1);
}
let chat;
try {
  chat = await startChat({ port });
} catch (err) {
  if (err?.code === 'EADDRINUSE') {
    console.error(`Port ${port} is already in use. Start the demo on another one: PORT=${port + 1} npm start`);
    process.exit(1);
  }
  throw err;
}
console.log(`Burrow chat demo: ${chat.url}  (force a transport: ${chat.url}/?transport=sse or ?transport=polling)`);
const stop = async () => {
  await chat.close();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
