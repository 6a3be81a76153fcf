import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Http1ResponseDecoder, type ResponseHead } from '../../src/protocols/http1-response.js';

interface Decoded {
  heads: ResponseHead[];
  body: Buffer;
  complete: number;
  /** Bytes execute() left unconsumed (after a complete response). */
  rest: Buffer;
  error: string | null;
  endError: string | null;
  keepAlive: boolean;
}

/** Feeds `input` in the given pieces, then EOF when `eof`. */
function decode(pieces: readonly Buffer[], options: { headOnly?: boolean; eof?: boolean; maxHeadSize?: number } = {}): Decoded {
  const heads: ResponseHead[] = [];
  const body: Buffer[] = [];
  let complete = 0;
  const decoder = new Http1ResponseDecoder(
    {
      onHead: (head) => heads.push(head),
      onBody: (chunk) => {
        assert.ok(chunk.length > 0, 'empty body chunk');
        body.push(Buffer.from(chunk));
      },
      onComplete: () => complete++,
    },
    { maxHeadSize: options.maxHeadSize ?? 4096 },
  );
  decoder.reset(options.headOnly ?? false);
  let rest = Buffer.alloc(0);
  let error: string | null = null;
  for (const piece of pieces) {
    if (piece.length === 0) continue;
    const used = decoder.execute(piece);
    if (used < 0) {
      error = decoder.error!.code;
      break;
    }
    if (used < piece.length) {
      rest = Buffer.concat([rest, piece.subarray(used)]);
      break;
    }
  }
  let endError: string | null = null;
  if ((options.eof ?? false) && error === null) endError = decoder.end()?.code ?? null;
  return { heads, body: Buffer.concat(body), complete, rest, error, endError, keepAlive: decoder.keepAlive };
}

const b = (text: string): Buffer => Buffer.from(text, 'latin1');

describe('HTTP/1.x response decoder', () => {
  test('Content-Length body, headers trimmed, keep-alive', () => {
    const out = decode([b('HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A:  one two \r\n\r\nhello')]);
    assert.equal(out.heads.length, 1);
    assert.equal(out.heads[0]!.status, 200);
    assert.equal(out.heads[0]!.reason, 'OK');
    assert.equal(out.heads[0]!.httpVersion, 1001);
    assert.deepEqual(out.heads[0]!.headers, ['Content-Length', '5', 'X-A', 'one two']);
    assert.equal(out.body.toString(), 'hello');
    assert.equal(out.complete, 1);
    assert.equal(out.keepAlive, true);
  });

  test('bare LF line ends and no reason phrase', () => {
    const out = decode([b('HTTP/1.1 404\nContent-Length: 2\n\nno')]);
    assert.equal(out.heads[0]!.status, 404);
    assert.equal(out.heads[0]!.reason, '');
    assert.equal(out.body.toString(), 'no');
  });

  test('chunked body with extensions and trailers', () => {
    const out = decode([b('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n')]);
    assert.equal(out.heads[0]!.framing, 'chunked');
    assert.equal(out.body.toString(), 'hello world');
    assert.equal(out.complete, 1);
    assert.equal(out.keepAlive, true);
  });

  test('HTTP/1.0 and Connection: close responses are not reusable', () => {
    assert.equal(decode([b('HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n')]).keepAlive, false);
    assert.equal(decode([b('HTTP/1.1 200 OK\r\nConnection: Close\r\nContent-Length: 0\r\n\r\n')]).keepAlive, false);
  });

  test('close-delimited body ends at EOF, not before', () => {
    const out = decode([b('HTTP/1.1 200 OK\r\n\r\nabc'), b('def')], { eof: true });
    assert.equal(out.heads[0]!.framing, 'close');
    assert.equal(out.body.toString(), 'abcdef');
    assert.equal(out.complete, 1);
    assert.equal(out.endError, null);
    assert.equal(out.keepAlive, false);
  });

  test('no body for HEAD, 204 and 304 whatever the head says', () => {
    const head = decode([b('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n')], { headOnly: true });
    assert.equal(head.heads[0]!.framing, 'none');
    assert.equal(head.complete, 1);
    for (const status of [204, 304]) {
      const out = decode([b(`HTTP/1.1 ${status} X\r\nContent-Length: 10\r\n\r\n`)]);
      assert.equal(out.heads[0]!.framing, 'none');
      assert.equal(out.complete, 1);
      assert.equal(out.keepAlive, true);
    }
  });

  test('interim 1xx responses are skipped', () => {
    const out = decode([b('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 1\r\n\r\nx')]);
    assert.equal(out.heads.length, 1);
    assert.equal(out.heads[0]!.status, 201);
    assert.equal(out.body.toString(), 'x');
  });

  test('101 hands back the bytes after the head', () => {
    const out = decode([b('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\x81\x02hi')]);
    assert.equal(out.heads[0]!.framing, 'upgrade');
    assert.equal(out.complete, 1);
    assert.equal(out.rest.toString('latin1'), '\x81\x02hi');
    assert.equal(out.keepAlive, false);
  });

  test('bytes past the Content-Length are left over and forbid reuse', () => {
    const out = decode([b('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA')]);
    assert.equal(out.body.toString(), 'ok');
    assert.equal(out.rest.toString(), 'EXTRA');
    assert.equal(out.keepAlive, false);
  });

  test('a head over maxHeadSize is "too big"', () => {
    const big = 'HTTP/1.1 200 OK\r\nX: ' + 'a'.repeat(200) + '\r\n\r\n';
    assert.equal(decode([b(big)], { maxHeadSize: 100 }).error, 'ERR_HTTP_RESPONSE_HEAD_TOO_BIG');
    assert.equal(decode([b(big.slice(0, 150))], { maxHeadSize: 100 }).error, 'ERR_HTTP_RESPONSE_HEAD_TOO_BIG');
    assert.equal(decode([b(big)], { maxHeadSize: big.length }).error, null);
  });

  test('invalid headers as nginx refuses them', () => {
    for (const line of [' folded', ':no-name', 'Bad Name: x', 'X: a\0b', 'X\x7f: y', 'X: a\rb']) {
      const out = decode([b(`HTTP/1.1 200 OK\r\n${line}\r\nContent-Length: 0\r\n\r\n`)]);
      assert.equal(out.error, 'ERR_HTTP_RESPONSE_INVALID_HEADER', JSON.stringify(line));
    }
    // nginx takes a line without a colon as a header with an empty value.
    const lax = decode([b('HTTP/1.1 200 OK\r\nNoColon\r\nContent-Length: 0\r\n\r\n')]);
    assert.deepEqual(lax.heads[0]!.headers, ['NoColon', '', 'Content-Length', '0']);
  });

  test('framing conflicts are refused', () => {
    const cases = [
      'Transfer-Encoding: gzip',
      'Transfer-Encoding: chunked\r\nContent-Length: 3',
      'Content-Length: 1x',
      'Content-Length: 1\r\nContent-Length: 1',
      'Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked',
    ];
    for (const headers of cases) {
      assert.equal(decode([b(`HTTP/1.1 200 OK\r\n${headers}\r\n\r\n`)]).error, 'ERR_HTTP_RESPONSE_INVALID_HEADER', headers);
    }
    assert.equal(decode([b('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n')]).error, 'ERR_HTTP_RESPONSE_INVALID_FRAMING');
  });

  test('EOF inside the head or a framed body is a truncation', () => {
    assert.equal(decode([b('HTTP/1.1 200 OK\r\nX: y')], { eof: true }).endError, 'ERR_HTTP_RESPONSE_TRUNCATED');
    assert.equal(decode([b('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nabc')], { eof: true }).endError, 'ERR_HTTP_RESPONSE_TRUNCATED');
    assert.equal(decode([b('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n')], { eof: true }).endError, 'ERR_HTTP_RESPONSE_TRUNCATED');
  });

  test('no status line: HTTP/0.9, all bytes are the body until close', () => {
    const out = decode([b('hello '), b('world')], { eof: true });
    assert.equal(out.heads[0]!.status, 200);
    assert.equal(out.heads[0]!.httpVersion, 9);
    assert.equal(out.body.toString(), 'hello world');
    const bad = decode([b('HTTP/1.1 2x0 OK\r\n\r\nbody')], { eof: true });
    assert.equal(bad.heads[0]!.httpVersion, 9);
    assert.equal(bad.body.toString(), 'HTTP/1.1 2x0 OK\r\n\r\nbody');
  });

  test('a repeated status line among the headers is skipped (IIS)', () => {
    const out = decode([b('HTTP/1.1 200 OK\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n')]);
    assert.deepEqual(out.heads[0]!.headers, ['Content-Length', '0']);
  });
});

// ---- fuzzing ------------------------------------------------------------------------------------

const token = fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzABCDEFXYZ-_0123456789'.split('')), minLength: 1, maxLength: 12 });
const value = fc.string({ unit: fc.constantFrom(...'abc xyz=;,/0123'.split('')), maxLength: 20 });

interface Model {
  status: number;
  headers: [string, string][];
  body: Buffer;
  framing: 'length' | 'chunked' | 'close';
  chunkSizes: number[];
  lf: boolean;
}

const modelArb: fc.Arbitrary<Model> = fc.record({
  status: fc.integer({ min: 200, max: 599 }).filter((s) => s !== 204 && s !== 304),
  headers: fc.array(fc.tuple(token.filter((t) => !/^(content-length|transfer-encoding|connection)$/i.test(t)), value), { maxLength: 8 }),
  body: fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes)),
  framing: fc.constantFrom<'length' | 'chunked' | 'close'>('length', 'chunked', 'close'),
  chunkSizes: fc.array(fc.integer({ min: 1, max: 50 }), { maxLength: 10 }),
  lf: fc.boolean(),
});

function encode(model: Model): Buffer {
  const eol = model.lf ? '\n' : '\r\n';
  let head = `HTTP/1.1 ${model.status} Reason${eol}`;
  for (const [name, val] of model.headers) head += `${name}: ${val}${eol}`;
  if (model.framing === 'length') head += `Content-Length: ${model.body.length}${eol}`;
  if (model.framing === 'chunked') head += `Transfer-Encoding: chunked${eol}`;
  head += eol;
  if (model.framing !== 'chunked') return Buffer.concat([b(head), model.body]);
  const parts = [b(head)];
  let at = 0;
  let i = 0;
  while (at < model.body.length) {
    const size = Math.min(model.chunkSizes[i++ % Math.max(1, model.chunkSizes.length)] ?? 7, model.body.length - at);
    parts.push(b(`${size.toString(16)}\r\n`), model.body.subarray(at, at + size), b('\r\n'));
    at += size;
  }
  parts.push(b('0\r\n\r\n'));
  return Buffer.concat(parts);
}

function split(data: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (data.length + 1)))].sort((x, y) => x - y);
  const pieces: Buffer[] = [];
  let last = 0;
  for (const point of points) {
    pieces.push(data.subarray(last, point));
    last = point;
  }
  pieces.push(data.subarray(last));
  return pieces;
}

describe('HTTP/1.x response decoder: fuzz', () => {
  test('any split of a valid response decodes the same', () => {
    fc.assert(
      fc.property(modelArb, fc.array(fc.nat(), { maxLength: 30 }), (model, cuts) => {
        const wire = encode(model);
        const out = decode(split(wire, cuts), { eof: model.framing === 'close' });
        assert.equal(out.error, null);
        assert.equal(out.heads.length, 1);
        assert.equal(out.heads[0]!.status, model.status);
        assert.deepEqual(out.heads[0]!.headers.filter((_, i) => i % 2 === 0).slice(0, model.headers.length), model.headers.map(([n]) => n));
        assert.ok(out.body.equals(model.body));
        assert.equal(out.complete, 1);
        assert.equal(out.keepAlive, model.framing !== 'close');
      }),
      { numRuns: 400 },
    );
  });

  test('random bytes never throw and never stall past the head limit', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 80 }), { maxLength: 10 }), fc.boolean(), (chunks, prefix) => {
        const pieces: Buffer[] = chunks.map((c) => Buffer.from(c));
        if (prefix) pieces.unshift(b('HTTP/1.1 200 OK\r\n'));
        const out = decode(pieces, { eof: true, maxHeadSize: 256 });
        // Either an error, or a head, or (still in the head) EOF reports a truncation.
        assert.ok(out.error !== null || out.heads.length > 0 || out.endError !== null || pieces.every((p) => p.length === 0));
      }),
      { numRuns: 500 },
    );
  });

  test('mutated valid responses never throw', () => {
    fc.assert(
      fc.property(modelArb, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }), fc.array(fc.nat(), { maxLength: 6 }), (model, edits, cuts) => {
        const wire = Buffer.from(encode(model));
        for (const [at, byte] of edits) wire[at % wire.length] = byte;
        decode(split(wire, cuts), { eof: true });
      }),
      { numRuns: 400 },
    );
  });
});
