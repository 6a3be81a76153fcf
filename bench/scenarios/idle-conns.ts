import { staticScenario } from '../lib/static-site.js';

const CONNECTIONS = 10_000;

/**
 * What keep-alive costs in memory: 10,000 browsers' connections, each after one small request,
 * held open on tsgi web and on nginx (one worker each); the RSS is the whole process tree's.
 */
export const idleConns = staticScenario({
  name: 'idle-conns',
  bytes: 1024,
  file: 'small.html',
  description: `${CONNECTIONS.toLocaleString('en-US')} idle keep-alive connections held on tsgi web and on nginx (one worker each): RSS of each process tree`,
  target: { ratio: null, peer: 'nginx', text: 'tsgi web < 200 MB RSS' },
  // 200 MB (10^6 bytes), in the KiB that /proc reports.
  idle: { connections: CONNECTIONS, maxRssKb: Math.floor(200e6 / 1024) },
});
