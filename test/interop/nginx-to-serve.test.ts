/**
 * Real nginx in front of `tsgi serve`: uwsgi_pass (TCP and UNIX socket), scgi_pass and fastcgi_pass,
 * each with Debian's params file, exercised with odd headers, a 5 MB POST, a large streamed
 * response and an application error.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve, type ServerHandle } from '../../src/appserver/serve.js';
import { Logger } from '../../src/appserver/log.js';
import type { App, Environ } from '../../src/gateway/types.js';
import type { SocketProtocol } from '../../src/appserver/sockets.js';
import { nginxPeer, startNginx, type RunningNginx } from '../helpers/nginx.js';

const nginx = nginxPeer();

const MB = 1024 * 1024;

const app: App = async (environ: Environ, startResponse) => {
  switch (environ.PATH_INFO) {
    case '/env': {
      const keys = ['REQUEST_METHOD', 'SCRIPT_NAME', 'PATH_INFO', 'QUERY_STRING', 'CONTENT_TYPE', 'CONTENT_LENGTH', 'HTTP_X_ODD', 'HTTP_X_MULTI', 'HTTP_COOKIE', 'REMOTE_ADDR', 'SERVER_PROTOCOL'];
      const body = JSON.stringify(Object.fromEntries(keys.map((key) => [key, environ[key] ?? null])));
      startResponse('200 OK', [['Content-Type', 'application/json'], ['X-Reply', 'yes'], ['Set-Cookie', 'a=1'], ['Set-Cookie', 'b=2']]);
      return [body];
    }
    case '/upload': {
      const hash = createHash('sha256');
      let length = 0;
      for await (const chunk of environ['tsgi.input']) {
        hash.update(chunk);
        length += chunk.length;
      }
      startResponse('200 OK', [['Content-Type', 'text/plain']]);
      return [`${length} ${hash.digest('hex')}`];
    }
    case '/stream': {
      const total = Number(new URLSearchParams(environ.QUERY_STRING).get('mb')) * 16;
      startResponse('200 OK', [['Content-Type', 'application/octet-stream']]);
      return (async function* () {
        for (let i = 0; i < total; i++) yield Buffer.alloc(64 * 1024, i % 251);
      })();
    }
    case '/error':
      throw new Error('application failure for the interop test');
    default:
      startResponse('404 Not Found', [['Content-Type', 'text/plain']]);
      return ['not found'];
  }
};

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

function call(port: number, method: string, path: string, headers: Record<string, string | string[]> = {}, body?: Buffer): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

interface Path {
  name: string;
  protocol: SocketProtocol;
  unix: boolean;
  location: (address: string) => string;
  http?: (address: string) => string;
}

const PATHS: Path[] = [
  { name: 'uwsgi_pass over TCP', protocol: 'uwsgi', unix: false, location: (a) => `include /etc/nginx/uwsgi_params; uwsgi_pass ${a};` },
  { name: 'uwsgi_pass over a UNIX socket', protocol: 'uwsgi', unix: true, location: (a) => `include /etc/nginx/uwsgi_params; uwsgi_pass unix:${a};` },
  { name: 'scgi_pass', protocol: 'scgi', unix: false, location: (a) => `include /etc/nginx/scgi_params; scgi_pass ${a};` },
  { name: 'fastcgi_pass', protocol: 'fastcgi', unix: false, location: (a) => `include /etc/nginx/fastcgi_params; fastcgi_pass ${a};` },
  {
    name: 'fastcgi_pass with fastcgi_keep_conn and upstream keepalive',
    protocol: 'fastcgi',
    unix: true,
    location: () => 'include /etc/nginx/fastcgi_params; fastcgi_keep_conn on; fastcgi_pass tsgi_app;',
    http: (a) => `upstream tsgi_app { server unix:${a}; keepalive 4; }`,
  },
];

for (const path of PATHS) {
  describe(`real nginx → tsgi serve: ${path.name}`, { skip: 'skip' in nginx ? nginx.skip : false }, () => {
    let server: ServerHandle;
    let front: RunningNginx;
    const logged: string[] = [];

    before(async () => {
      if (!('path' in nginx)) return;
      const address = path.unix ? join(mkdtempSync(join(tmpdir(), 'tsgi-sock-')), 'app.sock') : '127.0.0.1:0';
      server = await serve(app, { sockets: [{ protocol: path.protocol, address }], log: new Logger({ write: (t: string) => logged.push(t) }) });
      const bound = server.address;
      const target = 'path' in bound ? bound.path : `127.0.0.1:${bound.port}`;
      front = await startNginx(nginx.path, `location / { ${path.location(target)} }`, path.http?.(target) ?? '');
    });
    after(async () => {
      await front?.stop();
      await server?.close(1000);
    });

    it('passes a GET with a query string and odd headers', async () => {
      const reply = await call(front.port, 'GET', '/env?a=1&b=%20x&c', {
        'X-Odd': 'tab\there  spaces',
        'X-Multi': ['one', 'two'],
        Cookie: 'k=v',
      });
      assert.equal(reply.status, 200, reply.body.toString());
      assert.equal(reply.headers['x-reply'], 'yes');
      assert.deepEqual(reply.headers['set-cookie'], ['a=1', 'b=2']);
      const environ = JSON.parse(reply.body.toString()) as Record<string, string | null>;
      assert.equal(environ.REQUEST_METHOD, 'GET');
      assert.equal(environ.PATH_INFO, '/env', 'fastcgi_params sends no PATH_INFO: it comes from DOCUMENT_URI');
      assert.equal(environ.SCRIPT_NAME, '');
      assert.equal(environ.QUERY_STRING, 'a=1&b=%20x&c');
      assert.equal(environ.HTTP_X_ODD, 'tab\there  spaces');
      assert.equal(environ.HTTP_X_MULTI, 'one, two');
      assert.equal(environ.HTTP_COOKIE, 'k=v');
      assert.equal(environ.CONTENT_LENGTH, path.protocol === 'scgi' ? '0' : null, 'absent, not empty (SCGI always sends a length)');
      assert.equal(environ.REMOTE_ADDR, '127.0.0.1');
      assert.equal(environ.SERVER_PROTOCOL, 'HTTP/1.1');
    });

    it('streams a 5 MB POST to the application', async () => {
      const body = Buffer.alloc(5 * MB);
      for (let i = 0; i < body.length; i += 4096) body.writeUInt32LE(i, i);
      const reply = await call(front.port, 'POST', '/upload', { 'Content-Type': 'application/octet-stream' }, body);
      assert.equal(reply.status, 200);
      assert.equal(reply.body.toString(), `${body.length} ${createHash('sha256').update(body).digest('hex')}`);
    });

    it('passes a large streamed response through whole', async () => {
      const reply = await call(front.port, 'GET', '/stream?mb=24');
      assert.equal(reply.status, 200);
      assert.equal(reply.body.length, 24 * MB);
      assert.equal(reply.body[0], 0);
      assert.equal(reply.body[24 * MB - 1], (24 * 16 - 1) % 251);
    });

    it('turns an application error into a 500 and logs it', async () => {
      const reply = await call(front.port, 'GET', '/error');
      assert.equal(reply.status, 500);
      assert.match(logged.join(''), /application failure for the interop test/);
      const after = await call(front.port, 'GET', '/env');
      assert.equal(after.status, 200, 'the server keeps serving');
    });
  });
}
