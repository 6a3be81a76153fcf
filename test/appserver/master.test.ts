/**
 * The master of `tsgi serve` with real worker processes, run in the test process
 * (`handleSignals: false`). Each test binds 127.0.0.1:0 or a socket in a temp dir, drives a small
 * bounded loop of HTTP requests (a new connection per request), and kills every pid it saw at the
 * end. Nothing here asserts speed, except the "respawned within a second" the issue requires.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, existsSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { createServer } from 'node:net';
import { startMaster, type MasterConfig, type MasterHandle, type WorkerExitEvent } from '../../src/appserver/master.js';
import { Logger } from '../../src/appserver/log.js';

const PID_APP = fileURLToPath(new URL('../fixtures/apps/pid-app.ts', import.meta.url));
const CRASH_APP = fileURLToPath(new URL('../fixtures/apps/crash-loop.ts', import.meta.url));

const temp = mkdtempSync(join(tmpdir(), 'tsgi-master-'));
const seenPids = new Set<number>();
after(() => {
  for (const pid of seenPids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone, as it should be.
    }
  }
  rmSync(temp, { recursive: true, force: true });
});

/** A log the test can read and wait on. */
function memoryLog(): { log: Logger; lines: string[]; waitFor(pattern: RegExp, ms?: number): Promise<RegExpExecArray> } {
  const lines: string[] = [];
  const log = new Logger({
    write(text: string) {
      for (const line of text.split('\n')) if (line !== '') lines.push(line);
      return true;
    },
  });
  return {
    log,
    lines,
    async waitFor(pattern, ms = 10_000) {
      const deadline = Date.now() + ms;
      for (;;) {
        for (const line of lines) {
          const match = pattern.exec(line);
          if (match) return match;
        }
        if (Date.now() > deadline) throw new Error(`no log line matched ${pattern} in ${ms} ms; log:\n${lines.join('\n')}`);
        await sleep(20);
      }
    },
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function until(what: string, predicate: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

interface Reply {
  status: number;
  body: string;
}

/**
 * One request; rejects if the connection fails or is cut. Without `agent`, on a new connection
 * (`Connection: close`); with a keep-alive agent, on a reused one.
 */
function get(target: { port: number } | { path: string }, path: string, agent?: Agent, timeoutMs = 10_000): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const where = 'port' in target ? { host: '127.0.0.1', port: target.port } : { socketPath: target.path };
    const req = request({ ...where, path, agent: agent ?? false, headers: agent ? {} : { connection: 'close' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer to ${path} in ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

function portOf(master: MasterHandle): { port: number } {
  const address = master.addresses[0]!;
  if (!('port' in address)) throw new Error('not a TCP socket');
  return { port: address.port };
}

function pidOf(reply: Reply): number {
  return Number(reply.body.split(' ')[0]);
}

async function start(config: Partial<MasterConfig> & { log: Logger }): Promise<MasterHandle> {
  const master = await startMaster({
    app: PID_APP,
    sockets: [{ protocol: 'http', address: '127.0.0.1:0' }],
    handleSignals: false,
    reloadMercy: 5,
    ...config,
  });
  const track = (): void => {
    for (const worker of master.workers()) seenPids.add(worker.pid);
  };
  track();
  master.events.on('spawn', (worker) => seenPids.add(worker.pid));
  return master;
}

describe('master and workers', { timeout: 120_000 }, () => {
  it('starts N workers that all serve', async () => {
    const { log } = memoryLog();
    const master = await start({ processes: 2, log });
    try {
      const workers = master.workers();
      assert.equal(workers.length, 2);
      assert.deepEqual(workers.map((w) => [w.id, w.status]), [[1, 'idle'], [2, 'idle']]);
      const pids = new Set<number>();
      for (let i = 0; i < 300 && pids.size < 2; i++) {
        const reply = await get(portOf(master), '/');
        assert.equal(reply.status, 200);
        pids.add(pidOf(reply));
      }
      assert.deepEqual([...pids].sort(), workers.map((w) => w.pid).sort(), 'both workers answered');
      await until('the counters to be reported', () => master.workers().reduce((sum, w) => sum + w.requests, 0) > 0, 3000);
      assert.ok(master.workers().some((w) => w.tx > 0 && w.rss > 0));
    } finally {
      await master.stop();
    }
  });

  it('respawns a worker killed with SIGKILL within a second and logs the signal', async () => {
    const { log, lines, waitFor } = memoryLog();
    const master = await start({ processes: 2, log });
    try {
      const victim = master.workers().find((w) => w.id === 1)!;
      const killedAt = Date.now();
      process.kill(victim.pid, 'SIGKILL');
      await waitFor(new RegExp(`^DAMN ! worker 1 \\(pid: ${victim.pid}\\) died, killed by signal 9 :\\( trying respawn \\.\\.\\.$`));
      const respawned = await waitFor(/^Respawned tsgi worker 1 \(new pid: (\d+)\)$/);
      assert.ok(Date.now() - killedAt < 1000, `respawned ${Date.now() - killedAt} ms after the kill`);
      const newPid = Number(respawned[1]);
      assert.notEqual(newPid, victim.pid);
      await until('the new worker to serve', () => master.workers().some((w) => w.pid === newPid && w.status === 'idle'));
      assert.equal(master.workers().find((w) => w.id === 1)!.respawnCount, 1);
      for (let i = 0; i < 20; i++) assert.equal((await get(portOf(master), '/')).status, 200);
      assert.ok(!lines.some((line) => line.includes('respawning too fast')));
    } finally {
      await master.stop();
    }
  });

  it('survives a crash-looping app, with uWSGI\'s backoff message', async () => {
    const { log, waitFor } = memoryLog();
    const master = await start({
      app: CRASH_APP,
      processes: 1,
      log,
      // Early deaths within 5 s of a spawn count as crashes, whatever the speed of this machine.
      respawn: { minUptimeMs: 5000, windowMs: 3000 },
    });
    try {
      await waitFor(/^DAMN ! worker 1 \(pid: \d+\) died, exit code 3 :\( trying respawn \.\.\.$/);
      await waitFor(/^worker respawning too fast !!! i have to sleep a bit \(2 seconds\)\.\.\.$/, 15_000);
      // Still alive and still trying.
      await waitFor(/^Respawned tsgi worker 1 \(new pid: \d+\)$/);
      assert.ok(master.workers().length <= 1);
    } finally {
      await master.stop(false);
    }
  });

  it('harakiri kills a worker stuck in while (true), names the request and closes the connection', async () => {
    const { log, waitFor } = memoryLog();
    const master = await start({ processes: 1, harakiri: 1, log });
    try {
      const stuck = master.workers()[0]!;
      const exits: WorkerExitEvent[] = [];
      master.events.on('exit', (event) => exits.push(event));
      // An older request waiting on a timer, then the one that blocks the event loop: the log
      // must name the blocking one, and both clients see their connection closed.
      const older = get(portOf(master), '/slow?ms=5000');
      await sleep(100);
      await assert.rejects(get(portOf(master), '/stuck?x=1'), /socket hang up|ECONNRESET/);
      await assert.rejects(older, /socket hang up|ECONNRESET/);
      await waitFor(new RegExp(`^\\*\\*\\* HARAKIRI ON WORKER 1 \\(pid: ${stuck.pid}, try: 1\\) \\*\\*\\*$`));
      await waitFor(new RegExp(`^HARAKIRI: --- tsgi worker 1 core \\d+ \\(pid: ${stuck.pid}\\) WAS managing request GET /stuck\\?x=1 since .+ ---$`));
      await waitFor(new RegExp(`^DAMN ! worker 1 \\(pid: ${stuck.pid}\\) died, killed by signal 9`));
      await until('the exit event', () => exits.length === 1);
      assert.equal(exits[0]!.harakiri, 'GET /stuck?x=1');
      assert.equal(exits[0]!.expected, false);
      await until('the respawned worker', () => master.workers().some((w) => w.pid !== stuck.pid && w.status === 'idle'));
      assert.equal(master.workers()[0]!.harakiriCount, 1);
      assert.equal((await get(portOf(master), '/')).status, 200);
    } finally {
      await master.stop();
    }
  });

  it('recycles a worker after max-requests without failing a request', async () => {
    const { log, waitFor } = memoryLog();
    const master = await start({ processes: 1, maxRequests: 5, log });
    try {
      const first = master.workers()[0]!.pid;
      const pids: number[] = [];
      // The replacement boots before the old worker leaves (tsx start-up: up to seconds on a busy
      // machine), so keep asking, bounded in time rather than in count.
      const deadline = Date.now() + 20_000;
      while (Date.now() < deadline) {
        const reply = await get(portOf(master), '/');
        assert.equal(reply.status, 200);
        pids.push(pidOf(reply));
        if (new Set(pids).size >= 3) break;
        await sleep(20);
      }
      assert.ok(new Set(pids).size >= 2, `requests were answered by ${[...new Set(pids)].join(', ')}`);
      assert.equal(pids.filter((pid) => pid === first).length >= 5, true);
      await waitFor(new RegExp(`^\\.\\.\\.The work of process ${first} is done\\. Seeya!$`));
      await waitFor(new RegExp(`^worker 1 killed successfully \\(pid: ${first}\\)$`));
    } finally {
      await master.stop();
    }
  });

  it('reloads gracefully under a request loop: no failed request, new pids, new code', async () => {
    const versionFile = join(temp, 'version-reload');
    writeFileSync(versionFile, 'v1');
    const { log } = memoryLog();
    const master = await start({ processes: 2, log, env: { APP_VERSION_FILE: versionFile } });
    const keepAlive = new Agent({ keepAlive: true, maxSockets: 2 });
    try {
      const oldPids = master.workers().map((w) => w.pid);
      writeFileSync(versionFile, 'v2');
      const replies: Reply[] = [];
      const failures: unknown[] = [];
      let reloaded = false;
      let stopAt = Number.POSITIVE_INFINITY;
      const loop = async (agent?: Agent): Promise<void> => {
        while (Date.now() < stopAt) {
          try {
            replies.push(await get(portOf(master), '/slow?ms=5', agent));
          } catch (error) {
            failures.push(error);
          }
        }
      };
      // Two clients with a new connection per request (uwsgi behind nginx), two with keep-alive.
      const loops = [loop(), loop(), loop(keepAlive), loop(keepAlive)];
      await sleep(300);
      await master.reload();
      reloaded = true;
      stopAt = Date.now() + 700;
      await Promise.all(loops);
      assert.ok(reloaded);
      assert.deepEqual(failures, []);
      assert.ok(replies.length >= 100, `only ${replies.length} requests`);
      assert.deepEqual(replies.filter((r) => r.status !== 200), []);
      const newPids = master.workers().map((w) => w.pid);
      for (const pid of newPids) assert.ok(!oldPids.includes(pid), 'every worker was replaced');
      assert.ok(replies.some((r) => r.body.includes(' v1 ')) && replies.some((r) => r.body.includes(' v2 ')));
      const last = await get(portOf(master), '/');
      assert.match(last.body, / v2 /);
      await until('the old workers to leave', () => master.workers().every((w) => !oldPids.includes(w.pid)));
    } finally {
      keepAlive.destroy();
      await master.stop();
    }
  });

  it('abandons a reload whose new code does not load; the old workers keep serving', async () => {
    const versionFile = join(temp, 'version-abort');
    writeFileSync(versionFile, 'v1');
    const { log, waitFor } = memoryLog();
    const master = await start({ processes: 1, log, env: { APP_VERSION_FILE: versionFile } });
    try {
      const oldPid = master.workers()[0]!.pid;
      writeFileSync(versionFile, 'throw');
      await assert.rejects(master.reload(), { code: 'ERR_RELOAD_ABORTED' });
      await waitFor(/^reload abandoned: /);
      const reply = await get(portOf(master), '/');
      assert.equal(pidOf(reply), oldPid);
      assert.match(reply.body, / v1 /);
      writeFileSync(versionFile, 'v3');
      await master.reload();
      assert.match((await get(portOf(master), '/')).body, / v3 /);
    } finally {
      await master.stop();
    }
  });

  it('adds and removes workers (TTIN / TTOU through scale())', async () => {
    const { log } = memoryLog();
    const master = await start({ processes: 1, log });
    try {
      master.scale(+1);
      await until('a second worker', () => master.workers().filter((w) => w.status === 'idle').length === 2);
      assert.deepEqual(master.workers().map((w) => w.id), [1, 2]);
      master.scale(-1);
      await until('one worker again', () => master.workers().length === 1);
      assert.equal(master.workers()[0]!.id, 1);
      master.scale(-1);
      await sleep(200);
      assert.equal(master.workers().length, 1, 'never below one worker');
    } finally {
      await master.stop();
    }
  });

  it('--threads: a worker runs at most N requests at once', async () => {
    const { log } = memoryLog();
    const master = await start({ processes: 1, threads: 1, log });
    try {
      const replies = await Promise.all([1, 2, 3, 4].map(() => get(portOf(master), '/slow?ms=150')));
      assert.deepEqual(replies.map((r) => r.status), [200, 200, 200, 200]);
      assert.deepEqual(replies.map((r) => r.body.trim().split(' ')[2]), ['1', '1', '1', '1'], 'one request at a time');
    } finally {
      await master.stop();
    }
  });

  it('recycles a worker past max-worker-lifetime and past reload-on-rss', async () => {
    const { log, waitFor } = memoryLog();
    const lifetime = await start({ processes: 1, maxWorkerLifetime: 1, log });
    try {
      const first = lifetime.workers()[0]!.pid;
      await waitFor(/^worker 1 lifetime reached, it was running for \d+ second\(s\)$/, 5000);
      await waitFor(new RegExp(`^worker 1 killed successfully \\(pid: ${first}\\)$`), 10_000);
    } finally {
      await lifetime.stop();
    }
    const rss = memoryLog();
    const bloated = await start({ processes: 1, reloadOnRss: 1, log: rss.log });
    try {
      await rss.waitFor(/^worker 1 \(pid: \d+\): rss \d+ MB > reload-on-rss 1 MB: recycling$/, 5000);
      await rss.waitFor(/^Respawned tsgi worker 1 \(new pid: \d+\)$/);
    } finally {
      await bloated.stop();
    }
  });

  it('serves on a UNIX socket with --chmod-socket and removes it on stop', async () => {
    const path = join(temp, 'app.sock');
    const { log } = memoryLog();
    const master = await start({ processes: 1, sockets: [{ protocol: 'http', address: path }], chmodSocket: 0o660, log });
    try {
      assert.equal(statSync(path).mode & 0o777, 0o660);
      assert.equal((await get({ path }, '/')).status, 200);
    } finally {
      await master.stop();
    }
    assert.equal(existsSync(path), false);
  });

  it('rejects when the app cannot load (lazyApps: false), and frees the port', async () => {
    const versionFile = join(temp, 'version-broken');
    writeFileSync(versionFile, 'throw');
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as { port: number }).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const { log } = memoryLog();
    await assert.rejects(
      start({ processes: 2, log, sockets: [{ protocol: 'http', address: `127.0.0.1:${port}` }], env: { APP_VERSION_FILE: versionFile } }),
      (error: Error & { code?: string }) => error.code === 'ERR_MASTER_START' && /does not load/.test(error.message),
    );
    const again = createServer();
    await new Promise<void>((resolve, reject) => {
      again.once('error', reject);
      again.listen(port, '127.0.0.1', resolve);
    });
    await new Promise<void>((resolve) => again.close(() => resolve()));
  });

  it('fails fast on a port that is taken', async () => {
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const port = (holder.address() as { port: number }).port;
    try {
      const { log } = memoryLog();
      await assert.rejects(start({ log, sockets: [{ protocol: 'http', address: `127.0.0.1:${port}` }] }), { code: 'ERR_SOCKET_BIND' });
    } finally {
      await new Promise<void>((resolve) => holder.close(() => resolve()));
    }
  });
});
