/**
 * `tsgi top`: the frame arithmetic (uwsgitop's columns) on a fixed document, then the real command
 * against a real stats server: `--once`, an http:// address, the live view quitting on `q` in a
 * pseudo-terminal, and the errors.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { humanSize, parseStats, RateState, renderFrame, type TopDocument } from '../../src/cli/top.js';
import { findPeer } from '../helpers/peers.js';
import { runTsgi, runTsgiToExit, TSGI_BIN } from '../helpers/process.js';
import { appDir, get, loggedPids, sleep, startServer, waitForText } from '../appserver/stats-helpers.js';

const apps = appDir('tsgi-top-');
after(() => apps.cleanup());

function clock(seconds: number): string {
  const date = new Date(seconds * 1000);
  return [date.getHours(), date.getMinutes(), date.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
}

const DOCUMENT: TopDocument = {
  version: '2.0.21-debian',
  listen_queue: 3,
  cwd: '/srv',
  uid: 33,
  gid: 33,
  pid: 100,
  workers: [
    { id: 1, pid: 101, requests: 25, exceptions: 1, status: 'idle', avg_rt: 1500, rss: 50 * 1048576, vsz: 3 * 1024 ** 3, tx: 2048, respawn_count: 1, harakiri_count: 0, running_time: 37_500, last_spawn: 1_700_000_000 },
    { id: 2, pid: 102, requests: 75, exceptions: 0, signals: 2, status: 'busy', avg_rt: 999, rss: 900, vsz: 0, tx: 512, respawn_count: 3, harakiri_count: 1, running_time: 12_000_000_000, last_spawn: 0 },
  ],
};

describe('tsgi top frames', () => {
  it('renders uwsgitop\'s columns, most requests first', () => {
    const rates = new RateState();
    rates.update(DOCUMENT.workers.map((w) => ({ ...w, requests: w.requests - 10 })), 0);
    const frame = renderFrame(DOCUMENT, rates.update(DOCUMENT.workers, 2000), { now: 2000, host: 'node1', colour: false });
    const lines = frame.trimEnd().split('\n');
    assert.match(lines[0]!, /^uwsgi-2\.0\.21-debian - \w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4} - req: 100 - RPS: 10 - lq: 3 - tx: 2\.5K$/);
    assert.equal(lines[1], 'node: node1 - cwd: /srv - uid: 33 - gid: 33 - masterpid: 100');
    assert.deepEqual(lines[2]!.trim().split(/\s+/), ['WID', '%', 'PID', 'REQ', 'RPS', 'EXC', 'SIG', 'STATUS', 'AVG', 'RSS', 'VSZ', 'TX', 'ReSpwn', 'HC', 'RunT', 'LastSpwn']);
    assert.deepEqual(lines[3]!.trim().split(/\s+/), ['2', '75.0', '102', '75', '5', '0', '2', 'busy', '0ms', '900', '0', '512', '3', '1', '200m', '--:--:--']);
    assert.deepEqual(lines[4]!.trim().split(/\s+/), ['1', '25.0', '101', '25', '5', '1', '0', 'idle', '1ms', '50.0M', '3.0G', '2.0K', '1', '0', '37', clock(1_700_000_000)]);
    assert.equal(lines.length, 5);
  });

  it('colours rows by status in a terminal, and reads a --stats-http answer from a raw socket', () => {
    const frame = renderFrame(DOCUMENT, new Map(), { now: 0, host: 'h', colour: true });
    assert.ok(frame.includes('\x1b[32m 2 '), 'busy is green');
    assert.equal(parseStats('HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{"workers":[]}').workers.length, 0);
    assert.throws(() => parseStats('{"vassals":[]}'), /not a uWSGI stats document/);
    assert.deepEqual([humanSize(1023), humanSize(1024), humanSize(1536 * 1024), humanSize(2 * 1024 ** 3)], ['1023', '1.0K', '1.5M', '2.0G']);
  });
});

describe('tsgi top', () => {
  it('--once prints one frame of a running server', async () => {
    const server = await startServer(['--http-socket', '127.0.0.1:0', '--app', apps.path('hello.mjs'), '--processes', '2', '--stats', '127.0.0.1:0']);
    try {
      for (let i = 0; i < 4; i++) await get(server.url);
      await sleep(1300);
      const result = await runTsgiToExit(['top', '--once', server.statsAddress!]);
      assert.equal(result.code, 0, result.output);
      const lines = result.output.trimEnd().split('\n');
      assert.match(lines[0]!, /^uwsgi-\d+\.\d+\.\d+-tsgi - .* - req: 4 - RPS: 0 - lq: 0 - tx: \d/);
      assert.match(lines[1]!, new RegExp(`masterpid: ${server.running.child.pid}$`));
      assert.match(lines[2]!, /^ WID\s+%\s+PID\s+REQ\s+RPS\s+EXC\s+SIG\s+STATUS\s+AVG\s+RSS\s+VSZ\s+TX\s+ReSpwn\s+HC\s+RunT\s+LastSpwn$/);
      const rows = lines.slice(3).map((line) => line.trim().split(/\s+/));
      assert.deepEqual(rows.map((row) => Number(row[2])).sort(), loggedPids(server.output()).sort());
      assert.equal(rows.reduce((sum, row) => sum + Number(row[3]), 0), 4);
      for (const row of rows) assert.equal(row[7], 'idle');
    } finally {
      await server.stop();
    }
  });

  it('reads an http:// address (--stats-http) and refreshes every --frequency seconds until stopped', async () => {
    const server = await startServer(['--http-socket', '127.0.0.1:0', '--app', apps.path('hello.mjs'), '--master', '--stats', '127.0.0.1:0', '--stats-http']);
    try {
      const once = await runTsgiToExit(['top', '--once', `http://${server.statsAddress}/`]);
      assert.equal(once.code, 0, once.output);
      assert.match(once.output, /^ 1 /m);
      // Without a terminal the frames follow each other on stdout.
      const live = runTsgi(['top', '--frequency', '0.3', server.statsAddress!]);
      await waitForText(live.output, /(?:^uwsgi-[^\n]*\n(?:[^\n]*\n){3}\n){3}/m, 10_000);
      assert.equal(await live.stop('SIGTERM'), 0);
    } finally {
      await server.stop();
    }
  });

  const script = findPeer('script');
  it('quits on q in a terminal, restoring the screen', { skip: script === null ? 'script (util-linux) not installed' : false }, async () => {
    const server = await startServer(['--http-socket', '127.0.0.1:0', '--app', apps.path('hello.mjs'), '--master', '--stats', '127.0.0.1:0']);
    try {
      // script(1) runs the command in a pseudo-terminal and passes our stdin to it.
      const child = spawn(script!, ['-qec', `${process.execPath} ${TSGI_BIN} top ${server.statsAddress}`, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      await waitForText(() => output, /LastSpwn/, 10_000);
      child.stdin.write('q');
      const code = await Promise.race([exited, sleep(5000).then(() => 'timeout')]);
      assert.equal(code, 0, output);
      assert.ok(output.includes('\x1b[?1049h') && output.includes('\x1b[?1049l'), 'alternate screen entered and left');
    } finally {
      await server.stop();
    }
  });

  it('fails with a message when nothing answers, and with usage when no address is given', async () => {
    const result = await runTsgiToExit(['top', '--once', '127.0.0.1:1']);
    assert.equal(result.code, 1);
    assert.match(result.output, /tsgi: unable to get statistics from 127\.0\.0\.1:1: .*ECONNREFUSED/);
    const usage = await runTsgiToExit(['top']);
    assert.equal(usage.code, 2);
    assert.match(usage.output, /give one stats address/);
  });
});
