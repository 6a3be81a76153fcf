/**
 * `tsgi web -t` against the real nginx: for every case, both must print the same lines (the
 * `nginx: ` prefix and the temp directory aside). Skipped with the reason printed when nginx is not
 * installed, unless CI=true (then missing nginx fails, see test/helpers/peers.ts).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { requirePeer } from '../../helpers/peers.js';
import { PARITY_CASES } from './parity-cases.js';
import { realNginxLines, tsgiLines } from './nginx-runner.js';

const peer = requirePeer('nginx', 'nginx');
const skip = 'skip' in peer ? peer.skip : false;
if (skip) console.log(`# parity with nginx skipped: ${skip}`);

describe('nginx -t parity', { skip }, () => {
  const nginx = 'path' in peer ? peer.path : '';
  for (const [name, c] of Object.entries(PARITY_CASES)) {
    it(name, () => {
      assert.deepEqual(tsgiLines(c), realNginxLines(nginx, c));
    });
  }
});
