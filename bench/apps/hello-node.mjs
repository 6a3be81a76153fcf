// The peer of app-http-hello: Node's raw `http` module answering a hello world, with the same
// status, headers and body as bench/apps/hello-tsgi.ts. One process, no framework: the floor
// that tsgi's own HTTP path is measured against.
// Usage: node bench/apps/hello-node.mjs PORT   (or PORT=... in the environment)
import { createServer } from 'node:http';

const port = Number(process.argv[2] ?? process.env.PORT);
if (!Number.isInteger(port) || port <= 0) {
  console.error('usage: node bench/apps/hello-node.mjs PORT');
  process.exit(2);
}
const host = process.env.HOST ?? '127.0.0.1';

createServer((req, res) => {
  res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': '12' });
  res.end('Hello world\n');
}).listen(port, host);

// The harness ends its servers with SIGTERM; exit at once rather than wait for keep-alive sockets.
process.on('SIGTERM', () => process.exit(0));
