import { nodeHttp, tsgiCanRun, tsgiServe } from '../lib/backends.js';
import { behindNginx, nginxAvailable, UPSTREAM_KEEPALIVE } from '../lib/nginx.js';
import type { Scenario } from '../lib/types.js';

/**
 * Real nginx (one worker) in front of `tsgi serve --fastcgi-socket` with `fastcgi_keep_conn on`
 * and an upstream `keepalive`, against the same nginx in front of Node's raw `http` with upstream
 * keepalive (`proxy_http_version 1.1`, `Connection ""`). Both sides reuse their upstream
 * connections: the comparison is FastCGI framing + tsgi against HTTP/1.1 + Node's `http`.
 *
 * `tsgi-http` is for information: nginx → `tsgi serve --http-socket` with the same upstream
 * keepalive as `node`, the third way to put tsgi behind nginx with reused connections, measured
 * in the same run so that docs/protocols.md can compare FastCGI and HTTP directly.
 */
export const nginxFastcgiKeepalive: Scenario = {
  name: 'nginx-fastcgi-keepalive',
  description:
    `nginx → tsgi serve --fastcgi-socket (fastcgi_keep_conn on, keepalive ${UPSTREAM_KEEPALIVE}) ` +
    `vs nginx → Node raw http (HTTP/1.1, keepalive ${UPSTREAM_KEEPALIVE})`,
  target: { ratio: 1.0, peer: 'node', text: 'tsgi ≥ 1.0× node' },
  sides: [
    behindNginx('tsgi', {
      pass: 'fastcgi-keepalive',
      backend: (listen, ctx) => tsgiServe('fastcgi', listen, ctx.processes),
    }),
    // Persistent connections: Node's default scheduling spreads them over the workers evenly.
    behindNginx('node', { pass: 'http-keepalive', backend: (listen, ctx) => nodeHttp(listen, ctx.processes, 'rr') }),
    behindNginx('tsgi-http', {
      pass: 'http-keepalive',
      backend: (listen, ctx) => tsgiServe('http', listen, ctx.processes),
    }),
  ],
  async available(params) {
    const nginx = await nginxAvailable();
    return nginx === true ? tsgiCanRun(params) : nginx;
  },
};
