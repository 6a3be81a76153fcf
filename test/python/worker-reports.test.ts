/**
 * Python workers report to the master over their channel (fd 4), as JS workers do over IPC:
 * per-worker counters in --stats, --max-requests recycling with no failed request, --harakiri
 * killing a request stuck in time.sleep() with uWSGI's lines, and the request log (uWSGI's
 * default line, --memory-report, --disable-logging with --log-5xx). The real `tsgi` binary
 * (dist/) and Debian's /usr/bin/python3.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fetchStats, parseStats } from '../../src/cli/top.js';
import { get, sleep, startServer, waitForText, type Server } from '../appserver/stats-helpers.js';
import { pythonSkip } from './harness.js';

const skip = pythonSkip();

const APP = `import os
import time


def application(environ, start_response):
    path = environ['PATH_INFO']
    if path == '/sleep':
        time.sleep(30)
    if path == '/boom':
        raise RuntimeError('boom')
    start_response('200 OK', [('Content-Type', 'text/plain'), ('X-Pid', str(os.getpid()))])
    return [b'hello from python']
`;

/** uWSGI's default line, as test/appserver/stats-request-log.test.ts checks it for JS workers (after --memory-report's prefix). */
const UWSGI_LINE =
  /^(?:\{address space usage: \d+ bytes\/\d+MB\} \{rss usage: \d+ bytes\/\d+MB\} )?\[pid: (\d+)\|app: 0\|req: (\d+)\/(\d+)\] 127\.0\.0\.1 \(\) \{(\d+) vars in (\d+) bytes\} \[\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}\] GET \/hello\?n=1 => generated 17 bytes in \d+ msecs \(HTTP\/1\.1 200\) 2 headers in (\d+) bytes \(1 switches on core 0\)$/m;
const MEMORY_LINE = /^\{address space usage: (\d+) bytes\/(\d+)MB\} \{rss usage: (\d+) bytes\/(\d+)MB\} \[pid: \d+\|app: 0\|req: /m;

interface StatsWorker {
  id: number;
  pid: number;
  requests: number;
  exceptions: number;
  harakiri_count: number;
  rss: number;
  cores: Array<{ requests: number }>;
}

const dir = mkdtempSync(join(tmpdir(), 'tsgi-py-reports-'));
writeFileSync(join(dir, 'app.py'), APP);
const servers: Server[] = [];

after(async () => {
  for (const server of servers) await server.stop('SIGINT');
  rmSync(dir, { recursive: true, force: true });
});

async function start(args: string[]): Promise<Server> {
  const server = await startServer(['--http', '127.0.0.1:0', '--wsgi-file', 'app.py', '--stats', '127.0.0.1:0', ...args], { cwd: dir });
  servers.push(server);
  return server;
}

async function workers(server: Server): Promise<StatsWorker[]> {
  return (parseStats(await fetchStats(server.statsAddress!)) as unknown as { workers: StatsWorker[] }).workers;
}

/** Polls the stats until `check` holds (reports arrive every second). */
async function statsUntil(server: Server, check: (list: StatsWorker[]) => boolean, ms = 5000): Promise<StatsWorker[]> {
  const deadline = Date.now() + ms;
  for (;;) {
    const list = await workers(server);
    if (check(list)) return list;
    if (Date.now() > deadline) throw new Error(`stats never matched: ${JSON.stringify(list)}`);
    await sleep(100);
  }
}

describe('Python workers report to the master', { skip }, () => {
  it('--stats counts their requests and exceptions; the request log is uWSGI\'s line with --memory-report; --max-requests 3 recycles with no failed request', async () => {
    const server = await start(['--processes', '1', '--max-requests', '3', '--memory-report']);
    const first = await get(`${server.url}hello?n=1`);
    assert.equal(first.status, 200);
    const firstPid = String(first.headers['x-pid']);
    const line = (await waitForText(server.output, UWSGI_LINE, 5000))[0];
    const [, pid, req, total, , , headerBytes] = UWSGI_LINE.exec(line)!;
    assert.equal(pid, firstPid);
    assert.equal(req, '1');
    assert.equal(total, '1');
    // "HTTP/1.1 200 OK\r\n" + "Content-Type: text/plain\r\n" + "X-Pid: N\r\n" + "\r\n", as request-log.ts counts it.
    assert.equal(Number(headerBytes), 17 + 26 + 9 + firstPid.length + 2);
    assert.match(server.output(), MEMORY_LINE);

    assert.equal((await get(`${server.url}boom`)).status, 500);
    const counted = await statsUntil(server, (list) => list[0]!.requests >= 2);
    assert.equal(counted[0]!.exceptions, 1);
    assert.ok(counted[0]!.rss > 0);
    assert.equal(counted[0]!.cores.length, 1);
    assert.ok(counted[0]!.cores[0]!.requests >= 2);

    // Past 3 requests the worker asks to be replaced; every request keeps being answered.
    const pids = new Set<string>([firstPid]);
    const deadline = Date.now() + 10_000;
    while (pids.size < 2 && Date.now() < deadline) {
      const answer = await get(`${server.url}hello?n=2`);
      assert.equal(answer.status, 200);
      pids.add(String(answer.headers['x-pid']));
      await sleep(50);
    }
    assert.equal(pids.size, 2, server.output());
    await waitForText(server.output, /worker 1 killed successfully \(pid: \d+\)/, 5000);
    assert.doesNotMatch(server.output(), /DAMN/);
  });

  it('--harakiri 2 kills a worker stuck in time.sleep(30) with uWSGI\'s lines; the next request is served; --disable-logging --log-5xx logs only the 5xx', async () => {
    const server = await start(['--processes', '1', '--harakiri', '2', '--disable-logging', '--log-5xx']);
    const before = await get(`${server.url}hello?n=1`);
    assert.equal(before.status, 200);
    const started = Date.now();
    const stuck = await get(`${server.url}sleep`);
    assert.equal(stuck.status, 502);
    assert.ok(Date.now() - started < 6000, `harakiri took ${Date.now() - started} ms`);
    assert.match(server.output(), /\*\*\* HARAKIRI ON WORKER 1 \(pid: \d+, try: 1\) \*\*\*/);
    assert.match(server.output(), /HARAKIRI: --- tsgi worker 1 core 0 \(pid: \d+\) WAS managing request GET \/sleep since \w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4} ---/);
    const after = await get(`${server.url}hello?n=1`);
    assert.equal(after.status, 200);
    assert.notEqual(after.headers['x-pid'], before.headers['x-pid']);
    await statsUntil(server, (list) => list[0]!.harakiri_count === 1);

    assert.equal((await get(`${server.url}boom`)).status, 500);
    await waitForText(server.output, /\] GET \/boom => generated 0 bytes in \d+ msecs \(HTTP\/1\.1 500\) 0 headers in 0 bytes/, 5000);
    assert.doesNotMatch(server.output(), /GET \/hello\?n=1 => generated/);
  });

  it('--log-format templates with uWSGI\'s %(var) names', async () => {
    const server = await start(['--processes', '1', '--log-format', '%(addr) "%(method) %(uri) %(proto)" %(status) %(size) %(var.HTTP_X_ID) %(referer) wid=%(wid)']);
    const response = await fetch(`${server.url}hello?n=3`, { headers: { 'X-Id': 'abc' } });
    assert.equal(response.status, 200);
    await waitForText(server.output, /^127\.0\.0\.1 "GET \/hello\?n=3 HTTP\/1\.1" 200 \d+ abc - wid=1$/m, 5000);
  });
});
