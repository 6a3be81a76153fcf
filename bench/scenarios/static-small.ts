import { staticScenario } from '../lib/static-site.js';

/** A 1 KiB page or icon: the per-request cost of the static path (parse, lookup, head, write). */
export const staticSmall = staticScenario({
  name: 'static-small',
  bytes: 1024,
  file: 'small.html',
  description: 'a 1 KiB static file: tsgi web vs nginx, same nginx.conf, one worker each',
  target: { ratio: 0.6, peer: 'nginx', text: 'tsgi web ≥ 0.6× nginx' },
});
