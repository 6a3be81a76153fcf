/**
 * Kept connections between tsgi's router and the Python worker (docs/protocols.md, "Kept router
 * connections"), spoken by hand: modifier2 'K' asks, `Tsgi-Keep: 1` in the head agrees, and the
 * response then ends where its framing says so that the next packet can follow on the same
 * connection. A request without 'K' (nginx, uWSGI's router) still gets its close.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { join } from 'node:path';
import { FIXTURES, pythonSkip, useWorkers, type Worker } from './harness.js';

const skip = pythonSkip();
const KEEP = 0x4b;
const APP = ['--wsgi-file', join(FIXTURES, 'keep_app.py')];
const GOODBYE = 'HTTP/1.1 503 Service Unavailable\r\nTsgi-Retry: 1\r\nContent-Length: 0\r\n\r\n';

function packet(vars: Record<string, string>, body = Buffer.alloc(0), modifier2 = KEEP): Buffer {
  const parts: Buffer[] = [];
  for (const [key, value] of Object.entries({ SERVER_PROTOCOL: 'HTTP/1.1', REQUEST_METHOD: 'GET', CONTENT_LENGTH: String(body.length), ...vars })) {
    const k = Buffer.from(key, 'latin1');
    const v = Buffer.from(value, 'latin1');
    const lengths = Buffer.alloc(4);
    lengths.writeUInt16LE(k.length, 0);
    parts.push(lengths.subarray(0, 2), k);
    lengths.writeUInt16LE(v.length, 2);
    parts.push(lengths.subarray(2), v);
  }
  const block = Buffer.concat(parts);
  const head = Buffer.from([0, block.length & 0xff, block.length >> 8, modifier2]);
  return Buffer.concat([head, block, body]);
}

/** A connection that reads responses one by one; `closed` says the worker closed it. */
class Conn {
  private data = '';
  closed = false;
  private wake: (() => void) | null = null;
  private constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.data += chunk.toString('latin1');
      this.wake?.();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake?.();
    });
    socket.on('error', () => {});
  }

  static open(path: string): Promise<Conn> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ path }, () => resolve(new Conn(socket)));
      socket.once('error', reject);
    });
  }

  /** Waits until the bytes so far hold `done(text)` or the connection closed; returns the text. */
  async until(done: (text: string) => boolean, ms = 5000): Promise<string> {
    const deadline = Date.now() + ms;
    while (!done(this.data) && !this.closed) {
      if (Date.now() > deadline) throw new Error(`no complete response; got ${JSON.stringify(this.data)}`);
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        setTimeout(resolve, 50);
      });
    }
    const text = this.data;
    this.data = '';
    return text;
  }

  /** Sends a packet and returns the response, complete by Content-Length, chunked end, or close. */
  async ask(bytes: Buffer, bodyless = false): Promise<string> {
    this.socket.write(bytes);
    return this.until((text) => complete(text, bodyless));
  }

  async closedWithin(ms = 2000): Promise<boolean> {
    await this.until(() => false, ms).catch(() => '');
    return this.closed;
  }
}

function complete(text: string, bodyless: boolean): boolean {
  const end = text.indexOf('\r\n\r\n');
  if (end < 0) return false;
  const head = text.slice(0, end).toLowerCase();
  if (bodyless) return true;
  const length = /\r\ncontent-length: (\d+)/.exec(head);
  if (length) return text.length - end - 4 >= Number(length[1]);
  if (head.includes('\r\ntransfer-encoding: chunked')) return text.endsWith('\r\n0\r\n\r\n');
  return false;
}

describe('Python worker: kept router connections', { skip }, () => {
  const workers = useWorkers();
  let worker: Worker;

  it('serves request after request on one connection, each response self-delimited and marked Tsgi-Keep', async () => {
    worker = await workers.start(APP);
    const conn = await Conn.open(worker.socketPath);
    const first = await conn.ask(packet({ PATH_INFO: '/length' }));
    assert.equal(first, 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nTsgi-Keep: 1\r\n\r\nhello');
    const posted = await conn.ask(packet({ PATH_INFO: '/length', REQUEST_METHOD: 'POST' }, Buffer.from('xyz')));
    assert.match(posted, /Content-Length: 8\r\nTsgi-Keep: 1\r\n\r\nhelloxyz$/);
    // No length from the app: the worker chunks the body itself (an empty chunk is not a last chunk).
    const streamed = await conn.ask(packet({ PATH_INFO: '/stream' }));
    assert.equal(streamed, 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\nTsgi-Keep: 1\r\n\r\n2\r\nab\r\n3\r\ncde\r\n0\r\n\r\n');
    // HEAD and 204: the head only, whatever the app returned.
    const head = await conn.ask(packet({ PATH_INFO: '/length', REQUEST_METHOD: 'HEAD' }), true);
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(head, 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nTsgi-Keep: 1\r\n\r\n');
    assert.equal(await conn.ask(packet({ PATH_INFO: '/empty' }), true), 'HTTP/1.1 204 No Content\r\nTsgi-Keep: 1\r\n\r\n');
    // An application error is a complete 500: the connection stays.
    const failed = await conn.ask(packet({ PATH_INFO: '/boom' }));
    assert.match(failed, /^HTTP\/1\.1 500 Internal Server Error\r\n.*Tsgi-Keep: 1\r\n\r\nInternal Server Error$/s);
    assert.match(await conn.ask(packet({ PATH_INFO: '/length' })), /\r\n\r\nhello$/);
    assert.equal(conn.closed, false);
    conn.socket.destroy();
  });

  it('closes after a response it cannot delimit, or one cut short, and says so by leaving out Tsgi-Keep', async () => {
    for (const [vars, expected] of [
      [{ PATH_INFO: '/stream', SERVER_PROTOCOL: 'HTTP/1.0' }, 'HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nabcde'],
      [{ PATH_INFO: '/own-chunked' }, 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n'],
    ] as const) {
      const conn = await Conn.open(worker.socketPath);
      conn.socket.write(packet(vars));
      assert.equal(await conn.until(() => false, 3000).catch(() => 'open'), expected);
      assert.equal(conn.closed, true);
    }
    // The head promised 10 bytes and said Tsgi-Keep; the app gave 5: the close tells the router.
    const conn = await Conn.open(worker.socketPath);
    conn.socket.write(packet({ PATH_INFO: '/short' }));
    assert.equal(await conn.until(() => false, 3000).catch(() => 'open'), 'HTTP/1.1 200 OK\r\nContent-Length: 10\r\nTsgi-Keep: 1\r\n\r\n12345');
    assert.equal(conn.closed, true);
  });

  it('answers a plain uwsgi request (modifier2 0) as before: no Tsgi-Keep, then the close', async () => {
    const conn = await Conn.open(worker.socketPath);
    conn.socket.write(packet({ PATH_INFO: '/stream' }, Buffer.alloc(0), 0));
    assert.equal(await conn.until(() => false, 3000).catch(() => 'open'), 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nabcde');
    assert.equal(conn.closed, true);
  });

  it('with one thread, serves a new connection and other kept ones while a kept one is idle', async () => {
    const single = await workers.start(APP);
    const a = await Conn.open(single.socketPath);
    assert.match(await a.ask(packet({ PATH_INFO: '/length' })), /Tsgi-Keep: 1/);
    // `a` now waits in the poller; the only thread must still take `b` and then `a` again.
    const b = await Conn.open(single.socketPath);
    assert.match(await b.ask(packet({ PATH_INFO: '/length' })), /Tsgi-Keep: 1/);
    assert.match(await a.ask(packet({ PATH_INFO: '/length' })), /Tsgi-Keep: 1/);
    // Two kept connections per thread: a third one is answered and closed, so the router's
    // next connection can go to another worker.
    const c = await Conn.open(single.socketPath);
    const third = await c.ask(packet({ PATH_INFO: '/length' }));
    assert.doesNotMatch(third, /Tsgi-Keep/);
    assert.equal(await c.closedWithin(), true);
    assert.match(await b.ask(packet({ PATH_INFO: '/length' })), /Tsgi-Keep: 1/);
    // A stop says goodbye on the idle kept connections at once (the router sends a request that
    // crossed it again elsewhere), and closes them when the router closes its side.
    const stopped = single.stop('SIGTERM');
    for (const conn of [a, b]) {
      assert.equal(await conn.until((text) => text.endsWith('\r\n\r\n'), 2000), GOODBYE);
      conn.socket.end();
      assert.equal(await conn.closedWithin(), true);
    }
    assert.equal((await stopped).code, 0);
  });

  it('with --threads 2, two kept connections are served at the same time', async () => {
    const threaded = await workers.start([...APP, '--threads', '2']);
    const a = await Conn.open(threaded.socketPath);
    const b = await Conn.open(threaded.socketPath);
    assert.match(await a.ask(packet({ PATH_INFO: '/length' })), /Tsgi-Keep: 1/);
    assert.match(await b.ask(packet({ PATH_INFO: '/length' })), /Tsgi-Keep: 1/);
    const started = Date.now();
    const both = await Promise.all([a.ask(packet({ PATH_INFO: '/sleep', QUERY_STRING: '0.5' })), b.ask(packet({ PATH_INFO: '/sleep', QUERY_STRING: '0.5' }))]);
    assert.ok(both.every((text) => text.endsWith('slept')));
    assert.ok(Date.now() - started < 900, `took ${Date.now() - started} ms: served one after the other`);
    a.socket.destroy();
    b.socket.destroy();
  });
});
