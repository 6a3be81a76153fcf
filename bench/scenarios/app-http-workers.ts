import { LOOPBACK } from '../lib/ports.js';
import { TSGI_CLI, tsgiBuilt } from '../lib/exists.js';
import type { Scenario } from '../lib/types.js';

const WORKERS = 2;

/**
 * Issue #4's scenario: `tsgi serve --http-socket` with a master and 2 workers (sharing the socket
 * the master bound), against a Node `cluster` of 2 raw `http` workers (Node's default
 * round-robin scheduling). Request logging is off on the tsgi side, as Node logs nothing.
 * The master's own RSS is read separately (the table sums the process tree).
 */
export const appHttpWorkers: Scenario = {
  name: 'app-http-workers',
  description: `hello world over HTTP/1.1: tsgi serve --processes ${WORKERS} vs a Node cluster of ${WORKERS} raw http workers`,
  target: { ratio: 0.9, peer: 'node-cluster', text: 'tsgi ≥ 0.9× node cluster' },
  sides: [
    {
      name: 'tsgi',
      path: '/',
      processes: ({ ports: [port] }) => [
        {
          label: `tsgi serve --processes ${WORKERS}`,
          command: process.execPath,
          args: [TSGI_CLI, 'serve', '--http-socket', `${LOOPBACK}:${port}`, '--app', 'bench/apps/hello-tsgi.ts', '--processes', String(WORKERS), '--disable-logging'],
          ready: { kind: 'http', port: port!, path: '/' },
        },
      ],
    },
    {
      name: 'node-cluster',
      path: '/',
      processes: ({ ports: [port] }) => [
        {
          label: `node http cluster (${WORKERS} × rr)`,
          command: process.execPath,
          args: ['bench/apps/hello-node-cluster.mjs', String(port), String(WORKERS)],
          env: { NODE_CLUSTER_SCHED_POLICY: 'rr' },
          ready: { kind: 'http', port: port!, path: '/' },
        },
      ],
    },
  ],
  available: tsgiBuilt,
};
