/**
 * The Python worker as a process the master supervises: app loading (uWSGI's --wsgi-file,
 * --module mod:callable, factories, --callable, --pythonpath, --chdir, --env), start-up
 * failures and their exit codes, --threads, an inherited listening fd shared by two workers,
 * signals, a segfault, an orphaned worker, malformed uwsgi packets, --buffer-size, and the
 * sendfile() path of wsgi.file_wrapper.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import * as net from 'node:net';
import { join } from 'node:path';
import { UpstreamError } from '../../src/upstream/errors.js';
import { findPeer } from '../helpers/peers.js';
import { freePort } from '../helpers/nginx.js';
import { FIXTURES, PYTHON, WORKER, pythonEnv, pythonSkip, readBody, runToExit, useWorkers, VALIDATOR_COMPLAINTS, type Worker } from './harness.js';

const skip = pythonSkip();
const MiB = 1024 * 1024;

/** Sends raw bytes to a UNIX socket and returns what comes back before the close. */
function raw(path: string, bytes: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    // Our side ends after the bytes: the worker sees EOF rather than waiting for more.
    const socket = net.connect({ path }, () => socket.end(bytes));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('close', () => resolve(Buffer.concat(chunks)));
    socket.on('error', (error: NodeJS.ErrnoException) => (error.code === 'ECONNRESET' || error.code === 'EPIPE' ? undefined : reject(error)));
    setTimeout(() => {
      socket.destroy();
      reject(new Error('the worker kept the connection open'));
    }, 5000).unref();
  });
}

function header(modifier1: number, size: number): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt8(modifier1, 0);
  head.writeUInt16LE(size, 1);
  return head;
}

function block(vars: Array<[string, string]>): Buffer {
  const parts: Buffer[] = [];
  for (const [key, value] of vars) {
    const k = Buffer.from(key, 'latin1');
    const v = Buffer.from(value, 'latin1');
    const lengths = Buffer.alloc(2);
    lengths.writeUInt16LE(k.length);
    const valueLength = Buffer.alloc(2);
    valueLength.writeUInt16LE(v.length);
    parts.push(lengths, k, valueLength, v);
  }
  return Buffer.concat(parts);
}

/** False for a pid that is gone or a zombie (re-parented to a pid 1 that does not reap). */
function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** An interpreter 3.8 that really runs (a pyenv shim on PATH may name a version not selected). */
function findPython38(): string | null {
  const candidates = [findPeer('python3.8'), ...globPyenv()].filter((path): path is string => path !== null);
  for (const candidate of candidates) {
    if (spawnSync(candidate, ['-c', 'import sys; assert sys.version_info[:2] == (3, 8)'], { env: pythonEnv() }).status === 0) return candidate;
  }
  return null;
}

function globPyenv(): string[] {
  const root = join(homedir(), '.pyenv', 'versions');
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .filter((name) => name.startsWith('3.8'))
    .map((name) => join(root, name, 'bin', 'python3.8'));
}

const HELLO_VARS: Array<[string, string]> = [
  ['REQUEST_METHOD', 'GET'],
  ['PATH_INFO', '/close-ok'],
  ['QUERY_STRING', 'tag=raw'],
  ['SERVER_PROTOCOL', 'HTTP/1.0'],
  ['SERVER_NAME', 'localhost'],
  ['SERVER_PORT', '80'],
];

describe('Python worker: loading the application', { skip }, () => {
  const workers = useWorkers();

  it('--wsgi-file runs the file as module uwsgi_file_<name>; --chdir, --env, --pythonpath as uWSGI', async () => {
    const extra = join(workers.dir(), 'extra-path');
    mkdirSync(extra, { recursive: true });
    const worker = await workers.start(
      ['--chdir', FIXTURES, '--wsgi-file', 'wsgi_app.py', '--env', 'TSGI_TEST_ENV=from --env', '--pythonpath', extra],
      { cwd: workers.dir() },
    );
    const doc = JSON.parse((await worker.request({ path: '/process' })).body.toString()) as { cwd: string; env: string; path: string[]; name: string; file: string; pid: number };
    assert.equal(doc.cwd, FIXTURES);
    assert.equal(doc.env, 'from --env');
    assert.equal(doc.name, 'uwsgi_file_wsgi_app');
    assert.equal(doc.file, 'wsgi_app.py');
    assert.equal(doc.pid, worker.pid);
    // uWSGI inserts '.' and then each --pythonpath at the front.
    assert.deepEqual(doc.path.slice(0, 2), [extra, '.']);
    assert.ok(!doc.path.some((entry) => entry.endsWith('/python')), `the worker's own directory leaked into sys.path: ${doc.path.join(', ')}`);
    assert.match(worker.stderr(), new RegExp(`added ${extra} to pythonpath\\.`));
  });

  for (const [spec, extra, expected] of [
    ['modapp', [], 'application'],
    ['modapp:app', [], 'app'],
    ['modapp', ['--callable', 'app'], 'app'],
    ['modapp:create_app()', [], 'factory'],
    ['site_pkg.wsgi', [], 'site_pkg.wsgi'],
  ] as Array<[string, string[], string]>) {
    it(`--module ${spec} ${extra.join(' ')}`.trimEnd(), async () => {
      const worker = await workers.start(['--module', spec, ...extra]);
      const res = await worker.request({ path: '/' });
      assert.equal(res.status, 200);
      assert.equal(res.body.toString(), expected);
    });
  }

  it('an import error: the file and the exception named, the traceback, exit 22 with --need-app', async () => {
    const result = await runToExit(['--socket', join(workers.dir(), 'never.sock'), '--wsgi-file', 'import_error_app.py', '--need-app'], { cwd: FIXTURES });
    assert.equal(result.code, 22, result.stderr);
    assert.match(result.stderr, /Traceback \(most recent call last\):\n/);
    assert.match(result.stderr, /File "import_error_app\.py", line \d+, in <module>/);
    assert.match(
      result.stderr,
      /unable to load the application \(--wsgi-file import_error_app\.py\): unable to load import_error_app\.py: ModuleNotFoundError: No module named 'tsgi_test_module_that_does_not_exist'/,
    );
    assert.match(result.stderr, /\*\*\* no app loaded\. GAME OVER \*\*\*/);
    assert.doesNotMatch(result.stdout, /tsgi-python ready/);
  });

  it('an import error without --need-app: the worker serves 500s (uWSGI 2.0 without need-app)', async () => {
    const worker = await workers.start(['--wsgi-file', 'import_error_app.py']);
    assert.match(worker.stderr(), /going in full dynamic mode/);
    const res = await worker.request({ path: '/' });
    assert.equal(res.status, 500);
    await worker.waitForLog('Python application not found (GET /)');
  });

  for (const [args, message] of [
    [['--wsgi-file', 'no_such_file.py'], /failed to open python file no_such_file\.py: No such file or directory/],
    [['--module', 'modapp:not_callable'], /"not_callable" must be a callable object in module modapp \(it is a int\)/],
    [['--module', 'modapp:nothing_here'], /unable to find "nothing_here" callable in module modapp/],
    [['--module', 'tsgi_test_no_such_module'], /unable to import module tsgi_test_no_such_module: ModuleNotFoundError/],
    [[], /no application given \(use --wsgi-file FILE or --module MOD\[:CALLABLE\]\)/],
  ] as Array<[string[], RegExp]>) {
    it(`${args.join(' ') || 'no app option'} --need-app: exit 22 and ${String(message)}`, async () => {
      const result = await runToExit(['--socket', join(workers.dir(), 'never.sock'), ...args, '--need-app'], { cwd: FIXTURES });
      assert.equal(result.code, 22, result.stderr);
      assert.match(result.stderr, message);
    });
  }

  it('a bad command line exits 2 with the usage; a socket it cannot create exits 1', async () => {
    const usage = await runToExit(['--wsgi-file', 'wsgi_app.py'], { cwd: FIXTURES });
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /give exactly one of --socket PATH and --fd N/);
    const socket = await runToExit(['--socket', '/nonexistent-dir/x.sock', '--wsgi-file', 'wsgi_app.py'], { cwd: FIXTURES });
    assert.equal(socket.code, 1);
    assert.match(socket.stderr, /cannot listen on \/nonexistent-dir\/x\.sock/);
  });
});

describe('Python worker: threads, shared fd, signals, crashes', { skip }, () => {
  const workers = useWorkers();

  it('--threads 4: four slow requests in parallel take about the time of one', async () => {
    const worker = await workers.start(['--wsgi-file', 'wsgi_app.py', '--threads', '4']);
    const started = Date.now();
    const answers = await Promise.all([1, 2, 3, 4].map(() => worker.request({ path: '/slow', query: 'ms=800' })));
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 800 && elapsed < 1500, `4 requests of 800 ms took ${elapsed} ms`);
    assert.equal(new Set(answers.map((answer) => answer.body.toString())).size, 4, 'four different request threads');
  });

  it('--threads 1: the same requests run one after the other', async () => {
    const worker = await workers.start(['--wsgi-file', 'wsgi_app.py']);
    const started = Date.now();
    await Promise.all([1, 2, 3].map(() => worker.request({ path: '/slow', query: 'ms=200' })));
    assert.ok(Date.now() - started >= 600, 'one thread serves one request at a time');
  });

  it('--fd: two workers accept on one inherited socket, bound but not listening (as the master hands it over)', async () => {
    const path = join(workers.dir(), 'shared.sock');
    // What src/process/listen-handle.ts does: a bound handle that only the workers listen on.
    const create = Reflect.get(net, '_createServerHandle') as (address: string, port: number, addressType: number) => object | number;
    const handle = create(path, -1, -1);
    if (typeof handle !== 'object') throw new Error(`net._createServerHandle() failed: ${handle}`);
    const fd = Reflect.get(handle, 'fd') as number;
    try {
      const first = await workers.start(['--wsgi-file', 'wsgi_app.py'], { fd: { fd, path } });
      const second = await workers.start(['--wsgi-file', 'wsgi_app.py'], { fd: { fd, path } });
      // One thread each: a busy worker leaves connections to the other.
      const answers = await Promise.all(Array.from({ length: 6 }, () => first.request({ path: '/slow', query: 'ms=150' })));
      const pids = new Set(answers.map((answer) => Number(answer.headers['x-pid'])));
      assert.deepEqual([...pids].sort(), [first.pid, second.pid].sort());
      // The worker did not create the path, so it leaves it alone when it stops.
      assert.deepEqual(await first.stop(), { code: 0, signal: null });
      assert.ok(existsSync(path));
      assert.equal((await second.request({ path: '/close-ok', query: 'tag=after-first-stopped' })).status, 200);
    } finally {
      Reflect.apply(Reflect.get(handle, 'close') as () => void, handle, []);
    }
  });

  it('SIGTERM: the request in flight finishes, new connections are refused, exit 0', async () => {
    const worker = await workers.start(['--wsgi-file', 'wsgi_app.py']);
    const inFlight = worker.request({ path: '/slow', query: 'ms=700' });
    await new Promise((resolve) => setTimeout(resolve, 200));
    process.kill(worker.pid, 'SIGTERM');
    await worker.waitForLog('SIGTERM received: finishing the requests in flight, then exiting');
    await assert.rejects(worker.request({ path: '/close-ok' }), (error: unknown) => error instanceof UpstreamError && error.code === 'ERR_UPSTREAM_CONNECT');
    assert.equal((await inFlight).status, 200);
    assert.deepEqual(await worker.exited, { code: 0, signal: null });
    assert.match(worker.stderr(), /\.\.\.The work of process \d+ is done\. Seeya!/);
    assert.ok(!existsSync(worker.socketPath), 'the worker removes the socket file it created');
  });

  it('over TCP (--socket HOST:PORT): requests are served; a cut after the head is logged, close() runs', async () => {
    const port = await freePort();
    const worker = await workers.start(['--wsgi-file', 'wsgi_app.py'], { tcpPort: port });
    assert.equal((await worker.request({ path: '/close-ok', query: 'tag=tcp' })).status, 200);
    const big = await worker.request({ path: '/generator', query: 'chunks=20&size=65536' });
    assert.equal(big.body.length, 20 * 65536);
    // Without a Content-Length the uwsgi protocol cannot mark the cut (as with uWSGI): the
    // client may see a clean end; the log and close() are what tell.
    const cut = await worker.send({ path: '/close-raise', query: 'tag=tcp-cut' });
    assert.equal(cut.status, 200);
    await readBody(cut).catch(() => Buffer.alloc(0));
    await worker.waitForLog('tsgi-test: close tcp-cut after 1 chunks');
    assert.match(worker.stderr(), /GET \/close-raise\?tag=tcp-cut: the application raised an exception after the response head was sent/);
  });

  it('SIGUSR2 prints the stack of every thread (where a stuck request is) and the worker goes on', async () => {
    const worker = await workers.start(['--wsgi-file', 'wsgi_app.py']);
    const slow = worker.request({ path: '/slow', query: 'ms=600' });
    await new Promise((resolve) => setTimeout(resolve, 200));
    process.kill(worker.pid, 'SIGUSR2');
    await worker.waitForLog(/line \d+ in slow_route/);
    assert.equal((await slow).status, 200);
    assert.equal(worker.child.exitCode, null);
  });

  it('SIGHUP: drains like SIGTERM and exits 17 (a reload: the master starts a replacement)', async () => {
    const worker = await workers.start(['--wsgi-file', 'wsgi_app.py']);
    assert.deepEqual(await worker.stop('SIGHUP'), { code: 17, signal: null });
  });

  it('SIGQUIT ends the worker at once (exit 30) and SIGINT kills it, even with a request in flight', async () => {
    const settle = (promise: Promise<unknown>): Promise<unknown> => promise.then((value) => value, (error: unknown) => error);
    const quit = await workers.start(['--wsgi-file', 'wsgi_app.py']);
    const cut = settle(quit.request({ path: '/slow', query: 'ms=3000' }));
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.deepEqual(await quit.stop('SIGQUIT'), { code: 30, signal: null });
    assert.ok((await cut) instanceof UpstreamError);
    const int = await workers.start(['--wsgi-file', 'wsgi_app.py']);
    const started = Date.now();
    const cutToo = settle(int.request({ path: '/slow', query: 'ms=3000' }));
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.deepEqual(await int.stop('SIGINT'), { code: null, signal: 'SIGINT' });
    assert.ok(Date.now() - started < 2000);
    assert.ok((await cutToo) instanceof UpstreamError);
  });

  it('a segfault kills the process by SIGSEGV, with the Python stack in the log (the master respawns it)', async () => {
    const worker = await workers.start(['--wsgi-file', 'wsgi_app.py']);
    await assert.rejects(worker.request({ path: '/segfault' }), (error: unknown) => error instanceof UpstreamError && error.code === 'ERR_UPSTREAM_PREMATURE_CLOSE');
    assert.deepEqual(await worker.exited, { code: null, signal: 'SIGSEGV' });
    assert.match(worker.stderr(), /Fatal Python error: Segmentation fault/);
    assert.match(worker.stderr(), /in segfault_route/);
  });

  it('a worker whose parent dies drains and exits by itself', async () => {
    const path = join(workers.dir(), 'orphan.sock');
    // sh starts the worker and exits: the worker is re-parented and must notice.
    const shell = spawn('sh', ['-c', `"$0" "$@" & echo $!; sleep 1.5`, PYTHON, WORKER, '--socket', path, '--wsgi-file', 'wsgi_app.py'], {
      cwd: FIXTURES,
      env: pythonEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    shell.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    shell.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    await new Promise((resolve) => shell.on('exit', resolve));
    const pid = Number(stdout.split('\n')[0]);
    assert.ok(pid > 0, stdout);
    const deadline = Date.now() + 5000;
    while (!/Seeya!/.test(stderr) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    assert.match(stderr, /the parent process \d+ is gone: finishing the requests in flight and exiting/);
    assert.match(stderr, /Seeya!/);
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.ok(!isRunning(pid), `pid ${pid} still runs`);
  });

  const python38 = findPython38();
  it('runs under Python 3.8 (the oldest supported), when one is installed', { skip: python38 === null ? 'no working python3.8 found' : false }, async () => {
    const worker = await workers.start(['--wsgi-file', 'wsgi_app.py', '--threads', '2'], { python: python38! });
    const env = await worker.request({ path: '/env', query: 'x=1' });
    assert.equal(env.status, 200);
    const body = Buffer.from('one\ntwo\nthree');
    const input = JSON.parse((await worker.request({ method: 'POST', path: '/input', query: 'mode=iter', body })).body.toString()) as { length: number; lines: number };
    assert.deepEqual([input.length, input.lines], [body.length, 3]);
    assert.equal((await worker.request({ path: '/write' })).body.toString(), 'first,second,third');
    assert.doesNotMatch(worker.stderr(), VALIDATOR_COMPLAINTS);
  });
});

describe('Python worker: malformed uwsgi packets and --buffer-size', { skip }, () => {
  const workers = useWorkers();
  let worker: Worker;

  before(async () => {
    worker = await workers.start(['--wsgi-file', 'wsgi_app.py']);
  });

  it('a well-formed packet written by hand gets the raw HTTP response, in the request protocol', async () => {
    const vars = block(HELLO_VARS);
    const answer = await raw(worker.socketPath, Buffer.concat([header(0, vars.length), vars]));
    assert.equal(answer.toString('latin1'), 'HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok');
  });

  const cases: Array<[string, () => Buffer, RegExp]> = [
    ['a vars block over --buffer-size (uWSGI\'s line)', () => header(0, 5000), /invalid request block size: 5000 \(max 4096\)\.\.\.skip/],
    [
      'an HTTP request on the uwsgi socket',
      () => Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'),
      /invalid request block size: 21573 \(max 4096\)\.\.\.skip\n\(the request starts with 'GET ': an HTTP client is talking to this uwsgi socket\)/,
    ],
    ['a key length past the end of the block', () => Buffer.concat([header(0, 6), Buffer.from([10, 0, 65, 66, 67, 68])]), /invalid uwsgi request \(current strsize: 10\)\. skip\./],
    ['an empty key', () => Buffer.concat([header(0, 4), Buffer.from([0, 0, 0, 0])]), /uwsgi key cannot be null\. skip this var\./],
    ['an unserved modifier1', () => Buffer.concat([header(5, 0)]), /-- unavailable modifier requested: 5 --/],
    [
      'a CONTENT_LENGTH that is not a number',
      () => {
        const vars = block([...HELLO_VARS, ['CONTENT_LENGTH', '12abc']]);
        return Buffer.concat([header(0, vars.length), vars]);
      },
      /invalid CONTENT_LENGTH '12abc': not a decimal number/,
    ],
    ['a packet cut short', () => Buffer.concat([header(0, 100), Buffer.from([1, 0])]), /truncated uwsgi packet: the peer closed after 2 of 100 vars bytes/],
  ];
  for (const [name, bytes, line] of cases) {
    it(`${name}: logged, that connection closed unanswered, the next request served`, async () => {
      const sent = bytes();
      const socket = net.connect({ path: worker.socketPath });
      const answer = await new Promise<Buffer>((resolve, reject) => {
        const chunks: Buffer[] = [];
        socket.on('connect', () => {
          socket.write(sent);
          // The cut-short packet: end our side so the worker sees EOF.
          if (name === 'a packet cut short') socket.end();
        });
        socket.on('data', (chunk: Buffer) => chunks.push(chunk));
        socket.on('close', () => resolve(Buffer.concat(chunks)));
        socket.on('error', (error: NodeJS.ErrnoException) => (error.code === 'ECONNRESET' || error.code === 'EPIPE' ? undefined : reject(error)));
      });
      assert.equal(answer.length, 0);
      await worker.waitForLog(line);
      assert.equal((await worker.request({ path: '/close-ok' })).status, 200);
    });
  }

  it('a connection closed without a byte is not an error', async () => {
    // Let the lines of the previous requests arrive first.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const before = worker.stderr();
    assert.equal((await raw(worker.socketPath, Buffer.alloc(0))).length, 0);
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(worker.stderr(), before);
  });

  it('--buffer-size 8192 accepts a 6 KB vars block that the default refuses', async () => {
    const big: Array<[string, string]> = [['X-Big', 'b'.repeat(6000)]];
    await assert.rejects(worker.request({ path: '/env', headers: big }), UpstreamError);
    await worker.waitForLog(/invalid request block size: 6\d{3} \(max 4096\)\.\.\.skip/);
    const roomy = await workers.start(['--wsgi-file', 'wsgi_app.py', '--buffer-size', '8192']);
    const res = await roomy.request({ path: '/env', headers: big });
    assert.equal(res.status, 200);
    assert.equal((JSON.parse(res.body.toString()) as { vars: Record<string, string> }).vars.HTTP_X_BIG!.length, 6000);
  });
});

describe('Python worker: --socket-timeout', { skip }, () => {
  const workers = useWorkers();
  let worker: Worker;

  before(async () => {
    worker = await workers.start(['--wsgi-file', 'wsgi_app.py', '--socket-timeout', '1']);
  });

  it('a client that stops reading: the send times out, the iterable is closed, the worker goes on', async () => {
    const res = await worker.send({ path: '/close-forever', query: 'tag=stalled' });
    assert.equal(res.status, 200);
    // Not reading: the client pauses its socket, the worker's buffer fills, its send waits.
    const log = await worker.waitForLog(/tsgi-test: close stalled after \d+ chunks/, 5000);
    assert.match(log, /GET \/close-forever\?tag=stalled: write error after \d+ body bytes: timed out sending the response \(--socket-timeout\)/);
    res.body.cancel();
    assert.equal((await worker.request({ path: '/close-ok', query: 'tag=after-stall' })).status, 200);
  });

  it('a body that stops coming: the read raises OSError in the app after the timeout', async () => {
    const vars = block([...HELLO_VARS.filter(([key]) => key !== 'PATH_INFO' && key !== 'QUERY_STRING'), ['PATH_INFO', '/input'], ['QUERY_STRING', 'mode=read-n'], ['CONTENT_LENGTH', '100']]);
    const socket = net.connect({ path: worker.socketPath });
    const answer = new Promise<Buffer>((resolve) => {
      const chunks: Buffer[] = [];
      socket.on('data', (chunk: Buffer) => chunks.push(chunk));
      socket.on('close', () => resolve(Buffer.concat(chunks)));
      socket.on('error', () => {});
    });
    // Ten of the hundred body bytes, and the connection stays open.
    socket.write(Buffer.concat([header(0, vars.length), vars, Buffer.alloc(10, 0x61)]));
    const log = await worker.waitForLog('timed out after 1s reading the request body: got 10 of 100 bytes (--socket-timeout)', 5000);
    assert.match(log, /GET \/input\?mode=read-n: the application raised an exception; answering 500/);
    assert.match((await answer).toString('latin1'), /^HTTP\/1\.0 500 Internal Server Error\r\n/);
  });

  it('a connection that sends nothing is dropped after the timeout', async () => {
    const socket = net.connect({ path: worker.socketPath });
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.on('error', () => {});
    await worker.waitForLog('timed out after 1s waiting for the uwsgi packet (--socket-timeout)', 5000);
    await closed;
  });
});

describe('Python worker: wsgi.file_wrapper through os.sendfile()', { skip }, () => {
  const workers = useWorkers();

  it('an unwrapped FileWrapper is sent with sendfile() from the file position, then closed', async () => {
    // sendfile_app.py is the one fixture without wsgiref.validate: its file refuses read().
    const worker = await workers.start(['--wsgi-file', 'sendfile_app.py']);
    const data = randomBytes(5 * MiB + 3);
    const path = join(workers.dir(), 'sendfile.bin');
    writeFileSync(path, data);
    const offset = 1000;
    const res = await worker.request({ path: '/', query: `path=${encodeURIComponent(path)}&offset=${offset}&size=${data.length - offset}` });
    assert.equal(res.status, 200);
    assert.ok(res.body.equals(data.subarray(offset)), 'the bytes from the offset to the end');
    await worker.waitForLog('tsgi-test: sendfile close');
    assert.doesNotMatch(worker.stderr(), /read\(\) called/);
  });

  it("sendfile() stops at the app's Content-Length", async () => {
    const worker = await workers.start(['--wsgi-file', 'sendfile_app.py']);
    const data = randomBytes(MiB);
    const path = join(workers.dir(), 'sendfile-part.bin');
    writeFileSync(path, data);
    const res = await worker.request({ path: '/', query: `path=${encodeURIComponent(path)}&offset=10&size=100` });
    assert.ok(res.body.equals(data.subarray(10, 110)));
  });
});
