import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  FASTCGI_ERROR_CODES,
  FCGI_ABORT_REQUEST,
  FCGI_AUTHORIZER,
  FCGI_BEGIN_REQUEST,
  FCGI_CANT_MPX_CONN,
  FCGI_DATA,
  FCGI_END_REQUEST,
  FCGI_FILTER,
  FCGI_GET_VALUES,
  FCGI_GET_VALUES_RESULT,
  FCGI_HEADER_LEN,
  FCGI_KEEP_CONN,
  FCGI_MAX_ALIGNED_CONTENT,
  FCGI_MAX_CONNS,
  FCGI_MAX_REQS,
  FCGI_MPXS_CONNS,
  FCGI_NULL_REQUEST_ID,
  FCGI_OVERLOADED,
  FCGI_PARAMS,
  FCGI_REQUEST_COMPLETE,
  FCGI_RESPONDER,
  FCGI_STDERR,
  FCGI_STDIN,
  FCGI_STDOUT,
  FCGI_UNKNOWN_ROLE,
  FCGI_UNKNOWN_TYPE,
  FCGI_VERSION_1,
  FastcgiError,
  FcgiNameValueDecoder,
  FcgiRecordDecoder,
  decodeNameValuePairs,
  encodeAbortRequest,
  encodeBeginRequest,
  encodeEndRequest,
  encodeFcgiRequest,
  encodeGetValues,
  encodeNameValuePairs,
  encodeRecord,
  encodeRecordHeader,
  encodeResponseEnd,
  encodeStderr,
  encodeStdin,
  encodeStdinEnd,
  encodeStdout,
  encodeStream,
  encodeStreamEnd,
  encodeUnknownType,
  paddingFor,
  type FastcgiErrorCode,
} from '../../src/protocols/fastcgi.js';
import {
  FcgiClientSession,
  FcgiServerSession,
  type FcgiServerOptions,
} from '../../src/protocols/fastcgi-session.js';
import { TsgiError } from '../../src/errors.js';

// ---------------------------------------------------------------------------------------------
// Helpers

const latin1 = (s: string): number[] => [...Buffer.from(s, 'latin1')];
const bytes = (...parts: Array<number | number[] | string>): Buffer =>
  Buffer.from(parts.flatMap((part) => (typeof part === 'string' ? latin1(part) : typeof part === 'number' ? [part] : part)));

/** A record built byte by byte from §3.3, independent of the encoders under test. */
function rawRecord(type: number, id: number, content: number[] | Buffer, padding = 0, version = FCGI_VERSION_1): Buffer {
  const c = [...content];
  return Buffer.from([version, type, id >> 8, id & 0xff, c.length >> 8, c.length & 0xff, padding, 0, ...c, ...new Array<number>(padding).fill(0xee)]);
}

type ServerEvent =
  | ['begin', number, number, boolean]
  | ['params', number, string[]]
  | ['stdin', number, string]
  | ['stdinEnd', number]
  | ['abort', number]
  | ['output', string];

interface ServerRun {
  session: FcgiServerSession;
  events: ServerEvent[];
  returns: number[];
}

function server(options?: Partial<FcgiServerOptions>): ServerRun {
  const events: ServerEvent[] = [];
  const session = new FcgiServerSession(
    {
      onBeginRequest: (id, role, keepConn) => events.push(['begin', id, role, keepConn]),
      onParams: (id, vars) => events.push(['params', id, vars]),
      onStdin: (id, chunk) => {
        assert.ok(chunk.length > 0, 'onStdin never gets an empty chunk');
        events.push(['stdin', id, chunk.toString('latin1')]);
      },
      onStdinEnd: (id) => events.push(['stdinEnd', id]),
      onAbort: (id) => events.push(['abort', id]),
      onOutput: (out) => events.push(['output', out.toString('hex')]),
    },
    options,
  );
  return { session, events, returns: [] };
}

/** Feeds pieces, recording what execute returned; stops at the first -1. */
function feed(run: { session: { execute(data: Buffer, offset?: number): number }; returns: number[] }, pieces: Buffer[]): void {
  for (const piece of pieces) {
    const n = run.session.execute(piece);
    run.returns.push(n);
    if (n < 0) return;
    assert.equal(n, piece.length, 'execute consumes all its input');
  }
}

/** Adjacent stdin/stdout chunks of one request merged, so runs with different splits compare. */
function mergeChunks<E extends [string, ...unknown[]]>(events: E[], kinds: readonly string[]): E[] {
  const out: E[] = [];
  for (const event of events) {
    const last = out[out.length - 1];
    if (last !== undefined && kinds.includes(event[0]) && last[0] === event[0] && last[1] === event[1]) {
      out[out.length - 1] = [last[0], last[1], String(last[2]) + String(event[2])] as unknown as E;
    } else {
      out.push(event);
    }
  }
  return out;
}

function splitAt(data: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (data.length + 1)))].sort((a, b) => a - b);
  const pieces: Buffer[] = [];
  let from = 0;
  for (const point of points) {
    pieces.push(data.subarray(from, point));
    from = point;
  }
  pieces.push(data.subarray(from));
  return pieces;
}

function expectError(error: FastcgiError | null, code: FastcgiErrorCode): void {
  assert.ok(error instanceof FastcgiError, `expected ${code}, got no error`);
  assert.ok(error instanceof TsgiError);
  assert.equal(error.code, code, error.message);
}

type ClientEvent = ['stdout', number, string] | ['stderr', number, string] | ['end', number, number, number] | ['values', string[]] | ['unknownType', number];

function client(): { session: FcgiClientSession; events: ClientEvent[]; returns: number[] } {
  const events: ClientEvent[] = [];
  const session = new FcgiClientSession({
    onStdout: (id, chunk) => {
      assert.ok(chunk.length > 0);
      events.push(['stdout', id, chunk.toString('latin1')]);
    },
    onStderr: (id, chunk) => {
      assert.ok(chunk.length > 0);
      events.push(['stderr', id, chunk.toString('latin1')]);
    },
    onEndRequest: (id, appStatus, protocolStatus) => events.push(['end', id, appStatus, protocolStatus]),
    onGetValuesResult: (values) => events.push(['values', values]),
    onUnknownType: (type) => events.push(['unknownType', type]),
  });
  return { session, events, returns: [] };
}

const BEGIN_1_KEEP = bytes([1, 1, 0, 1, 0, 8, 0, 0], [0, 1, 1, 0, 0, 0, 0, 0]);
const COOKIE = 'a'.repeat(200);
/** SERVER_PORT=80 (1-byte lengths) and HTTP_COOKIE=200 x 'a' (4-byte value length), §3.4. */
const PARAMS_CONTENT = bytes([0x0b, 0x02], 'SERVER_PORT', '80', [0x0b, 0x80, 0x00, 0x00, 0xc8], 'HTTP_COOKIE', COOKIE);
/** 231 content bytes padded with 1 to 232 (§3.3 "Padding"). */
const PARAMS_1 = bytes([1, 4, 0, 1, 0x00, 0xe7, 0x01, 0x00], [...PARAMS_CONTENT], [0]);
const PARAMS_1_END = bytes([1, 4, 0, 1, 0, 0, 0, 0]);
const STDIN_1_END = bytes([1, 5, 0, 1, 0, 0, 0, 0]);

// ---------------------------------------------------------------------------------------------
// Constants and byte-exact vectors

describe('fastcgi: constants (spec §8)', () => {
  test('values are the spec values', () => {
    assert.deepEqual(
      [FCGI_BEGIN_REQUEST, FCGI_ABORT_REQUEST, FCGI_END_REQUEST, FCGI_PARAMS, FCGI_STDIN, FCGI_STDOUT, FCGI_STDERR, FCGI_DATA, FCGI_GET_VALUES, FCGI_GET_VALUES_RESULT, FCGI_UNKNOWN_TYPE],
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
    );
    assert.deepEqual([FCGI_RESPONDER, FCGI_AUTHORIZER, FCGI_FILTER, FCGI_KEEP_CONN], [1, 2, 3, 1]);
    assert.deepEqual([FCGI_REQUEST_COMPLETE, FCGI_CANT_MPX_CONN, FCGI_OVERLOADED, FCGI_UNKNOWN_ROLE], [0, 1, 2, 3]);
    assert.deepEqual([FCGI_MAX_CONNS, FCGI_MAX_REQS, FCGI_MPXS_CONNS], ['FCGI_MAX_CONNS', 'FCGI_MAX_REQS', 'FCGI_MPXS_CONNS']);
    assert.equal(FCGI_HEADER_LEN, 8);
    assert.equal(FCGI_MAX_ALIGNED_CONTENT % 8, 0);
    assert.ok(FCGI_MAX_ALIGNED_CONTENT <= 0xffff && FCGI_MAX_ALIGNED_CONTENT + 8 > 0xffff);
  });

  test('every error code is ERR_FASTCGI_*', () => {
    for (const code of FASTCGI_ERROR_CODES) assert.match(code, /^ERR_FASTCGI_[A-Z_]+$/);
  });
});

describe('fastcgi: byte-exact encoding', () => {
  test('BEGIN_REQUEST {FCGI_RESPONDER, FCGI_KEEP_CONN} for request 1 (§5.1)', () => {
    assert.deepEqual(encodeBeginRequest(1, FCGI_RESPONDER, true), BEGIN_1_KEEP);
    assert.deepEqual(encodeBeginRequest(0x1234, FCGI_FILTER, false), bytes([1, 1, 0x12, 0x34, 0, 8, 0, 0], [0, 3, 0, 0, 0, 0, 0, 0]));
  });

  test('PARAMS with a 1-byte and a 4-byte length, padded to 8 (§3.3, §3.4)', () => {
    const pairs = ['SERVER_PORT', '80', 'HTTP_COOKIE', COOKIE];
    assert.deepEqual(encodeNameValuePairs(pairs), PARAMS_CONTENT);
    assert.deepEqual(encodeRecord(FCGI_PARAMS, 1, PARAMS_CONTENT), PARAMS_1);
    assert.equal(PARAMS_1.length % 8, 0);
  });

  test('4-byte name length and a value of exactly 127 / 128 bytes', () => {
    const name = 'N'.repeat(130);
    assert.deepEqual(encodeNameValuePairs([name, 'x'.repeat(127)]), bytes([0x80, 0, 0, 130, 127], name, 'x'.repeat(127)));
    assert.deepEqual(encodeNameValuePairs(['K', 'y'.repeat(128)]), bytes([1, 0x80, 0, 0, 128], 'K', 'y'.repeat(128)));
    assert.deepEqual(encodeNameValuePairs(['EMPTY', '']), bytes([5, 0], 'EMPTY'));
  });

  test('END_REQUEST {938, FCGI_REQUEST_COMPLETE} (§5.5, appendix B example 3)', () => {
    assert.deepEqual(encodeEndRequest(1, 938, FCGI_REQUEST_COMPLETE), bytes([1, 3, 0, 1, 0, 8, 0, 0], [0, 0, 0x03, 0xaa, 0, 0, 0, 0]));
    assert.deepEqual(encodeEndRequest(2, -1, FCGI_OVERLOADED), bytes([1, 3, 0, 2, 0, 8, 0, 0], [0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0]));
  });

  test('response end: empty STDOUT then END_REQUEST in one buffer', () => {
    assert.deepEqual(encodeResponseEnd(1), bytes([1, 6, 0, 1, 0, 0, 0, 0], [1, 3, 0, 1, 0, 8, 0, 0], [0, 0, 0, 0, 0, 0, 0, 0]));
  });

  test('STDOUT "hello" is padded with 3 zero bytes; an empty chunk encodes nothing', () => {
    assert.deepEqual(encodeStdout(1, Buffer.from('hello')), bytes([1, 6, 0, 1, 0, 5, 3, 0], 'hello', [0, 0, 0]));
    assert.equal(encodeStdout(1, Buffer.alloc(0)).length, 0);
    assert.equal(encodeStderr(1, Buffer.alloc(0)).length, 0);
    assert.deepEqual(encodeStreamEnd(FCGI_STDERR, 7), bytes([1, 7, 0, 7, 0, 0, 0, 0]));
    assert.deepEqual(encodeStdinEnd(1), STDIN_1_END);
  });

  test('stream data over 65535 bytes goes in several records of 0xfff8 (php-fpm fcgi_write)', () => {
    const data = Buffer.alloc(70001, 0x61);
    const out = encodeStdin(3, data);
    const second = 70001 - 0xfff8;
    assert.equal(out.length, 8 + 0xfff8 + 8 + second + paddingFor(second));
    assert.deepEqual(out.subarray(0, 8), bytes([1, 5, 0, 3, 0xff, 0xf8, 0, 0]));
    const h2 = 8 + 0xfff8;
    assert.deepEqual(out.subarray(h2, h2 + 8), bytes([1, 5, 0, 3, second >> 8, second & 0xff, 7, 0]));
  });

  test('GET_VALUES, UNKNOWN_TYPE and ABORT_REQUEST (§4.1, §4.2, §5.4)', () => {
    assert.deepEqual(encodeGetValues([FCGI_MPXS_CONNS]), bytes([1, 9, 0, 0, 0, 17, 7, 0], [15, 0], 'FCGI_MPXS_CONNS', [0, 0, 0, 0, 0, 0, 0]));
    assert.deepEqual(encodeUnknownType(200), bytes([1, 11, 0, 0, 0, 8, 0, 0], [200, 0, 0, 0, 0, 0, 0, 0]));
    assert.deepEqual(encodeAbortRequest(5), bytes([1, 2, 0, 5, 0, 0, 0, 0]));
  });

  test('encodeFcgiRequest is what nginx sends: BEGIN, one padded PARAMS, empty PARAMS, STDIN, empty STDIN', () => {
    const out = encodeFcgiRequest(1, ['SERVER_PORT', '80', 'HTTP_COOKIE', COOKIE], { keepConn: true, stdin: Buffer.from('a=1') });
    assert.deepEqual(out, Buffer.concat([BEGIN_1_KEEP, PARAMS_1, PARAMS_1_END, bytes([1, 5, 0, 1, 0, 3, 5, 0], 'a=1', [0, 0, 0, 0, 0]), STDIN_1_END]));
    const bare = encodeFcgiRequest(9, []);
    assert.deepEqual(bare, Buffer.concat([encodeBeginRequest(9), bytes([1, 4, 0, 9, 0, 0, 0, 0])]));
  });

  test('vars may also be [name, value] pairs or a Map, as for the uwsgi and SCGI encoders', () => {
    const flat = encodeFcgiRequest(1, ['A', '1', 'B', '']);
    assert.deepEqual(encodeFcgiRequest(1, [['A', '1'], ['B', '']]), flat);
    assert.deepEqual(encodeFcgiRequest(1, new Map([['A', '1'], ['B', '']])), flat);
  });

  test('encoders refuse what cannot be encoded', () => {
    assert.throws(() => encodeRecord(FCGI_STDOUT, 1, Buffer.alloc(65536)), RangeError);
    assert.throws(() => encodeRecord(FCGI_STDOUT, 65536, Buffer.alloc(0)), RangeError);
    assert.throws(() => encodeRecord(256, 1), RangeError);
    assert.throws(() => encodeRecordHeader(FCGI_STDOUT, 1, 10, 256), RangeError);
    assert.throws(() => encodeNameValuePairs(['odd']), RangeError);
    assert.deepEqual(encodeRecordHeader(FCGI_STDOUT, 1, 5), bytes([1, 6, 0, 1, 0, 5, 3, 0]));
    assert.equal(encodeRecord(FCGI_STDOUT, 1, Buffer.alloc(65535)).length, 8 + 65535 + 1);
  });
});

// ---------------------------------------------------------------------------------------------
// Record layer

describe('fastcgi: record decoder', () => {
  function records(input: Buffer[], splitStreams = false): { out: Array<[number, number, string]>; decoder: FcgiRecordDecoder; contents: Buffer[] } {
    const out: Array<[number, number, string]> = [];
    const contents: Buffer[] = [];
    const decoder = new FcgiRecordDecoder(
      {
        onRecord: (type, id, content) => {
          out.push([type, id, content.toString('latin1')]);
          contents.push(content);
        },
      },
      { splitStreams },
    );
    for (const piece of input) assert.equal(decoder.execute(piece), piece.length);
    return { out, decoder, contents };
  }

  test('skips padding of any length, even split across inputs', () => {
    const stream = Buffer.concat([rawRecord(FCGI_STDOUT, 1, latin1('abc'), 255), rawRecord(FCGI_STDOUT, 1, [], 3), rawRecord(FCGI_END_REQUEST, 1, [0, 0, 0, 0, 0, 0, 0, 0])]);
    const whole = records([stream]).out;
    assert.deepEqual(whole, [
      [FCGI_STDOUT, 1, 'abc'],
      [FCGI_STDOUT, 1, ''],
      [FCGI_END_REQUEST, 1, '\0\0\0\0\0\0\0\0'],
    ]);
    const oneByOne = records([...stream].map((b) => Buffer.from([b]))).out;
    assert.deepEqual(oneByOne, whole);
  });

  test('content in one input is a subarray of it (no copy)', () => {
    const input = Buffer.concat([rawRecord(FCGI_STDIN, 1, latin1('body bytes'), 6), rawRecord(FCGI_STDIN, 1, [])]);
    const { contents } = records([input]);
    const first = contents[0];
    assert.ok(first !== undefined);
    assert.equal(first.buffer, input.buffer);
    assert.equal(first.byteOffset, input.byteOffset + 8);
  });

  test('splitStreams hands stream content out in parts as it arrives; discrete records whole', () => {
    const stream = Buffer.concat([rawRecord(FCGI_STDOUT, 1, latin1('abcdef')), rawRecord(FCGI_END_REQUEST, 1, [0, 0, 0, 7, 0, 0, 0, 0])]);
    const { out } = records([stream.subarray(0, 11), stream.subarray(11)], true);
    assert.deepEqual(out, [
      [FCGI_STDOUT, 1, 'abc'],
      [FCGI_STDOUT, 1, 'def'],
      [FCGI_END_REQUEST, 1, '\0\0\0\x07\0\0\0\0'],
    ]);
    // A stream-typed record with the null id (a management record) is never split.
    const mgmt = rawRecord(FCGI_STDOUT, 0, latin1('whole'));
    assert.deepEqual(records([mgmt.subarray(0, 10), mgmt.subarray(10)], true).out, [[FCGI_STDOUT, 0, 'whole']]);
  });

  test('version other than FCGI_VERSION_1 is ERR_FASTCGI_BAD_VERSION, and stays failed', () => {
    const decoder = new FcgiRecordDecoder({ onRecord: () => assert.fail('no record') });
    assert.equal(decoder.execute(rawRecord(FCGI_STDOUT, 1, [], 0, 2)), -1);
    expectError(decoder.error, 'ERR_FASTCGI_BAD_VERSION');
    assert.equal(decoder.execute(rawRecord(FCGI_STDOUT, 1, [])), -1);
    assert.equal(decoder.finish(), decoder.error);
  });

  test('finish(): null between records, ERR_FASTCGI_TRUNCATED inside header, content or padding', () => {
    const record = rawRecord(FCGI_STDOUT, 1, latin1('abc'), 5);
    for (let cut = 0; cut <= record.length; cut++) {
      const decoder = new FcgiRecordDecoder({ onRecord: () => {} });
      assert.equal(decoder.execute(record.subarray(0, cut)), cut);
      const error = decoder.finish();
      if (cut === 0 || cut === record.length) assert.equal(error, null);
      else expectError(error, 'ERR_FASTCGI_TRUNCATED');
    }
  });

  test('execute honours offset', () => {
    const input = Buffer.concat([Buffer.from('junk'), rawRecord(FCGI_STDOUT, 1, latin1('x'))]);
    const out: string[] = [];
    const decoder = new FcgiRecordDecoder({ onRecord: (_t, _i, c) => out.push(c.toString()) });
    assert.equal(decoder.execute(input, 4), input.length - 4);
    assert.deepEqual(out, ['x']);
  });
});

// ---------------------------------------------------------------------------------------------
// Name-value pairs

describe('fastcgi: name-value pairs (§3.4)', () => {
  const pairs = ['SERVER_PORT', '80', 'N'.repeat(130), 'v', 'HTTP_COOKIE', COOKIE, '', '', 'EMPTY', '', 'BIN', '\x00\xff\x80'];
  const encoded = encodeNameValuePairs(pairs);

  test('decodes whole, byte by byte, and split at every point (inside 4-byte lengths too)', () => {
    assert.deepEqual(decodeNameValuePairs(encoded), pairs);
    const oneByOne = new FcgiNameValueDecoder();
    for (const b of encoded) assert.equal(oneByOne.write(Buffer.from([b])), null);
    assert.equal(oneByOne.end(), null);
    assert.deepEqual(oneByOne.vars, pairs);
    for (let i = 0; i <= encoded.length; i++) {
      for (const j of [i, i + 1, i + 2, i + 3, i + 5, encoded.length]) {
        if (j > encoded.length) continue;
        const decoder = new FcgiNameValueDecoder();
        for (const piece of [encoded.subarray(0, i), encoded.subarray(i, j), encoded.subarray(j)]) assert.equal(decoder.write(piece), null);
        assert.equal(decoder.end(), null);
        assert.deepEqual(decoder.vars, pairs, `split at ${i}, ${j}`);
      }
    }
  });

  test('a stream that ends inside a pair is ERR_FASTCGI_BAD_NAME_VALUE', () => {
    for (let cut = 1; cut < encoded.length; cut++) {
      const decoder = new FcgiNameValueDecoder();
      decoder.write(encoded.subarray(0, cut));
      const atPairEnd = decodeNameValuePairs(encoded.subarray(0, cut));
      const error = decoder.end();
      if (Array.isArray(atPairEnd)) assert.equal(error, null, `cut ${cut} falls between pairs`);
      else expectError(error, 'ERR_FASTCGI_BAD_NAME_VALUE');
    }
    const truncatedLength = decodeNameValuePairs(bytes([0x80, 0x00]));
    assert.ok(truncatedLength instanceof FastcgiError);
    expectError(truncatedLength, 'ERR_FASTCGI_BAD_NAME_VALUE');
  });

  test('more bytes than maxBytes is ERR_FASTCGI_PARAMS_TOO_LARGE, as soon as they arrive', () => {
    const small = encodeNameValuePairs(Array.from({ length: 20 }, (_, i) => [`NAME_${i}`, 'value']).flat());
    assert.ok(small.length > 100);
    const decoder = new FcgiNameValueDecoder(100);
    assert.equal(decoder.write(small.subarray(0, 100)), null);
    expectError(decoder.write(small.subarray(100, 101)), 'ERR_FASTCGI_PARAMS_TOO_LARGE');
    // A declared pair larger than the limit fails before its data arrives.
    const huge = new FcgiNameValueDecoder(1000);
    expectError(huge.write(bytes([4, 0x80, 0x10, 0, 0], 'NAME')), 'ERR_FASTCGI_PARAMS_TOO_LARGE');
  });
});

// ---------------------------------------------------------------------------------------------
// Server session

describe('fastcgi: server session (responder)', () => {
  test('decodes an nginx request: BEGIN (keep-conn), padded PARAMS, empty PARAMS, STDIN, empty STDIN', () => {
    const run = server();
    const stdin = bytes([1, 5, 0, 1, 0, 3, 5, 0], 'a=1', [0, 0, 0, 0, 0]);
    feed(run, [Buffer.concat([BEGIN_1_KEEP, PARAMS_1, PARAMS_1_END, stdin, STDIN_1_END])]);
    assert.deepEqual(run.events, [
      ['begin', 1, FCGI_RESPONDER, true],
      ['params', 1, ['SERVER_PORT', '80', 'HTTP_COOKIE', COOKIE]],
      ['stdin', 1, 'a=1'],
      ['stdinEnd', 1],
    ]);
    assert.ok(run.session.isActive(1));
    assert.deepEqual(run.session.endRequest(1), encodeResponseEnd(1));
    assert.equal(run.session.activeRequests, 0);
    assert.equal(run.session.closeRequested, false, 'FCGI_KEEP_CONN: the web server keeps the connection');
    assert.equal(run.session.endRequest(1).length, 0, 'ending twice sends nothing');
  });

  test('stdin chunks are subarrays of the input', () => {
    const input = Buffer.concat([encodeFcgiRequest(1, ['A', 'b']), encodeStdin(1, Buffer.from('payload'))]);
    const chunks: Buffer[] = [];
    const session = new FcgiServerSession({
      onBeginRequest() {},
      onParams() {},
      onStdin: (_id, c) => chunks.push(c),
      onStdinEnd() {},
      onAbort() {},
      onOutput() {},
    });
    assert.equal(session.execute(input), input.length);
    const got = chunks[0];
    assert.ok(chunks.length === 1 && got !== undefined);
    assert.equal(got.buffer, input.buffer);
    assert.equal(got.toString(), 'payload');
  });

  test('multiplexing: two requests interleaved record by record keep their ids', () => {
    const nv1 = encodeNameValuePairs(['REQUEST_URI', '/one', 'QUERY_STRING', '']);
    const nv2 = encodeNameValuePairs(['REQUEST_URI', '/two']);
    const run = server();
    feed(run, [
      encodeBeginRequest(1, FCGI_RESPONDER, true),
      encodeBeginRequest(2, FCGI_RESPONDER, true),
      encodeRecord(FCGI_PARAMS, 1, nv1.subarray(0, 5)), // cuts the first pair
      encodeRecord(FCGI_PARAMS, 2, nv2),
      encodeRecord(FCGI_PARAMS, 1, nv1.subarray(5)),
      encodeStreamEnd(FCGI_PARAMS, 2),
      encodeStreamEnd(FCGI_PARAMS, 1),
      encodeStdin(2, Buffer.from('two')),
      encodeStdin(1, Buffer.from('one')),
      encodeStdinEnd(2),
      encodeStdinEnd(1),
    ]);
    assert.deepEqual(run.events, [
      ['begin', 1, FCGI_RESPONDER, true],
      ['begin', 2, FCGI_RESPONDER, true],
      ['params', 2, ['REQUEST_URI', '/two']],
      ['params', 1, ['REQUEST_URI', '/one', 'QUERY_STRING', '']],
      ['stdin', 2, 'two'],
      ['stdin', 1, 'one'],
      ['stdinEnd', 2],
      ['stdinEnd', 1],
    ]);
    assert.equal(run.session.activeRequests, 2);
  });

  test('GET_VALUES is answered with the known names, values from the options (§4.1)', () => {
    const run = server({ maxConns: 10, maxReqs: 50, mpxsConns: false });
    const query = bytes([14, 0], 'FCGI_MAX_CONNS', [13, 0], 'FCGI_MAX_REQS', [15, 0], 'FCGI_MPXS_CONNS', [9, 0], 'X_UNKNOWN');
    assert.equal(query.length, 59);
    feed(run, [rawRecord(FCGI_GET_VALUES, 0, query, 5)]);
    const reply = bytes([1, 10, 0, 0, 0, 53, 3, 0], [14, 2], 'FCGI_MAX_CONNS', '10', [13, 2], 'FCGI_MAX_REQS', '50', [15, 1], 'FCGI_MPXS_CONNS', '0', [0, 0, 0]);
    assert.deepEqual(run.events, [['output', reply.toString('hex')]]);
    assert.equal(run.session.activeRequests, 0);
  });

  test('an unknown management record type is answered with FCGI_UNKNOWN_TYPE (§4.2)', () => {
    const run = server();
    feed(run, [rawRecord(200, FCGI_NULL_REQUEST_ID, latin1('xyz'), 5), rawRecord(FCGI_GET_VALUES_RESULT, 0, [])]);
    assert.deepEqual(run.events, [
      ['output', bytes([1, 11, 0, 0, 0, 8, 0, 0], [200, 0, 0, 0, 0, 0, 0, 0]).toString('hex')],
      ['output', bytes([1, 11, 0, 0, 0, 8, 0, 0], [10, 0, 0, 0, 0, 0, 0, 0]).toString('hex')],
    ]);
    assert.equal(run.session.error, null);
  });

  test('a role other than responder is refused with FCGI_UNKNOWN_ROLE; its records are ignored', () => {
    const run = server();
    feed(run, [
      rawRecord(FCGI_BEGIN_REQUEST, 3, [0, FCGI_AUTHORIZER, 0, 0, 0, 0, 0, 0]),
      encodeRecord(FCGI_PARAMS, 3, encodeNameValuePairs(['A', 'b'])),
      encodeStreamEnd(FCGI_PARAMS, 3),
      encodeStdinEnd(3),
    ]);
    assert.deepEqual(run.events, [['output', bytes([1, 3, 0, 3, 0, 8, 0, 0], [0, 0, 0, 0, FCGI_UNKNOWN_ROLE, 0, 0, 0]).toString('hex')]]);
    assert.equal(run.session.isActive(3), false);
    assert.equal(run.session.closeRequested, true, 'no FCGI_KEEP_CONN: close after answering (§5.1)');
  });

  test('FCGI_CANT_MPX_CONN without multiplexing, FCGI_OVERLOADED past maxReqs (§5.5)', () => {
    const single = server({ mpxsConns: false });
    feed(single, [encodeBeginRequest(1, FCGI_RESPONDER, true), encodeBeginRequest(2, FCGI_RESPONDER, true)]);
    assert.deepEqual(single.events, [
      ['begin', 1, FCGI_RESPONDER, true],
      ['output', encodeEndRequest(2, 0, FCGI_CANT_MPX_CONN).toString('hex')],
    ]);
    const small = server({ maxReqs: 1 });
    feed(small, [encodeBeginRequest(1, FCGI_RESPONDER, true), encodeBeginRequest(2, FCGI_RESPONDER, true)]);
    assert.deepEqual(small.events[1], ['output', encodeEndRequest(2, 0, FCGI_OVERLOADED).toString('hex')]);
    // Once request 1 has ended, its id and the slot are free again (§3.3).
    small.session.endRequest(1);
    feed(small, [encodeBeginRequest(1, FCGI_RESPONDER, true)]);
    assert.deepEqual(small.events[2], ['begin', 1, FCGI_RESPONDER, true]);
  });

  test('ABORT_REQUEST calls onAbort once; records after endRequest are ignored', () => {
    const run = server();
    feed(run, [encodeFcgiRequest(4, ['A', 'b'], { keepConn: false }), encodeAbortRequest(4), encodeAbortRequest(4)]);
    assert.deepEqual(run.events.slice(2), [['abort', 4]]);
    assert.equal(run.session.isActive(4), true, 'active until the application answers with END_REQUEST (§5.4)');
    run.session.endRequest(4, 0, FCGI_REQUEST_COMPLETE);
    assert.equal(run.session.closeRequested, true);
    feed(run, [encodeStdin(4, Buffer.from('late')), encodeStdinEnd(4), encodeAbortRequest(4)]);
    assert.equal(run.events.length, 3);
    assert.equal(run.session.error, null);
  });

  test('finish(): active requests are aborted; inside a record it is ERR_FASTCGI_TRUNCATED', () => {
    const run = server();
    const input = Buffer.concat([encodeFcgiRequest(1, ['A', 'b']), encodeFcgiRequest(2, []), encodeStdin(2, Buffer.from('xyz'))]);
    feed(run, [input.subarray(0, input.length - 4)]);
    run.session.endRequest(1);
    expectError(run.session.finish(), 'ERR_FASTCGI_TRUNCATED');
    assert.deepEqual(run.events.at(-1), ['abort', 2]);

    const clean = server();
    feed(clean, [encodeFcgiRequest(7, [])]);
    assert.equal(clean.session.finish(), null);
    assert.deepEqual(clean.events.at(-1), ['abort', 7]);
  });

  const protocolErrors: Array<[string, Buffer[], FastcgiErrorCode]> = [
    ['version 0', [rawRecord(FCGI_BEGIN_REQUEST, 1, [0, 1, 0, 0, 0, 0, 0, 0], 0, 0)], 'ERR_FASTCGI_BAD_VERSION'],
    ['BEGIN_REQUEST of 7 bytes', [rawRecord(FCGI_BEGIN_REQUEST, 1, [0, 1, 0, 0, 0, 0, 0])], 'ERR_FASTCGI_BAD_RECORD'],
    ['BEGIN_REQUEST for an active id', [encodeBeginRequest(1), encodeBeginRequest(1)], 'ERR_FASTCGI_DUPLICATE_REQUEST'],
    ['STDIN before PARAMS ended', [encodeBeginRequest(1), encodeStdin(1, Buffer.from('x'))], 'ERR_FASTCGI_UNEXPECTED_RECORD'],
    ['PARAMS after PARAMS ended', [encodeFcgiRequest(1, []), encodeRecord(FCGI_PARAMS, 1, encodeNameValuePairs(['A', 'b']))], 'ERR_FASTCGI_UNEXPECTED_RECORD'],
    ['STDIN after STDIN ended', [encodeFcgiRequest(1, [], { stdin: Buffer.alloc(0) }), encodeStdinEnd(1)], 'ERR_FASTCGI_UNEXPECTED_RECORD'],
    ['STDOUT sent to an application', [encodeBeginRequest(1), encodeStdout(1, Buffer.from('x'))], 'ERR_FASTCGI_UNEXPECTED_RECORD'],
    ['END_REQUEST sent to an application', [encodeBeginRequest(1), encodeEndRequest(1)], 'ERR_FASTCGI_UNEXPECTED_RECORD'],
    ['DATA to a responder', [encodeFcgiRequest(1, []), encodeStream(FCGI_DATA, 1, Buffer.from('x'))], 'ERR_FASTCGI_UNEXPECTED_RECORD'],
    ['PARAMS ending inside a pair', [encodeBeginRequest(1), encodeRecord(FCGI_PARAMS, 1, bytes([11, 2], 'SERVER')), encodeStreamEnd(FCGI_PARAMS, 1)], 'ERR_FASTCGI_BAD_NAME_VALUE'],
    ['PARAMS ending inside a 4-byte length', [encodeBeginRequest(1), encodeRecord(FCGI_PARAMS, 1, bytes([0x80, 0])), encodeStreamEnd(FCGI_PARAMS, 1)], 'ERR_FASTCGI_BAD_NAME_VALUE'],
    ['malformed GET_VALUES', [encodeRecord(FCGI_GET_VALUES, 0, bytes([20, 0], 'SHORT'))], 'ERR_FASTCGI_BAD_NAME_VALUE'],
  ];
  for (const [name, pieces, code] of protocolErrors) {
    test(`protocol error: ${name} is ${code}`, () => {
      const run = server();
      feed(run, pieces);
      assert.equal(run.returns.at(-1), -1);
      expectError(run.session.error, code);
      assert.equal(run.session.execute(encodeBeginRequest(9)), -1, 'a failed session stays failed');
    });
  }

  test('params over maxParamsBytes is ERR_FASTCGI_PARAMS_TOO_LARGE before the stream ends', () => {
    const run = server({ maxParamsBytes: 100 });
    const request = encodeFcgiRequest(1, Array.from({ length: 20 }, (_, i) => [`HTTP_X_${i}`, 'value']).flat());
    feed(run, [request.subarray(0, 16 + 8 + 100)]);
    assert.equal(run.returns.at(-1), 124);
    feed(run, [request.subarray(124, 125)]);
    assert.equal(run.returns.at(-1), -1);
    expectError(run.session.error, 'ERR_FASTCGI_PARAMS_TOO_LARGE');
  });
});

// ---------------------------------------------------------------------------------------------
// Client session

describe('fastcgi: client session', () => {
  test('decodes a php-fpm response: STDOUT, STDERR, END_REQUEST without an empty STDOUT', () => {
    const run = client();
    const sent = run.session.beginRequest(1, ['SCRIPT_FILENAME', '/srv/index.php'], { keepConn: true, stdin: Buffer.alloc(0) });
    assert.deepEqual(sent.subarray(0, 16), BEGIN_1_KEEP);
    feed(run, [
      Buffer.concat([
        encodeStdout(1, Buffer.from('Content-type: text/html\r\n\r\n')),
        encodeStderr(1, Buffer.from('PHP Notice: x')),
        encodeStdout(1, Buffer.from('<html>')),
        encodeEndRequest(1, 0, FCGI_REQUEST_COMPLETE),
      ]),
    ]);
    assert.deepEqual(run.events, [
      ['stdout', 1, 'Content-type: text/html\r\n\r\n'],
      ['stderr', 1, 'PHP Notice: x'],
      ['stdout', 1, '<html>'],
      ['end', 1, 0, FCGI_REQUEST_COMPLETE],
    ]);
    assert.equal(run.session.activeRequests, 0);
    assert.equal(run.session.finish(), null);
  });

  test('interleaved responses of two requests keep their ids', () => {
    const run = client();
    run.session.beginRequest(1, []);
    run.session.beginRequest(2, []);
    feed(run, [encodeStdout(2, Buffer.from('b')), encodeStdout(1, Buffer.from('a')), encodeResponseEnd(2, 3), encodeStdout(1, Buffer.from('c')), encodeResponseEnd(1)]);
    assert.deepEqual(run.events, [
      ['stdout', 2, 'b'],
      ['stdout', 1, 'a'],
      ['end', 2, 3, FCGI_REQUEST_COMPLETE],
      ['stdout', 1, 'c'],
      ['end', 1, 0, FCGI_REQUEST_COMPLETE],
    ]);
  });

  test('GET_VALUES_RESULT and UNKNOWN_TYPE go to their handlers', () => {
    const run = client();
    const result = encodeRecord(FCGI_GET_VALUES_RESULT, 0, encodeNameValuePairs([FCGI_MPXS_CONNS, '0', FCGI_MAX_CONNS, '5']));
    feed(run, [result, encodeUnknownType(12)]);
    assert.deepEqual(run.events, [
      ['values', [FCGI_MPXS_CONNS, '0', FCGI_MAX_CONNS, '5']],
      ['unknownType', 12],
    ]);
  });

  test('a record for a request not in flight is ERR_FASTCGI_UNKNOWN_REQUEST (nginx: "unexpected FastCGI request id")', () => {
    const run = client();
    run.session.beginRequest(1, []);
    feed(run, [encodeStdout(2, Buffer.from('x'))]);
    expectError(run.session.error, 'ERR_FASTCGI_UNKNOWN_REQUEST');
    const after = client();
    after.session.beginRequest(1, []);
    feed(after, [encodeResponseEnd(1), encodeStdout(1, Buffer.from('late'))]);
    expectError(after.session.error, 'ERR_FASTCGI_UNKNOWN_REQUEST');
  });

  const clientErrors: Array<[string, Buffer[], FastcgiErrorCode]> = [
    ['STDIN sent to a web server', [encodeStdin(1, Buffer.from('x'))], 'ERR_FASTCGI_UNEXPECTED_RECORD'],
    ['GET_VALUES sent to a web server', [encodeGetValues([FCGI_MAX_REQS])], 'ERR_FASTCGI_UNEXPECTED_RECORD'],
    ['END_REQUEST of 4 bytes', [rawRecord(FCGI_END_REQUEST, 1, [0, 0, 0, 0])], 'ERR_FASTCGI_BAD_RECORD'],
    ['UNKNOWN_TYPE of 1 byte', [rawRecord(FCGI_UNKNOWN_TYPE, 0, [12])], 'ERR_FASTCGI_BAD_RECORD'],
    ['version 2', [rawRecord(FCGI_STDOUT, 1, latin1('x'), 0, 2)], 'ERR_FASTCGI_BAD_VERSION'],
  ];
  for (const [name, pieces, code] of clientErrors) {
    test(`protocol error: ${name} is ${code}`, () => {
      const run = client();
      run.session.beginRequest(1, []);
      feed(run, pieces);
      assert.equal(run.returns.at(-1), -1);
      expectError(run.session.error, code);
    });
  }

  test('finish() with a request in flight is ERR_FASTCGI_TRUNCATED', () => {
    const run = client();
    run.session.beginRequest(1, []);
    feed(run, [encodeStdout(1, Buffer.from('partial'))]);
    expectError(run.session.finish(), 'ERR_FASTCGI_TRUNCATED');
  });

  test('beginRequest refuses the null id and an id in flight; abortRequest only for one in flight', () => {
    const session = client().session;
    assert.throws(() => session.beginRequest(0, []), RangeError);
    session.beginRequest(1, []);
    assert.throws(() => session.beginRequest(1, []), RangeError);
    assert.deepEqual(session.abortRequest(1), encodeAbortRequest(1));
    assert.equal(session.abortRequest(2).length, 0);
  });

  test('client and server sessions talk to each other', () => {
    const c = client();
    const s = server();
    const toServer = c.session.beginRequest(5, ['REQUEST_METHOD', 'POST', 'CONTENT_LENGTH', '4'], { keepConn: true, stdin: Buffer.from('ping') });
    feed(s, [toServer]);
    assert.deepEqual(s.events, [
      ['begin', 5, FCGI_RESPONDER, true],
      ['params', 5, ['REQUEST_METHOD', 'POST', 'CONTENT_LENGTH', '4']],
      ['stdin', 5, 'ping'],
      ['stdinEnd', 5],
    ]);
    feed(c, [encodeStdout(5, Buffer.from('Status: 200 OK\r\n\r\npong')), s.session.endRequest(5)]);
    assert.deepEqual(c.events, [
      ['stdout', 5, 'Status: 200 OK\r\n\r\npong'],
      ['end', 5, 0, FCGI_REQUEST_COMPLETE],
    ]);
  });
});

// ---------------------------------------------------------------------------------------------
// Properties

const latin1String = (maxLength: number): fc.Arbitrary<string> =>
  fc.uint8Array({ maxLength }).map((a) => Buffer.from(a).toString('latin1'));

/** Names and values: mostly short, some over 127 (4-byte lengths), some empty. */
const pairArb = fc.tuple(fc.oneof(latin1String(20), latin1String(300)), fc.oneof(latin1String(10), latin1String(400), fc.constant('')));

interface RequestModel {
  id: number;
  keepConn: boolean;
  vars: string[];
  stdin: Buffer;
  paramCuts: number[];
  stdinCuts: number[];
}

const requestsArb: fc.Arbitrary<RequestModel[]> = fc
  .uniqueArray(fc.integer({ min: 1, max: 0xffff }), { minLength: 1, maxLength: 4 })
  .chain((ids) =>
    fc.tuple(
      ...ids.map((id) =>
        fc.record({
          id: fc.constant(id),
          keepConn: fc.boolean(),
          vars: fc.array(pairArb, { maxLength: 8 }).map((pairs) => pairs.flat()),
          stdin: fc.uint8Array({ maxLength: 3000 }).map((a) => Buffer.from(a)),
          paramCuts: fc.array(fc.nat(), { maxLength: 4 }),
          stdinCuts: fc.array(fc.nat(), { maxLength: 4 }),
        }),
      ),
    ),
  );

interface LabelledRecord {
  bytes: Buffer;
  event: ServerEvent | null;
}

/** A request as records cut at arbitrary points (pairs split across records included), each
 *  labelled with the server event it causes. */
function requestRecords(r: RequestModel): LabelledRecord[] {
  const out: LabelledRecord[] = [{ bytes: encodeBeginRequest(r.id, FCGI_RESPONDER, r.keepConn), event: ['begin', r.id, FCGI_RESPONDER, r.keepConn] }];
  for (const piece of splitAt(encodeNameValuePairs(r.vars), r.paramCuts)) {
    if (piece.length > 0) out.push({ bytes: encodeRecord(FCGI_PARAMS, r.id, piece), event: null });
  }
  out.push({ bytes: encodeStreamEnd(FCGI_PARAMS, r.id), event: ['params', r.id, r.vars] });
  for (const piece of splitAt(r.stdin, r.stdinCuts)) {
    if (piece.length > 0) out.push({ bytes: encodeRecord(FCGI_STDIN, r.id, piece), event: ['stdin', r.id, piece.toString('latin1')] });
  }
  out.push({ bytes: encodeStdinEnd(r.id), event: ['stdinEnd', r.id] });
  return out;
}

function interleave(lists: LabelledRecord[][], picks: number[]): LabelledRecord[] {
  const queues = lists.map((l) => [...l]);
  const out: LabelledRecord[] = [];
  let k = 0;
  for (;;) {
    const open = queues.filter((q) => q.length > 0);
    if (open.length === 0) return out;
    const queue = open[(picks[k++ % Math.max(picks.length, 1)] ?? 0) % open.length];
    const next = queue?.shift();
    if (next !== undefined) out.push(next);
  }
}

describe('fastcgi: properties', () => {
  test('random splits of a multiplexed multi-request stream decode the same', () => {
    fc.assert(
      fc.property(requestsArb, fc.array(fc.nat(), { maxLength: 40 }), fc.array(fc.nat(), { maxLength: 12 }), (requests, picks, cuts) => {
        const records = interleave(requests.map(requestRecords), picks);
        const stream = Buffer.concat(records.map((r) => r.bytes));
        const expected = mergeChunks(
          records.flatMap((r) => (r.event === null ? [] : [r.event])),
          ['stdin'],
        );
        const whole = server();
        feed(whole, [stream]);
        assert.equal(whole.session.error, null, whole.session.error?.message);
        assert.deepEqual(mergeChunks(whole.events, ['stdin']), expected);
        const split = server();
        feed(split, splitAt(stream, cuts));
        assert.equal(split.session.error, null);
        assert.deepEqual(mergeChunks(split.events, ['stdin']), expected);
      }),
      { numRuns: 200 },
    );
  });

  test('encode -> decode identity: encodeFcgiRequest vars and stdin (4-byte lengths, several PARAMS/STDIN records)', () => {
    const bigPair = fc.tuple(latin1String(40), fc.integer({ min: 20000, max: 70000 }).map((n) => 'v'.repeat(n)));
    fc.assert(
      fc.property(
        fc.array(fc.oneof({ weight: 6, arbitrary: pairArb }, { weight: 1, arbitrary: bigPair }), { maxLength: 12 }).map((pairs) => pairs.flat()),
        fc.oneof(fc.uint8Array({ maxLength: 2000 }), fc.integer({ min: 65000, max: 140000 }).map((n) => new Uint8Array(n).fill(7))),
        fc.boolean(),
        fc.integer({ min: 1, max: 0xffff }),
        fc.array(fc.nat(), { maxLength: 6 }),
        (vars, body, keepConn, id, cuts) => {
          const stdin = Buffer.from(body);
          const request = encodeFcgiRequest(id, vars, { keepConn, stdin });
          const run = server({ maxParamsBytes: 1 << 22 });
          feed(run, splitAt(request, cuts));
          assert.equal(run.session.error, null, run.session.error?.message);
          const events = mergeChunks(run.events, ['stdin']);
          const expected: ServerEvent[] = [['begin', id, FCGI_RESPONDER, keepConn], ['params', id, vars]];
          if (stdin.length > 0) expected.push(['stdin', id, stdin.toString('latin1')]);
          expected.push(['stdinEnd', id]);
          assert.deepEqual(events, expected);

          // php-fpm compatibility: every PARAMS record fits 0xfff8 and, when every pair fits a
          // record, each record holds whole pairs (php-fpm parses records one by one).
          const everyPairFits = encodeNameValuePairsLengths(vars).every((n) => n <= FCGI_MAX_ALIGNED_CONTENT);
          const paramsRecords: Buffer[] = [];
          const decoder = new FcgiRecordDecoder({ onRecord: (type, _i, c) => type === FCGI_PARAMS && c.length > 0 && paramsRecords.push(Buffer.from(c)) });
          assert.equal(decoder.execute(request), request.length);
          for (const record of paramsRecords) {
            assert.ok(record.length <= FCGI_MAX_ALIGNED_CONTENT);
            if (everyPairFits) assert.ok(Array.isArray(decodeNameValuePairs(record, 1 << 22)), 'no pair split across PARAMS records');
          }
        },
      ),
      { numRuns: 120 },
    );
  });

  test('encode -> decode identity: stdout and stderr bodies through the client session, any split', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.uint8Array({ maxLength: 3000 }), fc.integer({ min: 65000, max: 200000 }).map((n) => new Uint8Array(n).fill(0x41))),
        fc.uint8Array({ maxLength: 300 }),
        fc.nat(),
        fc.array(fc.nat(), { maxLength: 8 }),
        (out, err, appStatus, cuts) => {
          const stdout = Buffer.from(out);
          const stderr = Buffer.from(err);
          const response = Buffer.concat([encodeStdout(1, stdout.subarray(0, 100)), encodeStderr(1, stderr), encodeStdout(1, stdout.subarray(100)), encodeResponseEnd(1, appStatus)]);
          const run = client();
          run.session.beginRequest(1, []);
          feed(run, splitAt(response, cuts));
          assert.equal(run.session.error, null);
          const text = (kind: string): string => run.events.filter((e) => e[0] === kind).map((e) => String(e[2])).join('');
          assert.equal(text('stdout'), stdout.toString('latin1'));
          assert.equal(text('stderr'), stderr.toString('latin1'));
          assert.deepEqual(run.events.at(-1), ['end', 1, appStatus >>> 0, FCGI_REQUEST_COMPLETE]);
        },
      ),
      { numRuns: 100 },
    );
  });

  /** Random records with plausible headers (so decoding goes past the version check). */
  const randomRecord = fc
    .record({
      version: fc.oneof({ weight: 20, arbitrary: fc.constant(1) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 255 }) }),
      type: fc.integer({ min: 0, max: 14 }),
      id: fc.integer({ min: 0, max: 3 }),
      content: fc.uint8Array({ maxLength: 40 }),
      padding: fc.integer({ min: 0, max: 9 }),
    })
    .map((r) => rawRecord(r.type, r.id, Buffer.from(r.content), r.padding, r.version));
  /** Well-formed records in random order, so sessions reach their deeper states. */
  const id = fc.oneof({ weight: 1, arbitrary: fc.constant(0) }, { weight: 6, arbitrary: fc.integer({ min: 1, max: 2 }) });
  const plausibleRecord = fc.oneof(
    fc.tuple(id, fc.oneof({ weight: 4, arbitrary: fc.constant(FCGI_RESPONDER) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 3 }) }), fc.integer({ min: 0, max: 1 })).map(([i, role, keep]) => rawRecord(FCGI_BEGIN_REQUEST, i, [0, role, keep, 0, 0, 0, 0, 0])),
    fc.tuple(id, fc.array(pairArb, { maxLength: 3 })).map(([i, pairs]) => rawRecord(FCGI_PARAMS, i, encodeNameValuePairs(pairs.flat()), 3)),
    fc.tuple(id, fc.integer({ min: FCGI_ABORT_REQUEST, max: FCGI_GET_VALUES_RESULT })).map(([i, type]) => rawRecord(type, i, [])),
    fc.tuple(id, fc.uint8Array({ maxLength: 20 })).map(([i, c]) => rawRecord(FCGI_STDIN, i, Buffer.from(c), 1)),
    fc.tuple(id, fc.uint8Array({ maxLength: 20 })).map(([i, c]) => rawRecord(FCGI_STDOUT, i, Buffer.from(c))),
    id.map((i) => rawRecord(FCGI_END_REQUEST, i, [0, 0, 0, 1, 0, 0, 0, 0])),
    fc.constant(encodeGetValues([FCGI_MAX_CONNS, FCGI_MPXS_CONNS])),
  );
  /** Valid multiplexed streams with records dropped, repeated, swapped or bit-flipped. */
  const mutated = fc
    .tuple(requestsArb, fc.array(fc.tuple(fc.nat(), fc.nat(), fc.integer({ min: 0, max: 3 })), { minLength: 1, maxLength: 4 }))
    .map(([requests, ops]) => {
      const records = interleave(requests.map(requestRecords), []).map((r) => Buffer.from(r.bytes));
      for (const [a, b, kind] of ops) {
        const i = a % records.length;
        const record = records[i];
        if (record === undefined) continue;
        if (kind === 0) records.splice(i, 1);
        else if (kind === 1) records.splice(i, 0, record);
        else if (kind === 2) [records[i], records[b % records.length]] = [records[b % records.length] ?? record, record];
        else record[b % record.length] ^= 1 << (b % 8);
      }
      return Buffer.concat(records);
    });
  const noise = fc.oneof(
    mutated,
    fc.uint8Array({ maxLength: 400 }).map((a) => Buffer.from(a)),
    fc.array(randomRecord, { maxLength: 12 }).map((rs) => Buffer.concat(rs)),
    fc.array(fc.oneof(plausibleRecord, randomRecord), { maxLength: 24 }).map((rs) => Buffer.concat(rs)),
  );

  test('random bytes never throw out of execute and never loop', () => {
    fc.assert(
      fc.property(noise, fc.array(fc.nat(), { maxLength: 6 }), (data, cuts) => {
        const pieces = splitAt(data, cuts);
        const sessions = [server().session, server({ mpxsConns: false, maxReqs: 1, maxParamsBytes: 16 }).session];
        for (const session of sessions) {
          let failed = false;
          for (const piece of pieces) {
            const n = session.execute(piece);
            if (failed) assert.equal(n, -1);
            else assert.ok(n === piece.length || n === -1);
            if (n < 0) failed = true;
          }
          const error = session.finish();
          assert.ok(error === null || error instanceof FastcgiError);
        }
        const c = client().session;
        c.beginRequest(1, []);
        c.beginRequest(2, []);
        for (const piece of pieces) {
          const n = c.execute(piece);
          assert.ok(n === piece.length || n === -1);
        }
        assert.ok(c.finish() === null || c.error instanceof FastcgiError);
        const nv = new FcgiNameValueDecoder(200);
        for (const piece of pieces) nv.write(piece);
        const end = nv.end();
        assert.ok(end === null || end instanceof FastcgiError);
      }),
      { numRuns: 1000 },
    );
  });
});

function encodeNameValuePairsLengths(vars: string[]): number[] {
  const out: number[] = [];
  for (let i = 0; i < vars.length; i += 2) out.push(encodeNameValuePairs([vars[i] ?? '', vars[i + 1] ?? '']).length);
  return out;
}
