/**
 * The lifecycle options of `tsgi serve` that are about the whole server: --need-app,
 * --touch-reload, --daemonize, --logto and SIGUSR1 log reopening. Each runs the real binary.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, renameSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fetchStats, parseStats } from '../../src/cli/top.js';
import type { StatsDocument } from '../../src/appserver/stats/document.js';
import { runTsgi, runTsgiToExit } from '../helpers/process.js';
import { appDir, get, loggedPids, readOr, sleep, startServer, waitForText, workerPids } from './stats-helpers.js';

const apps = appDir('tsgi-lifecycle-');
const leftovers = new Set<number>();
after(() => {
  for (const pid of leftovers) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Gone already.
    }
  }
  apps.cleanup();
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitForExit(pid: number, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (alive(pid)) {
    if (Date.now() > deadline) throw new Error(`process ${pid} still runs after ${ms} ms`);
    await sleep(50);
  }
}

describe('--need-app', () => {
  const broken = (): string => apps.path('throws.mjs');

  it('ends the master with status 22 and uWSGI\'s "no app loaded. GAME OVER"', async () => {
    const result = await runTsgiToExit(['serve', '--http-socket', '127.0.0.1:0', '--app', broken(), '--master', '--processes', '2', '--need-app']);
    assert.equal(result.code, 22, result.output);
    assert.match(result.output, /refusing to load/);
    assert.match(result.output, /^\*\*\* no app loaded\. GAME OVER \*\*\*$/m);
  });

  it('makes a failed load fatal with --lazy-apps too, where it is otherwise respawned', async () => {
    const result = await runTsgiToExit(['serve', '--http-socket', '127.0.0.1:0', '--app', broken(), '--lazy-apps', '--processes', '2', '--need-app']);
    assert.equal(result.code, 22, result.output);
    assert.match(result.output, /GAME OVER/);
  });

  it('exits 22 without a master too; without --need-app a broken app still fails the start (status 1)', async () => {
    const single = await runTsgiToExit(['serve', '--http-socket', '127.0.0.1:0', '--app', broken(), '--need-app']);
    assert.equal(single.code, 22, single.output);
    assert.match(single.output, /GAME OVER/);
    const plain = await runTsgiToExit(['serve', '--http-socket', '127.0.0.1:0', '--app', broken(), '--master']);
    assert.equal(plain.code, 1, plain.output);
    assert.doesNotMatch(plain.output, /GAME OVER/);
  });
});

describe('--touch-reload', () => {
  it('reloads gracefully when the file\'s modification time changes: new workers serve', async () => {
    const touch = join(apps.dir, 'reload.touch');
    writeFileSync(touch, '');
    const server = await startServer([
      '--http-socket', '127.0.0.1:0', '--app', apps.path('slow.mjs'), '--processes', '2', '--touch-reload', touch, '--stats', '127.0.0.1:0',
      '--worker-reload-mercy', '5',
    ]);
    const stats = async (): Promise<StatsDocument> => parseStats(await fetchStats(server.statsAddress!)) as unknown as StatsDocument;
    try {
      const before = workerPids(await stats());
      assert.equal(before.length, 2);
      await sleep(1100);
      const future = Date.now() / 1000 + 5;
      utimesSync(touch, future, future);
      await waitForText(server.output, new RegExp(`\\*\\*\\* ${touch.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} has been touched\\.\\.\\. grace them all !!! \\*\\*\\*`));
      await waitForText(server.output, /reload complete: 2 worker\(s\) of generation 2 serving/);
      const deadline = Date.now() + 10_000;
      let after = workerPids(await stats());
      while (after.some((pid) => before.includes(pid)) && Date.now() < deadline) {
        await sleep(200);
        after = workerPids(await stats());
      }
      assert.equal(after.length, 2);
      assert.ok(after.every((pid) => !before.includes(pid)), `old ${before}, new ${after}`);
      const answer = await get(`${server.url}pid`);
      assert.equal(answer.status, 200);
      assert.ok(after.includes(Number(answer.body)), `answered by ${answer.body}`);
    } finally {
      await server.stop();
    }
  });

  it('reloads when a file that did not exist is created', async () => {
    const touch = join(apps.dir, 'created-later.touch');
    const server = await startServer(['--http-socket', '127.0.0.1:0', '--app', apps.path('hello.mjs'), '--touch-reload', touch]);
    try {
      await sleep(1100);
      writeFileSync(touch, 'now');
      await waitForText(server.output, /created-later\.touch has been touched/);
      await waitForText(server.output, /reload complete/);
    } finally {
      await server.stop();
    }
  });
});

describe('--daemonize and --logto', () => {
  it('--daemonize FILE returns at once; the server runs in its own session and logs to FILE', async () => {
    const log = join(apps.dir, 'daemon.log');
    const pidfile = join(apps.dir, 'daemon.pid');
    const started = Date.now();
    const result = await runTsgiToExit(['serve', '--daemonize', log, '--http-socket', '127.0.0.1:0', '--app', apps.path('hello.mjs'), '--master', '--pidfile', pidfile]);
    assert.equal(result.code, 0, result.output);
    assert.ok(Date.now() - started < 5000, 'the command returns without waiting for the server');
    const daemonPid = Number(/running in the background \(pid (\d+)\)/.exec(result.output)?.[1]);
    leftovers.add(daemonPid);
    try {
      const url = (await waitForText(() => readOr(log), /on (http:\/\/[^\s]+\/)/, 30_000, log))[1]!;
      for (const pid of loggedPids(readOr(log))) leftovers.add(pid);
      assert.equal(Number(readFileSync(pidfile, 'utf8').trim()), daemonPid, 'the background process is the master');
      // setsid(): the daemon leads its own session, detached from the terminal of the command.
      const stat = readFileSync(`/proc/${daemonPid}/stat`, 'utf8');
      const session = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[3]);
      assert.equal(session, daemonPid);
      assert.equal((await get(`${url}daemon`)).status, 200);
      await waitForText(() => readOr(log), /GET \/daemon => generated 12 bytes/, 10_000, log);
      const stop = await runTsgiToExit(['serve', '--stop', pidfile]);
      assert.equal(stop.code, 0, stop.output);
      await waitForExit(daemonPid);
      assert.match(readOr(log), /goodbye to tsgi\./);
    } finally {
      if (alive(daemonPid)) process.kill(daemonPid, 'SIGKILL');
    }
  });

  it('--logto FILE keeps the server in the foreground; SIGUSR1 reopens FILE after a rotation', async () => {
    const log = join(apps.dir, 'server.log');
    const rotated = `${log}.1`;
    const running = runTsgi(['serve', '--logto', log, '--http-socket', '127.0.0.1:0', '--app', apps.path('hello.mjs'), '--processes', '2']);
    const master = running.child.pid!;
    try {
      const url = (await waitForText(() => readOr(log), /on (http:\/\/[^\s]+\/)/, 30_000, log))[1]!;
      for (const pid of loggedPids(readOr(log))) leftovers.add(pid);
      assert.equal(running.output(), '', 'nothing on stdout/stderr: the log is in the file');
      await get(`${url}before-rotation`);
      await waitForText(() => readOr(log), /GET \/before-rotation => /, 10_000, log);

      renameSync(log, rotated);
      process.kill(master, 'SIGUSR1');
      await waitForText(() => readOr(log), /server\.log reopened\./, 10_000, log);
      for (let i = 0; i < 4; i++) await get(`${url}after-rotation`);
      // Each worker writes its own lines: wait for all four, not the first.
      await waitForText(() => readOr(log), /(?:GET \/after-rotation => [^]*){4}/, 10_000, log);

      const old = readFileSync(rotated, 'utf8');
      assert.match(old, /GET \/before-rotation => /);
      assert.match(old, /SIGUSR1 received: reopening logs/);
      assert.match(old, /logsize: \d+, triggering log-reopen\.\.\./);
      assert.doesNotMatch(old, /after-rotation/, 'the workers write to the new file too');
      assert.equal(readOr(log).match(/GET \/after-rotation => /g)?.length, 4);
      assert.ok(existsSync(log));
    } finally {
      assert.equal(await running.stop('SIGTERM'), 0);
    }
  });
});
