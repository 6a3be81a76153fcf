// bench/apps/hello-node.mjs as a `cluster` of WORKERS processes: the Node peer of the nginx-*
// scenarios when they run with `--processes N` (N > 1). Same status, headers and body.
// Node reads NODE_CLUSTER_SCHED_POLICY itself: `rr` (its default on Linux) hands every new
// connection through the primary, `none` lets the workers accept on the shared socket.
// Usage: node bench/apps/hello-node-cluster.mjs PORT WORKERS
import cluster from 'node:cluster';
import { createServer } from 'node:http';

const port = Number(process.argv[2] ?? process.env.PORT);
const workers = Number(process.argv[3] ?? process.env.WORKERS ?? 1);
if (!Number.isInteger(port) || port <= 0 || !Number.isInteger(workers) || workers <= 0) {
  console.error('usage: node bench/apps/hello-node-cluster.mjs PORT WORKERS');
  process.exit(2);
}
const host = process.env.HOST ?? '127.0.0.1';

if (cluster.isPrimary) {
  for (let i = 0; i < workers; i++) cluster.fork();
  // A worker that dies makes the figures meaningless: end everything, the harness notices.
  cluster.on('exit', () => process.exit(1));
  process.on('SIGTERM', () => {
    cluster.removeAllListeners('exit');
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGTERM');
    process.exit(0);
  });
} else {
  createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': '12' });
    res.end('Hello world\n');
  }).listen(port, host);
  process.on('SIGTERM', () => process.exit(0));
}
