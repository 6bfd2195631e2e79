/**
 * One node of the cluster demo: the chat of examples/chat on RedisStore. Started by start.ts with
 * --name, --port, --redis and --prefix; prints {"ready": port} when listening.
 */
import { RedisStore } from '@burrow/server/redis';

type StartChat = (o: { port: number; host: string; burrowOptions: object; node: string }) => Promise<{ url: string; close(): Promise<void> }>;
const appModule = '../chat/app.mjs';
const { startChat } = (await import(appModule)) as { startChat: StartChat };

const args = new Map(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=') as [string, string]));
const store = new RedisStore({ redis: args.get('redis') ?? 'redis://127.0.0.1:6379', prefix: args.get('prefix') ?? 'burrow-chat:' });
const chat = await startChat({ port: Number(args.get('port') ?? 0), host: '127.0.0.1', burrowOptions: { store }, node: args.get('name') ?? 'node' });
process.stdout.write(JSON.stringify({ ready: Number(new URL(chat.url).port), node: args.get('name') }) + '\n');
const stop = async () => {
  await chat.close();
  await store.close?.();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
// start.ts holds our stdin open (a pipe); when it goes away, even by SIGKILL, so do we.
if (!process.stdin.isTTY) {
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('error', () => process.exit(0));
  process.stdin.resume();
}
