import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  CgiResponseError,
  CgiResponseParser,
  DEFAULT_CGI_MAX_HEAD_SIZE,
  formatCgiHead,
  formatHttpHead,
  type CgiResponseErrorCode,
  type CgiResponseHead,
  type CgiResponseOptions,
} from '../../src/protocols/cgi-response.js';
import { TsgiError } from '../../src/errors.js';

// ---------------------------------------------------------------------------------------------
// Helpers

interface Run {
  head: CgiResponseHead | null;
  body: Buffer[];
  error: CgiResponseError | null;
  returns: number[];
  parser: CgiResponseParser;
}

function feed(pieces: Array<Buffer | string>, options?: CgiResponseOptions): Run {
  const run: Run = { head: null, body: [], error: null, returns: [], parser: new CgiResponseParser({ onHead() {}, onBody() {} }) };
  run.parser = new CgiResponseParser(
    {
      onHead(head) {
        assert.equal(run.head, null, 'one head per response');
        assert.equal(run.body.length, 0, 'the head comes before the body');
        run.head = head;
      },
      onBody(chunk) {
        assert.ok(chunk.length > 0, 'onBody is never called with an empty chunk');
        assert.ok(run.head !== null, 'body bytes come after the head');
        run.body.push(chunk);
      },
    },
    options,
  );
  for (const piece of pieces) {
    const data = typeof piece === 'string' ? Buffer.from(piece, 'latin1') : piece;
    const n = run.parser.execute(data);
    run.returns.push(n);
    if (n < 0) {
      run.error = run.parser.error;
      return run;
    }
    assert.equal(n, data.length, 'execute consumes all it is given');
  }
  run.error = run.parser.end();
  return run;
}

function parse(input: Buffer | string, options?: CgiResponseOptions): Run {
  return feed([input], options);
}

/** The head of a response that must parse, and its body as latin1. */
function ok(input: Buffer | string, options?: CgiResponseOptions): { head: CgiResponseHead; body: string } {
  const run = parse(input, options);
  assert.equal(run.error, null, run.error?.message);
  assert.ok(run.head !== null);
  return { head: run.head, body: Buffer.concat(run.body).toString('latin1') };
}

function rejects(input: Buffer | string, code: CgiResponseErrorCode, options?: CgiResponseOptions): CgiResponseError {
  const run = parse(input, options);
  const error = run.error;
  assert.ok(error instanceof CgiResponseError, `expected ${code}, got no error`);
  assert.ok(error instanceof TsgiError);
  assert.equal(error.code, code, error.message);
  assert.equal(run.head, null);
  assert.equal(run.parser.execute(Buffer.from('x')), -1, 'a failed parser stays failed');
  return error;
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

// ---------------------------------------------------------------------------------------------
// Heads

describe('cgi-response: status', () => {
  test('reads an HTTP status line as uWSGI sends it on a uwsgi socket', () => {
    const { head, body } = ok('HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nX-A: 1\r\n\r\n<p>hi</p>');
    assert.deepEqual(head, { status: 200, reason: 'OK', headers: ['Content-Type', 'text/html', 'X-A', '1'], httpVersion: 'HTTP/1.1' });
    assert.equal(body, '<p>hi</p>');
  });

  test('reads a CGI Status header as FastCGI and SCGI apps send it', () => {
    const { head, body } = ok('Status: 404 Not Found\r\nContent-Type: text/plain\r\n\r\nnope');
    assert.deepEqual(head, { status: 404, reason: 'Not Found', headers: ['Status', '404 Not Found', 'Content-Type', 'text/plain'] });
    assert.equal(body, 'nope');
  });

  test('no status line and no Status: 200 OK', () => {
    assert.deepEqual(ok('Content-Type: text/html\r\n\r\n').head, { status: 200, reason: 'OK', headers: ['Content-Type', 'text/html'] });
  });

  test('Location without Status is nginx\'s "302 Moved Temporarily"', () => {
    const { head } = ok('Location: https://example.com/next\r\n\r\n');
    assert.equal(head.status, 302);
    assert.equal(head.reason, 'Moved Temporarily');
    assert.deepEqual(head.headers, ['Location', 'https://example.com/next']);
    // A Status header wins over the Location default, the name is case-insensitive.
    assert.equal(ok('location: /x\r\nSTATUS: 301 Moved Permanently\r\n\r\n').head.status, 301);
  });

  test('a bare code gets the standard reason phrase', () => {
    assert.equal(ok('Status: 404\r\n\r\n').head.reason, 'Not Found');
    assert.equal(ok('HTTP/1.0 204\r\n\r\n').head.reason, 'No Content');
    assert.equal(ok('Status: 299\r\n\r\n').head.reason, '', 'an unknown code has no standard phrase');
  });

  test('the status line wins over a Status header; the first Status header wins over later ones', () => {
    assert.equal(ok('HTTP/1.1 201 Created\r\nStatus: 500 Oops\r\n\r\n').head.status, 201);
    const { head } = ok('Status: 403 Forbidden\r\nStatus: 200 OK\r\n\r\n');
    assert.equal(head.status, 403);
    assert.deepEqual(head.headers, ['Status', '403 Forbidden', 'Status', '200 OK']);
  });

  test('status line forms nginx takes: several spaces, no reason, IIS sub-status, other versions', () => {
    assert.deepEqual(ok('HTTP/1.0   503   Service Unavailable  \r\n\r\n').head, {
      status: 503,
      reason: 'Service Unavailable',
      headers: [],
      httpVersion: 'HTTP/1.0',
    });
    assert.equal(ok('HTTP/1.1 403.1 Forbidden\r\n\r\n').head.status, 403);
    assert.equal(ok('HTTP/2.0 200 OK\r\n\r\n').head.httpVersion, 'HTTP/2.0');
    assert.equal(ok('HTTP/1.1 200 \u00e9t\u00e9\r\n\r\n').head.reason, '\u00e9t\u00e9', 'obs-text in the reason');
  });

  test('a repeated status line is skipped, as nginx does for IIS', () => {
    const { head } = ok('HTTP/1.1 200 OK\r\nHTTP/1.1 200 OK\r\nX: y\r\n\r\n');
    assert.deepEqual(head.headers, ['X', 'y']);
  });
});

describe('cgi-response: header lines', () => {
  test('LF and CRLF line ends are both accepted, also mixed', () => {
    const lf = ok('Status: 201 Created\nContent-Type: a/b\n\nbody');
    assert.equal(lf.head.status, 201);
    assert.equal(lf.body, 'body');
    assert.deepEqual(ok('HTTP/1.1 200 OK\nA: 1\r\nB: 2\n\r\n').head.headers, ['A', '1', 'B', '2']);
  });

  test('values are trimmed of spaces and tabs; empty values are kept', () => {
    assert.deepEqual(ok('A:   x y \t\r\nB:\r\nC: \t \r\n\r\n').head.headers, ['A', 'x y', 'B', '', 'C', '']);
  });

  test('names keep their case and duplicates are all kept (Set-Cookie)', () => {
    assert.deepEqual(ok('Set-Cookie: a=1\r\nset-cookie: b=2\r\n\r\n').head.headers, ['Set-Cookie', 'a=1', 'set-cookie', 'b=2']);
  });

  test('an empty head is a 200 with no headers', () => {
    const { head, body } = ok('\r\nraw body');
    assert.deepEqual(head, { status: 200, reason: 'OK', headers: [] });
    assert.equal(body, 'raw body');
  });

  test('latin1 bytes in values come out one char per byte', () => {
    const { head } = ok(Buffer.concat([Buffer.from('X-Name: caf'), Buffer.from([0xe9]), Buffer.from('\r\n\r\n')]));
    assert.deepEqual(head.headers, ['X-Name', 'caf\u00e9']);
  });
});

describe('cgi-response: body and end', () => {
  test('the body runs until end(), in views of the input', () => {
    const first = Buffer.from('Status: 200 OK\r\n\r\nab');
    const second = Buffer.from('cd');
    const run = feed([first, second]);
    assert.equal(run.error, null);
    assert.equal(Buffer.concat(run.body).toString(), 'abcd');
    assert.equal(run.body[0]?.buffer, first.buffer);
    assert.equal(run.body[1], second);
  });

  test('headComplete turns true with onHead; end() after the head is fine and idempotent', () => {
    const parser = new CgiResponseParser({ onHead() {}, onBody() {} });
    assert.equal(parser.headComplete, false);
    parser.execute(Buffer.from('A: b\r\n'));
    assert.equal(parser.headComplete, false);
    parser.execute(Buffer.from('\r\n'));
    assert.equal(parser.headComplete, true);
    assert.equal(parser.end(), null);
    assert.equal(parser.end(), null);
    assert.equal(parser.execute(Buffer.alloc(0)), 0);
  });

  test('data after end() is an error', () => {
    const parser = new CgiResponseParser({ onHead() {}, onBody() {} });
    parser.execute(Buffer.from('\r\n'));
    parser.end();
    assert.equal(parser.execute(Buffer.from('late')), -1);
    assert.equal(parser.error?.code, 'ERR_CGI_DATA_AFTER_END');
  });

  test('end() before the head is complete is nginx\'s "upstream prematurely closed connection"', () => {
    for (const input of ['', 'Status: 200 OK\r\n', 'Status: 2', 'HTTP/1.1 200 OK\r\nA: b\r\n\r']) {
      const run = parse(input);
      assert.equal(run.error?.code, 'ERR_CGI_TRUNCATED', JSON.stringify(input));
      assert.equal(run.error?.message, 'upstream prematurely closed connection');
    }
  });
});

describe('cgi-response: errors', () => {
  test('a malformed status line is refused', () => {
    for (const line of ['HTTP/1.1 2OO OK', 'HTTP/x.1 200 OK', 'HTTP/1 200 OK', 'HTTP/1.1200 OK', 'HTTP/1.1 20', 'HTTP/1.1 099 Low', 'HTTP/1.1 2000', 'HTTP/01.1 200 OK', 'HTTP/1.1 200 O\x01K', 'HTTP/1.1', 'HTTP/']) {
      const error = rejects(line + '\r\n\r\n', 'ERR_CGI_BAD_STATUS_LINE');
      assert.match(error.message, /^upstream sent invalid status line "/);
    }
  });

  test('an invalid Status value is nginx\'s "upstream sent invalid status"', () => {
    for (const value of ['abc', '20', '2000', '20x OK', '099 Low', '']) {
      const error = rejects(`Status: ${value}\r\n\r\n`, 'ERR_CGI_BAD_STATUS');
      assert.equal(error.message, `upstream sent invalid status ${JSON.stringify(value)}`);
    }
  });

  test('a header line without a colon is refused', () => {
    const error = rejects('Content-Type text/html\r\n\r\n', 'ERR_CGI_BAD_HEADER');
    assert.match(error.message, /^upstream sent invalid header: "Content-Type\\x20\.\.\."$/);
    assert.match(rejects('NoColon\r\n\r\n', 'ERR_CGI_BAD_HEADER').message, /"NoColon" has no colon/);
  });

  test('bad name bytes and control bytes in values are refused, naming the byte', () => {
    assert.match(rejects('Bad Name: x\r\n\r\n', 'ERR_CGI_BAD_HEADER').message, /"Bad\\x20\.\.\."/);
    assert.match(rejects(': empty name\r\n\r\n', 'ERR_CGI_BAD_HEADER').message, /"\\x3a\.\.\."/);
    assert.match(rejects('X: a\0b\r\n\r\n', 'ERR_CGI_BAD_HEADER').message, /"X: a\\x00\.\.\."/);
    rejects('X: a\rb\r\n\r\n', 'ERR_CGI_BAD_HEADER');
    rejects('X: a\x7fb\r\n\r\n', 'ERR_CGI_BAD_HEADER');
    rejects(' X: folded\r\n\r\n', 'ERR_CGI_BAD_HEADER');
    rejects('X: a\r\r\n\r\n', 'ERR_CGI_BAD_HEADER');
  });

  test('a head over maxHeadSize is nginx\'s "upstream sent too big header"', () => {
    const big = 'X-Big: ' + 'x'.repeat(DEFAULT_CGI_MAX_HEAD_SIZE) + '\r\n\r\n';
    assert.match(rejects(big, 'ERR_CGI_HEAD_TOO_BIG').message, /^upstream sent too big header/);
    // The limit counts the whole head including the empty line: exactly max fits, one more fails.
    const head = 'A: ' + 'y'.repeat(100 - 3 - 4) + '\r\n\r\n';
    assert.equal(head.length, 100);
    assert.equal(ok(head + 'body', { maxHeadSize: 100 }).body, 'body');
    rejects('A: y' + head.slice(3), 'ERR_CGI_HEAD_TOO_BIG', { maxHeadSize: 100 });
    // Also when it arrives a byte at a time and never ends.
    const run = feed(Array.from({ length: 200 }, () => 'z'), { maxHeadSize: 100 });
    assert.equal(run.error?.code, 'ERR_CGI_HEAD_TOO_BIG');
    assert.throws(() => new CgiResponseParser({ onHead() {}, onBody() {} }, { maxHeadSize: -1 }), RangeError);
  });
});

// ---------------------------------------------------------------------------------------------
// Formatting

describe('cgi-response: formatting', () => {
  test('formatCgiHead writes a Status line, the fields and the empty line', () => {
    assert.equal(
      formatCgiHead(404, 'Not Found', [
        ['Content-Type', 'text/plain'],
        ['Set-Cookie', 'a=1'],
        ['Set-Cookie', 'b=2'],
      ]),
      'Status: 404 Not Found\r\nContent-Type: text/plain\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\n',
    );
    assert.equal(formatCgiHead(200, 'OK', []), 'Status: 200 OK\r\n\r\n');
  });

  test('formatHttpHead writes a status line, with the request protocol when given', () => {
    assert.equal(formatHttpHead(200, 'OK', [['Content-Length', '2']]), 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n');
    assert.equal(formatHttpHead(500, 'Internal Server Error', [], 'HTTP/1.0'), 'HTTP/1.0 500 Internal Server Error\r\n\r\n');
    assert.equal(formatHttpHead(200, 'caf\u00e9', [['X', '\u00ff']]), 'HTTP/1.1 200 caf\u00e9\r\nX: \u00ff\r\n\r\n');
  });

  test('CR, LF and NUL are refused in names, values and reasons (response splitting)', () => {
    const invalid = (e: unknown): boolean => e instanceof CgiResponseError && e.code === 'ERR_CGI_INVALID_FIELD';
    for (const format of [formatCgiHead, formatHttpHead]) {
      assert.throws(() => format(200, 'OK', [['X', 'a\r\nSet-Cookie: evil=1']]), invalid);
      assert.throws(() => format(200, 'OK', [['X', 'a\nb']]), invalid);
      assert.throws(() => format(200, 'OK', [['X', 'a\0b']]), invalid);
      assert.throws(() => format(200, 'OK', [['X\r\nY', 'a']]), invalid);
      assert.throws(() => format(200, 'OK', [['X\0', 'a']]), invalid);
      assert.throws(() => format(200, 'OK', [['Bad Name', 'a']]), invalid);
      assert.throws(() => format(200, 'OK', [['X:', 'a']]), invalid);
      assert.throws(() => format(200, 'OK', [['', 'a']]), invalid);
      assert.throws(() => format(200, 'OK', [['X', '\u20ac']]), invalid);
      assert.throws(() => format(200, 'OK\r\nX: y', []), invalid);
      assert.throws(() => format(99, 'Low', []), invalid);
      assert.throws(() => format(1000, 'High', []), invalid);
      assert.throws(() => format(200.5, 'OK', []), invalid);
    }
    assert.throws(() => formatHttpHead(200, 'OK', [], 'HTTP/1.1\r\n'), invalid);
  });

  test('what the formatters write, the parser reads back', () => {
    const headers: Array<[string, string]> = [
      ['Content-Type', 'text/html; charset=utf-8'],
      ['X-Empty', ''],
    ];
    const cgi = ok(formatCgiHead(418, "I'm a Teapot", headers) + 'tea').head;
    assert.deepEqual(cgi, { status: 418, reason: "I'm a Teapot", headers: ['Status', "418 I'm a Teapot", ...headers.flat()] });
    const http = ok(formatHttpHead(301, 'Moved Permanently', headers) + 'x').head;
    assert.deepEqual(http, { status: 301, reason: 'Moved Permanently', headers: headers.flat(), httpVersion: 'HTTP/1.1' });
  });
});

// ---------------------------------------------------------------------------------------------
// Properties

const TCHARS = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".split('');
const nameArb = fc
  .string({ unit: fc.constantFrom(...TCHARS), minLength: 1, maxLength: 20 })
  .filter((name) => !['status', 'location'].includes(name.toLowerCase()) && !name.startsWith('HTTP/'));
const BANG = 0x21;
const TILDE = 0x7e;
const FIRST_OBS_TEXT = 0x80;
const LAST_BYTE = 0xff;
const SP = 0x20;
const HTAB = 0x09;
const valueArb = fc
  .array(fc.oneof(fc.integer({ min: BANG, max: TILDE }), fc.integer({ min: FIRST_OBS_TEXT, max: LAST_BYTE }), fc.constantFrom(SP, HTAB)), {
    maxLength: 40,
  })
  .map((codes) => String.fromCharCode(...codes).replace(/^[ \t]+|[ \t]+$/g, ''));

interface Model {
  style: 'cgi' | 'http';
  status: number;
  reason: string;
  headers: Array<[string, string]>;
  body: Buffer;
}

const modelArb: fc.Arbitrary<Model> = fc.record({
  style: fc.constantFrom<'cgi' | 'http'>('cgi', 'http'),
  status: fc.integer({ min: 100, max: 999 }),
  reason: fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz ABC'.split('')), minLength: 1, maxLength: 20 }).map((s) => s.trim() || 'R'),
  headers: fc.array(fc.tuple(nameArb, valueArb), { maxLength: 12 }),
  body: fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes)),
});

function encodeModel(model: Model): Buffer {
  const head = model.style === 'cgi' ? formatCgiHead(model.status, model.reason, model.headers) : formatHttpHead(model.status, model.reason, model.headers);
  return Buffer.concat([Buffer.from(head, 'latin1'), model.body]);
}

const BIG = { maxHeadSize: 64 * 1024 };

describe('cgi-response: properties', () => {
  test('a formatted response decodes to its model however it is split', () => {
    fc.assert(
      fc.property(modelArb, fc.array(fc.nat(), { maxLength: 30 }), (model, cuts) => {
        const bytes = encodeModel(model);
        const whole = parse(bytes, BIG);
        assert.equal(whole.error, null, whole.error?.message);
        const expected: CgiResponseHead =
          model.style === 'cgi'
            ? { status: model.status, reason: model.reason, headers: ['Status', `${model.status} ${model.reason}`, ...model.headers.flat()] }
            : { status: model.status, reason: model.reason, headers: model.headers.flat(), httpVersion: 'HTTP/1.1' };
        assert.deepEqual(whole.head, expected);
        assert.ok(Buffer.concat(whole.body).equals(model.body));
        const pieces = feed(split(bytes, cuts), BIG);
        assert.equal(pieces.error, null, pieces.error?.message);
        assert.deepEqual(pieces.head, whole.head);
        assert.ok(Buffer.concat(pieces.body).equals(model.body));
      }),
      { numRuns: 500 },
    );
  });

  test('random bytes never make execute throw', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 8 }), (chunks) => {
        const parser = new CgiResponseParser({ onHead() {}, onBody() {} }, { maxHeadSize: 128 });
        for (const chunk of chunks) {
          const data = Buffer.from(chunk);
          const n = parser.execute(data);
          if (n < 0) {
            assert.equal(n, -1);
            assert.ok(parser.error instanceof CgiResponseError);
            return;
          }
          assert.equal(n, data.length);
        }
        const end = parser.end();
        assert.ok(end === null || end instanceof CgiResponseError);
      }),
      { numRuns: 2000 },
    );
  });

  test('mutated valid responses never make execute throw', () => {
    fc.assert(
      fc.property(
        modelArb,
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: LAST_BYTE })), { minLength: 1, maxLength: 6 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        (model, mutations, cuts) => {
          const bytes = Buffer.from(encodeModel(model));
          for (const [at, byte] of mutations) bytes[at % bytes.length] = byte;
          const run = feed(split(bytes, cuts), BIG);
          assert.ok(run.error === null || run.error instanceof CgiResponseError);
          if (run.error === null) assert.ok(run.head !== null);
        },
      ),
      { numRuns: 1000 },
    );
  });
});
