import { tsgiCanRun, tsgiServe, type Listen } from '../lib/backends.js';
import { behindFront, tsgiWebPasses } from '../lib/front.js';
import { nginxAvailable, passSite, type NginxPass } from '../lib/nginx.js';
import type { BenchParams, Scenario, SideContext } from '../lib/types.js';

/**
 * The seeds' stack (issue 7 §6): a web server → uwsgi → `tsgi serve`, with `tsgi web` in front
 * against the real nginx in front of the same app server, same nginx.conf. The ratio is the
 * whole tsgi stack against the classic one with tsgi's app server: what swapping nginx costs.
 *
 * `stack` passes through an upstream block with `keepalive` (what examples/stack/nginx.conf
 * writes): nginx 1.22 still opens a connection per uwsgi request, tsgi web keeps its connections
 * to tsgi serve (docs/protocols.md, "Kept uwsgi connections"). `stack-close` is the same without
 * `keepalive`: a connection per request on both sides, nginx's cost model.
 */
const backend = (listen: Listen, ctx: SideContext) => tsgiServe('uwsgi', listen, ctx.processes);

function stackScenario(name: string, pass: NginxPass, description: string): Scenario {
  const site = (listen: Listen) => passSite(pass, listen);
  return {
    name,
    description,
    target: { ratio: 0.7, peer: 'nginx', text: 'tsgi web stack ≥ 0.7× nginx stack' },
    sides: [behindFront('tsgi', 'tsgi web', { site, backend }), behindFront('nginx', 'nginx', { site, backend })],
    async available(params: BenchParams) {
      const nginx = await nginxAvailable();
      if (nginx !== true) return nginx;
      const serve = await tsgiCanRun(params);
      return serve === true ? tsgiWebPasses('uwsgi_pass') : serve;
    },
  };
}

export const stack = stackScenario(
  'stack',
  'uwsgi-keepalive',
  'tsgi web → uwsgi → tsgi serve vs nginx → uwsgi → the same tsgi serve, same nginx.conf (upstream keepalive)',
);

export const stackClose = stackScenario(
  'stack-close',
  'uwsgi',
  'the stack without upstream keepalive: a uwsgi connection per request on both sides',
);
