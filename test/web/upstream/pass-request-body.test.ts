/**
 * Request buffering in front of uwsgi_pass: a body past client_body_buffer_size goes to a file
 * under client_body_temp_path while it arrives, and the app server sees a request only once its
 * body is complete, so slow uploads do not hold it.
 */
import { describe, it, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { startWeb, type RunningWeb } from '../server/tsgi-web.js';
import { readAll } from '../../helpers/net.js';
import { echoApp, get, portOf, startApp, type EchoApp } from './pass-helpers.js';
import type { ServerHandle } from '../../../src/appserver/serve.js';

/** Every file under `dir`, recursively. */
function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath ?? entry.path, entry.name));
}

async function until(check: () => boolean, ms = 5000): Promise<void> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > ms) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function open(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => resolve(socket));
    socket.once('error', reject);
  });
}

describe('request body buffering for uwsgi_pass', () => {
  let app: EchoApp;
  let appServer: ServerHandle;
  let web: RunningWeb;
  let temp = '';

  before(async () => {
    app = echoApp('one');
    appServer = await startApp(app.app, [{ protocol: 'uwsgi', address: '127.0.0.1:0' }]);
    web = await startWeb(`
      client_max_body_size 10m;
      client_body_temp_path DIR/body 1 2;
      server {
        listen 127.0.0.1:PORT;
        location / { include uwsgi_params; uwsgi_pass 127.0.0.1:${portOf(appServer)}; }
      }`);
    temp = join(web.dir, 'body');
  });
  after(async () => {
    await web.stop();
    await appServer.close(100);
  });

  it('writes a 2 MB body to a temp file while it arrives, sends it whole, and removes the file', async () => {
    const body = Buffer.alloc(2 * 1024 * 1024);
    for (let i = 0; i < body.length; i++) body[i] = (i * 7) % 251;
    const socket = await open(web.port);
    const reply = readAll(socket, 10_000);
    socket.write(`POST /big HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`);
    socket.write(body.subarray(0, 1024 * 1024));
    await until(() => filesUnder(temp).some((file) => statSync(file).size >= 512 * 1024));
    const [file] = filesUnder(temp);
    assert.match(file!.slice(temp.length), /^\/\d\/\d\d\/\d{10}$/, 'client_body_temp_path levels 1 2');
    assert.equal(app.seen.postsStarted, 0, 'the app server has not seen the request yet');
    socket.write(body.subarray(1024 * 1024));
    const text = (await reply).toString('latin1');
    assert.match(text, /^HTTP\/1\.1 200 /);
    const env = JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)) as Record<string, unknown>;
    assert.equal(env.body_length, body.length);
    assert.equal(env.body_sha256, createHash('sha256').update(body).digest('hex'));
    await until(() => filesUnder(temp).length === 0);
  });

  it('removes the temp file of a client that goes away mid-body', async () => {
    const socket = await open(web.port);
    socket.write(`POST /gone HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n`);
    socket.write(Buffer.alloc(300_000));
    await until(() => filesUnder(temp).length === 1);
    socket.destroy();
    await until(() => filesUnder(temp).length === 0);
  });

  it('holds 200 slow uploads while GETs keep flowing; the app server sees each only when complete', async () => {
    const before = app.seen.postsStarted;
    const slow: Socket[] = [];
    const replies: Promise<Buffer>[] = [];
    for (let i = 0; i < 200; i++) {
      const socket = await open(web.port);
      replies.push(readAll(socket, 20_000));
      socket.write(`POST /slow/${i} HTTP/1.1\r\nHost: x\r\nContent-Length: 20\r\nConnection: close\r\n\r\n0123456789`);
      slow.push(socket);
    }
    for (let i = 0; i < 20; i++) {
      const reply = await get(web.port, `/normal/${i}`);
      assert.equal(reply.status, 200);
      assert.equal(reply.json().posts_started, before, 'no slow upload reached the app server');
    }
    for (const socket of slow) socket.write('abcdefghij');
    const texts = await Promise.all(replies);
    for (const text of texts) assert.match(text.toString('latin1'), /^HTTP\/1\.1 200 [^]*"body_length":20/);
    assert.equal(app.seen.postsStarted, before + 200);
  });
});
