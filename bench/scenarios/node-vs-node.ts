import type { Scenario, Side } from '../lib/types.js';

/**
 * The harness checking itself: two identical Node hello-world servers. The ratio should come out
 * close to 1.00; when it does not, the machine was too noisy during the run (or the harness favours
 * one side) and the other ratios of the same run deserve the same doubt.
 */
export const nodeVsNode: Scenario = {
  name: 'node-vs-node',
  description: 'harness self-check: two identical Node raw http hello-world servers; expect a ratio near 1',
  target: { ratio: 0.9, peer: 'node-b', text: 'node-a ≥ 0.9× node-b (≈1 expected)' },
  sides: [helloNode('node-a'), helloNode('node-b')],
  available: async () => true,
};

function helloNode(name: string): Side {
  return {
    name,
    path: '/',
    processes: ({ ports: [port] }) => [
      {
        label: name,
        command: process.execPath,
        args: ['bench/apps/hello-node.mjs', String(port)],
        ready: { kind: 'http', port, path: '/' },
      },
    ],
  };
}
