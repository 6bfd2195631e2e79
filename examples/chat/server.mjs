// `npm start`: the chat demo on the in-memory store at http://localhost:3000 (PORT to change it).
import { startChat } from './app.mjs';

const chat = await startChat({ port: Number(process.env.PORT ?? 3000) });
console.log(`Burrow chat demo: ${chat.url}  (force a transport: ${chat.url}/?transport=sse or ?transport=polling)`);
const stop = async () => {
  await chat.close();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
