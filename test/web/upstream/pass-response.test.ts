/**
 * The response side of uwsgi_pass: large bodies with buffering on and off, a response held for
 * a client that reads nothing (memory, then a temp file), a client that leaves
 * early (the upstream connection is closed at once), hidden and passed headers,
 * uwsgi_intercept_errors, a pass target with variables, and next_upstream_timeout.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { startWeb } from '../server/tsgi-web.js';
import { freePort } from '../../helpers/nginx.js';
import { readUntil } from '../../helpers/net.js';
import { echoApp, get, portOf, rawPeer, startApp } from './pass-helpers.js';

/** A uwsgi peer answering every request with `head` and then `body` (raw HTTP, as uWSGI does). */
function answering(head: string, body: Buffer = Buffer.alloc(0), keepOpen = false) {
  return rawPeer((socket) => {
    socket.once('data', () => {
      socket.write(head);
      socket.write(body);
      if (!keepOpen) socket.end();
    });
  });
}

describe('uwsgi_pass responses', () => {
  it('streams an 8 MB body intact with uwsgi_buffering on and off', async () => {
    const body = Buffer.alloc(8 * 1024 * 1024);
    for (let i = 0; i < body.length; i += 4096) body.writeUInt32LE(i, i);
    const peer = await answering(`HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: ${body.length}\r\n\r\n`, body);
    const web = await startWeb(`server {
      listen 127.0.0.1:PORT;
      location /on { uwsgi_pass 127.0.0.1:${peer.port}; }
      location /off { uwsgi_buffering off; uwsgi_pass 127.0.0.1:${peer.port}; }
    }`);
    try {
      const digest = createHash('sha256').update(body).digest('hex');
      for (const path of ['/on', '/off']) {
        const reply = await get(web.port, path);
        assert.equal(reply.status, 200);
        assert.equal(reply.headers['content-length'], String(body.length));
        assert.equal(createHash('sha256').update(reply.body).digest('hex'), digest, path);
      }
    } finally {
      await web.stop();
      await peer.close();
    }
  });

  it('with uwsgi_buffering on, takes the whole response from the peer while the client reads nothing (memory, then uwsgi_temp_path)', async () => {
    const body = Buffer.alloc(24 * 1024 * 1024);
    for (let i = 0; i < body.length; i += 4096) body.writeUInt32LE(i, i);
    let upstreamDone = false;
    const peer = await rawPeer((socket) => {
      socket.once('data', () => {
        socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`);
        socket.end(body, () => (upstreamDone = true));
      });
    });
    const web = await startWeb(`server { listen 127.0.0.1:PORT; location / { uwsgi_temp_path DIR/uwsgi_temp 1; uwsgi_pass 127.0.0.1:${peer.port}; } }`);
    try {
      const client = connect(web.port, '127.0.0.1');
      client.pause();
      client.write('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      const temp = join(web.dir, 'uwsgi_temp');
      const tempFiles = (): string[] =>
        existsSync(temp) ? readdirSync(temp, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => e.name) : [];
      const started = Date.now();
      while (!(upstreamDone && tempFiles().length === 1) && Date.now() - started < 5000) await new Promise((resolve) => setTimeout(resolve, 20));
      assert.ok(upstreamDone, 'the peer wrote its whole response while the client read nothing');
      assert.equal(tempFiles().length, 1, 'the part past the memory buffer went to a temp file');
      const parts: Buffer[] = [];
      client.on('data', (chunk: Buffer) => parts.push(chunk));
      client.resume();
      await new Promise((resolve) => client.on('end', resolve));
      const text = Buffer.concat(parts);
      const received = text.subarray(text.indexOf('\r\n\r\n') + 4);
      assert.equal(createHash('sha256').update(received).digest('hex'), createHash('sha256').update(body).digest('hex'));
      while (tempFiles().length > 0 && Date.now() - started < 5000) await new Promise((resolve) => setTimeout(resolve, 20));
      assert.deepEqual(tempFiles(), [], 'the temp file is removed once sent');
    } finally {
      await web.stop();
      await peer.close();
    }
  });

  it('closes the upstream connection as soon as the client goes away mid-response', async () => {
    let upstreamClosed = false;
    const peer = await rawPeer((socket) => {
      socket.on('close', () => (upstreamClosed = true));
      socket.once('data', () => socket.write('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nfirst part '));
    });
    const web = await startWeb(`server { listen 127.0.0.1:PORT; location / { uwsgi_pass 127.0.0.1:${peer.port}; } }`);
    try {
      const client = connect(web.port, '127.0.0.1');
      client.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
      await readUntil(client, (text) => text.includes('first part'));
      client.destroy();
      const started = Date.now();
      while (!upstreamClosed && Date.now() - started < 2000) await new Promise((resolve) => setTimeout(resolve, 10));
      assert.ok(upstreamClosed, 'the upstream connection was closed');
    } finally {
      await web.stop();
      await peer.close();
    }
  });

  it('hides X-Accel-* and uwsgi_hide_header names, passes uwsgi_pass_header ones, drops hop-by-hop headers', async () => {
    const peer = await answering(
      'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Accel-Buffering: no\r\nX-Accel-Charset: utf-8\r\nX-Secret: s\r\nX-Kept: k\r\nKeep-Alive: timeout=5\r\nConnection: keep-alive\r\n\r\nok',
    );
    const web = await startWeb(`server {
      listen 127.0.0.1:PORT;
      location / { uwsgi_hide_header X-Secret; uwsgi_pass_header X-Accel-Charset; uwsgi_pass 127.0.0.1:${peer.port}; }
    }`);
    try {
      const reply = await get(web.port, '/');
      assert.equal(reply.body.toString(), 'ok');
      assert.equal(reply.headers['x-accel-buffering'], undefined);
      assert.equal(reply.headers['x-accel-charset'], 'utf-8');
      assert.equal(reply.headers['x-secret'], undefined);
      assert.equal(reply.headers['x-kept'], 'k');
      assert.equal(reply.headers['keep-alive'], undefined);
    } finally {
      await web.stop();
      await peer.close();
    }
  });

  it('sends the application\'s own Server and Date instead of tsgi\'s, once each', async () => {
    const peer = await answering('HTTP/1.1 200 OK\r\nServer: app/1.0\r\nDate: Mon, 01 Jan 2024 00:00:00 GMT\r\nContent-Length: 2\r\n\r\nok');
    const web = await startWeb(`server { listen 127.0.0.1:PORT; location / { uwsgi_pass 127.0.0.1:${peer.port}; } }`);
    try {
      const client = connect(web.port, '127.0.0.1');
      client.write('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      const text = await readUntil(client, (t) => t.endsWith('ok'));
      client.destroy();
      assert.deepEqual(text.match(/^Server: .*$/gm), ['Server: app/1.0']);
      assert.deepEqual(text.match(/^Date: .*$/gm), ['Date: Mon, 01 Jan 2024 00:00:00 GMT']);
    } finally {
      await web.stop();
      await peer.close();
    }
  });

  it('answers with error_page for an upstream status when uwsgi_intercept_errors is on', async () => {
    const app = await startApp(echoApp('x').app, [{ protocol: 'uwsgi', address: '127.0.0.1:0' }]);
    const web = await startWeb(`server {
      listen 127.0.0.1:PORT;
      error_page 404 /custom404;
      location = /custom404 { return 200 "custom page"; }
      location /on { uwsgi_intercept_errors on; include uwsgi_params; uwsgi_pass 127.0.0.1:${portOf(app)}; }
      location /off { include uwsgi_params; uwsgi_pass 127.0.0.1:${portOf(app)}; }
    }`);
    try {
      const on = await get(web.port, '/on/status/404');
      assert.equal(on.status, 404);
      assert.equal(on.body.toString(), 'custom page');
      const off = await get(web.port, '/off/status/404');
      assert.equal(off.status, 404);
      assert.equal(off.json().name, 'x', 'the app\'s own 404 page');
    } finally {
      await web.stop();
      await app.close(100);
    }
  });

  it('follows X-Accel-Redirect to an internal location, unless uwsgi_ignore_headers names it', async () => {
    const peer = await answering('HTTP/1.1 200 OK\r\nX-Accel-Redirect: /protected/file.txt?x=1\r\nContent-Length: 4\r\n\r\nnope');
    const web = await startWeb(`server {
      listen 127.0.0.1:PORT;
      location /protected/ { internal; return 200 "internal $uri $args $request_method"; }
      location / { uwsgi_pass 127.0.0.1:${peer.port}; }
      location /ignore { uwsgi_ignore_headers X-Accel-Redirect; uwsgi_pass 127.0.0.1:${peer.port}; }
    }`);
    try {
      assert.equal((await get(web.port, '/download', { method: 'POST', body: 'x' })).body.toString(), 'internal /protected/file.txt x=1 GET');
      assert.equal((await get(web.port, '/ignore')).body.toString(), 'nope');
    } finally {
      await web.stop();
      await peer.close();
    }
  });

  it('resolves a pass target with variables per request: an upstream name or an address', async () => {
    const one = await startApp(echoApp('one').app, [{ protocol: 'uwsgi', address: '127.0.0.1:0' }]);
    const two = await startApp(echoApp('two').app, [{ protocol: 'uwsgi', address: '127.0.0.1:0' }]);
    const web = await startWeb(`
      upstream named { server 127.0.0.1:${portOf(one)}; }
      map $arg_to $target { default named; two 127.0.0.1:${portOf(two)}; bad "bad:port:x"; }
      server { listen 127.0.0.1:PORT; location / { uwsgi_pass $target; } }`);
    try {
      assert.equal((await get(web.port, '/')).headers['x-app'], 'one');
      assert.equal((await get(web.port, '/?to=two')).headers['x-app'], 'two');
      assert.equal((await get(web.port, '/?to=bad')).status, 500);
    } finally {
      await web.stop();
      await one.close(100);
      await two.close(100);
    }
  });

  it('stops trying once uwsgi_next_upstream_timeout has passed', async () => {
    const hang = await rawPeer(() => {});
    const dead = await freePort();
    const web = await startWeb(`
      upstream pair { server 127.0.0.1:${hang.port} max_fails=0; server 127.0.0.1:${dead} max_fails=0; }
      server { listen 127.0.0.1:PORT; location / {
        uwsgi_read_timeout 300ms; uwsgi_next_upstream_timeout 200ms; uwsgi_pass pair;
      } }`);
    try {
      // The first request goes to the hanging server: its timeout (300 ms) is past the 200 ms budget.
      assert.equal((await get(web.port, '/')).status, 504);
      assert.doesNotMatch(web.errorLog(), /connect\(\) failed/, 'the second server was not tried');
    } finally {
      await web.stop();
      await hang.close();
    }
  });
});
