/**
 * Real Express 5, Koa 3 and Hono 4 applications, unchanged, served by tsgi over real HTTP:
 * `serve(fromNode(express))`, `serve(fromNode(koa.callback()))`, `serve(fromFetch(hono))`.
 * One scenario list runs against each framework (Hono's conformance-suite pattern).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import express from 'express';
import Koa from 'koa';
import { Hono } from 'hono';
import { stream as honoStream } from 'hono/streaming';
import { serve, type ServerHandle } from '../../src/appserver/serve.js';
import { fromFetch } from '../../src/gateway/adapters/fetch.js';
import { fromNode } from '../../src/gateway/adapters/node.js';
import { mount } from '../../src/gateway/mount.js';
import type { App } from '../../src/gateway/types.js';
import { openSocket, readAll } from '../helpers/net.js';

const STREAM_CHUNKS = 5;
const STREAM_DELAY_MS = 25;
const COOKIES = ['session=abc; Path=/; HttpOnly', 'theme=dark; Path=/', 'lang=en, fr; Path=/'];

// ---------------------------------------------------------------------------------------------
// The same small application, written the idiomatic way in each framework
// ---------------------------------------------------------------------------------------------

function expressApp(): express.Express {
  const app = express();
  app.set('env', 'test'); // finalhandler: no stack traces on stderr
  app.get('/hello', (req, res) => {
    res.json({ greeting: `hello ${String(req.query.name ?? 'world')}`, query: req.query });
  });
  app.get('/users/:id', (req, res) => {
    res.json({ id: req.params.id });
  });
  app.post('/json', express.json(), (req, res) => {
    res.status(201).json({ received: req.body as unknown });
  });
  app.post('/upload', (req, res) => {
    const hash = createHash('sha256');
    let bytes = 0;
    req.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      hash.update(chunk);
    });
    req.on('end', () => res.json({ bytes, sha256: hash.digest('hex') }));
  });
  app.get('/stream', (_req, res) => {
    res.type('text/plain');
    let n = 0;
    const timer = setInterval(() => {
      res.write(`chunk ${n}\n`);
      if (++n === STREAM_CHUNKS) {
        clearInterval(timer);
        res.end();
      }
    }, STREAM_DELAY_MS);
  });
  app.get('/cookies', (_req, res) => {
    res.append('Set-Cookie', COOKIES);
    res.send('cookies');
  });
  app.get('/boom', () => {
    throw new Error('boom');
  });
  app.get('/whoami', (req, res) => {
    res.json({ url: req.url, originalUrl: req.originalUrl, baseUrl: req.baseUrl, path: req.path });
  });
  return app;
}

function koaApp(): Koa {
  const app = new Koa();
  app.silent = true; // no error logging on stderr for the /boom route
  app.use(async (ctx) => {
    const route = `${ctx.method} ${ctx.path}`;
    if (route === 'GET /hello' || route === 'HEAD /hello') {
      ctx.body = { greeting: `hello ${String(ctx.query.name ?? 'world')}`, query: ctx.query };
    } else if (ctx.method === 'GET' && ctx.path.startsWith('/users/')) {
      ctx.body = { id: ctx.path.slice('/users/'.length) };
    } else if (route === 'POST /json') {
      let text = '';
      for await (const chunk of ctx.req) text += String(chunk);
      ctx.status = 201;
      ctx.body = { received: JSON.parse(text) as unknown };
    } else if (route === 'POST /upload') {
      const hash = createHash('sha256');
      let bytes = 0;
      for await (const chunk of ctx.req) {
        bytes += (chunk as Buffer).length;
        hash.update(chunk as Buffer);
      }
      ctx.body = { bytes, sha256: hash.digest('hex') };
    } else if (route === 'GET /stream') {
      const out = new PassThrough();
      ctx.type = 'text/plain';
      ctx.body = out;
      void (async () => {
        for (let n = 0; n < STREAM_CHUNKS; n++) {
          await sleep(STREAM_DELAY_MS);
          out.write(`chunk ${n}\n`);
        }
        out.end();
      })();
    } else if (route === 'GET /cookies') {
      ctx.append('Set-Cookie', COOKIES);
      ctx.body = 'cookies';
    } else if (route === 'GET /boom') {
      throw new Error('boom');
    }
    // Anything else: Koa's own 404.
  });
  return app;
}

function honoApp(): Hono {
  const app = new Hono();
  app.onError((_error, c) => c.text('Internal Server Error', 500));
  app.get('/hello', (c) => c.json({ greeting: `hello ${c.req.query('name') ?? 'world'}`, query: c.req.query() }));
  app.get('/users/:id', (c) => c.json({ id: c.req.param('id') }));
  app.post('/json', async (c) => c.json({ received: await c.req.json<unknown>() }, 201));
  app.post('/upload', async (c) => {
    const hash = createHash('sha256');
    let bytes = 0;
    const reader = c.req.raw.body!.getReader();
    for (;;) {
      const step = await reader.read();
      if (step.done) break;
      bytes += step.value.length;
      hash.update(step.value);
    }
    return c.json({ bytes, sha256: hash.digest('hex') });
  });
  app.get('/stream', (c) => {
    c.header('Content-Type', 'text/plain');
    return honoStream(c, async (out) => {
      for (let n = 0; n < STREAM_CHUNKS; n++) {
        await out.sleep(STREAM_DELAY_MS);
        await out.write(`chunk ${n}\n`);
      }
    });
  });
  app.get('/cookies', (c) => {
    for (const cookie of COOKIES) c.header('Set-Cookie', cookie, { append: true });
    return c.text('cookies');
  });
  app.get('/boom', () => {
    throw new Error('boom');
  });
  app.get('/whoami', (c) => c.json({ url: c.req.url, path: c.req.path }));
  return app;
}

// ---------------------------------------------------------------------------------------------
// The scenarios, run against each framework
// ---------------------------------------------------------------------------------------------

const frameworks: Array<[name: string, build: () => App]> = [
  ['Express 5', () => fromNode(expressApp())],
  ['Koa 3', () => fromNode(koaApp().callback())],
  ['Hono 4', () => fromFetch(honoApp())],
];

/** Headers that legitimately differ between two responses of the same resource. */
const PER_RESPONSE = new Set(['date', 'connection', 'keep-alive', 'transfer-encoding', 'content-length']);

for (const [name, build] of frameworks) {
  describe(`${name} through tsgi over HTTP`, () => {
    let server: ServerHandle;
    const url = (path: string): string => new URL(path, server.url).href;

    before(async () => {
      server = await serve(build(), { http: '127.0.0.1:0', log: false });
    });
    after(async () => {
      await server.close(1000);
    });

    it('routes, with query strings and path parameters', async () => {
      const hello = await fetch(url('/hello?name=tsgi&tag=a%20b'));
      assert.equal(hello.status, 200);
      assert.match(hello.headers.get('content-type') ?? '', /^application\/json/);
      assert.deepEqual(await hello.json(), { greeting: 'hello tsgi', query: { name: 'tsgi', tag: 'a b' } });
      const user = await fetch(url('/users/42'));
      assert.deepEqual(await user.json(), { id: '42' });
    });

    it('parses a JSON request body and answers 201', async () => {
      const payload = { list: [1, 2, 3], text: 'caf\u00e9', nested: { ok: true } };
      const response = await fetch(url('/json'), {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(payload),
      });
      assert.equal(response.status, 201);
      assert.deepEqual(await response.json(), { received: payload });
    });

    it('streams a 10 MB upload through (Content-Length and chunked)', async () => {
      const data = Buffer.alloc(10 * 1024 * 1024);
      for (let i = 0; i < data.length; i += 997) data[i] = (i * 31) & 0xff;
      const sha256 = createHash('sha256').update(data).digest('hex');

      const sized = await fetch(url('/upload'), { method: 'POST', body: data });
      assert.deepEqual(await sized.json(), { bytes: data.length, sha256 });

      // A streamed upload of unknown length goes out chunked.
      let offset = 0;
      const piece = 256 * 1024;
      const body = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (offset >= data.length) return controller.close();
          controller.enqueue(data.subarray(offset, offset + piece));
          offset += piece;
        },
      });
      const chunked = await fetch(url('/upload'), { method: 'POST', body, duplex: 'half' } as RequestInit);
      assert.deepEqual(await chunked.json(), { bytes: data.length, sha256 });
    });

    it('streams a response written in chunks with delays', async () => {
      const started = Date.now();
      const response = await fetch(url('/stream'));
      assert.equal(response.status, 200);
      const reader = response.body!.getReader();
      let text = '';
      let firstAt = -1;
      for (;;) {
        const step = await reader.read();
        if (step.done) break;
        if (firstAt < 0) firstAt = Date.now();
        text += Buffer.from(step.value).toString();
      }
      const endedAt = Date.now();
      assert.equal(text, Array.from({ length: STREAM_CHUNKS }, (_, n) => `chunk ${n}\n`).join(''));
      // Not buffered until the end: the first chunk arrived well before the last was written.
      assert.ok(endedAt - firstAt >= STREAM_DELAY_MS * 2, `first chunk at +${firstAt - started} ms, end at +${endedAt - started} ms`);
    });

    it('sends several Set-Cookie headers separately', async () => {
      const response = await fetch(url('/cookies'));
      assert.deepEqual(response.headers.getSetCookie(), COOKIES);
      assert.equal(await response.text(), 'cookies');
    });

    it('answers 404 for an unknown route and 500 for a route that throws', async () => {
      const missing = await fetch(url('/no/such/route'));
      assert.equal(missing.status, 404);
      await missing.arrayBuffer();
      const boom = await fetch(url('/boom'));
      assert.equal(boom.status, 500);
      await boom.arrayBuffer();
      // The server is still fine afterwards.
      assert.equal((await fetch(url('/users/1'))).status, 200);
    });

    it('HEAD: the same headers as GET and no body bytes on the wire', async () => {
      const get = await fetch(url('/hello?name=x'));
      const getBody = await get.text();
      const head = await fetch(url('/hello?name=x'), { method: 'HEAD' });
      assert.equal(head.status, 200);
      for (const [header, value] of get.headers) {
        if (!PER_RESPONSE.has(header)) assert.equal(head.headers.get(header), value, header);
      }
      const headLength = head.headers.get('content-length');
      if (headLength !== null) assert.equal(headLength, String(Buffer.byteLength(getBody)));

      // fetch() ignores a body on HEAD; a raw socket shows nothing follows the head.
      const { port } = server.address as { port: number };
      const socket = await openSocket(port);
      socket.write('HEAD /hello?name=x HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
      const raw = (await readAll(socket)).toString('latin1');
      assert.match(raw, /^HTTP\/1\.1 200 /);
      assert.equal(raw.slice(raw.indexOf('\r\n\r\n') + 4), '');
    });
  });
}

describe('Express and Hono mounted side by side with mount()', () => {
  let server: ServerHandle;
  const url = (path: string): string => new URL(path, server.url).href;

  before(async () => {
    const app = mount({
      '/express': fromNode(expressApp()),
      // A Hono app written for `/`: the adapter leaves the prefix out of request.url.
      '/hono': fromFetch(honoApp(), { stripScriptName: true }),
      // A Hono app that knows where it lives sees the full URL (the default).
      '/hono-full': fromFetch(new Hono().basePath('/hono-full').get('/whoami', (c) => c.json({ path: c.req.path }))),
    });
    server = await serve(app, { http: '127.0.0.1:0', log: false });
  });
  after(async () => {
    await server.close(1000);
  });

  it('Express sees its prefix stripped from req.url, kept in originalUrl / baseUrl', async () => {
    const response = await fetch(url('/express/whoami?x=1'));
    assert.deepEqual(await response.json(), {
      url: '/whoami?x=1',
      originalUrl: '/express/whoami?x=1',
      baseUrl: '/express',
      path: '/whoami',
    });
  });

  it('Hono sees its prefix stripped', async () => {
    const response = await fetch(url('/hono/whoami?y=2'));
    const seen = (await response.json()) as { url: string; path: string };
    assert.equal(seen.path, '/whoami');
    assert.equal(new URL(seen.url).pathname + new URL(seen.url).search, '/whoami?y=2');
  });

  it('each app keeps its own routes and 404s; the prefix boundary is a whole segment', async () => {
    assert.deepEqual(await (await fetch(url('/hono/users/9'))).json(), { id: '9' });
    assert.deepEqual(await (await fetch(url('/express/users/8'))).json(), { id: '8' });
    assert.deepEqual(await (await fetch(url('/hono-full/whoami'))).json(), { path: '/hono-full/whoami' });
    const outside = await fetch(url('/expressions'));
    assert.equal(outside.status, 404);
    assert.equal(await outside.text(), 'Not Found');
  });
});
