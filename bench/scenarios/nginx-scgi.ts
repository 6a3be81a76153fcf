import { nodeHttp, tsgiCanRun, tsgiServe } from '../lib/backends.js';
import { behindNginx, nginxAvailable } from '../lib/nginx.js';
import type { Scenario } from '../lib/types.js';

/**
 * For reference, no target: nginx-uwsgi with `scgi_pass` in place of `uwsgi_pass`. nginx keeps no
 * SCGI connection alive either, so the peer is the same: Node raw `http` behind nginx's default
 * `proxy_pass`. Read its ratio beside nginx-uwsgi's: the difference is uwsgi vs SCGI framing.
 */
export const nginxScgi: Scenario = {
  name: 'nginx-scgi',
  description: 'reference: nginx → tsgi serve --scgi-socket (a connection per request) vs nginx → Node raw http (default proxy_pass)',
  target: { ratio: null, peer: 'node', text: 'reference (no target)' },
  sides: [
    behindNginx('tsgi', { pass: 'scgi', backend: (listen, ctx) => tsgiServe('scgi', listen, ctx.processes) }),
    behindNginx('node', { pass: 'http', backend: (listen, ctx) => nodeHttp(listen, ctx.processes, 'none') }),
  ],
  async available(params) {
    const nginx = await nginxAvailable();
    return nginx === true ? tsgiCanRun(params) : nginx;
  },
};
