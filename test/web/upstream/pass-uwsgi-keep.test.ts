/**
 * Kept uwsgi connections (docs/protocols.md, "Kept uwsgi connections"): tsgi web with `keepalive`
 * in the upstream block asks tsgi serve to keep each connection, and tsgi serve's uwsgi socket
 * agrees, so many requests share one connection (accepts counted on the app server's socket).
 * Without `keepalive`, and for a plain uwsgi client (modifier2 0), nothing changes: a connection
 * per request, the response ended by the close.
 */
import { describe, it, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { startWeb, type RunningWeb } from '../server/tsgi-web.js';
import { get } from './pass-helpers.js';
import { attachApp, type AttachedApp } from '../../../src/appserver/serve.js';
import { bindSocket, closeSockets, type BoundSocket } from '../../../src/appserver/sockets.js';
import { encodeUwsgiRequest } from '../../../src/protocols/uwsgi.js';
import type { App } from '../../../src/gateway/types.js';

/** Routes on PATH_INFO: a length-framed answer, a streamed one without length, 204, a short one;
 *  /sync answers before the app returns (the response ends while the packet is being decoded). */
const app: App = (environ, startResponse) => {
  if (environ.PATH_INFO === '/sync') {
    startResponse('200 OK', [['Content-Length', '4']]);
    return ['sync'];
  }
  return asyncApp(environ, startResponse);
};

const asyncApp: App = async (environ, startResponse) => {
  for await (const part of environ['tsgi.input']) void part;
  const path = String(environ.PATH_INFO);
  if (path === '/stream') {
    startResponse('200 OK', [['Content-Type', 'text/plain']]);
    return (async function* () {
      for (let i = 0; i < 3; i++) {
        await new Promise((resolve) => setTimeout(resolve, 1));
        yield `part ${i};`;
      }
    })();
  }
  if (path === '/empty') {
    startResponse('204 No Content', []);
    return [];
  }
  if (path === '/short') {
    startResponse('200 OK', [['Content-Length', '10']]);
    return ['abc'];
  }
  const text = `hello ${String(environ.REQUEST_METHOD)} ${String(environ.CONTENT_LENGTH ?? '')}`;
  startResponse('200 OK', [['Content-Type', 'text/plain'], ['Content-Length', String(text.length)]]);
  return [text];
};

describe('kept uwsgi connections: tsgi web → tsgi serve', () => {
  let bound: BoundSocket;
  let attached: AttachedApp;
  let accepts = 0;
  let web: RunningWeb;

  before(async () => {
    bound = await bindSocket({ protocol: 'uwsgi', address: '127.0.0.1:0' });
    bound.server.on('connection', () => accepts++);
    attached = attachApp(app, [{ protocol: 'uwsgi', server: bound.server, bound: bound.bound }], { log: false });
    const port = 'port' in bound.bound ? bound.bound.port : 0;
    web = await startWeb(`
      upstream kept { server 127.0.0.1:${port}; keepalive 4; }
      upstream plain { server 127.0.0.1:${port}; }
      server {
        listen 127.0.0.1:PORT;
        location / { uwsgi_param REQUEST_METHOD $request_method; uwsgi_param PATH_INFO $uri; uwsgi_param CONTENT_LENGTH $content_length; uwsgi_param SERVER_PROTOCOL $server_protocol; uwsgi_pass kept; }
        location /plain/ { uwsgi_param REQUEST_METHOD $request_method; uwsgi_param PATH_INFO $uri; uwsgi_param SERVER_PROTOCOL $server_protocol; uwsgi_pass plain; }
      }`);
  });
  after(async () => {
    await web.stop();
    await attached.drain(100);
    await closeSockets([bound], { removeUnixFiles: true });
  });

  it('passes many requests over one connection', async () => {
    const before = accepts;
    for (let i = 0; i < 20; i++) {
      const reply = await get(web.port, '/hello');
      assert.equal(reply.status, 200);
      assert.equal(reply.body.toString(), 'hello GET ');
      assert.equal(reply.headers['tsgi-keep'], undefined, 'the extension header never reaches the client');
    }
    assert.equal(accepts - before, 1);
  });

  it('keeps the connection when the app answers synchronously', async () => {
    const before = accepts;
    for (let i = 0; i < 5; i++) assert.equal((await get(web.port, '/sync')).body.toString(), 'sync');
    assert.equal(accepts - before, 0);
  });

  it('keeps the connection across HEAD, 204, a POST body and a streamed (chunked) body', async () => {
    const before = accepts;
    const head = await get(web.port, '/hello', { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.body.length, 0);
    const empty = await get(web.port, '/empty');
    assert.equal(empty.status, 204);
    const post = await get(web.port, '/hello', { method: 'POST', body: 'x'.repeat(5000) });
    assert.equal(post.body.toString(), 'hello POST 5000');
    const stream = await get(web.port, '/stream');
    assert.equal(stream.status, 200);
    assert.equal(stream.body.toString(), 'part 0;part 1;part 2;');
    assert.equal(stream.headers['transfer-encoding'], 'chunked');
    const after = await get(web.port, '/hello');
    assert.equal(after.body.toString(), 'hello GET ');
    assert.equal(accepts - before, 0, 'the connection kept by the first test serves them all');
  });

  it('closes a connection whose response fell short of its Content-Length, and goes on', async () => {
    const before = accepts;
    // The client sees a truncated body (the web server cuts its connection, as nginx does).
    await assert.rejects(get(web.port, '/short'));
    const next = await get(web.port, '/hello');
    assert.equal(next.body.toString(), 'hello GET ');
    assert.equal(accepts - before, 1, 'a new connection after the broken one');
  });

  it('without keepalive in the upstream block, one connection per request', async () => {
    const before = accepts;
    for (let i = 0; i < 3; i++) assert.equal((await get(web.port, '/plain/x')).status, 200);
    assert.equal(accepts - before, 3);
  });

  it('answers a plain uwsgi packet (modifier2 0) as before, and a K packet with Tsgi-Keep', async () => {
    const port = 'port' in bound.bound ? bound.bound.port : 0;
    const vars = ['REQUEST_METHOD', 'GET', 'PATH_INFO', '/hello', 'SERVER_PROTOCOL', 'HTTP/1.1'];
    const plain = await rawExchange(port, [encodeUwsgiRequest(vars, 0, 0)]);
    assert.equal(plain.closed, true);
    assert.ok(!/tsgi-keep/i.test(plain.text), plain.text);
    assert.match(plain.text, /^HTTP\/1\.1 200 OK\r\n/);
    const kept = await rawExchange(port, [encodeUwsgiRequest(vars, 0, 0x4b), encodeUwsgiRequest(vars, 0, 0x4b)]);
    assert.equal(kept.closed, false, 'the connection stays open after a kept response');
    assert.equal(kept.text.match(/Tsgi-Keep: 1\r\n/g)?.length, 2, kept.text);
  });
});

/** Sends each packet once the previous response is whole (by its Content-Length); reports what
 *  came back and whether the server closed within 100 ms of the last one. */
function rawExchange(port: number, packets: Buffer[]): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    let answered = 0;
    let closed = false;
    let timer: NodeJS.Timeout | null = null;
    socket.on('error', reject);
    socket.on('close', () => {
      closed = true;
    });
    socket.on('end', () => socket.end());
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      const whole = [...text.matchAll(/Content-Length: (\d+)\r\n(?:.*\r\n)*?\r\n/g)].filter((m) => text.length >= m.index + m[0].length + Number(m[1])).length;
      if (whole > answered) {
        answered = whole;
        if (answered < packets.length) socket.write(packets[answered]!);
        else
          timer ??= setTimeout(() => {
            socket.destroy();
            resolve({ text, closed });
          }, 100);
      }
    });
    socket.write(packets[0]!);
  });
}
