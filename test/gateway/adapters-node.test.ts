/** fromNode: unchanged Node `(req, res)` handlers as TSGI apps, driven in-process through toFetch. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { toFetch } from '../../src/gateway/adapters/fetch.js';
import { fromNode, type NodeHandler } from '../../src/gateway/adapters/node.js';
import type { HandlerLog } from '../../src/gateway/handler.js';
import { BodyInput } from '../../src/gateway/input.js';
import { mount } from '../../src/gateway/mount.js';
import type { Body, Environ, HeaderList } from '../../src/gateway/types.js';
import { makeEnviron } from '../helpers/environ.js';

const quietLog: HandlerLog = { appError() {} };

function serveNode(handler: NodeHandler, options: { highWaterMark?: number } = {}): (request: Request) => Promise<Response> {
  return toFetch(fromNode(handler), { log: quietLog, remoteAddress: '192.0.2.7', remotePort: '40000', ...options });
}

const environ = makeEnviron;

/** Calls the app directly, as a server would, and returns what it started with plus its body. */
async function start(handler: NodeHandler, env: Environ): Promise<{ status: () => string; headers: () => HeaderList; body: Body }> {
  let status = '';
  let headers: HeaderList = [];
  const body = await fromNode(handler)(env, (s, h) => {
    status = s;
    headers = h;
    return async () => {};
  });
  return { status: () => status, headers: () => headers, body };
}

describe('fromNode: the request', () => {
  it('gives the handler a real IncomingMessage with method, url, headers, version and peer', async () => {
    let seen: Record<string, unknown> = {};
    const handler: NodeHandler = (req, res) => {
      seen = {
        isIncoming: req instanceof IncomingMessage,
        socketIsSocket: req.socket instanceof Socket,
        method: req.method,
        url: req.url,
        httpVersion: req.httpVersion,
        major: req.httpVersionMajor,
        minor: req.httpVersionMinor,
        host: req.headers.host,
        custom: req.headers['x-custom-header'],
        contentType: req.headers['content-type'],
        rawHasCustom: req.rawHeaders.includes('X-Custom-Header'),
        distinct: req.headersDistinct['x-custom-header'],
        remoteAddress: req.socket.remoteAddress,
        remotePort: req.socket.remotePort,
        connectionIsSocket: req.connection === req.socket,
        encrypted: (req.socket as Socket & { encrypted?: boolean }).encrypted,
      };
      res.end();
    };
    const response = await serveNode(handler)(
      new Request('http://h.example/a%20b/c?x=1&y=%2F', {
        method: 'PATCH',
        headers: { 'X-Custom-Header': 'v', 'Content-Type': 'text/plain', 'Content-Length': '2' },
        body: 'hi',
      }),
    );
    await response.arrayBuffer();
    assert.deepEqual(seen, {
      isIncoming: true,
      socketIsSocket: true,
      method: 'PATCH',
      url: '/a%20b/c?x=1&y=%2F',
      httpVersion: '1.1',
      major: 1,
      minor: 1,
      host: 'h.example',
      custom: 'v',
      contentType: 'text/plain',
      rawHasCustom: true,
      distinct: ['v'],
      remoteAddress: '192.0.2.7',
      remotePort: 40000,
      connectionIsSocket: true,
      encrypted: undefined,
    });
  });

  it('marks https sockets encrypted and reads the protocol version', async () => {
    let seen: unknown[] = [];
    const { body } = await start(
      (req, res) => {
        seen = [(req.socket as Socket & { encrypted?: boolean }).encrypted, req.httpVersion];
        res.end();
      },
      environ({ 'tsgi.url_scheme': 'https', SERVER_PROTOCOL: 'HTTP/1.0' }),
    );
    for await (const _ of body) void _;
    await body.close?.();
    assert.deepEqual(seen, [true, '1.0']);
  });

  it('under a mount: url is the path inside it, originalUrl and baseUrl carry the prefix', async () => {
    let seen: string[] = [];
    const app = mount({
      '/shop': fromNode((req, res) => {
        const extra = req as IncomingMessage & { originalUrl?: string; baseUrl?: string };
        seen.push(`${req.url} ${extra.originalUrl} ${extra.baseUrl}`);
        res.end();
      }),
    });
    const handler = toFetch(app);
    await (await handler(new Request('http://h/shop/cart?id=3'))).arrayBuffer();
    await (await handler(new Request('http://h/shop'))).arrayBuffer();
    assert.deepEqual(seen, ['/cart?id=3 /shop/cart?id=3 /shop', '/ /shop /shop']);
  });

  it('streams the request body and reads tsgi.input only when the handler wants more', async () => {
    let wanted = 0;
    const input = new BodyInput({ wanted: () => void wanted++ });
    const received: string[] = [];
    const { body } = await start(
      (req, res) => {
        req.pause();
        setTimeout(() => {
          req.on('data', (chunk: Buffer) => received.push(chunk.toString()));
          req.on('end', () => res.end(received.join('|')));
          req.resume();
        }, 20);
      },
      environ({ REQUEST_METHOD: 'POST', CONTENT_LENGTH: '6', 'tsgi.input': input }),
    );
    await sleep(5);
    assert.equal(wanted, 0, 'tsgi.input untouched while the handler has not read');
    input.push(Buffer.from('abc'));
    await sleep(30);
    input.push(Buffer.from('def'));
    input.end();
    let out = '';
    for await (const chunk of body) out += Buffer.from(chunk as Uint8Array).toString();
    await body.close?.();
    assert.equal(out, 'abc|def');
  });

  it('stops reading tsgi.input while the request stream is paused (backpressure)', async () => {
    let pulls = 0;
    const chunk = new Uint8Array(16 * 1024);
    const upload = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (++pulls > 640) controller.close();
        else controller.enqueue(chunk);
      },
    });
    let paused: (() => void) | undefined;
    const handler: NodeHandler = (req, res) => {
      let bytes = 0;
      req.once('data', (first: Buffer) => {
        bytes += first.length;
        req.pause();
        paused = () => {
          req.on('data', (more: Buffer) => (bytes += more.length));
          req.on('end', () => res.end(String(bytes)));
          req.resume();
        };
      });
    };
    const pending = serveNode(handler)(new Request('http://h/', { method: 'POST', body: upload, duplex: 'half' }));
    await sleep(50);
    assert.ok(pulls < 20, `${pulls} chunks of 16 KiB read while the handler is paused`);
    paused!();
    assert.equal(await (await pending).text(), String(640 * 16 * 1024));
  });
});

describe('fromNode: the response', () => {
  it('maps writeHead (object and array forms), setHeader, statusMessage and Set-Cookie arrays', async () => {
    const handler: NodeHandler = (req, res) => {
      res.setHeader('Set-Cookie', ['a=1', 'b=2']);
      res.setHeader('X-Before', 'kept');
      res.setHeader('Connection', 'keep-alive');
      if (req.url === '/object') res.writeHead(201, 'Made It', { 'Content-Type': 'text/plain', 'X-Num': 5 });
      else res.writeHead(202, [['X-Pair', 'one'], ['X-Pair', 'two']]);
      res.end('body');
    };
    const fetchApp = serveNode(handler);
    const made = await fetchApp(new Request('http://h/object'));
    assert.equal(made.status, 201);
    assert.equal(made.statusText, 'Made It');
    assert.deepEqual(made.headers.getSetCookie(), ['a=1', 'b=2']);
    assert.equal(made.headers.get('x-before'), 'kept');
    assert.equal(made.headers.get('x-num'), '5');
    assert.equal(made.headers.get('content-type'), 'text/plain');
    assert.equal(made.headers.get('connection'), null, 'hop-by-hop headers are the server’s');
    assert.equal(await made.text(), 'body');
    const pairs = await fetchApp(new Request('http://h/array'));
    assert.equal(pairs.status, 202);
    assert.equal(pairs.statusText, 'Accepted');
    assert.equal(pairs.headers.get('x-pair'), 'one, two');
    await pairs.arrayBuffer();
  });

  it('keeps the header names as the handler spelled them', async () => {
    const { headers, body } = await start((_req, res) => {
      res.setHeader('X-MixedCase', '1');
      res.end('ok');
    }, environ());
    for await (const _ of body) void _;
    await body.close?.();
    assert.deepEqual(headers(), [
      ['X-MixedCase', '1'],
      ['Content-Length', '2'],
    ]);
  });

  it('sets Content-Length when the whole body goes to end(), streams without it otherwise', async () => {
    const fetchApp = serveNode((req, res) => {
      if (req.url === '/end') return void res.end('héllo');
      res.write('a');
      res.write(Buffer.from('b'));
      res.end();
    });
    const whole = await fetchApp(new Request('http://h/end'));
    assert.equal(whole.headers.get('content-length'), '6');
    assert.equal(await whole.text(), 'héllo');
    const streamed = await fetchApp(new Request('http://h/stream'));
    assert.equal(streamed.headers.get('content-length'), null);
    assert.equal(await streamed.text(), 'ab');
  });

  it('headersSent flips with the head; setHeader afterwards throws ERR_HTTP_HEADERS_SENT', async () => {
    const seen: unknown[] = [];
    const response = await serveNode((_req, res) => {
      seen.push(res.headersSent);
      res.writeHead(200);
      seen.push(res.headersSent);
      try {
        res.setHeader('X-Late', '1');
      } catch (error) {
        seen.push((error as { code?: string }).code);
      }
      try {
        res.writeHead(500);
      } catch (error) {
        seen.push((error as { code?: string }).code);
      }
      res.end();
    })(new Request('http://h/'));
    await response.arrayBuffer();
    assert.deepEqual(seen, [false, true, 'ERR_HTTP_HEADERS_SENT', 'ERR_HTTP_HEADERS_SENT']);
  });

  it('HEAD: same headers, no body; 204 and 304 have no body either', async () => {
    const fetchApp = serveNode((req, res) => {
      res.statusCode = req.url === '/204' ? 204 : req.url === '/304' ? 304 : 200;
      res.setHeader('Content-Type', 'text/plain');
      res.setHeader('Content-Length', '5');
      res.end('hello');
    });
    const get = await fetchApp(new Request('http://h/'));
    const head = await fetchApp(new Request('http://h/', { method: 'HEAD' }));
    assert.deepEqual([...head.headers], [...get.headers]);
    assert.equal(head.body, null);
    assert.equal(await get.text(), 'hello');
    for (const status of [204, 304]) {
      const { status: s, body } = await start(
        (_req, res) => {
          res.statusCode = status;
          res.end('ignored');
        },
        environ(),
      );
      const chunks: unknown[] = [];
      for await (const chunk of body) chunks.push(chunk);
      await body.close?.();
      assert.equal(s().slice(0, 3), String(status));
      assert.deepEqual(chunks, []);
    }
  });

  it("fires 'finish' then 'close' on res, and 'end' / 'close' on req", async () => {
    const events: string[] = [];
    const response = await serveNode((req, res) => {
      req.on('end', () => events.push('req:end'));
      req.on('close', () => events.push('req:close'));
      res.on('finish', () => events.push(`res:finish ended=${res.writableEnded} finished=${res.writableFinished}`));
      res.on('close', () => events.push('res:close'));
      res.end('x', () => events.push('end callback'));
    })(new Request('http://h/'));
    await response.text();
    await sleep(10);
    assert.deepEqual(events.slice(0, 3), ['res:finish ended=true finished=true', 'end callback', 'res:close']);
    assert.ok(events.includes('req:end') && events.includes('req:close'), events.join(', '));
  });

  it('write() returns false past the high-water mark and emits drain once the server took the bytes', async () => {
    const log: string[] = [];
    const big = Buffer.alloc(48 * 1024, 97);
    const response = await serveNode(
      (_req, res) => {
        let i = 0;
        const pump = (): void => {
          while (i < 8) {
            i++;
            const ok = res.write(big);
            log.push(ok ? 'ok' : 'full');
            if (!ok) {
              assert.equal(res.writableNeedDrain, true);
              res.once('drain', () => {
                log.push('drain');
                pump();
              });
              return;
            }
          }
          res.end();
        };
        pump();
      },
      { highWaterMark: 16 * 1024 },
    )(new Request('http://h/'));
    await sleep(20);
    assert.ok(log.filter((x) => x === 'full').length >= 1);
    assert.ok(log.length < 8, `${log.length} writes done while nothing was read`);
    const bytes = await response.arrayBuffer();
    assert.equal(bytes.byteLength, 8 * big.length);
    assert.ok(log.includes('drain'));
  });

  it('delivers chunks written with delays as they are written', async () => {
    const response = await serveNode((_req, res) => {
      let n = 0;
      const timer = setInterval(() => {
        res.write(`tick${n}\n`);
        if (++n === 3) {
          clearInterval(timer);
          res.end();
        }
      }, 10);
    })(new Request('http://h/'));
    const reader = response.body!.getReader();
    const first = await reader.read();
    assert.equal(Buffer.from(first.value!).toString(), 'tick0\n');
    let rest = '';
    for (;;) {
      const step = await reader.read();
      if (step.done) break;
      rest += Buffer.from(step.value).toString();
    }
    assert.equal(rest, 'tick1\ntick2\n');
  });

  it('survives a prototype swap like Express makes', async () => {
    const requestProto = Object.create(IncomingMessage.prototype) as object;
    const responseProto = Object.create(ServerResponse.prototype) as ServerResponse & { sendText(text: string): void };
    responseProto.sendText = function (this: ServerResponse, text: string) {
      this.setHeader('Content-Type', 'text/plain');
      this.end(text);
    };
    const response = await serveNode((req, res) => {
      Object.setPrototypeOf(req, requestProto);
      Object.setPrototypeOf(res, responseProto);
      (res as typeof responseProto).sendText(`swapped ${req.method}`);
    })(new Request('http://h/'));
    assert.equal(response.headers.get('content-type'), 'text/plain');
    assert.equal(await response.text(), 'swapped GET');
  });
});

describe('fromNode: failures', () => {
  it('a synchronous throw becomes a 500', async () => {
    const response = await serveNode(() => {
      throw new Error('sync');
    })(new Request('http://h/'));
    assert.equal(response.status, 500);
    await response.text();
  });

  it('a rejected promise from the handler becomes a 500', async () => {
    const handler = (async () => {
      await sleep(1);
      throw new Error('async');
    }) as unknown as NodeHandler;
    const response = await serveNode(handler)(new Request('http://h/'));
    assert.equal(response.status, 500);
    await response.text();
  });

  it('res.destroy() mid-body cuts the response', async () => {
    const response = await serveNode((_req, res) => {
      res.write('partial');
      setTimeout(() => res.destroy(new Error('cut')), 5);
    })(new Request('http://h/'));
    assert.equal(response.status, 200);
    await assert.rejects(response.text());
  });

  it("a client that goes away: res 'close', req 'aborted' and 'close', the handler stops", async () => {
    const events: string[] = [];
    let ticks = 0;
    const response = await serveNode((req, res) => {
      req.on('aborted', () => events.push('req:aborted'));
      req.on('close', () => events.push('req:close'));
      res.on('close', () => events.push(`res:close ended=${res.writableEnded}`));
      res.on('finish', () => events.push('res:finish'));
      const timer = setInterval(() => res.write(`tick ${ticks++}\n`), 2);
      res.on('close', () => clearInterval(timer));
    })(new Request('http://h/'));
    const reader = response.body!.getReader();
    await reader.read();
    await reader.cancel();
    await sleep(20);
    assert.ok(events.includes('res:close ended=false'), events.join(', '));
    assert.ok(events.includes('req:close'), events.join(', '));
    assert.ok(!events.includes('res:finish'));
    const after = ticks;
    await sleep(20);
    assert.equal(ticks, after, 'the handler kept writing after the client left');
  });

  it('write after end reports ERR_STREAM_WRITE_AFTER_END to the callback, without crashing', async () => {
    let code: string | undefined;
    const response = await serveNode((_req, res) => {
      res.end('done');
      res.write('late', (error) => {
        code = (error as { code?: string } | null | undefined)?.code;
      });
    })(new Request('http://h/'));
    assert.equal(await response.text(), 'done');
    await sleep(5);
    assert.equal(code, 'ERR_STREAM_WRITE_AFTER_END');
  });

  it('a 10 MB upload hashed incrementally matches', async () => {
    const data = Buffer.alloc(10 * 1024 * 1024);
    for (let i = 0; i < data.length; i += 4096) data[i] = i & 0xff;
    const expected = createHash('sha256').update(data).digest('hex');
    const response = await serveNode((req, res) => {
      const hash = createHash('sha256');
      let size = 0;
      req.on('data', (chunk: Buffer) => {
        size += chunk.length;
        hash.update(chunk);
      });
      req.on('end', () => res.end(`${size} ${hash.digest('hex')}`));
    })(new Request('http://h/', { method: 'POST', body: data, headers: { 'Content-Length': String(data.length) } }));
    assert.equal(await response.text(), `${data.length} ${expected}`);
  });
});
