/**
 * `tsgi --http ADDR ...`: the real binary (dist/), a master with workers and the HTTP router
 * process, as the seeds run it (`uwsgi --http :9090 --wsgi-file foobar.py --master --processes 4`).
 * What is asserted here is end to end: keep-alive towards the client while each request reaches a
 * worker on its own connection, pipelining, large bodies both ways, harakiri turning into a 502,
 * the router's own supervision, and a reload under load with no failed request.
 */
import { describe, it, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { runTsgi, waitForUrl, type Running } from '../helpers/process.js';
import { openSocket, readUntil, splitResponses } from '../helpers/net.js';

const temp = mkdtempSync(join(tmpdir(), 'tsgi-router-'));
const APP = join(temp, 'app.mjs');
writeFileSync(
  APP,
  `
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
export default async function app(environ, startResponse) {
  const path = environ.PATH_INFO;
  if (path === '/stuck') { for (;;) {} }
  if (path === '/stream') {
    startResponse('200 OK', [['Content-Type', 'text/plain']]);
    return (async function* () { yield 'one,'; await sleep(20); yield 'two'; })();
  }
  if (path === '/slow') await sleep(Number(new URLSearchParams(environ.QUERY_STRING).get('ms') ?? '100'));
  let length = 0;
  for await (const chunk of environ['tsgi.input']) length += chunk.length;
  const body = JSON.stringify({ pid: process.pid, remotePort: environ.REMOTE_PORT, path, length, contentLength: environ.CONTENT_LENGTH ?? null, router: environ.UWSGI_ROUTER ?? null });
  startResponse('200 OK', [['Content-Type', 'application/json'], ['Content-Length', String(Buffer.byteLength(body))]]);
  return [body];
}
`,
);

interface Reply {
  pid: number;
  remotePort: string;
  path: string;
  length: number;
  contentLength: string | null;
  router: string | null;
}

const running: Running[] = [];
after(async () => {
  await Promise.all(running.map((server) => server.stop('SIGINT')));
  rmSync(temp, { recursive: true, force: true });
});

/** Starts `tsgi ARGS --http 127.0.0.1:0 --app APP` and returns it with its port. */
async function start(extra: string[]): Promise<{ server: Running; port: number }> {
  const server = runTsgi(['--http', '127.0.0.1:0', '--app', APP, '--app-kind', 'tsgi', '--worker-reload-mercy', '5', ...extra]);
  running.push(server);
  const url = await waitForUrl(server, 30_000);
  return { server, port: Number(new URL(url).port) };
}

async function waitForLine(server: Running, pattern: RegExp, ms = 10_000): Promise<RegExpExecArray> {
  const deadline = Date.now() + ms;
  for (;;) {
    const match = pattern.exec(server.output());
    if (match) return match;
    if (Date.now() > deadline) throw new Error(`no line matched ${pattern} in ${ms} ms:\n${server.output()}`);
    await sleep(25);
  }
}

function get(port: number, path: string, options: { agent?: Agent; method?: string; body?: Buffer } = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: options.method ?? 'GET', agent: options.agent ?? false }, (res) => {
      let body = '';
      res.setEncoding('latin1');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.setTimeout(15_000, () => req.destroy(new Error('no answer')));
    req.on('error', reject);
    req.end(options.body);
  });
}

describe('tsgi --http (the HTTP router)', { timeout: 180_000 }, () => {
  let server: Running;
  let port: number;

  before(async () => {
    ({ server, port } = await start(['--master', '--processes', '2']));
  });

  it('starts a router process beside the workers, as the seed command does', async () => {
    assert.match(server.output(), /spawned tsgi worker 1 \(pid: \d+/);
    assert.match(server.output(), /spawned tsgi worker 2 \(pid: \d+/);
    assert.match(server.output(), /spawned tsgi http 1 \(pid: \d+\)/);
    const reply = await get(port, '/hello');
    assert.equal(reply.status, 200);
    assert.equal((JSON.parse(reply.body) as Reply).router, 'http', 'the request reached a worker through the router (UWSGI_ROUTER=http)');
  });

  it('keeps the client connection across requests while each request reaches a worker on its own connection', async () => {
    const socket = await openSocket(port);
    const replies: Reply[] = [];
    // Which worker accepts is the kernel's choice; on a loaded machine one may win many in a row.
    for (let i = 0; i < 40 || (i < 400 && new Set(replies.map((r) => r.pid)).size < 2); i++) {
      socket.write(`GET /n${i} HTTP/1.1\r\nHost: test\r\n\r\n`);
      const text = await readUntil(socket, (t) => t.endsWith('}'));
      const [response] = splitResponses(text);
      assert.equal(response!.status, 200);
      assert.equal(response!.headers.connection, undefined, 'no Connection: close');
      replies.push(JSON.parse(response!.body) as Reply);
    }
    socket.destroy();
    assert.equal(new Set(replies.map((r) => r.remotePort)).size, 1, 'one client connection for all the requests');
    // A router that pinned a worker connection to a client connection would send all of them to
    // one worker; a connection per request lets the kernel hand each to whichever worker accepts.
    assert.equal(new Set(replies.map((r) => r.pid)).size, 2, 'both workers served requests of one client connection');
  });

  it('answers pipelined requests in order', async () => {
    const socket = await openSocket(port);
    socket.write('GET /p1 HTTP/1.1\r\nHost: t\r\n\r\nGET /p2 HTTP/1.1\r\nHost: t\r\n\r\nPOST /p3 HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabcGET /p4 HTTP/1.1\r\nHost: t\r\n\r\n');
    const text = await readUntil(socket, (t) => t.includes('"/p4"') && t.endsWith('}'));
    socket.destroy();
    const replies = splitResponses(text).map((r) => JSON.parse(r.body) as Reply);
    assert.deepEqual(replies.map((r) => r.path), ['/p1', '/p2', '/p3', '/p4']);
    assert.equal(replies[2]!.length, 3);
  });

  it('streams a 10 MB POST to the worker', async () => {
    const body = Buffer.alloc(10 * 1024 * 1024, 0x61);
    const reply = await get(port, '/upload', { method: 'POST', body });
    assert.equal(reply.status, 200);
    const parsed = JSON.parse(reply.body) as Reply;
    assert.equal(parsed.length, body.length);
    assert.equal(parsed.contentLength, String(body.length));
  });

  it('de-chunks a chunked POST for the worker', async () => {
    const socket = await openSocket(port);
    socket.write('POST /chunked HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n3\r\nefg\r\n0\r\n\r\n');
    const text = await readUntil(socket, (t) => t.endsWith('}'));
    socket.destroy();
    const parsed = JSON.parse(splitResponses(text)[0]!.body) as Reply;
    assert.equal(parsed.length, 7);
    assert.equal(parsed.contentLength, '7');
  });

  it('sends a response without Content-Length chunked, and keeps the connection', async () => {
    const socket = await openSocket(port);
    socket.write('GET /stream HTTP/1.1\r\nHost: t\r\n\r\n');
    const text = await readUntil(socket, (t) => t.endsWith('0\r\n\r\n'));
    assert.match(text, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(text, /\r\nTransfer-Encoding: chunked\r\n/);
    assert.equal(splitResponses(text)[0]!.body, 'one,two');
    socket.write('GET /after HTTP/1.1\r\nHost: t\r\n\r\n');
    assert.match(await readUntil(socket, (t) => t.endsWith('}')), /"\/after"/);
    socket.destroy();
  });

  it('answers HEAD with the head only', async () => {
    const reply = await get(port, '/head', { method: 'HEAD' });
    assert.equal(reply.status, 200);
    assert.equal(reply.body, '');
    assert.ok(Number(reply.headers['content-length']) > 0);
  });

  it('respawns the router when it is killed with SIGKILL; the port stays open meanwhile', async () => {
    const routerPid = Number((await waitForLine(server, /spawned tsgi http 1 \(pid: (\d+)\)/))[1]);
    process.kill(routerPid, 'SIGKILL');
    await waitForLine(server, new RegExp(`DAMN ! tsgi http 1 \\(pid: ${routerPid}\\) died, killed by signal 9`));
    const respawned = Number((await waitForLine(server, /respawned tsgi http 1 \(pid: (\d+)\)/))[1]);
    assert.notEqual(respawned, routerPid);
    // The master holds the listening socket: a client that connects during the respawn waits in
    // the listen queue and is answered by the new router.
    const reply = await get(port, '/after-kill');
    assert.equal(reply.status, 200);
  });

  it('reloads the workers (HUP) under load through the router with zero failed requests', async () => {
    const masterPid = server.child.pid!;
    const before = new Set<number>();
    for (let i = 0; i < 10; i++) before.add((JSON.parse((await get(port, '/before')).body) as Reply).pid);
    const agent = new Agent({ keepAlive: true, maxSockets: 4 });
    let stop = false;
    let ok = 0;
    const failures: string[] = [];
    const loop = async (keepAlive: boolean): Promise<void> => {
      while (!stop) {
        try {
          const reply = await get(port, '/slow?ms=20', keepAlive ? { agent } : {});
          if (reply.status === 200) {
            ok++;
          } else {
            failures.push(`status ${reply.status}`);
          }
        } catch (error) {
          failures.push(String(error));
        }
      }
    };
    const loops = [loop(true), loop(true), loop(false), loop(false)];
    await sleep(300);
    process.kill(masterPid, 'SIGHUP');
    await waitForLine(server, /reload complete/, 30_000);
    await sleep(2500); // the old workers drain while the load goes on
    stop = true;
    await Promise.all(loops);
    agent.destroy();
    assert.deepEqual(failures, []);
    assert.ok(ok > 20, `only ${ok} requests went through`);
    const fresh = new Set((await Promise.all([1, 2, 3, 4, 5, 6].map(() => get(port, '/fresh')))).map((r) => (JSON.parse(r.body) as Reply).pid));
    for (const pid of fresh) assert.ok(!before.has(pid), 'requests now reach the new workers');
    assert.doesNotMatch(server.output(), /DAMN ! tsgi http 1 \(pid: \d+\) died, exit/, 'the router was kept, not restarted, by the reload');
  });

  it('stops gracefully on TERM: the router finishes the request in flight, then everything exits 0', async () => {
    const slow = get(port, '/slow?ms=800');
    await sleep(200);
    const code = server.stop('SIGTERM');
    const reply = await slow;
    assert.equal(reply.status, 200);
    assert.equal(await code, 0);
    assert.match(server.output(), /gateway "tsgi http 1" has been buried/);
    assert.match(server.output(), /goodbye to tsgi\./);
  });
});

describe('tsgi --http with --harakiri', { timeout: 60_000 }, () => {
  it('a worker killed by harakiri gives the client a 502, and the log names the request', async () => {
    const { server, port } = await start(['--master', '--processes', '1', '--harakiri', '1']);
    const reply = await get(port, '/stuck?id=7');
    assert.equal(reply.status, 502);
    assert.match(reply.body, /502 Bad Gateway/);
    await waitForLine(server, /HARAKIRI: .* WAS managing request GET \/stuck\?id=7/);
    await waitForLine(server, /tsgi http router: upstream prematurely closed connection while reading response header from upstream, client: 127\.0\.0\.1, request: "GET \/stuck\?id=7 HTTP\/1\.1", .* -> 502 Bad Gateway/);
    // The request after it waits for the respawned worker instead of failing.
    assert.equal((await get(port, '/next')).status, 200);
    assert.equal(await server.stop('SIGINT'), 0);
  });
});
