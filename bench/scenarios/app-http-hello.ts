import { TSGI_CLI, tsgiBuilt } from '../lib/exists.js';
import { LOOPBACK } from '../lib/ports.js';
import type { Scenario } from '../lib/types.js';

/**
 * The app server's HTTP path with nothing else in it: `tsgi serve --http-socket` running a
 * hello-world TSGI app, against Node's raw `http` hello world. One process each; tsgi's request log
 * is off (`--disable-logging`) because the Node peer logs nothing. The gap is what tsgi's
 * request → environ → app → response path costs over bare Node.
 */
export const appHttpHello: Scenario = {
  name: 'app-http-hello',
  description: 'hello world over HTTP/1.1: tsgi serve --http-socket + TSGI app vs Node raw http, one process each',
  target: { ratio: 0.85, peer: 'node', text: 'tsgi ≥ 0.85× node' },
  sides: [
    {
      name: 'tsgi',
      path: '/',
      processes: ({ ports: [port] }) => [
        {
          label: 'tsgi serve',
          command: process.execPath,
          args: [TSGI_CLI, 'serve', '--http-socket', `${LOOPBACK}:${port}`, '--app', 'bench/apps/hello-tsgi.ts', '--disable-logging'],
          ready: { kind: 'http', port, path: '/' },
        },
      ],
    },
    {
      name: 'node',
      path: '/',
      processes: ({ ports: [port] }) => [
        {
          label: 'node http',
          command: process.execPath,
          args: ['bench/apps/hello-node.mjs', String(port)],
          ready: { kind: 'http', port, path: '/' },
        },
      ],
    },
  ],
  available: tsgiBuilt,
};
