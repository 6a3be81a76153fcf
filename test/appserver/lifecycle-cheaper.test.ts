/**
 * --cheaper: the busyness algorithm on its own (a fake clock, decision by decision as uWSGI's
 * cheaper_busyness.c makes them), then a real master that grows under load and shrinks when idle,
 * seen through its stats server.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { BusynessCheaper, checkCheaperConfig, type BusynessSample } from '../../src/appserver/cheaper.js';
import { fetchStats, parseStats } from '../../src/cli/top.js';
import type { StatsDocument } from '../../src/appserver/stats/document.js';
import { runTsgiToExit } from '../helpers/process.js';
import { appDir, get, sleep, startServer, waitForText } from './stats-helpers.js';

const apps = appDir('tsgi-cheaper-');
after(() => apps.cleanup());

const SECOND = 1_000_000;

describe('the busyness algorithm', () => {
  /** A worker that has had a request running for `busySeconds` seconds in all. */
  function worker(key: number, busySeconds: number, busy = false): BusynessSample {
    return { key, busyTime: busySeconds * SECOND, busy };
  }

  it('spawns when the average busyness passes max, up to --processes, and cheaps after the idle timer', () => {
    const log: string[] = [];
    const cheaper = new BusynessCheaper({ min: 1, overload: 1, multiplier: 3 }, 3, (line) => log.push(line));
    assert.match(log[0]!, /^\[busyness\] settings: min=25%, max=50%, overload=1, multiplier=3, respawn penalty=2$/);
    const t0 = Date.now();
    assert.equal(cheaper.check(t0, [worker(1, 0)], 0), null, 'the first call starts the period');
    assert.deepEqual(cheaper.check(t0 + 1000, [worker(1, 0.9)], 0), { spawn: 1 });
    assert.match(log.at(-1)!, /^\[busyness\] 1s average busyness is at 90%, will spawn 1 new worker\(s\)$/);
    assert.deepEqual(cheaper.check(t0 + 2000, [worker(1, 1.9), worker(2, 0.8)], 0), { spawn: 1 });
    assert.equal(cheaper.check(t0 + 3000, [worker(1, 2.9), worker(2, 1.8), worker(3, 0.9)], 0), null);
    assert.match(log.at(-1)!, /but we already started maximum number of workers \(3\)$/);
    // Idle from now on: nothing until the cheaper timer (overload x multiplier = 3 s from the last
    // spawn, at t0 + 2 s) runs out.
    const idle = [worker(1, 2.9), worker(2, 1.8), worker(3, 0.9)];
    assert.equal(cheaper.check(t0 + 4000, idle, 0), null);
    assert.deepEqual(cheaper.check(t0 + 5000, idle, 0), { cheap: true });
    assert.match(log.at(-1)!, /^\[busyness\] 1s average busyness is at 0%, cheap one of 3 running workers$/);
    assert.equal(cheaper.check(t0 + 6000, idle.slice(0, 2), 0), null);
    assert.equal(cheaper.check(t0 + 7000, idle.slice(0, 2), 0), null);
    assert.deepEqual(cheaper.check(t0 + 8000, idle.slice(0, 2), 0), { cheap: true });
    assert.equal(cheaper.check(t0 + 20_000, idle.slice(0, 1), 0), null, 'never below --cheaper');
  });

  it('counts a worker stuck in one long request as 100% busy, and respects the period between decisions', () => {
    const cheaper = new BusynessCheaper({ min: 1, overload: 2 }, 4, () => {});
    const t0 = Date.now();
    assert.equal(cheaper.check(t0, [worker(1, 0, true)], 0), null);
    assert.equal(cheaper.check(t0 + 1000, [worker(1, 0, true)], 0), null, 'mid-period');
    assert.deepEqual(cheaper.check(t0 + 2000, [worker(1, 0, true)], 0), { spawn: 1 });
  });

  it('raises the multiplier when workers come back soon after a cheap (the penalty)', () => {
    const log: string[] = [];
    const cheaper = new BusynessCheaper({ min: 1, overload: 1, multiplier: 1 }, 2, (line) => log.push(line));
    const t0 = Date.now();
    cheaper.check(t0, [worker(1, 0), worker(2, 0)], 0);
    assert.deepEqual(cheaper.check(t0 + 1000, [worker(1, 0), worker(2, 0)], 0), { cheap: true });
    assert.deepEqual(cheaper.check(t0 + 2000, [worker(1, 1)], 0), { spawn: 1 });
    assert.ok(log.includes('[busyness] worker(s) respawned too fast, increasing cheaper multiplier to 3 (+2)'), log.join('\n'));
  });

  it('spawns an emergency worker when the listen queue passes the alert, between periods too', () => {
    const log: string[] = [];
    const cheaper = new BusynessCheaper({ min: 1, overload: 10, backlogAlert: 5 }, 3, (line) => log.push(line));
    const t0 = Date.now();
    cheaper.check(t0, [worker(1, 0)], 0);
    assert.deepEqual(cheaper.check(t0 + 1000, [worker(1, 0)], 9), { spawn: 1 });
    assert.equal(log.at(-1), '[busyness] 9 requests in listen queue, spawning 1 emergency worker(s) (1)!');
  });

  it('checks the options as uWSGI does', () => {
    assert.match(checkCheaperConfig({ min: 2 }, 2)!, /invalid cheaper value: must be lower than processes/);
    assert.match(checkCheaperConfig({ min: 1, initial: 5 }, 4)!, /cheaper-initial must be between/);
    assert.equal(checkCheaperConfig({ min: 1, initial: 2 }, 4), null);
  });
});

describe('tsgi serve --cheaper', () => {
  it('refuses --cheaper not below --processes', async () => {
    const result = await runTsgiToExit(['serve', '--http-socket', '127.0.0.1:0', '--app', apps.path('hello.mjs'), '--processes', '2', '--cheaper', '2']);
    assert.equal(result.code, 1, result.output);
    assert.match(result.output, /invalid cheaper value: must be lower than processes/);
  });

  it('starts --cheaper-initial workers, spawns more under load and cheaps them when idle', async () => {
    const server = await startServer([
      '--http-socket', '127.0.0.1:0', '--app', apps.path('slow.mjs'), '--processes', '3', '--cheaper', '1', '--cheaper-initial', '1',
      '--cheaper-overload', '1', '--cheaper-busyness-multiplier', '2', '--stats', '127.0.0.1:0', '--disable-logging',
    ]);
    const stats = async (): Promise<StatsDocument> => parseStats(await fetchStats(server.statsAddress!)) as unknown as StatsDocument;
    const running = (document: StatsDocument): number => document.workers.filter((w) => w.status !== 'cheap' && w.pid > 0).length;
    try {
      const first = await stats();
      assert.deepEqual(first.workers.map((w) => w.status), ['idle', 'cheap', 'cheap'], 'ids above the current count are listed as cheap');
      assert.deepEqual(first.workers.slice(1).map((w) => w.pid), [0, 0]);

      // Load: 6 clients, each request 300 ms, on new connections (any worker may take them).
      let loading = true;
      const clients = Array.from({ length: 6 }, async () => {
        while (loading) await get(`${server.url}?ms=300`).catch(() => undefined);
      });
      try {
        await waitForText(server.output, /\[busyness\] 1s average busyness is at \d+%, will spawn 1 new worker\(s\)/, 15_000);
        const deadline = Date.now() + 15_000;
        while (running(await stats()) < 3 && Date.now() < deadline) await sleep(250);
        assert.equal(running(await stats()), 3, server.output());
      } finally {
        loading = false;
        await Promise.all(clients);
      }

      await waitForText(server.output, /\[busyness\] 1s average busyness is at \d+%, cheap one of 3 running workers/, 20_000);
      const deadline = Date.now() + 20_000;
      while (running(await stats()) > 1 && Date.now() < deadline) await sleep(250);
      const last = await stats();
      assert.equal(running(last), 1, server.output());
      assert.deepEqual(last.workers.map((w) => w.status), ['idle', 'cheap', 'cheap']);
      // Either spawned id may have taken the load's requests (the kernel picks the acceptor).
      assert.ok(last.workers.slice(1).some((w) => w.respawn_count >= 1 && w.requests > 0), 'a cheap id keeps its counters');
    } finally {
      await server.stop();
    }
  });
});
