/** Crash-loop protection: PM2's min-uptime backoff and uWSGI's fork-bomb guard, without processes. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RespawnPolicy, respawnTooFastMessage } from '../../src/process/respawn-policy.js';

describe('RespawnPolicy', () => {
  it('respawns a worker that lived long enough at once', () => {
    const policy = new RespawnPolicy({ minUptimeMs: 1000, burst: 2 });
    assert.deepEqual(policy.decide(1, 5000, 10_000), { delayMs: 0, reason: null, crashes: 0 });
    assert.deepEqual(policy.decide(2, 5000, 20_000), { delayMs: 0, reason: null, crashes: 0 });
  });

  it('doubles the wait for each consecutive early death of the same worker, up to the cap', () => {
    const policy = new RespawnPolicy({ minUptimeMs: 1000, backoffBaseMs: 100, backoffMaxMs: 500, forkbombDelayMs: 0 });
    const delays = [0, 1, 2, 3, 4].map((i) => policy.decide(1, 10, i * 10_000).delayMs);
    assert.deepEqual(delays, [100, 200, 400, 500, 500]);
    assert.equal(policy.decide(1, 10, 60_000).reason, 'crash-loop');
    // A worker that then lives long enough starts a fresh streak.
    assert.equal(policy.decide(1, 2000, 70_000).delayMs, 0);
    assert.equal(policy.decide(1, 10, 80_000).delayMs, 100);
  });

  it('keeps a streak per worker id', () => {
    const policy = new RespawnPolicy({ minUptimeMs: 1000, backoffBaseMs: 100, forkbombDelayMs: 0 });
    policy.decide(1, 10, 0);
    policy.decide(1, 10, 10_000);
    assert.equal(policy.decide(2, 10, 20_000).delayMs, 100);
    policy.forget(1);
    assert.equal(policy.decide(1, 10, 30_000).delayMs, 100);
  });

  it('pauses when respawns come faster than the burst allows (uWSGI\'s fork-bomb guard)', () => {
    const policy = new RespawnPolicy({ minUptimeMs: 0, burst: 2, windowMs: 1000, forkbombDelayMs: 2000 });
    assert.equal(policy.decide(1, 5000, 0).delayMs, 0);
    assert.equal(policy.decide(2, 5000, 100).delayMs, 0);
    assert.equal(policy.decide(3, 5000, 200).delayMs, 0);
    const throttled = policy.decide(1, 5000, 300);
    assert.deepEqual(throttled, { delayMs: 2000, reason: 'too-fast', crashes: 0 });
    // Measured from the delayed respawn: far enough apart again.
    assert.equal(policy.decide(2, 5000, 10_000).delayMs, 0);
  });

  it('prints uWSGI\'s line with whole seconds', () => {
    assert.equal(respawnTooFastMessage(2000), 'worker respawning too fast !!! i have to sleep a bit (2 seconds)...');
    assert.equal(respawnTooFastMessage(3200), 'worker respawning too fast !!! i have to sleep a bit (4 seconds)...');
  });
});
