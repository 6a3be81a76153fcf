import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  DEFAULT_UWSGI_BUFFER_SIZE,
  UWSGI_HEADER_SIZE,
  UWSGI_MAX_BLOCK_SIZE,
  UWSGI_MODIFIER_STRIP_SCRIPT_NAME,
  UWSGI_MODIFIER_WSGI,
  UwsgiError,
  UwsgiRequestDecoder,
  applyModifier30,
  encodeUwsgiRequest,
  type UwsgiDecoderOptions,
  type UwsgiErrorCode,
  type UwsgiRequest,
} from '../../src/protocols/uwsgi.js';
import { TsgiError } from '../../src/errors.js';

// ---------------------------------------------------------------------------------------------
// Helpers

interface Message {
  request: UwsgiRequest;
  body: Buffer[];
  complete: boolean;
}

interface Run {
  messages: Message[];
  error: UwsgiError | null;
  returns: number[];
  decoder: UwsgiRequestDecoder;
}

function recorder(options?: UwsgiDecoderOptions): { decoder: UwsgiRequestDecoder; messages: Message[] } {
  const messages: Message[] = [];
  const decoder = new UwsgiRequestDecoder(
    {
      onRequest(request) {
        const last = messages[messages.length - 1];
        assert.ok(last === undefined || last.complete, 'a request starts only after the previous one completed');
        messages.push({ request, body: [], complete: false });
      },
      onBody(chunk) {
        assert.ok(chunk.length > 0, 'onBody is never called with an empty chunk');
        const last = messages[messages.length - 1];
        assert.ok(last !== undefined && !last.complete, 'body bytes belong to an open request');
        last.body.push(chunk);
      },
      onComplete() {
        const last = messages[messages.length - 1];
        assert.ok(last !== undefined && !last.complete, 'one onComplete per request');
        last.complete = true;
      },
    },
    options,
  );
  return { decoder, messages };
}

/** Feeds each piece, calling execute again with the rest after every completed request. */
function feed(pieces: Buffer[], options?: UwsgiDecoderOptions): Run {
  const { decoder, messages } = recorder(options);
  const returns: number[] = [];
  for (const data of pieces) {
    let offset = 0;
    while (offset < data.length) {
      const n = decoder.execute(data, offset);
      returns.push(n);
      if (n < 0) return { messages, error: decoder.error, returns, decoder };
      assert.ok(n > 0, 'execute makes progress on non-empty input');
      offset += n;
    }
  }
  return { messages, error: decoder.error, returns, decoder };
}

function decode(input: Buffer, options?: UwsgiDecoderOptions): Run {
  return feed([input], options);
}

function rejects(input: Buffer, code: UwsgiErrorCode, options?: UwsgiDecoderOptions): UwsgiError {
  const run = decode(input, options);
  const error = run.error;
  assert.ok(error instanceof UwsgiError, `expected ${code}, got no error`);
  assert.ok(error instanceof TsgiError);
  assert.equal(error.code, code, error.message);
  assert.equal(run.returns[run.returns.length - 1], -1);
  assert.equal(run.decoder.execute(Buffer.from('more')), -1, 'a failed decoder stays failed');
  return error;
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(n, 0);
  return b;
}

/** A packet built by hand from the protocol description, independently of the encoder. */
function packet(vars: Array<[string, string]>, modifier1 = 0, modifier2 = 0): Buffer {
  const parts: Buffer[] = [];
  for (const [key, value] of vars) {
    parts.push(u16(key.length), Buffer.from(key, 'latin1'), u16(value.length), Buffer.from(value, 'latin1'));
  }
  const block = Buffer.concat(parts);
  return Buffer.concat([Buffer.from([modifier1]), u16(block.length), Buffer.from([modifier2]), block]);
}

function header(modifier1: number, datasize: number, modifier2: number): Buffer {
  return Buffer.concat([Buffer.from([modifier1]), u16(datasize), Buffer.from([modifier2])]);
}

function bodyOf(message: Message | undefined): string {
  assert.ok(message !== undefined);
  return Buffer.concat(message.body).toString('latin1');
}

function flat(vars: Array<[string, string]>): string[] {
  return vars.flatMap(([key, value]) => [key, value]);
}

/** Cuts `input` at the given positions (mod its length). */
function split(input: Buffer, cuts: number[]): Buffer[] {
  const positions = [...new Set(cuts.map((c) => c % (input.length + 1)))].sort((a, b) => a - b);
  const pieces: Buffer[] = [];
  let from = 0;
  for (const at of positions) {
    pieces.push(input.subarray(from, at));
    from = at;
  }
  pieces.push(input.subarray(from));
  return pieces.filter((piece) => piece.length > 0);
}

function summary(run: Run): Array<{ request: UwsgiRequest; body: string; complete: boolean }> {
  return run.messages.map((m) => ({ request: m.request, body: Buffer.concat(m.body).toString('latin1'), complete: m.complete }));
}

// ---------------------------------------------------------------------------------------------
// Known vectors

/** What nginx sends for `GET /` with the stock uwsgi_params plus request headers: several vars
 *  are empty ($query_string, $content_type, $content_length, $https). */
const NGINX_VARS: Array<[string, string]> = [
  ['QUERY_STRING', ''],
  ['REQUEST_METHOD', 'GET'],
  ['CONTENT_TYPE', ''],
  ['CONTENT_LENGTH', ''],
  ['REQUEST_URI', '/index.html'],
  ['PATH_INFO', '/index.html'],
  ['DOCUMENT_ROOT', '/usr/share/nginx/html'],
  ['SERVER_PROTOCOL', 'HTTP/1.1'],
  ['REQUEST_SCHEME', 'http'],
  ['HTTPS', ''],
  ['REMOTE_ADDR', '127.0.0.1'],
  ['REMOTE_PORT', '51234'],
  ['SERVER_PORT', '80'],
  ['SERVER_NAME', 'localhost'],
  ['HTTP_HOST', 'localhost'],
  ['HTTP_USER_AGENT', 'curl/8.5.0'],
  ['HTTP_ACCEPT', '*/*'],
];

describe('uwsgi: known vectors', () => {
  test('decodes a packet written byte by byte from the protocol description', () => {
    // modifier1 0, datasize 21 (0x15 0x00 little-endian), modifier2 0, then one var:
    // keylen 14, "REQUEST_METHOD", vallen 3, "GET".
    const bytes = Buffer.concat([
      Buffer.from([0x00, 0x15, 0x00, 0x00, 0x0e, 0x00]),
      Buffer.from('REQUEST_METHOD'),
      Buffer.from([0x03, 0x00]),
      Buffer.from('GET'),
    ]);
    const run = decode(bytes);
    assert.equal(run.error, null);
    assert.deepEqual(run.returns, [bytes.length]);
    assert.deepEqual(summary(run), [
      { request: { modifier1: 0, modifier2: 0, vars: ['REQUEST_METHOD', 'GET'], contentLength: 0 }, body: '', complete: true },
    ]);
  });

  test('encodes a small vars set byte-exactly', () => {
    const encoded = encodeUwsgiRequest([
      ['REQUEST_METHOD', 'GET'],
      ['PATH_INFO', '/'],
    ]);
    const expected = Buffer.from(
      '00' + '23' + '00' + '00' + // modifier1 0, datasize 35 (0x0023), modifier2 0
        '0e00' + Buffer.from('REQUEST_METHOD').toString('hex') + '0300' + Buffer.from('GET').toString('hex') +
        '0900' + Buffer.from('PATH_INFO').toString('hex') + '0100' + Buffer.from('/').toString('hex'),
      'hex',
    );
    assert.equal(encoded.toString('hex'), expected.toString('hex'));
  });

  test('the encoder accepts a flat array, a Map, and writes the modifiers', () => {
    const pairs: Array<[string, string]> = [
      ['A', '1'],
      ['B', ''],
    ];
    const fromPairs = encodeUwsgiRequest(pairs, UWSGI_MODIFIER_STRIP_SCRIPT_NAME, 7);
    assert.deepEqual(fromPairs, packet(pairs, 30, 7));
    assert.deepEqual(encodeUwsgiRequest(flat(pairs), 30, 7), fromPairs);
    assert.deepEqual(encodeUwsgiRequest(new Map(pairs), 30, 7), fromPairs);
    assert.deepEqual(encodeUwsgiRequest([]), Buffer.from([0, 0, 0, 0]));
  });

  test('decodes what nginx sends with uwsgi_params, empty values included', () => {
    const bytes = packet(NGINX_VARS);
    const run = decode(bytes);
    assert.equal(run.error, null, run.error?.message);
    assert.equal(run.messages.length, 1);
    const message = run.messages[0];
    assert.ok(message !== undefined && message.complete);
    assert.equal(message.request.modifier1, UWSGI_MODIFIER_WSGI);
    assert.deepEqual(message.request.vars, flat(NGINX_VARS));
    assert.equal(message.request.contentLength, 0, "CONTENT_LENGTH '' means no body");
    assert.deepEqual(encodeUwsgiRequest(NGINX_VARS), bytes);
  });

  test('a POST body follows the vars block and is handed out without copying', () => {
    const vars: Array<[string, string]> = [
      ['REQUEST_METHOD', 'POST'],
      ['CONTENT_LENGTH', '11'],
    ];
    const input = Buffer.concat([packet(vars), Buffer.from('hello world')]);
    const chunks: Buffer[] = [];
    let completed = 0;
    const decoder = new UwsgiRequestDecoder({
      onRequest(request) {
        assert.equal(request.contentLength, 11);
      },
      onBody(chunk) {
        chunks.push(chunk);
      },
      onComplete() {
        completed++;
      },
    });
    assert.equal(decoder.execute(input), input.length);
    assert.equal(completed, 1);
    assert.equal(chunks.length, 1);
    const chunk = chunks[0];
    assert.ok(chunk !== undefined);
    assert.equal(chunk.toString(), 'hello world');
    assert.equal(chunk.buffer, input.buffer, 'the body chunk is a view of the input');
    assert.ok(decoder.idle);
  });

  test('keeps latin1 bytes above 0x7f one char per byte', () => {
    const vars: Array<[string, string]> = [['HTTP_X_NAME', 'caf\u00e9 \u00ff']];
    const bytes = packet(vars);
    assert.equal(bytes.length, UWSGI_HEADER_SIZE + 4 + 11 + 6);
    const run = decode(bytes);
    assert.deepEqual(run.messages[0]?.request.vars, flat(vars));
  });

  test('modifier1 71 is just a modifier when the rest is not "ET "', () => {
    const bytes = packet([['K', 'v']], 71, 0);
    const run = decode(bytes);
    assert.equal(run.error, null);
    assert.equal(run.messages[0]?.request.modifier1, 71);
  });

  test('an empty vars block is a request with no vars', () => {
    const run = decode(Buffer.from([0, 0, 0, 0]));
    assert.deepEqual(summary(run), [{ request: { modifier1: 0, modifier2: 0, vars: [], contentLength: 0 }, body: '', complete: true }]);
  });
});

// ---------------------------------------------------------------------------------------------
// Streaming

describe('uwsgi: streaming', () => {
  test('stops after each request and resumes with the next packet', () => {
    const first = Buffer.concat([packet([['CONTENT_LENGTH', '3']]), Buffer.from('abc')]);
    const second = packet([['PATH_INFO', '/2']]);
    const input = Buffer.concat([first, second]);
    const { decoder, messages } = recorder();
    assert.equal(decoder.execute(input, 0), first.length);
    assert.equal(messages.length, 1);
    assert.ok(decoder.idle);
    assert.equal(decoder.execute(input, first.length), second.length);
    assert.equal(messages.length, 2);
    assert.equal(bodyOf(messages[0]), 'abc');
    assert.deepEqual(messages[1]?.request.vars, ['PATH_INFO', '/2']);
  });

  test('one byte at a time decodes like one shot', () => {
    const input = Buffer.concat([packet(NGINX_VARS.map(([k, v]) => (k === 'CONTENT_LENGTH' ? [k, '5'] : [k, v]))), Buffer.from('12345')]);
    const bytes: Buffer[] = [];
    for (let i = 0; i < input.length; i++) bytes.push(input.subarray(i, i + 1));
    const slow = feed(bytes);
    assert.equal(slow.error, null);
    assert.deepEqual(summary(slow), summary(decode(input)));
    assert.ok(slow.returns.every((n) => n === 1));
  });

  test('idle is true only between packets', () => {
    const { decoder } = recorder();
    assert.ok(decoder.idle);
    const input = packet([['A', 'b']]);
    decoder.execute(input.subarray(0, 2));
    assert.ok(!decoder.idle);
    decoder.execute(input.subarray(2));
    assert.ok(decoder.idle);
    assert.equal(decoder.finish(), null, 'EOF between packets is fine');
  });

  test('execute with nothing to read returns 0', () => {
    const { decoder } = recorder();
    assert.equal(decoder.execute(Buffer.alloc(0)), 0);
    assert.equal(decoder.execute(Buffer.from('ab'), 2), 0);
  });
});

// ---------------------------------------------------------------------------------------------
// Errors

describe('uwsgi: errors', () => {
  test('a block over the buffer size is refused with uWSGI\'s words', () => {
    const error = rejects(header(0, DEFAULT_UWSGI_BUFFER_SIZE + 1, 0), 'ERR_UWSGI_BLOCK_TOO_BIG');
    assert.equal(error.message, 'invalid request block size: 4097 (max 4096)...skip');
  });

  test('the limit is --buffer-size: a block of exactly bufferSize passes, one more fails', () => {
    const fits = packet([['K', 'x'.repeat(100 - 4 - 1)]]);
    assert.equal(fits.readUInt16LE(1), 100);
    assert.equal(decode(fits, { bufferSize: 100 }).error, null);
    const error = rejects(packet([['K', 'x'.repeat(100 - 4)]]), 'ERR_UWSGI_BLOCK_TOO_BIG', { bufferSize: 100 });
    assert.equal(error.message, 'invalid request block size: 101 (max 100)...skip');
  });

  test('bufferSize must fit a u16 datasize', () => {
    assert.throws(() => recorder({ bufferSize: 0 }), RangeError);
    assert.throws(() => recorder({ bufferSize: UWSGI_MAX_BLOCK_SIZE + 1 }), RangeError);
    assert.throws(() => recorder({ bufferSize: 1.5 }), RangeError);
    recorder({ bufferSize: UWSGI_MAX_BLOCK_SIZE });
  });

  test('HTTP on a uwsgi socket gets its own code and says so', () => {
    const get = Buffer.from('GET / HTTP/1.1\r\nHost: example.com\r\n\r\n');
    assert.equal(get[0], 71, "modifier1 reads as 'G'");
    assert.equal(get.readUInt16LE(1), 21573, 'datasize reads as "ET"');
    const error = rejects(get, 'ERR_UWSGI_HTTP_ON_UWSGI_SOCKET');
    assert.match(error.message, /^invalid request block size: 21573 \(max 4096\)\.\.\.skip/);
    assert.match(error.message, /HTTP request \("GET "\) to a uwsgi socket/);
  });

  test('HTTP is recognised whatever the buffer size, and split across reads', () => {
    const error = rejects(Buffer.from('GET / HTTP/1.1\r\n\r\n'), 'ERR_UWSGI_HTTP_ON_UWSGI_SOCKET', { bufferSize: UWSGI_MAX_BLOCK_SIZE });
    assert.doesNotMatch(error.message, /block size/);
    for (const method of ['POST', 'PUT', 'HEAD', 'DELETE', 'OPTIONS', 'PATCH', 'CONNECT', 'TRACE']) {
      const run = feed([Buffer.from(method.slice(0, 1)), Buffer.from(method.slice(1) + ' / HTTP/1.1\r\n\r\n')]);
      assert.equal(run.error?.code, 'ERR_UWSGI_HTTP_ON_UWSGI_SOCKET', method);
    }
    assert.equal(decode(Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n')).error?.code, 'ERR_UWSGI_HTTP_ON_UWSGI_SOCKET');
  });

  test('a key length that overflows the block is refused', () => {
    const block = Buffer.concat([u16(50), Buffer.from('SHORT'), u16(0)]);
    const error = rejects(Buffer.concat([header(0, block.length, 0), block]), 'ERR_UWSGI_BAD_VARS');
    assert.match(error.message, /^invalid uwsgi request \(current strsize: 50\)\. skip\./);
  });

  test('a value length that overflows the block is refused', () => {
    const block = Buffer.concat([u16(1), Buffer.from('K'), u16(9), Buffer.from('v')]);
    const error = rejects(Buffer.concat([header(0, block.length, 0), block]), 'ERR_UWSGI_BAD_VARS');
    assert.match(error.message, /current strsize: 9/);
  });

  test('trailing bytes that cannot hold a var are refused', () => {
    for (const tail of [[0x01], [0x01, 0x00], [0x01, 0x00, 0x4b]]) {
      const block = Buffer.concat([packet([['K', 'v']]).subarray(UWSGI_HEADER_SIZE), Buffer.from(tail)]);
      rejects(Buffer.concat([header(0, block.length, 0), block]), 'ERR_UWSGI_BAD_VARS');
    }
  });

  test('an empty key is refused (uWSGI: "uwsgi key cannot be null")', () => {
    const block = Buffer.concat([u16(0), u16(1), Buffer.from('v')]);
    const error = rejects(Buffer.concat([header(0, block.length, 0), block]), 'ERR_UWSGI_BAD_VARS');
    assert.match(error.message, /^uwsgi key cannot be null/);
  });

  test('CONTENT_LENGTH must be empty or decimal digits', () => {
    for (const value of ['abc', '-1', ' 5', '5 ', '1e3', '0x10', '99999999999999999999']) {
      const error = rejects(packet([['CONTENT_LENGTH', value]]), 'ERR_UWSGI_BAD_CONTENT_LENGTH');
      assert.ok(error.message.includes(JSON.stringify(value)));
    }
  });

  test('two different CONTENT_LENGTH vars are refused, the same one twice is fine', () => {
    rejects(packet([['CONTENT_LENGTH', '1'], ['CONTENT_LENGTH', '2']]), 'ERR_UWSGI_BAD_CONTENT_LENGTH');
    const input = Buffer.concat([packet([['CONTENT_LENGTH', '1'], ['CONTENT_LENGTH', '1']]), Buffer.from('x')]);
    const run = decode(input);
    assert.equal(run.error, null);
    assert.equal(bodyOf(run.messages[0]), 'x');
  });

  test('EOF inside the header, the vars or the body is a truncated request', () => {
    const input = Buffer.concat([packet([['CONTENT_LENGTH', '4']]), Buffer.from('body')]);
    for (const [at, pattern] of [
      [2, /2 of 4 header bytes/],
      [UWSGI_HEADER_SIZE + 3, /3 of 19 vars bytes/],
      [input.length - 1, /1 bytes missing/],
    ] as const) {
      const { decoder } = recorder();
      assert.equal(decoder.execute(input.subarray(0, at)), at);
      const error = decoder.finish();
      assert.ok(error instanceof UwsgiError);
      assert.equal(error.code, 'ERR_UWSGI_TRUNCATED');
      assert.match(error.message, pattern);
      assert.equal(decoder.error, error);
      assert.equal(decoder.execute(input), -1);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Encoder limits

describe('uwsgi: encoder', () => {
  test('a 65535-byte block is the largest that encodes', () => {
    const value = 'v'.repeat(UWSGI_MAX_BLOCK_SIZE - 4 - 1);
    const encoded = encodeUwsgiRequest([['K', value]]);
    assert.equal(encoded.length, UWSGI_HEADER_SIZE + UWSGI_MAX_BLOCK_SIZE);
    assert.equal(encoded.readUInt16LE(1), UWSGI_MAX_BLOCK_SIZE);
    const run = decode(encoded, { bufferSize: UWSGI_MAX_BLOCK_SIZE });
    assert.equal(run.error, null);
    assert.equal(run.messages[0]?.request.vars[1], value);

    assert.throws(
      () => encodeUwsgiRequest([['K', value + 'v']]),
      (e: unknown) => e instanceof UwsgiError && e.code === 'ERR_UWSGI_BLOCK_TOO_BIG' && e.message === 'uwsgi request is too big: 65536',
    );
  });

  test('many vars that add up past 65535 throw ERR_UWSGI_BLOCK_TOO_BIG', () => {
    const vars: Array<[string, string]> = [];
    for (let i = 0; i < 20; i++) vars.push([`HTTP_X_${i}`, 'x'.repeat(4000)]);
    assert.throws(() => encodeUwsgiRequest(vars), (e: unknown) => e instanceof UwsgiError && e.code === 'ERR_UWSGI_BLOCK_TOO_BIG');
  });

  test('a single key or value over 65535 throws ERR_UWSGI_BLOCK_TOO_BIG', () => {
    const huge = 'x'.repeat(UWSGI_MAX_BLOCK_SIZE + 1);
    assert.throws(() => encodeUwsgiRequest([['K', huge]]), (e: unknown) => e instanceof UwsgiError && e.code === 'ERR_UWSGI_BLOCK_TOO_BIG');
    assert.throws(() => encodeUwsgiRequest([[huge, '']]), (e: unknown) => e instanceof UwsgiError && e.code === 'ERR_UWSGI_BLOCK_TOO_BIG');
  });

  test('vars that cannot round-trip throw ERR_UWSGI_BAD_VAR', () => {
    const bad = (e: unknown): boolean => e instanceof UwsgiError && e.code === 'ERR_UWSGI_BAD_VAR';
    assert.throws(() => encodeUwsgiRequest([['', 'v']]), bad);
    assert.throws(() => encodeUwsgiRequest([['HTTP_X', '\u20ac']]), bad);
    assert.throws(() => encodeUwsgiRequest([['\u0100', 'v']]), bad);
    assert.throws(() => encodeUwsgiRequest(['ODD']), bad);
  });

  test('modifiers must be bytes', () => {
    assert.throws(() => encodeUwsgiRequest([], 256), RangeError);
    assert.throws(() => encodeUwsgiRequest([], 0, -1), RangeError);
    assert.throws(() => encodeUwsgiRequest([], 1.5), RangeError);
  });
});

// ---------------------------------------------------------------------------------------------
// modifier1 30

describe('uwsgi: applyModifier30', () => {
  test('strips SCRIPT_NAME from the front of PATH_INFO', () => {
    assert.equal(applyModifier30(['SCRIPT_NAME', '/app', 'PATH_INFO', '/app/users/1']), '/users/1');
    assert.equal(applyModifier30(['PATH_INFO', '/app', 'SCRIPT_NAME', '/app']), '');
  });

  test('leaves PATH_INFO alone without SCRIPT_NAME or when it does not start with it', () => {
    assert.equal(applyModifier30(['PATH_INFO', '/x']), '/x');
    assert.equal(applyModifier30(['SCRIPT_NAME', '', 'PATH_INFO', '/x']), '/x');
    assert.equal(applyModifier30(['SCRIPT_NAME', '/app', 'PATH_INFO', '/other']), '/other');
    assert.equal(applyModifier30(['SCRIPT_NAME', '/app']), '');
  });

  test('the last occurrence of a var wins, like the environ dict', () => {
    assert.equal(applyModifier30(['SCRIPT_NAME', '/a', 'PATH_INFO', '/a/b/c', 'SCRIPT_NAME', '/a/b']), '/c');
  });
});

// ---------------------------------------------------------------------------------------------
// Properties

const LAST_BYTE = 0xff;
const latin1 = (minLength: number, maxLength: number): fc.Arbitrary<string> =>
  fc.array(fc.integer({ min: 0, max: LAST_BYTE }), { minLength, maxLength }).map((codes) => String.fromCharCode(...codes));

interface Model {
  modifier1: number;
  modifier2: number;
  vars: Array<[string, string]>;
  body: Buffer;
  /** Send CONTENT_LENGTH '' instead of leaving it out when the body is empty. */
  emptyContentLength: boolean;
}

const modelArb: fc.Arbitrary<Model> = fc.record({
  // 71 'G' / 80 'P' / ... could spell an HTTP method with the right datasize: keep them out.
  modifier1: fc.integer({ min: 0, max: 64 }),
  modifier2: fc.integer({ min: 0, max: LAST_BYTE }),
  vars: fc.array(fc.tuple(latin1(1, 16).filter((k) => k !== 'CONTENT_LENGTH'), latin1(0, 40)), { maxLength: 12 }),
  body: fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes)),
  emptyContentLength: fc.boolean(),
});

function varsOf(model: Model): Array<[string, string]> {
  if (model.body.length > 0) return [...model.vars, ['CONTENT_LENGTH', String(model.body.length)]];
  return model.emptyContentLength ? [['CONTENT_LENGTH', ''], ...model.vars] : model.vars;
}

function encodeModel(model: Model): Buffer {
  return Buffer.concat([encodeUwsgiRequest(varsOf(model), model.modifier1, model.modifier2), model.body]);
}

function expected(model: Model): { request: UwsgiRequest; body: string; complete: boolean } {
  return {
    request: { modifier1: model.modifier1, modifier2: model.modifier2, vars: flat(varsOf(model)), contentLength: model.body.length },
    body: model.body.toString('latin1'),
    complete: true,
  };
}

const BIG = { bufferSize: UWSGI_MAX_BLOCK_SIZE };

describe('uwsgi: properties', () => {
  test('encode then decode is the identity for random vars and bodies', () => {
    fc.assert(
      fc.property(modelArb, (model) => {
        const run = decode(encodeModel(model), BIG);
        assert.equal(run.error, null, run.error?.message);
        assert.deepEqual(summary(run), [expected(model)]);
      }),
      { numRuns: 500 },
    );
  });

  test('back-to-back packets decode the same however they are split, and like fresh decoders', () => {
    fc.assert(
      fc.property(fc.array(modelArb, { minLength: 1, maxLength: 4 }), fc.array(fc.nat(), { maxLength: 30 }), (models, cuts) => {
        const stream = Buffer.concat(models.map(encodeModel));
        const whole = decode(stream, BIG);
        assert.equal(whole.error, null, whole.error?.message);
        assert.deepEqual(summary(whole), models.map(expected));
        const pieces = feed(split(stream, cuts), BIG);
        assert.equal(pieces.error, null, pieces.error?.message);
        assert.deepEqual(summary(pieces), summary(whole));
        // One request per connection, as nginx does it: a fresh decoder each time.
        for (const model of models) assert.deepEqual(summary(feed(split(encodeModel(model), cuts), BIG)), [expected(model)]);
      }),
      { numRuns: 300 },
    );
  });

  test('random bytes never make execute throw or stall', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 8 }), fc.integer({ min: 1, max: 300 }), (chunks, bufferSize) => {
        const { decoder } = recorder({ bufferSize });
        for (const chunk of chunks) {
          const data = Buffer.from(chunk);
          let offset = 0;
          while (offset < data.length) {
            const n = decoder.execute(data, offset);
            if (n < 0) {
              assert.equal(n, -1);
              assert.ok(decoder.error instanceof UwsgiError);
              return;
            }
            assert.ok(n > 0, 'progress on non-empty input');
            assert.equal(decoder.error, null);
            offset += n;
          }
        }
        const end = decoder.finish();
        assert.ok(end === null || end instanceof UwsgiError);
      }),
      { numRuns: 2000 },
    );
  });

  test('mutated valid packets never make execute throw, and fail with a known code', () => {
    const codes = new Set<string>([
      'ERR_UWSGI_BLOCK_TOO_BIG',
      'ERR_UWSGI_HTTP_ON_UWSGI_SOCKET',
      'ERR_UWSGI_BAD_VARS',
      'ERR_UWSGI_BAD_CONTENT_LENGTH',
      'ERR_UWSGI_TRUNCATED',
    ]);
    fc.assert(
      fc.property(
        modelArb,
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: LAST_BYTE })), { minLength: 1, maxLength: 6 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        (model, mutations, cuts) => {
          const stream = Buffer.from(encodeModel(model));
          for (const [at, byte] of mutations) stream[at % stream.length] = byte;
          const run = feed(split(stream, cuts));
          const error = run.error ?? run.decoder.finish();
          if (error !== null) assert.ok(codes.has(error.code), error.code);
        },
      ),
      { numRuns: 1000 },
    );
  });
});
