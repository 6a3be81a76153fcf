import { tsgiCanRun, tsgiServe, type Listen } from '../lib/backends.js';
import { behindFront, tsgiWebPasses } from '../lib/front.js';
import { nginxAvailable, passSite } from '../lib/nginx.js';
import type { BenchParams, Scenario, SideContext } from '../lib/types.js';

/**
 * The seeds' stack (issue 7 §6): a web server → uwsgi → `tsgi serve`, with `tsgi web` in front
 * against the real nginx in front of the same app server, same nginx.conf (`include
 * uwsgi_params; uwsgi_pass`, a connection per request as nginx 1.22 does it). The ratio is the
 * whole tsgi stack against the classic one with tsgi's app server: what swapping nginx costs.
 */
const site = (backend: Listen) => passSite('uwsgi', backend);
const backend = (listen: Listen, ctx: SideContext) => tsgiServe('uwsgi', listen, ctx.processes);

export const stack: Scenario = {
  name: 'stack',
  description: 'tsgi web → uwsgi → tsgi serve vs nginx → uwsgi → the same tsgi serve, same nginx.conf',
  target: { ratio: 0.7, peer: 'nginx', text: 'tsgi web stack ≥ 0.7× nginx stack' },
  sides: [behindFront('tsgi', 'tsgi web', { site, backend }), behindFront('nginx', 'nginx', { site, backend })],
  async available(params: BenchParams) {
    const nginx = await nginxAvailable();
    if (nginx !== true) return nginx;
    const serve = await tsgiCanRun(params);
    return serve === true ? tsgiWebPasses('uwsgi_pass') : serve;
  },
};
