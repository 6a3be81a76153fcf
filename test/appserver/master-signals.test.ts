/**
 * The master's signals, sent to a master running in its own process (test/fixtures/apps/run-master.ts),
 * and the pidfile helpers behind `tsgi serve --reload/--stop PIDFILE`. The semantics under test
 * are documented in src/appserver/master.ts and docs/processes.md.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { reloadFromPidfile, stopFromPidfile, type MasterConfig } from '../../src/appserver/master.js';

const RUNNER = fileURLToPath(new URL('../fixtures/apps/run-master.ts', import.meta.url));
const PID_APP = fileURLToPath(new URL('../fixtures/apps/pid-app.ts', import.meta.url));

const temp = mkdtempSync(join(tmpdir(), 'tsgi-signals-'));
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

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

interface RunningMaster {
  child: ChildProcess;
  pid: number;
  port: number;
  output(): string;
  waitFor(pattern: RegExp, ms?: number): Promise<RegExpExecArray>;
  exited: Promise<number | string>;
}

/** Starts a master process and waits until its workers serve. Every pid it logs is killed after the tests. */
async function runMaster(config: Partial<MasterConfig>): Promise<RunningMaster> {
  const full: Partial<MasterConfig> = { app: PID_APP, sockets: [{ protocol: 'http', address: '127.0.0.1:0' }], reloadMercy: 5, ...config };
  const child = spawn(process.execPath, ['--import', 'tsx', RUNNER, JSON.stringify(full)], { stdio: ['ignore', 'pipe', 'pipe'] });
  seenPids.add(child.pid!);
  let output = '';
  const collect = (chunk: Buffer): void => {
    output += chunk.toString();
    for (const match of output.matchAll(/(?:spawned tsgi worker \d+ \(pid: |new pid: )(\d+)/g)) seenPids.add(Number(match[1]));
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  const exited = new Promise<number | string>((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')));
  const waitFor = async (pattern: RegExp, ms = 10_000): Promise<RegExpExecArray> => {
    const deadline = Date.now() + ms;
    for (;;) {
      for (const line of output.split('\n')) {
        const match = pattern.exec(line);
        if (match) return match;
      }
      if (Date.now() > deadline) throw new Error(`no output line matched ${pattern} in ${ms} ms; output:\n${output}`);
      await sleep(20);
    }
  };
  const ready = await waitFor(/^MASTER READY (.*)$/, 30_000);
  const addresses = JSON.parse(ready[1]!) as Array<{ port: number }>;
  return { child, pid: child.pid!, port: addresses[0]!.port, output: () => output, waitFor, exited };
}

function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false, headers: { connection: 'close' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.setTimeout(10_000, () => req.destroy(new Error('no answer')));
    req.on('error', reject);
    req.end();
  });
}

const pidOf = (reply: { body: string }): number => Number(reply.body.split(' ')[0]);

describe('master signals', { timeout: 120_000 }, () => {
  it('TERM (default): the request in flight finishes, the master exits 0 and removes its pidfile', async () => {
    const pidfile = join(temp, 'term.pid');
    const master = await runMaster({ pidfile });
    assert.equal(Number(readFileSync(pidfile, 'utf8')), master.pid);
    const slow = get(master.port, '/slow?ms=1000');
    await sleep(300);
    process.kill(master.pid, 'SIGTERM');
    const reply = await slow;
    assert.equal(reply.status, 200);
    assert.equal(await master.exited, 0);
    assert.match(master.output(), /SIGTERM received: graceful shutdown/);
    assert.match(master.output(), /goodbye to tsgi\./);
    assert.equal(existsSync(pidfile), false);
  });

  it('INT: immediate shutdown; the request in flight is cut', async () => {
    const master = await runMaster({});
    const slow = get(master.port, '/slow?ms=5000');
    await sleep(300);
    process.kill(master.pid, 'SIGINT');
    await assert.rejects(slow, /socket hang up|ECONNRESET/);
    assert.equal(await master.exited, 0);
    assert.match(master.output(), /SIGINT received: \.\.\.killing workers\.\.\./);
  });

  it('QUIT (default dieOnTerm): brutal reload, the master keeps serving; --stop PIDFILE ends it', async () => {
    const pidfile = join(temp, 'quit.pid');
    const master = await runMaster({ pidfile });
    const before = pidOf(await get(master.port, '/'));
    process.kill(master.pid, 'SIGQUIT');
    await master.waitFor(/^SIGQUIT received: \.\.\.brutally killing workers\.\.\.$/);
    await master.waitFor(/^Respawned tsgi worker 1 \(new pid: \d+\)$/);
    let after = before;
    for (let i = 0; i < 100 && after === before; i++) {
      try {
        after = pidOf(await get(master.port, '/'));
      } catch {
        // The old worker was killed mid-connection: that is what brutal means.
      }
      await sleep(50);
    }
    assert.notEqual(after, before);
    assert.equal(stopFromPidfile(pidfile), master.pid);
    assert.equal(await master.exited, 0);
    assert.match(master.output(), /SIGINT received/);
  });

  it('dieOnTerm: false is uWSGI without --die-on-term: TERM brutally reloads, QUIT shuts down', async () => {
    const master = await runMaster({ dieOnTerm: false });
    process.kill(master.pid, 'SIGTERM');
    await master.waitFor(/^SIGTERM received: \.\.\.brutally killing workers\.\.\.$/);
    await master.waitFor(/^Respawned tsgi worker 1 \(new pid: \d+\)$/);
    assert.ok(alive(master.pid));
    process.kill(master.pid, 'SIGQUIT');
    assert.equal(await master.exited, 0);
    assert.match(master.output(), /SIGQUIT received: \.\.\.killing workers\.\.\./);
  });

  it('HUP via --reload PIDFILE, TTIN, TTOU and USR1', async () => {
    const pidfile = join(temp, 'hup.pid');
    const master = await runMaster({ pidfile });
    const before = pidOf(await get(master.port, '/'));
    assert.equal(reloadFromPidfile(pidfile), master.pid);
    await master.waitFor(/^reload complete: 1 worker\(s\) of generation 2 serving$/);
    assert.notEqual(pidOf(await get(master.port, '/')), before);

    process.kill(master.pid, 'SIGTTIN');
    await master.waitFor(/^SIGTTIN received: going up to 2 workers$/);
    await master.waitFor(/^spawned tsgi worker 2 \(pid: \d+, cores: unlimited\)$/);
    process.kill(master.pid, 'SIGTTOU');
    await master.waitFor(/^SIGTTOU received: going down to 1 workers$/);
    await master.waitFor(/^worker 2 buried after \d+ seconds$/);

    process.kill(master.pid, 'SIGUSR1');
    await master.waitFor(/^SIGUSR1 received: reopening logs$/);
    assert.ok(alive(master.pid));

    stopFromPidfile(pidfile, 'graceful');
    assert.equal(await master.exited, 0);
    assert.match(master.output(), /SIGTERM received: graceful shutdown/);
  });

  it('a worker whose master dies finishes and exits by itself', async () => {
    const master = await runMaster({});
    const worker = pidOf(await get(master.port, '/'));
    process.kill(master.pid, 'SIGKILL');
    await master.exited;
    const deadline = Date.now() + 10_000;
    while (alive(worker) && Date.now() < deadline) await sleep(50);
    assert.equal(alive(worker), false, 'the orphaned worker exited');
  });
});
