/**
 * Parity with the real nginx 1.22: the same upstream groups, the same requests in the same
 * order, and the backends tried for each must be the same under nginx and under tsgi's
 * balancer. Orders depend on every detail (smooth weights, effective_weight after failures,
 * backup switching, least_conn ties, the ip_hash and CRC-32 rehash loops, the ketama ring), so
 * an off-by-one anywhere shows here.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, launchNginx, testNginxConf, nginxPeer, type LaunchedNginx } from '../../helpers/nginx.js';
import { backendPorts, httpBlock, replay, SCENARIOS, simulate, type BackendName } from './balancer-scenarios.js';

const peer = nginxPeer();

describe('balancers: same order as nginx', { skip: 'skip' in peer ? peer.skip : false }, () => {
  let nginx: LaunchedNginx | undefined;
  let dir = '';
  let front = 0;
  let ports: Record<BackendName, number>;

  before(async () => {
    if (!('path' in peer)) return;
    dir = mkdtempSync(join(tmpdir(), 'tsgi-balancer-nginx-'));
    ports = await backendPorts();
    front = await freePort();
    const conf = testNginxConf(dir, httpBlock(front, ports));
    nginx = await launchNginx(peer.path, dir, conf, front);
  });

  after(async () => {
    await nginx?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  for (const scenario of SCENARIOS) {
    it(`${scenario.name}: ${scenario.body}`, async () => {
      const real = await replay(front, scenario, ports);
      assert.deepEqual(simulate(scenario, ports), real);
    });
  }
});
