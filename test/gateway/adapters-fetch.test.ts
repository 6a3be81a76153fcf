/** fromFetch / toFetch: fetch handlers as TSGI apps and TSGI apps as fetch handlers. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { Hono } from 'hono';
import { fromFetch, toFetch, encodePath, requestUrl } from '../../src/gateway/adapters/fetch.js';
import type { HandlerLog } from '../../src/gateway/handler.js';
import { BodyInput } from '../../src/gateway/input.js';
import { mount } from '../../src/gateway/mount.js';
import type { App, Body, Environ, HeaderList } from '../../src/gateway/types.js';
import { makeEnviron } from '../helpers/environ.js';

const quietLog: HandlerLog = { appError() {} };
const text = (bytes: Uint8Array | string): string => (typeof bytes === 'string' ? bytes : Buffer.from(bytes).toString());

const environ = makeEnviron;

/** Calls an app directly: the status and headers it started with, and its body object. */
async function start(app: App, env: Environ): Promise<{ status: string; headers: HeaderList; body: Body }> {
  let status = '';
  let headers: HeaderList = [];
  const body = await app(env, (s, h) => {
    status = s;
    headers = h;
    return async () => {};
  });
  return { status, headers, body };
}

async function readBody(body: Body): Promise<string> {
  let out = '';
  try {
    for await (const chunk of body) out += text(chunk);
  } finally {
    await body.close?.();
  }
  return out;
}

/** A fetch handler that records the Request it was given. */
function recorder(): { handler: (request: Request) => Promise<Response>; seen: Array<{ request: Request; body: string }> } {
  const seen: Array<{ request: Request; body: string }> = [];
  return {
    seen,
    handler: async (request) => {
      seen.push({ request, body: request.body ? await request.text() : '' });
      return new Response('ok');
    },
  };
}

describe('fromFetch: the Request', () => {
  it('builds the URL from scheme, Host, SCRIPT_NAME + PATH_INFO (re-encoded) and QUERY_STRING', async () => {
    const { handler, seen } = recorder();
    await readBody(
      (
        await start(
          fromFetch(handler),
          environ({
            HTTP_HOST: 'shop.example:8080',
            'tsgi.url_scheme': 'https',
            SCRIPT_NAME: '/app',
            PATH_INFO: '/caf\u00e9 au lait/100%?#',
            QUERY_STRING: 'a=1&b=%20',
          }),
        )
      ).body,
    );
    assert.equal(seen[0]!.request.url, 'https://shop.example:8080/app/caf%C3%A9%20au%20lait/100%25%3F%23?a=1&b=%20');
  });

  it('falls back to SERVER_NAME:SERVER_PORT without a (valid) Host, omitting default ports', () => {
    assert.equal(requestUrl(environ({ PATH_INFO: '/x' })), 'http://example.org/x');
    assert.equal(requestUrl(environ({ SERVER_PORT: '8000' })), 'http://example.org:8000/');
    assert.equal(requestUrl(environ({ 'tsgi.url_scheme': 'https', SERVER_PORT: '443' })), 'https://example.org/');
    assert.equal(requestUrl(environ({ SERVER_NAME: '::1', SERVER_PORT: '81' })), 'http://[::1]:81/');
    // A Host that would move the path or add credentials is not trusted into the URL.
    assert.equal(requestUrl(environ({ HTTP_HOST: 'evil@x/y', PATH_INFO: '/p' })), 'http://example.org/p');
    assert.equal(requestUrl(environ({ HTTP_HOST: '[::1]:9', PATH_INFO: '/p' })), 'http://[::1]:9/p');
  });

  it('keeps the raw spelling from REQUEST_URI when it decodes to SCRIPT_NAME + PATH_INFO', () => {
    const env = environ({ SCRIPT_NAME: '/reg', PATH_INFO: '/@scope/name', REQUEST_URI: '/reg/@scope%2Fname?v=1' });
    assert.equal(requestUrl(env), 'http://example.org/reg/@scope%2Fname');
    // Inconsistent REQUEST_URI (a middleware rewrote PATH_INFO): re-encoded from the environ.
    const rewritten = environ({ PATH_INFO: '/other', REQUEST_URI: '/orig%2Fx' });
    assert.equal(requestUrl(rewritten), 'http://example.org/other');
  });

  it('can leave SCRIPT_NAME out of the URL (stripScriptName)', () => {
    const env = environ({ SCRIPT_NAME: '/app', PATH_INFO: '' });
    assert.equal(requestUrl(env), 'http://example.org/app');
    assert.equal(requestUrl(env, true), 'http://example.org/');
  });

  it('passes the method, HTTP_* headers and CONTENT_TYPE / CONTENT_LENGTH', async () => {
    const { handler, seen } = recorder();
    const input = new BodyInput();
    input.push(Buffer.from('{"a":1}'));
    input.end();
    const env = environ({
      REQUEST_METHOD: 'PUT',
      HTTP_X_REQUEST_ID: 'r1',
      HTTP_ACCEPT: 'text/html, application/json',
      CONTENT_TYPE: 'application/json',
      CONTENT_LENGTH: '7',
      'tsgi.input': input,
    });
    await readBody((await start(fromFetch(handler), env)).body);
    const { request, body } = seen[0]!;
    assert.equal(request.method, 'PUT');
    assert.equal(request.headers.get('x-request-id'), 'r1');
    assert.equal(request.headers.get('accept'), 'text/html, application/json');
    assert.equal(request.headers.get('content-type'), 'application/json');
    assert.equal(request.headers.get('content-length'), '7');
    assert.equal(body, '{"a":1}');
  });

  it('gives GET and HEAD no body, and a declared empty body none either', async () => {
    const { handler, seen } = recorder();
    await readBody((await start(fromFetch(handler), environ({ REQUEST_METHOD: 'GET' }))).body);
    await readBody((await start(fromFetch(handler), environ({ REQUEST_METHOD: 'POST', CONTENT_LENGTH: '0' }))).body);
    assert.equal(seen[0]!.request.body, null);
    assert.equal(seen[1]!.request.body, null);
  });

  it('streams the body from tsgi.input only as the handler reads it', async () => {
    let wanted = 0;
    const input = new BodyInput({ wanted: () => void wanted++ });
    const env = environ({ REQUEST_METHOD: 'POST', CONTENT_LENGTH: '6', 'tsgi.input': input });
    let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
    const handler = (request: Request): Response => {
      reader = request.body!.getReader();
      return new Response('started');
    };
    await readBody((await start(fromFetch(handler), env)).body);
    await sleep(5);
    assert.equal(wanted, 0, 'nothing read before the handler asks');
    const first = reader!.read();
    await sleep(5);
    assert.equal(wanted, 1);
    input.push(Buffer.from('abc'));
    assert.equal(text((await first).value!), 'abc');
    const second = reader!.read();
    input.push(Buffer.from('def'));
    input.end();
    assert.equal(text((await second).value!), 'def');
    assert.equal((await reader!.read()).done, true);
  });
});

describe('fromFetch: the Response', () => {
  it('maps status, statusText (standard phrase when empty), headers and each Set-Cookie', async () => {
    const headers = new Headers([
      ['content-type', 'text/plain'],
      ['set-cookie', 'a=1; Path=/'],
      ['set-cookie', 'b=2, with comma; Path=/'],
      ['connection', 'close'],
      ['transfer-encoding', 'chunked'],
    ]);
    const created = await start(fromFetch(() => new Response('x', { status: 201, headers })), environ());
    assert.equal(created.status, '201 Created');
    assert.deepEqual(created.headers, [
      ['content-type', 'text/plain'],
      ['set-cookie', 'a=1; Path=/'],
      ['set-cookie', 'b=2, with comma; Path=/'],
    ]);
    await readBody(created.body);
    const teapot = await start(fromFetch(() => new Response('', { status: 299, statusText: 'Fine' })), environ());
    assert.equal(teapot.status, '299 Fine');
    const unknown = await start(fromFetch(() => new Response('', { status: 299 })), environ());
    assert.equal(unknown.status, '299 Unknown');
  });

  it('streams response.body and cancels it (and aborts request.signal) when closed early', async () => {
    let cancelled = false;
    let signal: AbortSignal | undefined;
    const handler = (request: Request): Response => {
      signal = request.signal;
      let n = 0;
      const stream = new ReadableStream<Uint8Array>({
        pull(controller) {
          controller.enqueue(Buffer.from(`chunk${n++};`));
        },
        cancel() {
          cancelled = true;
        },
      });
      return new Response(stream);
    };
    const { body } = await start(fromFetch(handler), environ());
    const iterator = (body as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
    assert.equal(text((await iterator.next()).value as Uint8Array), 'chunk0;');
    assert.equal(text((await iterator.next()).value as Uint8Array), 'chunk1;');
    await body.close!();
    await sleep(1);
    assert.equal(cancelled, true);
    assert.equal(signal!.aborted, true);
  });

  it('does not abort request.signal after a complete body', async () => {
    let signal: AbortSignal | undefined;
    const { body } = await start(
      fromFetch((request) => {
        signal = request.signal;
        return new Response('all');
      }),
      environ(),
    );
    assert.equal(await readBody(body), 'all');
    assert.equal(signal!.aborted, false);
  });

  it('returns no body for HEAD and cancels the handler body', async () => {
    let cancelled = false;
    const stream = new ReadableStream({
      pull(controller) {
        controller.enqueue(Buffer.from('x'));
      },
      cancel() {
        cancelled = true;
      },
    });
    const result = await start(
      fromFetch(() => new Response(stream, { headers: { 'content-length': '1' } })),
      environ({ REQUEST_METHOD: 'HEAD' }),
    );
    assert.deepEqual(result.headers, [['content-length', '1']]);
    assert.equal(await readBody(result.body), '');
    await sleep(1);
    assert.equal(cancelled, true);
  });

  it('runs a Hono app unchanged, full URL by default', async () => {
    const hono = new Hono();
    hono.get('/app/users/:id', (c) => c.json({ id: c.req.param('id'), q: c.req.query('q') }));
    const result = await start(fromFetch(hono), environ({ SCRIPT_NAME: '/app', PATH_INFO: '/users/7', QUERY_STRING: 'q=x' }));
    assert.equal(result.status, '200 OK');
    assert.deepEqual(JSON.parse(await readBody(result.body)), { id: '7', q: 'x' });
  });

  it('fails (a 500 through runApp) when the handler throws or returns no Response', async () => {
    const fetchApp = toFetch(fromFetch(() => { throw new Error('boom'); }), { log: quietLog });
    const response = await fetchApp(new Request('http://x/'));
    assert.equal(response.status, 500);
    await response.arrayBuffer();
    const bogus = toFetch(fromFetch((() => 'nope') as unknown as () => Response), { log: quietLog });
    assert.equal((await bogus(new Request('http://x/'))).status, 500);
    const errorResponse = toFetch(fromFetch(() => Response.error()), { log: quietLog });
    assert.equal((await errorResponse(new Request('http://x/'))).status, 500);
  });
});

describe('toFetch', () => {
  /** An app that answers with the environ keys a test cares about. */
  const echoEnviron: App = async (env, startResponse) => {
    const body = await env['tsgi.input'].read();
    const picked: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(env)) if (typeof value === 'string') picked[key] = value;
    picked.body = text(body);
    startResponse('200 OK', [['Content-Type', 'application/json']]);
    return [JSON.stringify(picked)];
  };

  it('builds the environ from the Request', async () => {
    const handler = toFetch(echoEnviron, { remoteAddress: '10.0.0.1', remotePort: '4444' });
    const response = await handler(
      new Request('https://api.example:8443/caf%C3%A9/a%2Fb?x=1&y', {
        method: 'POST',
        headers: { 'X-Thing': 'yes', 'Content-Type': 'text/plain', 'Content-Length': '5' },
        body: 'hello',
      }),
    );
    const env = (await response.json()) as Record<string, string>;
    assert.equal(env.REQUEST_METHOD, 'POST');
    assert.equal(env.SCRIPT_NAME, '');
    assert.equal(env.PATH_INFO, '/caf\u00e9/a/b');
    assert.equal(env.REQUEST_URI, '/caf%C3%A9/a%2Fb?x=1&y');
    assert.equal(env.QUERY_STRING, 'x=1&y');
    assert.equal(env.SERVER_NAME, 'api.example');
    assert.equal(env.SERVER_PORT, '8443');
    assert.equal(env['tsgi.url_scheme'], 'https');
    assert.equal(env.HTTP_HOST, 'api.example:8443');
    assert.equal(env.HTTP_X_THING, 'yes');
    assert.equal(env.CONTENT_TYPE, 'text/plain');
    assert.equal(env.CONTENT_LENGTH, '5');
    assert.equal(env.HTTP_CONTENT_TYPE, undefined);
    assert.equal(env.REMOTE_ADDR, '10.0.0.1');
    assert.equal(env.REMOTE_PORT, '4444');
    assert.equal(env.body, 'hello');
  });

  it("defaults REMOTE_ADDR to '' and the port to the scheme's, and marks an unsized body chunked", async () => {
    const handler = toFetch(echoEnviron);
    const env = (await (await handler(new Request('http://h/', { method: 'POST', body: 'abc' }))).json()) as Record<
      string,
      string
    >;
    assert.equal(env.REMOTE_ADDR, '');
    assert.equal(env.SERVER_PORT, '80');
    assert.equal(env.CONTENT_LENGTH, undefined);
    assert.equal(env.HTTP_TRANSFER_ENCODING, 'chunked');
    assert.equal(env.body, 'abc');
  });

  it('reads the request body chunk by chunk, as the app asks', async () => {
    let pulls = 0;
    const total = 50;
    const upload = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulls++;
        if (pulls > total) controller.close();
        else controller.enqueue(new Uint8Array(1000).fill(pulls));
      },
    });
    let pullsWhenFirstRead = -1;
    const app: App = async (env, startResponse) => {
      await sleep(10);
      pullsWhenFirstRead = pulls;
      let size = 0;
      for await (const chunk of env['tsgi.input']) size += chunk.length;
      startResponse('200 OK', []);
      return [String(size)];
    };
    const response = await toFetch(app)(new Request('http://h/', { method: 'POST', body: upload, duplex: 'half' }));
    assert.equal(await response.text(), String(total * 1000));
    // Streams may pull a chunk ahead on their own (highWaterMark 1); the app's input did not.
    assert.ok(pullsWhenFirstRead <= 2, `pulled ${pullsWhenFirstRead} chunks before the app read any`);
  });

  it('maps status, reason and repeated headers; Set-Cookie stays separate', async () => {
    const app: App = (_env, startResponse) => {
      startResponse('202 Accepted Eventually', [
        ['Content-Type', 'text/plain'],
        ['Set-Cookie', 'a=1'],
        ['Set-Cookie', 'b=2'],
        ['Vary', 'Accept'],
        ['Vary', 'Cookie'],
      ]);
      return ['done'];
    };
    const response = await toFetch(app)(new Request('http://h/'));
    assert.equal(response.status, 202);
    assert.equal(response.statusText, 'Accepted Eventually');
    assert.deepEqual(response.headers.getSetCookie(), ['a=1', 'b=2']);
    assert.equal(response.headers.get('vary'), 'Accept, Cookie');
    assert.equal(await response.text(), 'done');
  });

  it('gives HEAD, 204 and 304 no body and stops the app', async () => {
    let produced = 0;
    const app: App = (env, startResponse) => {
      startResponse(env.PATH_INFO === '/204' ? '204 No Content' : '200 OK', [['Content-Length', '3']]);
      return (function* () {
        for (let i = 0; i < 1000; i++) {
          produced++;
          yield 'abc';
        }
      })();
    };
    const handler = toFetch(app);
    const head = await handler(new Request('http://h/', { method: 'HEAD' }));
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-length'), '3');
    assert.equal(head.body, null);
    const noContent = await handler(new Request('http://h/204'));
    assert.equal(noContent.status, 204);
    assert.equal(noContent.body, null);
    await sleep(1);
    assert.ok(produced <= 2, `the app produced ${produced} chunks nobody reads`);
  });

  it('respects backpressure: write() waits while the consumer does not read', async () => {
    let written = 0;
    let finished = false;
    const app: App = async (_env, startResponse) => {
      const write = startResponse('200 OK', []);
      for (let i = 0; i < 64; i++) {
        await write(new Uint8Array(1024));
        written++;
      }
      finished = true;
      return [];
    };
    const response = await toFetch(app, { highWaterMark: 8 * 1024 })(new Request('http://h/'));
    await sleep(20);
    assert.ok(written <= 9, `wrote ${written} KiB into an 8 KiB buffer nobody reads`);
    assert.equal(finished, false);
    const bytes = await response.arrayBuffer();
    assert.equal(bytes.byteLength, 64 * 1024);
    assert.equal(finished, true);
  });

  it('turns an error before the first byte into a 500, and after it into a failed body stream', async () => {
    const early = toFetch(() => { throw new Error('early'); }, { log: quietLog });
    const response = await early(new Request('http://h/'));
    assert.equal(response.status, 500);
    assert.match(await response.text(), /500 Internal Server Error/);

    const late: App = (_env, startResponse) => {
      startResponse('200 OK', []);
      return (async function* () {
        yield 'partial';
        throw new Error('late');
      })();
    };
    const lateResponse = await toFetch(late, { log: quietLog })(new Request('http://h/'));
    assert.equal(lateResponse.status, 200);
    await assert.rejects(lateResponse.text());
  });

  it('logs application errors to tsgi.errors by default', async () => {
    const lines: string[] = [];
    const errors = { write: (t: string) => void lines.push(t), writelines() {}, flush() {} };
    const response = await toFetch(() => { throw new Error('logged'); }, { errors })(new Request('http://h/x'));
    await response.text();
    assert.match(lines.join(''), /application error.*GET \/x.*logged/s);
  });

  it('stops the app and calls close() when the consumer cancels the body', async () => {
    let closed = false;
    let yielded = 0;
    const app: App = (_env, startResponse) => {
      startResponse('200 OK', []);
      const body = (async function* () {
        for (;;) {
          yielded++;
          yield 'tick';
          await sleep(1);
        }
      })();
      return Object.assign(body, { close: () => void (closed = true) });
    };
    const response = await toFetch(app)(new Request('http://h/'));
    const reader = response.body!.getReader();
    await reader.read();
    await reader.cancel();
    await sleep(20);
    assert.equal(closed, true);
    const after = yielded;
    await sleep(20);
    assert.equal(yielded, after);
  });

  it('serves a status fetch cannot represent as a 500 (1xx from an app)', async () => {
    const app: App = (_env, startResponse) => {
      startResponse('199 Odd', []);
      return ['x'];
    };
    const response = await toFetch(app, { log: quietLog })(new Request('http://h/'));
    assert.equal(response.status, 500);
  });

  it('round-trips through fromFetch under a mount', async () => {
    const hono = new Hono().basePath('/api');
    hono.post('/echo', async (c) => c.text(`${c.req.url} ${await c.req.text()}`, 201, { 'X-Seen': 'yes' }));
    const handler = toFetch(mount({ '/api': fromFetch(hono) }));
    const response = await handler(new Request('http://h/api/echo?z=1', { method: 'POST', body: 'payload' }));
    assert.equal(response.status, 201);
    assert.equal(response.headers.get('x-seen'), 'yes');
    assert.equal(await response.text(), 'http://h/api/echo?z=1 payload');
  });
});

describe('encodePath', () => {
  it('leaves pchar alone and escapes the rest as UTF-8', () => {
    assert.equal(encodePath("/a-b_c.d~e!$&'()*+,;=:@/"), "/a-b_c.d~e!$&'()*+,;=:@/");
    assert.equal(encodePath('/a b/%/?/#/\u00e9'), '/a%20b/%25/%3F/%23/%C3%A9');
    assert.equal(encodePath('/\ud800x'), '/%EF%BF%BDx');
  });
});
