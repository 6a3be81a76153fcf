/** tsgi serve's FastCGI socket driven with the codec's client session: multiplexing, keep-conn, GET_VALUES. */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { serve, type ServerHandle } from '../../src/appserver/serve.js';
import { FcgiClientSession } from '../../src/protocols/fastcgi-session.js';
import { encodeGetValues, encodeStdin, encodeStdinEnd, FCGI_MPXS_CONNS } from '../../src/protocols/fastcgi.js';
import type { App } from '../../src/gateway/types.js';
import { openSocket } from '../helpers/net.js';

const app: App = async (environ, startResponse) => {
  const parts: Uint8Array[] = [];
  for await (const part of environ['tsgi.input']) parts.push(part);
  if (environ.PATH_INFO === '/slow') await sleep(50);
  startResponse('200 OK', [['Content-Type', 'text/plain']]);
  return [`${environ.PATH_INFO}:${Buffer.concat(parts).toString()}`];
};

const vars = (path: string, length: number) => ['REQUEST_METHOD', 'POST', 'REQUEST_URI', path, 'DOCUMENT_URI', path, 'CONTENT_LENGTH', String(length), 'SERVER_PROTOCOL', 'HTTP/1.1'];

describe('tsgi serve --fastcgi-socket', () => {
  let server: ServerHandle;
  let port = 0;
  before(async () => {
    server = await serve(app, { sockets: [{ protocol: 'fastcgi', address: '127.0.0.1:0' }], log: false });
    port = 'port' in server.address ? server.address.port : 0;
  });
  after(() => server.close(1000));

  function connectClient() {
    const outputs = new Map<number, string>();
    const ended: number[] = [];
    let values: string[] = [];
    const session = new FcgiClientSession({
      onStdout: (id, chunk) => outputs.set(id, (outputs.get(id) ?? '') + chunk.toString('latin1')),
      onStderr: () => {},
      onEndRequest: (id) => ended.push(id),
      onGetValuesResult: (v) => (values = v),
    });
    return { session, outputs, ended, values: () => values };
  }

  it('answers interleaved requests on one kept connection, each under its own id', async () => {
    const socket = await openSocket(port);
    const client = connectClient();
    let closed = false;
    socket.on('data', (chunk: Buffer) => client.session.execute(chunk));
    socket.on('close', () => (closed = true));
    socket.write(client.session.beginRequest(1, vars('/slow', 3), { keepConn: true }));
    socket.write(client.session.beginRequest(2, vars('/fast', 2), { keepConn: true }));
    socket.write(Buffer.concat([encodeStdin(2, Buffer.from('bb')), encodeStdin(1, Buffer.from('aaa')), encodeStdinEnd(2), encodeStdinEnd(1)]));
    for (let i = 0; i < 100 && client.ended.length < 2; i++) await sleep(10);
    assert.deepEqual(client.ended, [2, 1], 'the fast request finishes first');
    assert.match(client.outputs.get(1)!, /^Status: 200 OK\r\n[\s\S]*\r\n\r\n\/slow:aaa$/);
    assert.match(client.outputs.get(2)!, /\r\n\r\n\/fast:bb$/);
    assert.equal(closed, false, 'FCGI_KEEP_CONN keeps the connection open');
    socket.destroy();
  });

  it('closes the connection after the response without FCGI_KEEP_CONN', async () => {
    const socket = await openSocket(port);
    const client = connectClient();
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.on('data', (chunk: Buffer) => client.session.execute(chunk));
    socket.write(Buffer.concat([client.session.beginRequest(1, vars('/once', 0), { keepConn: false }), encodeStdinEnd(1)]));
    await closed;
    assert.deepEqual(client.ended, [1]);
    assert.match(client.outputs.get(1)!, /\/once:$/);
  });

  it('answers GET_VALUES', async () => {
    const socket = await openSocket(port);
    const client = connectClient();
    socket.on('data', (chunk: Buffer) => client.session.execute(chunk));
    socket.write(encodeGetValues([FCGI_MPXS_CONNS]));
    for (let i = 0; i < 100 && client.values().length === 0; i++) await sleep(10);
    assert.deepEqual(client.values(), [FCGI_MPXS_CONNS, '1']);
    socket.destroy();
  });
});
