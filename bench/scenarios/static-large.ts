import { staticScenario } from '../lib/static-site.js';

/**
 * A 1 MiB file: the cost of moving bytes (req/s × 1 MiB is the throughput; the ratio of req/s is
 * the ratio of throughput).
 */
export const staticLarge = staticScenario({
  name: 'static-large',
  bytes: 1024 * 1024,
  file: 'large.html',
  description: 'a 1 MiB static file: tsgi web vs nginx (sendfile on), same nginx.conf, one worker each; MB/s = req/s × 1.05',
  target: { ratio: 0.6, peer: 'nginx', text: 'tsgi web ≥ 0.6× nginx throughput' },
});
