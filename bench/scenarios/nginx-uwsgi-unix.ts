import { tsgiCanRun, tsgiServe } from '../lib/backends.js';
import { behindNginx, nginxAvailable } from '../lib/nginx.js';
import type { Scenario } from '../lib/types.js';

/**
 * For reference, no target: nginx → `tsgi serve --socket` on a UNIX socket file against the same
 * over loopback TCP. With a connection per request, what a UNIX socket saves (no TCP handshake,
 * no ports, no TIME_WAIT) is the question docs/protocols.md answers with this ratio.
 */
export const nginxUwsgiUnix: Scenario = {
  name: 'nginx-uwsgi-unix',
  description: 'reference: nginx → tsgi serve --socket on a UNIX socket vs the same on loopback TCP (uwsgi both)',
  target: { ratio: null, peer: 'tsgi-tcp', text: 'reference (no target)' },
  sides: [
    behindNginx('tsgi-unix', {
      pass: 'uwsgi',
      socket: 'unix',
      backend: (listen, ctx) => tsgiServe('uwsgi', listen, ctx.processes),
    }),
    behindNginx('tsgi-tcp', { pass: 'uwsgi', backend: (listen, ctx) => tsgiServe('uwsgi', listen, ctx.processes) }),
  ],
  async available(params) {
    const nginx = await nginxAvailable();
    return nginx === true ? tsgiCanRun(params) : nginx;
  },
};
