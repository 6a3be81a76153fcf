// The least a Node reverse proxy does, as an information peer of the proxy-http scenario:
// node:http's server in front, node:http's client behind with a keep-alive Agent holding up to
// KEEPALIVE sockets (nginx's upstream `keepalive`), headers and body passed through as they are.
// No routing, no header rewriting, no logs: the floor a proxy written in Node starts from.
// Usage: node bench/apps/proxy-node.mjs PORT BACKEND_PORT [WORKERS] [KEEPALIVE]
import cluster from 'node:cluster';
import { Agent, createServer, request } from 'node:http';

const [port, backendPort, workers, keepalive] = [2, 3, 4, 5].map((i, n) => Number(process.argv[i] ?? [0, 0, 1, 32][n]));
if (![port, backendPort, workers, keepalive].every((v) => Number.isInteger(v) && v > 0)) {
  console.error('usage: node bench/apps/proxy-node.mjs PORT BACKEND_PORT [WORKERS] [KEEPALIVE]');
  process.exit(2);
}
const host = '127.0.0.1';

if (workers > 1 && cluster.isPrimary) {
  for (let i = 0; i < workers; i++) cluster.fork();
  cluster.on('exit', () => process.exit(1));
  process.on('SIGTERM', () => {
    cluster.removeAllListeners('exit');
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGTERM');
    process.exit(0);
  });
} else {
  const agent = new Agent({ keepAlive: true, maxFreeSockets: keepalive });
  createServer((req, res) => {
    const upstream = request({ host, port: backendPort, method: req.method, path: req.url, headers: req.headers, agent }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(upstream);
  }).listen(port, host);
  process.on('SIGTERM', () => process.exit(0));
}
