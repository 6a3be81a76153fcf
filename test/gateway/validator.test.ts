// The validator against a fake server written here: an environ built by hand, a startResponse,
// a loop over the body and a close(). Each rule has a test in which exactly that rule fires.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import {
  validator,
  ValidationError,
  VALIDATION_RULE_IDS,
  VALIDATION_RULES,
  type ValidatedApp,
  type ValidationRuleId,
} from '../../src/gateway/validator.js';
import { TSGI_VERSION } from '../../src/gateway/types.js';
import type { App, Body, Chunk, Environ, ErrorStream, HeaderList, InputStream, StartResponse, Write } from '../../src/gateway/types.js';

const LF = 0x0a;

/** tsgi.input over bytes already in memory; iteration yields 4-byte chunks. */
class MemoryInput implements InputStream {
  private at = 0;
  constructor(private readonly bytes: Uint8Array) {}

  async read(size?: number): Promise<Uint8Array> {
    const end = size === undefined || size < 0 ? this.bytes.length : Math.min(this.bytes.length, this.at + size);
    return this.take(end);
  }

  async readline(size?: number): Promise<Uint8Array> {
    const lf = this.bytes.indexOf(LF, this.at);
    let end = lf < 0 ? this.bytes.length : lf + 1;
    if (size !== undefined && size >= 0) end = Math.min(end, this.at + size);
    return this.take(end);
  }

  async readlines(): Promise<Uint8Array[]> {
    const lines: Uint8Array[] = [];
    for (let line = await this.readline(); line.length > 0; line = await this.readline()) lines.push(line);
    return lines;
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array> {
    while (this.at < this.bytes.length) yield await this.read(4);
  }

  private take(end: number): Uint8Array {
    const out = this.bytes.subarray(this.at, end);
    this.at = end;
    return out;
  }
}

class MemoryErrors implements ErrorStream {
  readonly text: string[] = [];
  flushed = 0;
  write(text: string): void {
    this.text.push(text);
  }
  writelines(lines: Iterable<string>): void {
    for (const line of lines) this.text.push(line);
  }
  flush(): void {
    this.flushed += 1;
  }
}

/**
 * A valid environ for `GET /hello?x=1`. `overrides` replace keys; an `undefined` value deletes
 * the key. Values of the wrong type are the point of several tests, hence `unknown`.
 */
function makeEnviron(overrides: Record<string, unknown> = {}, body = ''): Environ {
  const bytes = Buffer.from(body);
  const environ: Environ = {
    REQUEST_METHOD: 'GET',
    SCRIPT_NAME: '',
    PATH_INFO: '/hello',
    QUERY_STRING: 'x=1',
    SERVER_NAME: 'localhost',
    SERVER_PORT: '8000',
    SERVER_PROTOCOL: 'HTTP/1.1',
    REMOTE_ADDR: '127.0.0.1',
    REMOTE_PORT: '50000',
    HTTP_HOST: 'localhost:8000',
    'tsgi.version': TSGI_VERSION,
    'tsgi.url_scheme': 'http',
    'tsgi.input': new MemoryInput(bytes),
    'tsgi.errors': new MemoryErrors(),
    'tsgi.multithread': true,
    'tsgi.multiprocess': false,
    'tsgi.run_once': false,
  };
  if (bytes.length > 0) environ.CONTENT_LENGTH = String(bytes.length);
  for (const [key, value] of Object.entries(overrides)) {
    if (value === undefined) delete environ[key];
    else environ[key] = value;
  }
  return environ;
}

function isSyncBody(body: Body): body is Iterable<Chunk> & { close?(): void | Promise<void> } {
  return Symbol.iterator in body;
}

interface Served {
  status: string | undefined;
  headers: HeaderList | undefined;
  body: string;
}

/**
 * The fake server: PEP 3333's run_with_cgi in TSGI terms. Sends no headers before the first
 * non-empty chunk, rethrows excInfo once they are out, iterates with for...of (which calls
 * return() on an early exit), and calls close() whatever happens. `stopAfter` breaks out of the
 * loop after that many chunks, as a server does when the client goes away.
 */
async function serve(app: App, environ: Environ = makeEnviron(), stopAfter = Infinity): Promise<Served> {
  let status: string | undefined;
  let headers: HeaderList | undefined;
  let headersSent = false;
  const out: Buffer[] = [];
  const emit = (chunk: Chunk): void => {
    const bytes = Buffer.from(chunk);
    if (bytes.length === 0) return;
    if (status === undefined) throw new Error('fake server: body bytes before startResponse');
    headersSent = true;
    out.push(bytes);
  };
  const write: Write = async (chunk) => emit(chunk);
  const startResponse: StartResponse = (newStatus, newHeaders, excInfo) => {
    if (excInfo !== undefined && excInfo !== null) {
      if (headersSent) throw excInfo;
    } else if (status !== undefined) {
      throw new Error('fake server: startResponse called twice');
    }
    status = newStatus;
    headers = newHeaders;
    return write;
  };
  const body = await app(environ, startResponse);
  let count = 0;
  try {
    if (isSyncBody(body)) {
      for (const chunk of body) {
        emit(chunk);
        if (++count >= stopAfter) break;
      }
    } else {
      for await (const chunk of body) {
        emit(chunk);
        if (++count >= stopAfter) break;
      }
    }
  } finally {
    await body.close?.();
  }
  return { status, headers, body: Buffer.concat(out).toString() };
}

/** A startResponse that accepts anything and returns a write that resolves. */
const acceptAll: StartResponse = () => async () => undefined;

const TEXT: HeaderList = [['Content-Type', 'text/plain']];

const okApp: App = (_environ, startResponse) => {
  startResponse('200 OK', TEXT);
  return ['ok'];
};

/**
 * A value the type system would refuse, typed as what the callee expects: what an untyped
 * JavaScript caller can pass. The only cast in this file, so that each use is visible.
 */
function ill<T>(value: unknown): T {
  return value as T;
}

/** Calls `fn` with arguments its type forbids: what an untyped JavaScript caller can do. */
function callUntyped(target: object, name: PropertyKey, ...args: unknown[]): unknown {
  const fn: unknown = Reflect.get(target, name);
  if (typeof fn !== 'function') throw new Error(`no method ${String(name)}`);
  return Reflect.apply(fn, target, args);
}

const covered = new Set<ValidationRuleId>();

/**
 * Runs `scenario` with a `wrap` that builds validated apps, and asserts that it fails with
 * exactly `rule`: the thrown error is that ValidationError and onViolation saw nothing else.
 */
async function expectViolation(
  rule: ValidationRuleId,
  scenario: (wrap: (app: App) => ValidatedApp) => unknown,
): Promise<void> {
  covered.add(rule);
  const seen: ValidationRuleId[] = [];
  const wrap = (app: App): ValidatedApp => validator(app, { onViolation: (error) => seen.push(error.rule) });
  await assert.rejects(
    async () => {
      await scenario(wrap);
    },
    (error: unknown) => {
      assert.ok(error instanceof ValidationError, `expected a ValidationError, got ${String(error)}`);
      assert.equal(error.rule, rule);
      assert.equal(error.code, 'ERR_TSGI_VALIDATION');
      assert.ok(error.message.startsWith(`TSGI rule "${rule}": `), error.message);
      return true;
    },
  );
  assert.deepEqual(seen, [rule]);
}

/** Wraps `app`, serves one request, and asserts that nothing was reported and every body closed. */
async function expectClean(app: App, environ?: Environ, stopAfter?: number): Promise<Served> {
  const seen: ValidationError[] = [];
  const validated = validator(app, { onViolation: (error) => seen.push(error) });
  const served = await serve(validated, environ, stopAfter);
  validated.assertAllClosed();
  assert.deepEqual(
    seen.map((error) => error.message),
    [],
  );
  return served;
}

// ---------------------------------------------------------------------------------------------
// Well-behaved applications pass untouched

test('clean: a sync iterable (array) body', async () => {
  const served = await expectClean(okApp);
  assert.equal(served.status, '200 OK');
  assert.equal(served.body, 'ok');
});

test('clean: an async generator body, from an app that returns a promise', async () => {
  const app: App = async (_environ, startResponse) => {
    await Promise.resolve();
    startResponse('200 OK', TEXT);
    return (async function* () {
      yield 'a';
      yield new Uint8Array([0x62]);
      yield '';
    })();
  };
  assert.equal((await expectClean(app)).body, 'ab');
});

test('clean: a generator that calls startResponse when first iterated', async () => {
  const app: App = (environ, startResponse) =>
    (function* () {
      startResponse('200 OK', TEXT);
      yield `path ${environ.PATH_INFO}`;
    })();
  assert.equal((await expectClean(app)).body, 'path /hello');
});

test('clean: an application that uses write() before returning', async () => {
  const app: App = async (_environ, startResponse) => {
    const write = startResponse('200 OK', [...TEXT, ['Content-Length', '6']]);
    await write('ab');
    await write(Buffer.from('cd'));
    return ['ef'];
  };
  assert.equal((await expectClean(app)).body, 'abcdef');
});

test('clean: a body with close() is closed exactly once', async () => {
  let closes = 0;
  const app: App = (_environ, startResponse) => {
    startResponse('200 OK', TEXT);
    return Object.assign(['x'], { close: () => void (closes += 1) });
  };
  await expectClean(app);
  assert.equal(closes, 1);
});

test('clean: an async close() is awaited', async () => {
  let closed = false;
  const app: App = (_environ, startResponse) => {
    startResponse('200 OK', TEXT);
    return Object.assign(['x'], {
      close: async () => {
        await Promise.resolve();
        closed = true;
      },
    });
  };
  await expectClean(app);
  assert.equal(closed, true);
});

test('clean: a server that stops early with for...of runs the generator finally block', async () => {
  let finalized = false;
  const app: App = (_environ, startResponse) => {
    startResponse('200 OK', TEXT);
    return (function* () {
      try {
        yield 'a';
        yield 'b';
      } finally {
        finalized = true;
      }
    })();
  };
  assert.equal((await expectClean(app, makeEnviron(), 1)).body, 'a');
  assert.equal(finalized, true);
});

test('clean: tsgi.input read(n), readline, readlines and async iteration', async () => {
  const app: App = async (environ, startResponse) => {
    const input = environ['tsgi.input'];
    const parts = [
      Buffer.from(await input.read(2)).toString(),
      Buffer.from(await input.readline()).toString(),
      Buffer.from(await input.readline(3)).toString(),
      (await input.readlines()).map((line) => Buffer.from(line).toString()).join('|'),
    ];
    startResponse('200 OK', TEXT);
    return [JSON.stringify(parts)];
  };
  const served = await expectClean(app, makeEnviron({ REQUEST_METHOD: 'POST' }, 'abcd\nefghij\nkl\nmn'));
  assert.deepEqual(JSON.parse(served.body), ['ab', 'cd\n', 'efg', 'hij\n|kl\n|mn']);

  const iterating: App = async (environ, startResponse) => {
    const chunks: string[] = [];
    for await (const chunk of environ['tsgi.input']) chunks.push(Buffer.from(chunk).toString());
    startResponse('200 OK', TEXT);
    return [chunks.join('|')];
  };
  assert.equal((await expectClean(iterating, makeEnviron({}, 'abcdefghij'))).body, 'abcd|efgh|ij');
});

test('clean: tsgi.errors write, writelines and flush reach the server stream', async () => {
  const errors = new MemoryErrors();
  const app: App = (environ, startResponse) => {
    const log = environ['tsgi.errors'];
    log.write('one\n');
    log.writelines(['two\n', 'three\n']);
    log.flush();
    startResponse('200 OK', TEXT);
    return [];
  };
  await expectClean(app, makeEnviron({ 'tsgi.errors': errors }));
  assert.deepEqual(errors.text, ['one\n', 'two\n', 'three\n']);
  assert.equal(errors.flushed, 1);
});

test('clean: excInfo before any body bytes replaces the response', async () => {
  const app: App = (_environ, startResponse) => {
    try {
      startResponse('200 OK', TEXT);
      throw new Error('boom');
    } catch (error) {
      startResponse('500 Internal Server Error', TEXT, error);
      return ['failed'];
    }
  };
  const served = await expectClean(app);
  assert.equal(served.status, '500 Internal Server Error');
  assert.equal(served.body, 'failed');
});

test('clean: excInfo after body bytes is rethrown by the server and passes through', async () => {
  const boom = new Error('boom');
  const seen: ValidationError[] = [];
  const app: App = (_environ, startResponse) =>
    (function* () {
      startResponse('200 OK', TEXT);
      yield 'partial';
      try {
        throw boom;
      } catch (error) {
        startResponse('500 Internal Server Error', TEXT, error);
        yield 'never sent';
      }
    })();
  const validated = validator(app, { onViolation: (error) => seen.push(error) });
  await assert.rejects(serve(validated), (error: unknown) => error === boom);
  validated.assertAllClosed();
  assert.deepEqual(seen, []);
});

test('clean: HEAD with Content-Length and no body, 204 with no body, 302 with no Content-Type', async () => {
  const head: App = (_environ, startResponse) => {
    startResponse('200 OK', [...TEXT, ['Content-Length', '1000']]);
    return [];
  };
  await expectClean(head, makeEnviron({ REQUEST_METHOD: 'HEAD' }));
  const noContent: App = (_environ, startResponse) => {
    startResponse('204 No Content', []);
    return [''];
  };
  await expectClean(noContent);
  const redirect: App = (_environ, startResponse) => {
    startResponse('302 Found', [['Location', '/elsewhere']]);
    return [];
  };
  assert.equal((await expectClean(redirect)).status, '302 Found');
});

test('clean: a mounted request (SCRIPT_NAME set, PATH_INFO empty) and extension keys', async () => {
  const served = await expectClean(
    okApp,
    makeEnviron({ SCRIPT_NAME: '/app', PATH_INFO: '', REQUEST_URI: '/app', 'uwsgi.node': Buffer.from('x') }),
  );
  assert.equal(served.body, 'ok');
});

// ---------------------------------------------------------------------------------------------
// The environ (server side)

test('environ-type: environ must be a plain object', async () => {
  class FancyEnviron {}
  await expectViolation('environ-type', (wrap) => serve(wrap(okApp), Object.assign(new FancyEnviron(), makeEnviron())));
});

test('environ-required: every required key is present', async () => {
  await expectViolation('environ-required', (wrap) => serve(wrap(okApp), makeEnviron({ QUERY_STRING: undefined })));
  await expectViolation('environ-required', (wrap) => serve(wrap(okApp), makeEnviron({ 'tsgi.run_once': undefined })));
});

test('cgi-string: CGI and HTTP_* values are strings', async () => {
  await expectViolation('cgi-string', (wrap) => serve(wrap(okApp), makeEnviron({ HTTP_X_COUNT: 3 })));
});

test('http-content-headers: no HTTP_CONTENT_TYPE / HTTP_CONTENT_LENGTH', async () => {
  await expectViolation('http-content-headers', (wrap) =>
    serve(wrap(okApp), makeEnviron({ HTTP_CONTENT_TYPE: 'text/plain' })),
  );
});

test('request-method: REQUEST_METHOD is a token', async () => {
  await expectViolation('request-method', (wrap) => serve(wrap(okApp), makeEnviron({ REQUEST_METHOD: 'GE T' })));
});

test("script-name: '' or a path without a trailing slash", async () => {
  await expectViolation('script-name', (wrap) => serve(wrap(okApp), makeEnviron({ SCRIPT_NAME: '/' })));
  await expectViolation('script-name', (wrap) => serve(wrap(okApp), makeEnviron({ SCRIPT_NAME: 'app' })));
});

test("path-info: '' or starts with '/'", async () => {
  await expectViolation('path-info', (wrap) => serve(wrap(okApp), makeEnviron({ PATH_INFO: 'hello' })));
});

test('path-required: SCRIPT_NAME and PATH_INFO are not both empty', async () => {
  await expectViolation('path-required', (wrap) => serve(wrap(okApp), makeEnviron({ PATH_INFO: '' })));
});

test('request-content-length: digits when present (an empty value is dropped, not passed)', async () => {
  await expectViolation('request-content-length', (wrap) => serve(wrap(okApp), makeEnviron({ CONTENT_LENGTH: '' })));
  await expectViolation('request-content-length', (wrap) => serve(wrap(okApp), makeEnviron({ CONTENT_LENGTH: '-1' })));
});

test('server-name: SERVER_NAME is not empty', async () => {
  await expectViolation('server-name', (wrap) => serve(wrap(okApp), makeEnviron({ SERVER_NAME: '' })));
});

test('server-port: SERVER_PORT is digits', async () => {
  await expectViolation('server-port', (wrap) => serve(wrap(okApp), makeEnviron({ SERVER_PORT: 'http' })));
});

test('server-protocol: SERVER_PROTOCOL is HTTP/x.y', async () => {
  await expectViolation('server-protocol', (wrap) => serve(wrap(okApp), makeEnviron({ SERVER_PROTOCOL: 'HTTP 1.1' })));
});

test('tsgi-version: a [major, minor] pair', async () => {
  await expectViolation('tsgi-version', (wrap) => serve(wrap(okApp), makeEnviron({ 'tsgi.version': '1.0' })));
  await expectViolation('tsgi-version', (wrap) => serve(wrap(okApp), makeEnviron({ 'tsgi.version': [1] })));
});

test("url-scheme: 'http' or 'https'", async () => {
  await expectViolation('url-scheme', (wrap) => serve(wrap(okApp), makeEnviron({ 'tsgi.url_scheme': 'HTTPS' })));
});

test('tsgi-flags: multithread, multiprocess, run_once are booleans', async () => {
  await expectViolation('tsgi-flags', (wrap) => serve(wrap(okApp), makeEnviron({ 'tsgi.multithread': 1 })));
});

test('input-methods: tsgi.input has the stream methods', async () => {
  const partial = { read: async () => new Uint8Array(0), readline: async () => new Uint8Array(0), readlines: async () => [] };
  await expectViolation('input-methods', (wrap) => serve(wrap(okApp), makeEnviron({ 'tsgi.input': partial })));
});

test('errors-methods: tsgi.errors has write, writelines, flush', async () => {
  await expectViolation('errors-methods', (wrap) => serve(wrap(okApp), makeEnviron({ 'tsgi.errors': process.stderr })));
});

// ---------------------------------------------------------------------------------------------
// tsgi.input and tsgi.errors in use

test('input-args: read(size) takes an integer or nothing', async () => {
  const app: App = async (environ, startResponse) => {
    await callUntyped(environ['tsgi.input'], 'read', '10');
    startResponse('200 OK', TEXT);
    return [];
  };
  await expectViolation('input-args', (wrap) => serve(wrap(app), makeEnviron({}, 'body')));
});

test('input-result: the server returns Uint8Array, within size and CONTENT_LENGTH', async () => {
  const reader: App = async (environ, startResponse) => {
    await environ['tsgi.input'].read(3);
    startResponse('200 OK', TEXT);
    return [];
  };
  const textInput = {
    read: async () => 'abc',
    readline: async () => 'abc',
    readlines: async () => [],
    async *[Symbol.asyncIterator]() {},
  };
  await expectViolation('input-result', (wrap) => serve(wrap(reader), makeEnviron({ 'tsgi.input': textInput })));
  // The server must simulate end of body at CONTENT_LENGTH even if the client sent more.
  const overlong = makeEnviron({ 'tsgi.input': new MemoryInput(Buffer.from('abcdef')), CONTENT_LENGTH: '2' });
  await expectViolation('input-result', (wrap) => serve(wrap(reader), overlong));
});

test('errors-args: tsgi.errors.write takes a string', async () => {
  const app: App = (environ, startResponse) => {
    callUntyped(environ['tsgi.errors'], 'write', Buffer.from('bytes'));
    startResponse('200 OK', TEXT);
    return [];
  };
  await expectViolation('errors-args', (wrap) => serve(wrap(app)));
});

test('stream-close: the application never closes tsgi.input', async () => {
  const app: App = (environ, startResponse) => {
    callUntyped(environ['tsgi.input'], 'close');
    startResponse('200 OK', TEXT);
    return [];
  };
  await expectViolation('stream-close', (wrap) => serve(wrap(app)));
});

// ---------------------------------------------------------------------------------------------
// startResponse()

/** An app that calls startResponse with the given (possibly ill-typed) arguments. */
function starting(...args: unknown[]): App {
  return (_environ, startResponse) => {
    Reflect.apply(startResponse, undefined, args);
    return [];
  };
}

test('status-format: "NNN Reason"', async () => {
  await expectViolation('status-format', (wrap) => serve(wrap(starting('200', TEXT))));
  await expectViolation('status-format', (wrap) => serve(wrap(starting(200, TEXT))));
  await expectViolation('status-format', (wrap) => serve(wrap(starting('200 OK\r\n', TEXT))));
});

test('status-code: a final status, 200-599', async () => {
  await expectViolation('status-code', (wrap) => serve(wrap(starting('100 Continue', TEXT))));
  await expectViolation('status-code', (wrap) => serve(wrap(starting('600 Beyond', TEXT))));
});

test('headers-type: an array of [name, value] string pairs', async () => {
  await expectViolation('headers-type', (wrap) => serve(wrap(starting('200 OK', { 'Content-Type': 'text/plain' }))));
  await expectViolation('headers-type', (wrap) => serve(wrap(starting('200 OK', [['Content-Type', 'text/plain', 'x']]))));
  await expectViolation('headers-type', (wrap) => serve(wrap(starting('200 OK', [['Content-Length', 3]]))));
});

test('header-name: a token, no colon or whitespace', async () => {
  await expectViolation('header-name', (wrap) => serve(wrap(starting('200 OK', [['X-Bad:', 'v']]))));
  await expectViolation('header-name', (wrap) => serve(wrap(starting('200 OK', [['X Bad', 'v']]))));
});

test('header-status: no Status header', async () => {
  await expectViolation('header-status', (wrap) => serve(wrap(starting('200 OK', [['status', '404 Not Found']]))));
});

test('hop-by-hop: no Connection / Transfer-Encoding headers', async () => {
  await expectViolation('hop-by-hop', (wrap) => serve(wrap(starting('200 OK', [['Transfer-Encoding', 'chunked']]))));
});

test('header-value: no CR, LF, NUL or DEL in values (tab is allowed)', async () => {
  await expectViolation('header-value', (wrap) => serve(wrap(starting('200 OK', [['X-Split', 'a\r\nSet-Cookie: x']]))));
  await expectViolation('header-value', (wrap) => serve(wrap(starting('200 OK', [['X-Del', 'a\x7f']]))));
  await expectClean(starting('200 OK', [['X-Tab', 'a\tb']]));
});

test('header-latin1: no code point beyond U+00FF', async () => {
  await expectViolation('header-latin1', (wrap) => serve(wrap(starting('200 OK', [['X-Name', 'caf\u00e9 \u2603']]))));
});

test('start-response-twice: only again with excInfo', async () => {
  const app: App = (_environ, startResponse) => {
    startResponse('200 OK', TEXT);
    startResponse('404 Not Found', TEXT);
    return [];
  };
  await expectViolation('start-response-twice', (wrap) => serve(wrap(app)));
});

test('write-function: the server startResponse returns write', async () => {
  await expectViolation('write-function', (wrap) => {
    const startResponse: StartResponse = () => ill<Write>(undefined);
    return wrap(okApp)(makeEnviron(), startResponse);
  });
});

test('exc-info-rethrow: once bytes are out, the server rethrows excInfo', async () => {
  const app: App = async (_environ, startResponse) => {
    const write = startResponse('200 OK', TEXT);
    await write('partial');
    startResponse('500 Internal Server Error', TEXT, new Error('late failure'));
    return [];
  };
  // A server that forgets PEP 3333's rethrow and lets the application "change its mind".
  await expectViolation('exc-info-rethrow', (wrap) => wrap(app)(makeEnviron(), acceptAll));
});

// ---------------------------------------------------------------------------------------------
// The response as a whole

test('content-type-forbidden: not on 204 or 304', async () => {
  await expectViolation('content-type-forbidden', (wrap) => serve(wrap(starting('304 Not Modified', TEXT))));
});

test('content-type-missing: body bytes need a Content-Type', async () => {
  const app: App = (_environ, startResponse) => {
    startResponse('200 OK', []);
    return ['', 'untyped'];
  };
  await expectViolation('content-type-missing', (wrap) => serve(wrap(app)));
});

test('response-content-length: digits, once, equal to the body', async () => {
  const withLength = (length: string, body: Chunk[]): App => (_environ, startResponse) => {
    startResponse('200 OK', [...TEXT, ['Content-Length', length]]);
    return body;
  };
  await expectViolation('response-content-length', (wrap) => serve(wrap(withLength('5', ['abc']))));
  await expectViolation('response-content-length', (wrap) => serve(wrap(withLength('2', ['abc']))));
  await expectViolation('response-content-length', (wrap) => serve(wrap(withLength('3 ', ['abc']))));
  // Strings count in UTF-8 bytes: 'é' is two.
  await expectClean(withLength('2', ['\u00e9']));
});

test('body-forbidden: no body bytes on 204 or 304', async () => {
  const app: App = (_environ, startResponse) => {
    startResponse('204 No Content', []);
    return ['surprise'];
  };
  await expectViolation('body-forbidden', (wrap) => serve(wrap(app)));
});

// ---------------------------------------------------------------------------------------------
// write()

test('write-chunk: write() takes a Uint8Array or a string', async () => {
  const app: App = async (_environ, startResponse) => {
    const write = startResponse('200 OK', TEXT);
    await Reflect.apply(write, undefined, [42]);
    return [];
  };
  await expectViolation('write-chunk', (wrap) => serve(wrap(app)));
});

test('write-in-body: no write() once the server iterates the body', async () => {
  const app: App = (_environ, startResponse) => {
    const write = startResponse('200 OK', TEXT);
    return (function* () {
      void write('from inside');
      yield 'after';
    })();
  };
  await expectViolation('write-in-body', (wrap) => serve(wrap(app)));
});

test('write-promise: the server write returns a promise that never rejects', async () => {
  const app: App = async (_environ, startResponse) => {
    await startResponse('200 OK', TEXT)('x');
    return [];
  };
  const rejecting: StartResponse = () => () => Promise.reject(new Error('client gone'));
  await expectViolation('write-promise', (wrap) => wrap(app)(makeEnviron(), rejecting));
  const synchronous: StartResponse = () => () => ill<Promise<void>>(undefined);
  await expectViolation('write-promise', (wrap) => wrap(app)(makeEnviron(), synchronous));
});

// ---------------------------------------------------------------------------------------------
// The body

test('body-type: an iterable object, not a string, bytes or nothing', async () => {
  const returning =
    (value: unknown): App =>
    (_environ, startResponse) => {
      startResponse('200 OK', TEXT);
      return ill<Body>(value);
    };
  await expectViolation('body-type', (wrap) => serve(wrap(returning('hello'))));
  await expectViolation('body-type', (wrap) => serve(wrap(returning(Buffer.from('hello')))));
  await expectViolation('body-type', (wrap) => serve(wrap(returning(undefined))));
  await expectViolation('body-type', (wrap) => serve(wrap(returning({ chunks: ['hello'] }))));
});

test('chunk-type: chunks are Uint8Array or string', async () => {
  const app: App = (_environ, startResponse) => {
    startResponse('200 OK', TEXT);
    return ill<Body>([42]);
  };
  await expectViolation('chunk-type', (wrap) => serve(wrap(app)));
});

test('start-before-body: startResponse before the first chunk, or before the end', async () => {
  const yieldsFirst: App = (_environ, startResponse) =>
    (function* () {
      yield '';
      startResponse('200 OK', TEXT);
    })();
  await expectViolation('start-before-body', (wrap) => serve(wrap(yieldsFirst)));
  const never: App = () => [];
  await expectViolation('start-before-body', (wrap) => serve(wrap(never)));
});

/** A validated okApp body, served by hand so that the test can misbehave as the server. */
function bodyOf(validated: ValidatedApp): Body {
  const body = validated(makeEnviron(), acceptAll);
  if (body instanceof Promise) throw new Error('expected a synchronous body');
  return body;
}

function syncIterator(body: Body): Iterator<Chunk> {
  if (!isSyncBody(body)) throw new Error('expected a sync body');
  return body[Symbol.iterator]();
}

test('iterate-once: the server asks for the iterator once', async () => {
  await expectViolation('iterate-once', (wrap) => {
    const body = bodyOf(wrap(okApp));
    syncIterator(body);
    syncIterator(body);
  });
});

test('next-after-close: no chunk pulled after close()', async () => {
  const app: App = (_environ, startResponse) => {
    startResponse('200 OK', TEXT);
    return ['a', 'b'];
  };
  await expectViolation('next-after-close', (wrap) => {
    const body = bodyOf(wrap(app));
    const iterator = syncIterator(body);
    iterator.next();
    iterator.return?.();
    void body.close?.();
    iterator.next();
  });
});

test('iterator-return: a server that stops early calls return() (and the body is still released)', async () => {
  let finalized = false;
  const app: App = (_environ, startResponse) => {
    startResponse('200 OK', TEXT);
    return (function* () {
      try {
        yield 'a';
        yield 'b';
      } finally {
        finalized = true;
      }
    })();
  };
  await expectViolation('iterator-return', (wrap) => {
    const body = bodyOf(wrap(app));
    syncIterator(body).next();
    return body.close?.();
  });
  assert.equal(finalized, true);
});

test('body-close: close() exactly once', async () => {
  await expectViolation('body-close', (wrap) => {
    const body = bodyOf(wrap(okApp));
    for (const _chunk of syncIterable(body));
    void body.close?.();
    void body.close?.();
  });
  await expectViolation('body-close', (wrap) => {
    const validated = wrap(okApp);
    const body = bodyOf(validated);
    for (const _chunk of syncIterable(body));
    assert.deepEqual(validated.unclosedBodies(), ['GET /hello']);
    validated.assertAllClosed();
  });
});

function syncIterable(body: Body): Iterable<Chunk> {
  if (!isSyncBody(body)) throw new Error('expected a sync body');
  return body;
}

test('body-close: a body collected without close() is reported through onViolation', async (t) => {
  setFlagsFromString('--expose-gc');
  const gc: unknown = runInNewContext('gc');
  if (typeof gc !== 'function') {
    t.skip('no gc() in this runtime');
    return;
  }
  const seen: ValidationError[] = [];
  const validated = validator(okApp, { onViolation: (error) => seen.push(error) });
  // The body is created and dropped in a frame of its own so that nothing keeps it alive.
  (() => {
    for (const _chunk of syncIterable(bodyOf(validated)));
  })();
  for (let i = 0; i < 50 && seen.length === 0; i++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
  assert.deepEqual(
    seen.map((error) => error.rule),
    ['body-close'],
  );
  assert.match(seen[0]!.message, /GET \/hello was garbage-collected without close\(\)/);
  assert.deepEqual(validated.unclosedBodies(), []);
});

// ---------------------------------------------------------------------------------------------
// The rule table

test('every rule has a test that triggers it, and no other', () => {
  assert.deepEqual(
    VALIDATION_RULE_IDS.filter((rule) => !covered.has(rule)),
    [],
  );
});

test('rule ids are unique and each is documented in docs/tsgi.md', () => {
  assert.equal(new Set(VALIDATION_RULE_IDS).size, VALIDATION_RULES.length);
  const spec = readFileSync(new URL('../../docs/tsgi.md', import.meta.url), 'utf8');
  assert.deepEqual(
    VALIDATION_RULE_IDS.filter((rule) => !spec.includes(`\`${rule}\``)),
    [],
  );
});

test('ValidationError names the rule and the party', () => {
  const error = new ValidationError('status-format', 'status must be "NNN Reason", got "200"');
  assert.equal(error.message, 'TSGI rule "status-format": status must be "NNN Reason", got "200"');
  assert.equal(error.code, 'ERR_TSGI_VALIDATION');
  assert.equal(error.party, 'app');
  assert.equal(error.name, 'ValidationError');
  assert.equal(new ValidationError('body-close', 'x').party, 'server');
});
