/**
 * The request log: uWSGI's default line (checked with one regex against the real uWSGI's line when
 * it is installed, and against tsgi's), --log-format json and templates, --disable-logging with
 * its --log-4xx/5xx exceptions, --memory-report, and the byte counting of the logger itself.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { compileFormat, ctime, LineBatch, ltime, RequestLogger, type RequestFacts } from '../../src/appserver/request-log.js';
import type { App, Body } from '../../src/gateway/types.js';
import { makeEnviron } from '../helpers/environ.js';
import { runApp, type ResponseSink } from '../../src/gateway/handler.js';
import { freePort } from '../helpers/nginx.js';
import { uwsgiPeer } from '../upstream/real-peers.js';
import { appDir, get, sleep, startServer, waitForText } from './stats-helpers.js';

const apps = appDir('tsgi-reqlog-');
after(() => apps.cleanup());

/**
 * uWSGI's default request line (core/logging.c, uwsgi_logit_simple):
 * [pid: %d|app: %d|req: %d/%llu] %s (%s) {%d vars in %llu bytes} [%.24s] %s %s => generated %llu bytes
 * in %llu msecs (%s %d) %d headers in %llu bytes (%d switches on core %d)
 */
const UWSGI_LINE =
  /^\[pid: (\d+)\|app: (\d+)\|req: (\d+)\/(\d+)\] (\S+) \(([^)]*)\) \{(\d+) vars in (\d+) bytes\} \[(\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4})\] (\S+) (\S+) => generated (\d+) bytes in (\d+) msecs \((HTTP\/1\.[01]) (\d{3})\) (\d+) headers in (\d+) bytes \((\d+) switches on core (\d+)\)$/m;
const MEMORY_PREFIX = /^\{address space usage: (\d+) bytes\/(\d+)MB\} \{rss usage: (\d+) bytes\/(\d+)MB\} \[pid: /m;

function facts(overrides: Partial<RequestFacts> = {}): RequestFacts {
  return {
    pid: 4242,
    workerId: 1,
    appId: 0,
    appRequests: 3,
    totalRequests: 7,
    remoteAddr: '127.0.0.1',
    remoteUser: '',
    vars: 24,
    varsBytes: 253,
    startedAt: new Date(2026, 10, 2, 1, 11, 25).getTime(),
    method: 'GET',
    uri: '/x?y=1',
    protocol: 'HTTP/1.1',
    status: 200,
    bodyBytes: 12,
    headerCount: 1,
    headerBytes: 45,
    micros: 1530,
    switches: 1,
    core: 0,
    memory: null,
    environ: makeEnviron({ HTTP_USER_AGENT: 'curl/8', HTTP_HOST: 'example.com' }),
    ...overrides,
  };
}

/** Runs `app` through the logger and the real TSGI handler; returns the one line logged. */
async function logOf(app: App): Promise<string> {
  const lines: string[] = [];
  const logger = new RequestLogger({
    settings: { format: 'json', enabled: true, memoryReport: false },
    workerId: 1,
    otherRequests: () => 0,
    currentCore: () => 0,
    write: (line) => lines.push(line),
  });
  const sink: ResponseSink = { sendHead: () => {}, write: () => true, drain: async () => {}, end: () => {}, abort: () => {}, aborted: false };
  await runApp(logger.wrap(app), makeEnviron({ REQUEST_URI: '/', REMOTE_ADDR: '10.0.0.1' }), sink, { appError: () => {} });
  await sleep(5);
  assert.equal(lines.length, 1, `one line, got ${JSON.stringify(lines)}`);
  return lines[0]!;
}

describe('request log formats', () => {
  it('formats uWSGI\'s default line field for field', () => {
    const line = compileFormat('default')(facts());
    assert.equal(
      line,
      '[pid: 4242|app: 0|req: 3/7] 127.0.0.1 () {24 vars in 253 bytes} [Mon Nov  2 01:11:25 2026] GET /x?y=1 => generated 12 bytes in 1 msecs (HTTP/1.1 200) 1 headers in 45 bytes (1 switches on core 0)',
    );
    assert.match(line, UWSGI_LINE);
    assert.match(compileFormat('default', { micros: true })(facts()), /in 1530 micros \(HTTP/);
  });

  it('puts --memory-report\'s memory in front, in bytes and whole MB', () => {
    const line = compileFormat('default')(facts({ memory: { vsz: 60981248, rss: 11202560 } }));
    assert.ok(line.startsWith('{address space usage: 60981248 bytes/58MB} {rss usage: 11202560 bytes/10MB} [pid: 4242|'), line);
  });

  it('--log-format json: one object with the same facts, named as uWSGI\'s log variables', () => {
    const line = compileFormat('json')(facts({ memory: { vsz: 2, rss: 1 } }));
    const object = JSON.parse(line) as Record<string, unknown>;
    assert.deepEqual(
      { ...object, time: undefined },
      {
        time: undefined, pid: 4242, wid: 1, app: 0, req: 3, total_req: 7, addr: '127.0.0.1', user: '', vars: 24, pktsize: 253, method: 'GET',
        uri: '/x?y=1', proto: 'HTTP/1.1', status: 200, rsize: 12, headers: 1, hsize: 45, size: 57, msecs: 1, micros: 1530, switches: 1,
        core: 0, host: 'example.com', uagent: 'curl/8', referer: '', rss: 1, vsz: 2,
      },
    );
    assert.equal(object.time, new Date(facts().startedAt).toISOString());
  });

  it('--log-format TEMPLATE: uWSGI\'s %(var) placeholders, `-` for empty ones', () => {
    const format = compileFormat('%(addr) - %(user) [%(ltime)] "%(method) %(uri) %(proto)" %(status) %(size) "%(referer)" "%(uagent)" %(var.HTTP_HOST) %(nosuchvar) %(msecs)ms');
    assert.equal(format(facts()), `127.0.0.1 - - [${ltime(facts().startedAt)}] "GET /x?y=1 HTTP/1.1" 200 57 "-" "curl/8" example.com - 1ms`);
    assert.match(ltime(0), /^\d\d\/\w{3}\/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}$/);
    assert.equal(ctime(new Date(2026, 0, 15, 9, 5, 7).getTime()), 'Thu Jan 15 09:05:07 2026');
  });

  it('counts body bytes of arrays, iterables, async iterables and write(); the header block as uWSGI does', async () => {
    const head = (startResponse: Parameters<App>[1]) => startResponse('200 OK', [['Content-Type', 'text/plain']]);
    const parse = (line: string) => JSON.parse(line) as { rsize: number; hsize: number; headers: number; status: number };
    assert.deepEqual(
      ((line) => [line.rsize, line.hsize, line.headers])(parse(await logOf((environ, startResponse) => (head(startResponse), ['Hello ', 'World!'])))),
      [12, 45, 1],
    );
    assert.equal(parse(await logOf((environ, startResponse) => (head(startResponse), (function* () { yield 'é'; yield new Uint8Array(3); })()))).rsize, 5);
    assert.equal(parse(await logOf(async (environ, startResponse) => (head(startResponse), (async function* () { yield 'abc'; })()))).rsize, 3);
    const writer: App = (environ, startResponse) => {
      const write = startResponse('201 Created', [['A', 'b'], ['C', 'd']]);
      void write('1234');
      return [];
    };
    const written = parse(await logOf(writer));
    assert.deepEqual([written.rsize, written.status, written.headers, written.hsize], [4, 201, 2, 'HTTP/1.1 201 Created\r\n'.length + 6 + 6 + 2]);
  });

  it('logs a failing application as a 500 with no headers', async () => {
    const line = JSON.parse(await logOf(() => {
      throw new Error('boom');
    })) as { status: number; headers: number };
    assert.deepEqual([line.status, line.headers], [500, 0]);
    const closed: Body = Object.assign(['x'], { close: () => {} });
    assert.equal((JSON.parse(await logOf((environ, startResponse) => (startResponse('404 Not Found', []), closed))) as { status: number }).status, 404);
  });

  it('writes the lines of a few milliseconds together, and at once past its size limit', async () => {
    const writes: string[] = [];
    const batch = new LineBatch((text) => writes.push(text), 5, 8);
    batch.push('a');
    batch.push('b');
    assert.deepEqual(writes, []);
    await sleep(30);
    assert.deepEqual(writes, ['a\nb\n']);
    batch.push('long line');
    assert.deepEqual(writes, ['a\nb\n', 'long line\n']);
    batch.push('c');
    batch.flush();
    assert.deepEqual(writes.at(-1), 'c\n');
  });
});

describe('request log of tsgi serve', () => {
  it('logs each request in uWSGI\'s layout, with the worker\'s pid and the totals of all workers', async () => {
    const server = await startServer(['--http-socket', '127.0.0.1:0', '--app', apps.path('hello.mjs'), '--processes', '2']);
    try {
      await get(`${server.url}x?y=1`);
      const match = await waitForText(server.output, UWSGI_LINE);
      const [, pid, app, req, , addr, user, vars, , , method, uri, bytes, , proto, status, headers, headerBytes, switches, core] = match;
      assert.ok(server.output().includes(`spawned tsgi worker 1 (pid: ${pid}`) || server.output().includes(`spawned tsgi worker 2 (pid: ${pid}`));
      assert.deepEqual(
        [app, req, addr, user, method, uri, bytes, proto, status, headers, headerBytes, switches, core],
        ['0', '1', '127.0.0.1', '', 'GET', '/x?y=1', '12', 'HTTP/1.1', '200', '1', '45', '1', '0'],
      );
      assert.equal(Number(vars) % 2, 0, 'names and values are counted apart');
      for (let i = 0; i < 5; i++) await get(server.url);
      // Each worker learns the others' total from the master once a second.
      await sleep(2300);
      await get(`${server.url}last`);
      const last = await waitForText(server.output, /^\[pid: \d+\|app: 0\|req: \d+\/(\d+)\] .* GET \/last /m);
      assert.equal(last[1], '7');
    } finally {
      await server.stop();
    }
  });

  it('--log-format json writes one JSON object per request', async () => {
    const server = await startServer(['--http-socket', '127.0.0.1:0', '--app', apps.path('slow.mjs'), '--master', '--log-format', 'json']);
    try {
      await get(`${server.url}json?status=404`);
      const line = (await waitForText(server.output, /^\{"time".*$/m))[0];
      const object = JSON.parse(line) as Record<string, unknown>;
      assert.equal(object.uri, '/json?status=404');
      assert.equal(object.status, 404);
      assert.equal(object.method, 'GET');
      assert.equal(object.wid, 1);
      assert.equal(object.headers, 2);
      assert.ok(!UWSGI_LINE.test(server.output()));
    } finally {
      await server.stop();
    }
  });

  it('--disable-logging logs no request; --log-5xx still logs the failures', async () => {
    const server = await startServer(['--http-socket', '127.0.0.1:0', '--app', apps.path('slow.mjs'), '--master', '--disable-logging', '--log-5xx']);
    try {
      await get(`${server.url}fine`);
      await get(`${server.url}broken?status=503`);
      await waitForText(server.output, / GET \/broken\?status=503 => /);
      await sleep(300);
      assert.ok(!server.output().includes('GET /fine'), server.output());
    } finally {
      await server.stop();
    }
    const quiet = await startServer(['--http-socket', '127.0.0.1:0', '--app', apps.path('hello.mjs'), '--master', '--disable-logging']);
    try {
      await get(`${quiet.url}nothing`);
      await sleep(500);
      assert.ok(!quiet.output().includes('=> generated'), quiet.output());
    } finally {
      await quiet.stop();
    }
  });

  it('--memory-report starts each request line with the worker\'s memory', async () => {
    const server = await startServer(['--http-socket', '127.0.0.1:0', '--app', apps.path('hello.mjs'), '--master', '--memory-report']);
    try {
      await get(server.url);
      const match = await waitForText(server.output, MEMORY_PREFIX);
      const [, vsz, vszMb, rss, rssMb] = match.map(Number);
      assert.ok(rss! > 10 * 1024 * 1024 && vsz! >= rss!, `rss ${rss}, vsz ${vsz}`);
      assert.equal(vszMb, Math.floor(vsz! / 1048576));
      assert.equal(rssMb, Math.floor(rss! / 1048576));
    } finally {
      await server.stop();
    }
  });

  it('logs requests without a master too (one process)', async () => {
    const server = await startServer(['--http-socket', '127.0.0.1:0', '--app', apps.path('hello.mjs')]);
    try {
      await get(`${server.url}solo`);
      const match = await waitForText(server.output, UWSGI_LINE);
      assert.equal(match[1], String(server.running.child.pid));
      assert.equal(match[11], '/solo');
    } finally {
      await server.stop('SIGTERM');
    }
  });

  const uwsgi = uwsgiPeer();
  it('matches the real uWSGI\'s line with the same regex', { skip: 'skip' in uwsgi ? uwsgi.skip : false }, async () => {
    if (!('path' in uwsgi)) return;
    const port = await freePort();
    writeFileSync(join(apps.dir, 'app.py'), "def application(env, start_response):\n    start_response('200 OK', [('Content-Type', 'text/plain')])\n    return [b'Hello World!']\n");
    const env = { ...process.env };
    delete env.PYTHONHOME;
    delete env.PYTHONPATH;
    const child = spawn(uwsgi.path, ['--plugin', 'python3', '--http-socket', `127.0.0.1:${port}`, '--wsgi-file', 'app.py', '--master', '--memory-report'], { cwd: apps.dir, env });
    let output = '';
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    try {
      await waitForText(() => output, /spawned uWSGI worker 1/);
      await get(`http://127.0.0.1:${port}/x?y=1`);
      const memoryLine = (await waitForText(() => output, MEMORY_PREFIX))[0];
      const line = output.split('\n').find((text) => text.includes('GET /x?y=1'))!;
      assert.ok(line.startsWith(memoryLine), line);
      const theirs = UWSGI_LINE.exec(line.slice(line.indexOf('[pid: ')));
      assert.ok(theirs, `the regex does not match uWSGI's own line: ${line}`);
      // The facts both servers agree on for the same request.
      assert.deepEqual([theirs[11], theirs[12], theirs[14], theirs[15], theirs[16], theirs[17]], ['/x?y=1', '12', 'HTTP/1.1', '200', '1', '45']);
    } finally {
      child.kill('SIGINT');
    }
  });
});
