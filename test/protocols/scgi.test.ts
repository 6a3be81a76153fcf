import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  DEFAULT_SCGI_MAX_HEADER_SIZE,
  ScgiError,
  ScgiRequestDecoder,
  encodeScgiRequest,
  type ScgiDecoderOptions,
  type ScgiErrorCode,
  type ScgiRequest,
} from '../../src/protocols/scgi.js';
import { TsgiError } from '../../src/errors.js';

// ---------------------------------------------------------------------------------------------
// Helpers

interface Message {
  request: ScgiRequest;
  body: Buffer[];
  complete: boolean;
}

interface Run {
  messages: Message[];
  error: ScgiError | null;
  returns: number[];
  decoder: ScgiRequestDecoder;
}

function recorder(options?: ScgiDecoderOptions): { decoder: ScgiRequestDecoder; messages: Message[] } {
  const messages: Message[] = [];
  const decoder = new ScgiRequestDecoder(
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

function feed(pieces: Buffer[], options?: ScgiDecoderOptions): Run {
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

function decode(input: Buffer | string, options?: ScgiDecoderOptions): Run {
  return feed([typeof input === 'string' ? Buffer.from(input, 'latin1') : input], options);
}

function rejects(input: Buffer | string, code: ScgiErrorCode, options?: ScgiDecoderOptions): ScgiError {
  const run = decode(input, options);
  const error = run.error;
  assert.ok(error instanceof ScgiError, `expected ${code}, got no error`);
  assert.ok(error instanceof TsgiError);
  assert.equal(error.code, code, error.message);
  assert.equal(run.returns[run.returns.length - 1], -1);
  assert.equal(run.decoder.execute(Buffer.from('1:')), -1, 'a failed decoder stays failed');
  assert.equal(run.messages.length, 0);
  return error;
}

/** A netstring built by hand: `${block.length}:${block},`. */
function netstring(block: string): string {
  return `${Buffer.byteLength(block, 'latin1')}:${block},`;
}

function headers(pairs: Array<[string, string]>): string {
  return pairs.map(([name, value]) => `${name}\0${value}\0`).join('');
}

function flat(pairs: Array<[string, string]>): string[] {
  return pairs.flatMap(([name, value]) => [name, value]);
}

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

function summary(run: Run): Array<{ request: ScgiRequest; body: string; complete: boolean }> {
  return run.messages.map((m) => ({ request: m.request, body: Buffer.concat(m.body).toString('latin1'), complete: m.complete }));
}

// ---------------------------------------------------------------------------------------------
// Known vectors

/** The example of the SCGI spec (Neil Schemenauer, §3), byte for byte. */
const SPEC_EXAMPLE =
  '70:' +
  'CONTENT_LENGTH\x0027\x00' +
  'SCGI\x001\x00' +
  'REQUEST_METHOD\x00POST\x00' +
  'REQUEST_URI\x00/deepthought\x00' +
  ',' +
  'What is the answer to life?';

/** What nginx sends with the stock scgi_params: CONTENT_LENGTH first (added by the module, never
 *  empty), then the params in file order (SCGI 1 in the middle), then HTTP_* headers. */
const NGINX_HEADERS: Array<[string, string]> = [
  ['CONTENT_LENGTH', '0'],
  ['REQUEST_METHOD', 'GET'],
  ['REQUEST_URI', '/search?q=1'],
  ['QUERY_STRING', 'q=1'],
  ['CONTENT_TYPE', ''],
  ['DOCUMENT_URI', '/search'],
  ['DOCUMENT_ROOT', '/usr/share/nginx/html'],
  ['SCGI', '1'],
  ['SERVER_PROTOCOL', 'HTTP/1.1'],
  ['REQUEST_SCHEME', 'http'],
  ['REMOTE_ADDR', '127.0.0.1'],
  ['REMOTE_PORT', '40000'],
  ['SERVER_PORT', '80'],
  ['SERVER_NAME', 'localhost'],
  ['HTTP_HOST', 'localhost'],
  ['HTTP_ACCEPT', '*/*'],
];

describe('scgi: known vectors', () => {
  test("decodes the spec's example", () => {
    const run = decode(SPEC_EXAMPLE);
    assert.equal(run.error, null, run.error?.message);
    assert.deepEqual(run.returns, [SPEC_EXAMPLE.length]);
    assert.deepEqual(summary(run), [
      {
        request: {
          vars: ['CONTENT_LENGTH', '27', 'SCGI', '1', 'REQUEST_METHOD', 'POST', 'REQUEST_URI', '/deepthought'],
          contentLength: 27,
        },
        body: 'What is the answer to life?',
        complete: true,
      },
    ]);
  });

  test("encodes the spec's example header byte-exactly", () => {
    const encoded = encodeScgiRequest(
      [
        ['REQUEST_METHOD', 'POST'],
        ['REQUEST_URI', '/deepthought'],
      ],
      27,
    );
    assert.equal(encoded.toString('latin1'), SPEC_EXAMPLE.slice(0, SPEC_EXAMPLE.indexOf(',') + 1));
  });

  test('decodes what nginx sends with scgi_params, empty values included', () => {
    const run = decode(netstring(headers(NGINX_HEADERS)));
    assert.equal(run.error, null, run.error?.message);
    assert.deepEqual(summary(run), [{ request: { vars: flat(NGINX_HEADERS), contentLength: 0 }, body: '', complete: true }]);
  });

  test('the body is handed out as a view of the input', () => {
    const input = Buffer.from(SPEC_EXAMPLE, 'latin1');
    const chunks: Buffer[] = [];
    const decoder = new ScgiRequestDecoder({ onRequest() {}, onBody: (c) => chunks.push(c), onComplete() {} });
    assert.equal(decoder.execute(input), input.length);
    assert.equal(chunks.length, 1);
    assert.equal(chunks[0]?.buffer, input.buffer);
  });

  test('stops after each request and resumes with the next', () => {
    const first = Buffer.from(SPEC_EXAMPLE, 'latin1');
    const second = Buffer.from(netstring(headers(NGINX_HEADERS)), 'latin1');
    const input = Buffer.concat([first, second]);
    const { decoder, messages } = recorder();
    assert.equal(decoder.execute(input), first.length);
    assert.ok(decoder.idle);
    assert.equal(messages.length, 1);
    assert.equal(decoder.execute(input, first.length), second.length);
    assert.equal(messages.length, 2);
    assert.equal(decoder.finish(), null);
  });

  test('one byte at a time decodes like one shot', () => {
    const input = Buffer.from(SPEC_EXAMPLE, 'latin1');
    const bytes: Buffer[] = [];
    for (let i = 0; i < input.length; i++) bytes.push(input.subarray(i, i + 1));
    const slow = feed(bytes);
    assert.deepEqual(summary(slow), summary(decode(input)));
  });
});

// ---------------------------------------------------------------------------------------------
// Errors

const CL0 = 'CONTENT_LENGTH\x000\x00';
const SCGI1 = 'SCGI\x001\x00';

describe('scgi: errors', () => {
  test('CONTENT_LENGTH must be the first header', () => {
    const error = rejects(netstring(SCGI1 + CL0), 'ERR_SCGI_MISSING_CONTENT_LENGTH');
    assert.match(error.message, /first SCGI header must be CONTENT_LENGTH, got "SCGI"/);
    rejects(netstring(SCGI1), 'ERR_SCGI_MISSING_CONTENT_LENGTH');
  });

  test('CONTENT_LENGTH must be a non-empty run of digits', () => {
    for (const value of ['', 'abc', '-1', ' 1', '1 ', '0x10']) {
      rejects(netstring(`CONTENT_LENGTH\0${value}\0${SCGI1}`), 'ERR_SCGI_BAD_CONTENT_LENGTH');
    }
  });

  test('SCGI must be present and "1"', () => {
    assert.match(rejects(netstring(CL0), 'ERR_SCGI_BAD_VERSION').message, /no SCGI header/);
    assert.match(rejects(netstring(CL0 + 'SCGI\x002\x00'), 'ERR_SCGI_BAD_VERSION').message, /SCGI "2", expected SCGI "1"/);
    rejects(netstring(CL0 + 'SCGI\x00\x00'), 'ERR_SCGI_BAD_VERSION');
    rejects(netstring(CL0 + 'SCGI\x001.0\x00'), 'ERR_SCGI_BAD_VERSION');
  });

  test('a bad netstring length is refused', () => {
    for (const input of [':' + CL0 + SCGI1 + ',', 'x:', '1x:', '027:', '0:,', ' 27:', '-1:']) {
      rejects(input, 'ERR_SCGI_BAD_NETSTRING');
    }
  });

  test('the block must be followed by a comma', () => {
    const block = CL0 + SCGI1;
    const error = rejects(`${block.length}:${block};`, 'ERR_SCGI_BAD_NETSTRING');
    assert.match(error.message, /expected ',' after the 24-byte header block, got ";"/);
    // A length one too short moves the comma check onto the last NUL.
    rejects(`${block.length - 1}:${block},`, 'ERR_SCGI_BAD_NETSTRING');
  });

  test('a header block over maxHeaderSize is refused before it is read', () => {
    const block = CL0 + SCGI1 + 'HTTP_COOKIE\0' + 'c'.repeat(DEFAULT_SCGI_MAX_HEADER_SIZE) + '\0';
    const error = rejects(netstring(block), 'ERR_SCGI_HEADER_TOO_BIG');
    assert.match(error.message, /max 4096/);
    assert.equal(decode(netstring(block), { maxHeaderSize: block.length }).error, null);
    rejects(netstring(block), 'ERR_SCGI_HEADER_TOO_BIG', { maxHeaderSize: block.length - 1 });
    assert.throws(() => recorder({ maxHeaderSize: 0 }), RangeError);
  });

  test('malformed header pairs are refused', () => {
    rejects(netstring(CL0 + SCGI1 + '\0value\0'), 'ERR_SCGI_BAD_HEADERS');
    rejects(netstring(CL0 + SCGI1 + 'NAME_ONLY\0'), 'ERR_SCGI_BAD_HEADERS');
    rejects(netstring(CL0 + SCGI1 + 'NO_NUL'), 'ERR_SCGI_BAD_HEADERS');
    rejects(netstring(CL0 + SCGI1 + 'X\0no terminator'), 'ERR_SCGI_BAD_HEADERS');
  });

  test('duplicate names are refused (the spec forbids them)', () => {
    const error = rejects(netstring(CL0 + SCGI1 + 'A\0x\0A\0y\0'), 'ERR_SCGI_BAD_HEADERS');
    assert.match(error.message, /duplicate SCGI header "A"/);
    rejects(netstring(CL0 + SCGI1 + SCGI1), 'ERR_SCGI_BAD_HEADERS');
  });

  test('repeated HTTP_* headers are kept, as nginx before 1.23 sends them', () => {
    const seen: string[][] = [];
    const decoder = new ScgiRequestDecoder({ onRequest: (r) => seen.push(r.vars), onBody() {}, onComplete() {} });
    const input = Buffer.from(netstring(CL0 + SCGI1 + 'HTTP_X_A\0one\0HTTP_X_A\0two\0'), 'latin1');
    assert.equal(decoder.execute(input), input.length);
    assert.deepEqual(seen[0]!.slice(4), ['HTTP_X_A', 'one', 'HTTP_X_A', 'two']);
  });

  test('EOF inside a request is a truncated request', () => {
    const input = Buffer.from(SPEC_EXAMPLE, 'latin1');
    for (const [at, pattern] of [
      [1, /netstring length/],
      [10, /7 of 71 header bytes/],
      [input.length - 3, /3 bytes missing/],
    ] as const) {
      const { decoder } = recorder();
      assert.equal(decoder.execute(input.subarray(0, at)), at);
      const error = decoder.finish();
      assert.ok(error instanceof ScgiError);
      assert.equal(error.code, 'ERR_SCGI_TRUNCATED');
      assert.match(error.message, pattern);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Encoder

describe('scgi: encoder', () => {
  test('moves CONTENT_LENGTH first and replaces SCGI', () => {
    const encoded = encodeScgiRequest([
      ['REQUEST_METHOD', 'POST'],
      ['SCGI', '7'],
      ['CONTENT_LENGTH', '12'],
    ]);
    assert.equal(encoded.toString('latin1'), netstring('CONTENT_LENGTH\x0012\x00SCGI\x001\x00REQUEST_METHOD\x00POST\x00'));
  });

  test("an empty or missing CONTENT_LENGTH is sent as \"0\"; the argument wins over the var", () => {
    assert.equal(encodeScgiRequest([]).toString('latin1'), netstring(CL0 + SCGI1));
    assert.equal(encodeScgiRequest([['CONTENT_LENGTH', '']]).toString('latin1'), netstring(CL0 + SCGI1));
    assert.equal(encodeScgiRequest(['CONTENT_LENGTH', '5'], 0).toString('latin1'), netstring(CL0 + SCGI1));
    assert.equal(encodeScgiRequest(new Map([['A', 'b']]), 3).toString('latin1'), netstring('CONTENT_LENGTH\x003\x00' + SCGI1 + 'A\0b\0'));
  });

  test('vars that break the spec throw ERR_SCGI_BAD_VAR', () => {
    const bad = (e: unknown): boolean => e instanceof ScgiError && e.code === 'ERR_SCGI_BAD_VAR';
    assert.throws(() => encodeScgiRequest([['', 'v']]), bad);
    assert.throws(() => encodeScgiRequest([['A\0B', 'v']]), bad);
    assert.throws(() => encodeScgiRequest([['A', 'v\0']]), bad);
    assert.throws(() => encodeScgiRequest([['A', '\u20ac']]), bad);
    assert.throws(() => encodeScgiRequest([['A', '1'], ['A', '2']]), bad);
    assert.throws(() => encodeScgiRequest([['CONTENT_LENGTH', 'ten']]), bad);
    assert.throws(() => encodeScgiRequest([], -1), bad);
    assert.throws(() => encodeScgiRequest(['ODD']), bad);
  });
});

// ---------------------------------------------------------------------------------------------
// Properties

const LAST_BYTE = 0xff;
/** latin1 text without NUL, which ends SCGI strings. */
const text = (minLength: number, maxLength: number): fc.Arbitrary<string> =>
  fc.array(fc.integer({ min: 1, max: LAST_BYTE }), { minLength, maxLength }).map((codes) => String.fromCharCode(...codes));

interface Model {
  vars: Array<[string, string]>;
  body: Buffer;
}

const modelArb: fc.Arbitrary<Model> = fc.record({
  vars: fc
    .uniqueArray(fc.tuple(text(1, 16), text(0, 40)), { maxLength: 12, selector: ([name]) => name })
    .map((vars) => vars.filter(([name]) => name !== 'CONTENT_LENGTH' && name !== 'SCGI')),
  body: fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes)),
});

function encodeModel(model: Model): Buffer {
  return Buffer.concat([encodeScgiRequest(model.vars, model.body.length), model.body]);
}

function expected(model: Model): { request: ScgiRequest; body: string; complete: boolean } {
  return {
    request: { vars: ['CONTENT_LENGTH', String(model.body.length), 'SCGI', '1', ...flat(model.vars)], contentLength: model.body.length },
    body: model.body.toString('latin1'),
    complete: true,
  };
}

describe('scgi: properties', () => {
  test('encode then decode is the identity for random vars and bodies', () => {
    fc.assert(
      fc.property(modelArb, (model) => {
        const run = decode(encodeModel(model));
        assert.equal(run.error, null, run.error?.message);
        assert.deepEqual(summary(run), [expected(model)]);
      }),
      { numRuns: 500 },
    );
  });

  test('back-to-back requests decode the same however they are split, and like fresh decoders', () => {
    fc.assert(
      fc.property(fc.array(modelArb, { minLength: 1, maxLength: 4 }), fc.array(fc.nat(), { maxLength: 30 }), (models, cuts) => {
        const stream = Buffer.concat(models.map(encodeModel));
        const whole = decode(stream);
        assert.equal(whole.error, null, whole.error?.message);
        assert.deepEqual(summary(whole), models.map(expected));
        const pieces = feed(split(stream, cuts));
        assert.equal(pieces.error, null, pieces.error?.message);
        assert.deepEqual(summary(pieces), summary(whole));
        for (const model of models) assert.deepEqual(summary(feed(split(encodeModel(model), cuts))), [expected(model)]);
      }),
      { numRuns: 300 },
    );
  });

  test('random bytes never make execute throw or stall', () => {
    const digitsFirst = fc.uint8Array({ maxLength: 64 }).map((bytes) => {
      // Half the inputs start like a netstring so the header parser is reached too.
      const prefix = Buffer.from(String(bytes.length % 40 + 1) + ':');
      return bytes.length % 2 === 0 ? Buffer.concat([prefix, Buffer.from(bytes)]) : Buffer.from(bytes);
    });
    fc.assert(
      fc.property(fc.array(digitsFirst, { maxLength: 8 }), (chunks) => {
        const { decoder } = recorder({ maxHeaderSize: 128 });
        for (const data of chunks) {
          let offset = 0;
          while (offset < data.length) {
            const n = decoder.execute(data, offset);
            if (n < 0) {
              assert.equal(n, -1);
              assert.ok(decoder.error instanceof ScgiError);
              return;
            }
            assert.ok(n > 0, 'progress on non-empty input');
            offset += n;
          }
        }
        const end = decoder.finish();
        assert.ok(end === null || end instanceof ScgiError);
      }),
      { numRuns: 2000 },
    );
  });

  test('mutated valid requests never make execute throw', () => {
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
          assert.ok(error === null || error instanceof ScgiError);
        },
      ),
      { numRuns: 1000 },
    );
  });
});
