/** tsgi serve's uwsgi and SCGI sockets, driven byte by byte with the codecs' encoders. */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { serve, type ServerHandle } from '../../src/appserver/serve.js';
import { Logger } from '../../src/appserver/log.js';
import { encodeUwsgiRequest } from '../../src/protocols/uwsgi.js';
import { encodeScgiRequest } from '../../src/protocols/scgi.js';
import type { App } from '../../src/gateway/types.js';
import { exchange, openSocket, readAll } from '../helpers/net.js';

const app: App = async (environ, startResponse) => {
  const parts: Uint8Array[] = [];
  for await (const part of environ['tsgi.input']) parts.push(part);
  startResponse('201 Created', [['Content-Type', 'text/plain'], ['X-Path', `${environ.SCRIPT_NAME}|${environ.PATH_INFO}`]]);
  return [`${environ.REQUEST_METHOD} ${Buffer.concat(parts).toString()}`];
};

const vars = (extra: Record<string, string> = {}) =>
  Object.entries({ REQUEST_METHOD: 'POST', REQUEST_URI: '/app/x', PATH_INFO: '/app/x', QUERY_STRING: '', SERVER_PROTOCOL: 'HTTP/1.1', CONTENT_LENGTH: '5', ...extra });

describe('tsgi serve --socket (uwsgi) and --scgi-socket', () => {
  const lines: string[] = [];
  let server: ServerHandle;
  let uwsgiPort = 0;
  let scgiPort = 0;
  before(async () => {
    server = await serve(app, {
      sockets: [
        { protocol: 'uwsgi', address: '127.0.0.1:0' },
        { protocol: 'scgi', address: '127.0.0.1:0' },
      ],
      log: new Logger({ write: (text: string) => lines.push(text) }),
    });
    const [uwsgi, scgi] = server.addresses;
    uwsgiPort = 'port' in uwsgi! ? uwsgi.port : 0;
    scgiPort = 'port' in scgi! ? scgi.port : 0;
  });
  after(() => server.close(1000));

  it('answers a uwsgi request with a raw HTTP response and closes', async () => {
    const text = await exchange(uwsgiPort, Buffer.concat([encodeUwsgiRequest(vars()), Buffer.from('hello')]));
    assert.match(text, /^HTTP\/1\.1 201 Created\r\n/);
    assert.match(text, /X-Path: \|\/app\/x\r\n/);
    assert.ok(text.endsWith('\r\n\r\nPOST hello'));
  });

  it('strips SCRIPT_NAME from PATH_INFO for modifier1 30', async () => {
    const text = await exchange(uwsgiPort, Buffer.concat([encodeUwsgiRequest(vars({ SCRIPT_NAME: '/app' }), 30), Buffer.from('hello')]));
    assert.match(text, /X-Path: \/app\|\/x\r\n/);
  });

  it('answers an SCGI request with a CGI response', async () => {
    const text = await exchange(scgiPort, Buffer.concat([encodeScgiRequest(vars(), 5), Buffer.from('hello')]));
    assert.match(text, /^Status: 201 Created\r\n/);
    assert.ok(text.endsWith('\r\n\r\nPOST hello'));
  });

  it('refuses a vars block over --buffer-size with uWSGI\'s log line, and only that connection', async () => {
    const healthy = await openSocket(uwsgiPort);
    const healthyReply = readAll(healthy);
    healthy.write(encodeUwsgiRequest(vars()));
    const big = encodeUwsgiRequest(vars({ HTTP_X_BIG: 'x'.repeat(5000) }));
    const refused = await exchange(uwsgiPort, big);
    assert.equal(refused, '');
    assert.match(lines.join(''), /invalid request block size: \d+ \(max 4096\)\.\.\.skip/);
    healthy.write('hello');
    assert.match((await healthyReply).toString(), /POST hello$/);
  });

  it('says so in the log when HTTP is spoken to a uwsgi socket', async () => {
    const text = await exchange(uwsgiPort, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.equal(text, '');
    assert.match(lines.join(''), /HTTP/);
    assert.match(lines.join(''), /ERR_UWSGI_HTTP_ON_UWSGI_SOCKET/);
  });

  it('accepts a large vars block when --buffer-size allows it', async () => {
    const roomy = await serve(app, { sockets: [{ protocol: 'uwsgi', address: '127.0.0.1:0' }], bufferSize: 65535, log: false });
    try {
      const port = 'port' in roomy.address ? roomy.address.port : 0;
      const text = await exchange(port, Buffer.concat([encodeUwsgiRequest(vars({ HTTP_X_BIG: 'x'.repeat(30000) })), Buffer.from('hello')]));
      assert.match(text, /^HTTP\/1\.1 201 Created/);
    } finally {
      await roomy.close(1000);
    }
  });
});
