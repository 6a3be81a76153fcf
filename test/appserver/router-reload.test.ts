/**
 * Graceful reloads behind the HTTP router with kept worker connections (docs/protocols.md, "Kept
 * router connections"): every request gets its answer while the workers it was kept with say
 * goodbye. The bug these pin down: a kept connection that a stopping worker's goodbye (or end)
 * reached while it was idle in the pool was destroyed but stayed in the pool's idle list until
 * its 'close' a turn of the event loop later; a request that took it meanwhile was written into
 * the destroyed socket (a silent no-op) and waited --http-timeout for a 504.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type Server, type Socket } from 'node:net';
import { WorkerPool, type PoolClient } from '../../src/appserver/router/worker-pool.js';
import type { WorkerSocket } from '../../src/appserver/router/worker-socket.js';
import { runTsgi, waitForUrl, type Running } from '../helpers/process.js';
import { pythonSkip } from '../python/harness.js';

/** python/tsgi/server.py's GOODBYE. */
const GOODBYE = 'HTTP/1.1 503 Service Unavailable\r\nTsgi-Retry: 1\r\nContent-Length: 0\r\n\r\n';

const temp = mkdtempSync(join(tmpdir(), 'tsgi-router-reload-'));
after(() => rmSync(temp, { recursive: true, force: true }));

/** A pool client that only records what it is told. */
function client(): PoolClient & { connected: Promise<void> } {
  let connected!: () => void;
  return {
    connected: new Promise<void>((resolve) => (connected = resolve)),
    onPooledWorker: () => {},
    onWorkerConnect: () => connected(),
    onWorkerData: () => {},
    onWorkerEnd: () => {},
    onWorkerError: () => {},
    onResponseHead: () => {},
    onResponseBody: () => {},
    resumeClient: () => {},
  };
}

describe('the worker pool between requests', () => {
  const path = join(temp, 'pool.sock');
  const accepted: Socket[] = [];
  const worker: Server = createServer((socket) => {
    accepted.push(socket);
    socket.on('error', () => {});
  });
  let pool: WorkerPool;

  before(async () => {
    await new Promise<void>((resolve) => worker.listen(path, resolve));
    pool = new WorkerPool({ path }, 2);
  });
  after(async () => {
    pool.closeIdle();
    for (const socket of accepted) socket.destroy();
    await new Promise<void>((resolve) => worker.close(() => resolve()));
  });

  it('a kept connection that hears a goodbye while idle is never handed to the next request', async () => {
    const first = client();
    const socket = pool.acquire(first)!;
    await first.connected;
    pool.release(socket);
    // The goodbye arrives while the socket is idle: it is destroyed, and its 'close' (which the
    // pool also hears) comes only later. A request arriving in between must get another socket.
    socket.emit('data', Buffer.from(GOODBYE, 'latin1'));
    assert.equal(socket.destroyed, true);
    const second = client();
    const next: WorkerSocket | null = pool.acquire(second);
    assert.notEqual(next, socket, 'the destroyed socket was handed out');
    assert.ok(next !== null && !next.destroyed);
    await second.connected;
    next.destroy();
  });

  it('nor is one that hears its worker end while idle', async () => {
    const first = client();
    const socket = pool.acquire(first)!;
    await first.connected;
    pool.release(socket);
    socket.emit('end');
    const next = pool.acquire(client());
    assert.notEqual(next, socket);
    next?.destroy();
  });
});

describe('tsgi --http with Python workers, reloaded under load', { skip: pythonSkip() }, () => {
  let tsgi: Running | null = null;
  after(async () => {
    await tsgi?.stop('SIGINT');
  });

  it('5 HUPs while keep-alive clients send GETs and POSTs: every response is a 200', { timeout: 90_000 }, async () => {
    // No Content-Length on the GET (the worker chunks it), the body's length back on a POST.
    writeFileSync(
      join(temp, 'app.py'),
      [
        'def application(environ, start_response):',
        '    body = environ["wsgi.input"].read()',
        '    start_response("200 OK", [("Content-Type", "text/plain")])',
        '    return [b"got %d\\n" % len(body)]',
        '',
      ].join('\n'),
    );
    // A short --http-timeout: a request left unanswered shows as a 504 within the test.
    tsgi = runTsgi(['--http', '127.0.0.1:0', '--wsgi-file', 'app.py', '--master', '--processes', '2', '--http-timeout', '5'], { cwd: temp });
    const url = await waitForUrl(tsgi);
    const statuses = new Map<string, number>();
    let ok = 0;
    let running = true;
    const loop = async (n: number): Promise<void> => {
      for (let i = 0; running; i++) {
        const post = (i + n) % 2 === 1;
        const size = post ? 1 + ((i * 7919) % 20_000) : 0;
        let key: string;
        try {
          const response = post ? await fetch(url, { method: 'POST', body: 'x'.repeat(size) }) : await fetch(url);
          const text = await response.text();
          key = response.status === 200 && text === `got ${size}\n` ? 'ok' : `${response.status} ${JSON.stringify(text)}`;
        } catch (error) {
          key = `fetch failed: ${String((error as Error).cause ?? error)}`;
        }
        if (key === 'ok') ok++;
        else statuses.set(key, (statuses.get(key) ?? 0) + 1);
      }
    };
    const loops = Array.from({ length: 4 }, (_, n) => loop(n));
    const waitFor = async (pattern: RegExp): Promise<void> => {
      const started = Date.now();
      while (!pattern.test(tsgi!.output())) {
        if (Date.now() - started > 20_000) throw new Error(`output never matched ${String(pattern)}:\n${tsgi!.output()}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    };
    try {
      await new Promise((resolve) => setTimeout(resolve, 300));
      for (let generation = 2; generation <= 6; generation++) {
        tsgi.child.kill('SIGHUP');
        await waitFor(new RegExp(`reload complete: 2 worker\\(s\\) of generation ${generation} serving`));
        // The old generation finishes its goodbyes while the load goes on.
        await new Promise((resolve) => setTimeout(resolve, 700));
      }
    } finally {
      running = false;
      await Promise.all(loops);
    }
    assert.deepEqual(Object.fromEntries(statuses), {}, `${ok} ok; the router said:\n${tsgi.output().split('\n').filter((line) => line.includes('router')).join('\n')}`);
    assert.ok(ok > 100, `only ${ok} requests`);
    assert.doesNotMatch(tsgi.output(), /tsgi http router: /);
    assert.equal(await tsgi.stop('SIGTERM'), 0);
  });
});
