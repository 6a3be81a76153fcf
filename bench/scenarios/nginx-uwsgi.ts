import { nodeHttp, nodeHttpCluster, tsgiCanRun, tsgiServe } from '../lib/backends.js';
import { behindNginx, nginxAvailable } from '../lib/nginx.js';
import type { Scenario } from '../lib/types.js';

/**
 * Real nginx (one worker) in front of `tsgi serve --socket`, against the same nginx in front of
 * Node's raw `http` through its default `proxy_pass`. nginx 1.22 opens a new upstream connection
 * for every uwsgi request, and its default proxy_pass (HTTP/1.0, `Connection: close`) does the
 * same, so both sides pay a connection per request: the comparison is the protocol and the server,
 * not connection reuse. Same hello app, same number of backend processes (`--processes`).
 *
 * The target is against `node-cluster-rr`, the peer issue #3 names ("a Node raw http cluster"):
 * the same app as a `cluster` with Node's default round-robin scheduling (what PM2's cluster mode
 * runs), where the primary hands every new connection to a worker; with a connection per request
 * that hand-off is the largest cost, and it is what a user moving from such a setup gains.
 * `node` is for information: one plain process (workers accepting directly, `none`, when
 * `--processes` > 1), Node's best case, which pays the same per-connection cost as tsgi.
 */
export const nginxUwsgi: Scenario = {
  name: 'nginx-uwsgi',
  description: 'nginx → tsgi serve --socket (uwsgi, a connection per request) vs nginx → Node raw http (default proxy_pass, a connection per request)',
  target: { ratio: 1.8, peer: 'node-cluster-rr', text: 'tsgi ≥ 1.8× node cluster' },
  sides: [
    behindNginx('tsgi', { pass: 'uwsgi', backend: (listen, ctx) => tsgiServe('uwsgi', listen, ctx.processes) }),
    behindNginx('node-cluster-rr', {
      pass: 'http',
      backend: (listen, ctx) => nodeHttpCluster(listen, ctx.processes, 'rr'),
    }),
    behindNginx('node', { pass: 'http', backend: (listen, ctx) => nodeHttp(listen, ctx.processes, 'none') }),
  ],
  async available(params) {
    const nginx = await nginxAvailable();
    return nginx === true ? tsgiCanRun(params) : nginx;
  },
};

