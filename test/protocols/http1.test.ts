import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  CHUNK_TRAILER,
  DEFAULT_HTTP1_LIMITS,
  HTTP1_ERROR_STATUS,
  Http1RequestParser,
  HttpParseError,
  LAST_CHUNK,
  chunkHeader,
  reasonPhrase,
  type Http1ErrorCode,
  type Http1Limits,
  type RequestHead,
} from '../../src/protocols/http1.js';
import { TsgiError } from '../../src/errors.js';

// ---------------------------------------------------------------------------------------------
// Helpers

interface Message {
  head: RequestHead;
  body: Buffer[];
  complete: boolean;
}

interface Run {
  messages: Message[];
  error: HttpParseError | null;
  /** What each execute() call returned, in order. */
  returns: number[];
  parser: Http1RequestParser;
}

function recorder(limits?: Partial<Http1Limits>): { parser: Http1RequestParser; messages: Message[] } {
  const messages: Message[] = [];
  const parser = new Http1RequestParser(
    {
      onHead(head) {
        messages.push({ head, body: [], complete: false });
      },
      onBody(chunk) {
        assert.ok(chunk.length > 0, 'onBody is never called with an empty chunk');
        const last = messages[messages.length - 1];
        assert.ok(last !== undefined && !last.complete, 'body bytes belong to an open message');
        last.body.push(chunk);
      },
      onComplete() {
        const last = messages[messages.length - 1];
        assert.ok(last !== undefined && !last.complete, 'one onComplete per message');
        last.complete = true;
      },
    },
    limits,
  );
  return { parser, messages };
}

/** Feeds each piece, calling execute again with the rest after every completed message. */
function feed(pieces: Array<Buffer | string>, limits?: Partial<Http1Limits>): Run {
  const { parser, messages } = recorder(limits);
  const returns: number[] = [];
  for (const piece of pieces) {
    const data = typeof piece === 'string' ? Buffer.from(piece, 'latin1') : piece;
    let offset = 0;
    while (offset < data.length) {
      const n = parser.execute(data, offset);
      returns.push(n);
      if (n < 0) return { messages, error: parser.error, returns, parser };
      assert.ok(n > 0, 'execute makes progress on non-empty input');
      offset += n;
    }
  }
  return { messages, error: parser.error, returns, parser };
}

function parse(input: Buffer | string, limits?: Partial<Http1Limits>): Run {
  return feed([input], limits);
}

function only(input: Buffer | string, limits?: Partial<Http1Limits>): RequestHead {
  const run = parse(input, limits);
  assert.equal(run.error, null, run.error?.message);
  assert.equal(run.messages.length, 1);
  const message = run.messages[0];
  assert.ok(message !== undefined && message.complete);
  return message.head;
}

function rejects(input: Buffer | string, code: Http1ErrorCode, status: number, limits?: Partial<Http1Limits>): HttpParseError {
  const run = parse(input, limits);
  const error = run.error;
  assert.ok(error instanceof HttpParseError, `expected ${code}, got no error`);
  assert.equal(error.code, code, error.message);
  assert.equal(error.status, status);
  assert.equal(run.returns[run.returns.length - 1], -1);
  return error;
}

function bodyOf(message: Message | undefined): string {
  assert.ok(message !== undefined);
  return Buffer.concat(message.body).toString('latin1');
}

const H = 'Host: example.com\r\n';

// ---------------------------------------------------------------------------------------------
// Request line

describe('http1: request line', () => {
  test('parses a simple GET into the RequestHead shape', () => {
    const head = only('GET /a%20b?x=1 HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n');
    assert.deepEqual(head, {
      method: 'GET',
      target: '/a%20b?x=1',
      versionMinor: 1,
      headers: ['Host', 'example.com', 'Accept', '*/*'],
      contentLength: -1,
      chunked: false,
      keepAlive: true,
      expectContinue: false,
      upgrade: false,
      host: 'example.com',
    });
  });

  test('accepts bare LF line ends (nginx does)', () => {
    const head = only('GET / HTTP/1.1\nHost: a\nX-A: 1\n\n');
    assert.deepEqual(head.headers, ['Host', 'a', 'X-A', '1']);
  });

  test('accepts mixed CRLF and LF line ends in the head', () => {
    const head = only('GET / HTTP/1.1\r\nHost: a\nX-A: 1\r\n\n');
    assert.deepEqual(head.headers, ['Host', 'a', 'X-A', '1']);
  });

  test('ignores empty lines before the request line (RFC 9112 §2.2) and stays idle meanwhile', () => {
    const { parser, messages } = recorder();
    const blank = Buffer.from('\r\n\n\r\n');
    assert.equal(parser.execute(blank), blank.length);
    assert.equal(parser.idle, true);
    assert.equal(parser.bufferedHeadBytes, 0);
    const request = Buffer.from('GET / HTTP/1.1\r\n' + H + '\r\n');
    assert.equal(parser.execute(request), request.length);
    assert.equal(messages.length, 1);
  });

  test('accepts runs of SP between the parts and after the version (nginx does)', () => {
    const head = only('GET   /x   HTTP/1.1  \r\n' + H + '\r\n');
    assert.equal(head.method, 'GET');
    assert.equal(head.target, '/x');
  });

  test('keeps custom methods made of A-Z, _ and -', () => {
    assert.equal(only('M-SEARCH /x HTTP/1.1\r\n' + H + '\r\n').method, 'M-SEARCH');
    assert.equal(only('PROPFIND /d HTTP/1.1\r\n' + H + '\r\n').method, 'PROPFIND');
  });

  test('rejects a lower-case method with 400 ERR_HTTP_BAD_METHOD (nginx sw_method)', () => {
    rejects('get / HTTP/1.1\r\n' + H + '\r\n', 'ERR_HTTP_BAD_METHOD', 400);
  });

  test('rejects a method with a non-token byte', () => {
    rejects('GE(T / HTTP/1.1\r\n' + H + '\r\n', 'ERR_HTTP_BAD_METHOD', 400);
  });

  test('rejects a request line that starts with a space (empty method)', () => {
    rejects(' GET / HTTP/1.1\r\n' + H + '\r\n', 'ERR_HTTP_BAD_METHOD', 400);
  });

  test('rejects a method with no target', () => {
    rejects('GET\r\n' + H + '\r\n', 'ERR_HTTP_BAD_METHOD', 400);
  });

  test('rejects HTTP/0.9 (no version) with 400 ERR_HTTP_BAD_REQUEST_LINE', () => {
    rejects('GET /\r\n\r\n', 'ERR_HTTP_BAD_REQUEST_LINE', 400);
    rejects('GET / \r\n\r\n', 'ERR_HTTP_BAD_REQUEST_LINE', 400);
  });

  test('rejects a misspelled protocol name', () => {
    rejects('GET / HTTX/1.1\r\n' + H + '\r\n', 'ERR_HTTP_BAD_REQUEST_LINE', 400);
    rejects('GET / http/1.1\r\n' + H + '\r\n', 'ERR_HTTP_BAD_REQUEST_LINE', 400);
  });

  test('rejects malformed version numbers with 400', () => {
    for (const version of ['HTTP/1', 'HTTP/1.', 'HTTP/1.x', 'HTTP/0.9', 'HTTP/1.1x', 'HTTP/1.1000', 'HTTP/.1']) {
      rejects(`GET / ${version}\r\n${H}\r\n`, 'ERR_HTTP_BAD_REQUEST_LINE', 400);
    }
  });

  test('rejects text after the version', () => {
    rejects('GET / HTTP/1.1 extra\r\n' + H + '\r\n', 'ERR_HTTP_BAD_REQUEST_LINE', 400);
  });

  test('rejects a bare CR at the end of the request line', () => {
    rejects('GET / HTTP/1.1\rHost: a\r\n\r\n', 'ERR_HTTP_BARE_CR', 400);
  });

  test('answers 505 ERR_HTTP_VERSION for a major version other than 1', () => {
    for (const version of ['HTTP/2.0', 'HTTP/3.0', 'HTTP/2', 'HTTP/10.0', 'HTTP/9.9']) {
      rejects(`GET / ${version}\r\n${H}\r\n`, 'ERR_HTTP_VERSION', 505);
    }
  });

  test('reads HTTP/1.0 as versionMinor 0 and HTTP/1.2+ as 1', () => {
    assert.equal(only('GET / HTTP/1.0\r\n\r\n').versionMinor, 0);
    assert.equal(only('GET / HTTP/1.2\r\n' + H + '\r\n').versionMinor, 1);
    assert.equal(only('GET / HTTP/1.10\r\n' + H + '\r\n').versionMinor, 1);
  });

  test('answers 414 ERR_HTTP_REQUEST_LINE_TOO_LONG past maxRequestLineBytes', () => {
    const target = '/' + 'a'.repeat(100);
    const line = `GET ${target} HTTP/1.1\r\n`;
    rejects(line + H + '\r\n', 'ERR_HTTP_REQUEST_LINE_TOO_LONG', 414, { maxRequestLineBytes: line.length - 1 });
    assert.equal(only(line + H + '\r\n', { maxRequestLineBytes: line.length }).target, target);
  });

  test('answers 414 for a long request line that arrives in pieces, before it ends', () => {
    const pieces = ['GET /', 'a'.repeat(5000), 'a'.repeat(5000)];
    const run = feed(pieces);
    assert.equal(run.error?.code, 'ERR_HTTP_REQUEST_LINE_TOO_LONG');
    assert.equal(run.error?.status, 414);
  });

  test('rejects control bytes in the target with 400 ERR_HTTP_BAD_TARGET (nginx sw_check_uri)', () => {
    rejects('GET /a\x01b HTTP/1.1\r\n' + H + '\r\n', 'ERR_HTTP_BAD_TARGET', 400);
    rejects('GET /a\tb HTTP/1.1\r\n' + H + '\r\n', 'ERR_HTTP_BAD_TARGET', 400);
    rejects('GET /a\x7fb HTTP/1.1\r\n' + H + '\r\n', 'ERR_HTTP_BAD_TARGET', 400);
  });

  test('keeps raw bytes above 0x7f in the target as latin1 (nginx accepts raw UTF-8)', () => {
    const request = Buffer.concat([Buffer.from('GET /caf'), Buffer.from('\u00e9', 'utf8'), Buffer.from(' HTTP/1.1\r\n' + H + '\r\n')]);
    assert.equal(only(request).target, '/caf\u00c3\u00a9');
  });
});

describe('http1: request-target forms (RFC 9112 §3.2)', () => {
  test('origin-form', () => {
    assert.equal(only('GET /p/q?x=1#f HTTP/1.1\r\n' + H + '\r\n').target, '/p/q?x=1#f');
  });

  test('absolute-form is kept as given', () => {
    assert.equal(only('GET http://example.com/p?q HTTP/1.1\r\n' + H + '\r\n').target, 'http://example.com/p?q');
    assert.equal(only('GET https://example.com HTTP/1.1\r\n' + H + '\r\n').target, 'https://example.com');
  });

  test('absolute-form with an empty host is rejected (RFC 9110 §4.2.1)', () => {
    rejects('GET http:///p HTTP/1.1\r\n' + H + '\r\n', 'ERR_HTTP_BAD_TARGET', 400);
  });

  test('a target that is no form at all is rejected', () => {
    rejects('GET p/q HTTP/1.1\r\n' + H + '\r\n', 'ERR_HTTP_BAD_TARGET', 400);
    rejects('GET http:/p HTTP/1.1\r\n' + H + '\r\n', 'ERR_HTTP_BAD_TARGET', 400);
    rejects('GET 1http://a/ HTTP/1.1\r\n' + H + '\r\n', 'ERR_HTTP_BAD_TARGET', 400);
  });

  test('asterisk-form only with OPTIONS', () => {
    assert.equal(only('OPTIONS * HTTP/1.1\r\n' + H + '\r\n').target, '*');
    rejects('GET * HTTP/1.1\r\n' + H + '\r\n', 'ERR_HTTP_BAD_TARGET', 400);
    rejects('OPTIONS *x HTTP/1.1\r\n' + H + '\r\n', 'ERR_HTTP_BAD_TARGET', 400);
  });

  test('authority-form only with CONNECT', () => {
    assert.equal(only('CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n').target, 'example.com:443');
    assert.equal(only('CONNECT [::1]:8443 HTTP/1.1\r\nHost: [::1]:8443\r\n\r\n').target, '[::1]:8443');
    rejects('GET example.com:443 HTTP/1.1\r\n' + H + '\r\n', 'ERR_HTTP_BAD_TARGET', 400);
  });

  test('CONNECT with anything but authority-form is rejected', () => {
    rejects('CONNECT / HTTP/1.1\r\n' + H + '\r\n', 'ERR_HTTP_BAD_TARGET', 400);
    rejects('CONNECT example.com HTTP/1.1\r\n' + H + '\r\n', 'ERR_HTTP_BAD_TARGET', 400);
    rejects('CONNECT http://example.com:80/ HTTP/1.1\r\n' + H + '\r\n', 'ERR_HTTP_BAD_TARGET', 400);
    rejects('CONNECT user@example.com:80 HTTP/1.1\r\n' + H + '\r\n', 'ERR_HTTP_BAD_TARGET', 400);
  });
});

// ---------------------------------------------------------------------------------------------
// Header fields

describe('http1: header fields', () => {
  test('keeps names as sent and trims OWS around values', () => {
    const head = only('GET / HTTP/1.1\r\nhOsT: a\r\nX-Empty:\r\nX-Pad: \t v a l \t \r\n\r\n');
    assert.deepEqual(head.headers, ['hOsT', 'a', 'X-Empty', '', 'X-Pad', 'v a l']);
    assert.equal(head.host, 'a');
  });

  test('takes HTAB and obs-text (latin1) inside values', () => {
    const request = Buffer.concat([Buffer.from('GET / HTTP/1.1\r\n' + H + 'X: a\tb'), Buffer.from('\u00e9\u00ff', 'latin1'), Buffer.from('\r\n\r\n')]);
    assert.deepEqual(only(request).headers.slice(2), ['X', 'a\tb\u00e9\u00ff']);
  });

  test('takes every tchar in a name', () => {
    const name = "!#$%&'*+-.^_`|~09azAZ";
    assert.equal(only(`GET / HTTP/1.1\r\n${H}${name}: v\r\n\r\n`).headers[2], name);
  });

  test('rejects a name with a non-token byte with 400 ERR_HTTP_BAD_HEADER_NAME (RFC 9112 §5.1)', () => {
    rejects('GET / HTTP/1.1\r\n' + H + 'Fo(o: bar\r\n\r\n', 'ERR_HTTP_BAD_HEADER_NAME', 400);
    rejects('GET / HTTP/1.1\r\n' + H + 'Fo"o: bar\r\n\r\n', 'ERR_HTTP_BAD_HEADER_NAME', 400);
    rejects('GET / HTTP/1.1\r\n' + H + 'Fo\x00o: bar\r\n\r\n', 'ERR_HTTP_BAD_HEADER_NAME', 400);
  });

  test('rejects whitespace between the name and the colon (smuggling, RFC 9112 §5.1)', () => {
    rejects('POST / HTTP/1.1\r\n' + H + 'Transfer-Encoding : chunked\r\n\r\n', 'ERR_HTTP_BAD_HEADER_NAME', 400);
    rejects('POST / HTTP/1.1\r\n' + H + 'Content-Length\t: 1\r\n\r\nx', 'ERR_HTTP_BAD_HEADER_NAME', 400);
  });

  test('rejects a field line without a colon', () => {
    rejects('GET / HTTP/1.1\r\n' + H + 'NoColon\r\n\r\n', 'ERR_HTTP_BAD_HEADER_NAME', 400);
  });

  test('rejects an empty field name', () => {
    rejects('GET / HTTP/1.1\r\n' + H + ': value\r\n\r\n', 'ERR_HTTP_BAD_HEADER_NAME', 400);
  });

  test('rejects whitespace between the request line and the first field (RFC 9112 §2.2)', () => {
    rejects('GET / HTTP/1.1\r\n Host: a\r\n\r\n', 'ERR_HTTP_BAD_HEADER_NAME', 400);
  });

  test('rejects obsolete line folding with 400 ERR_HTTP_OBS_FOLD (RFC 9112 §5.2)', () => {
    rejects('GET / HTTP/1.1\r\n' + H + 'X-A: one\r\n two\r\n\r\n', 'ERR_HTTP_OBS_FOLD', 400);
    rejects('GET / HTTP/1.1\r\n' + H + 'X-A: one\r\n\ttwo\r\n\r\n', 'ERR_HTTP_OBS_FOLD', 400);
  });

  test('rejects NUL in a value with 400 ERR_HTTP_BAD_HEADER_VALUE', () => {
    rejects('GET / HTTP/1.1\r\n' + H + 'X: a\x00b\r\n\r\n', 'ERR_HTTP_BAD_HEADER_VALUE', 400);
  });

  test('rejects other control bytes and DEL in a value', () => {
    for (const ctl of ['\x01', '\x08', '\x0b', '\x0c', '\x1b', '\x1f', '\x7f']) {
      rejects(`GET / HTTP/1.1\r\n${H}X: a${ctl}b\r\n\r\n`, 'ERR_HTTP_BAD_HEADER_VALUE', 400);
    }
  });

  test('rejects a bare CR inside a header line (RFC 9112 §2.2)', () => {
    rejects('GET / HTTP/1.1\r\n' + H + 'X: a\rb\r\n\r\n', 'ERR_HTTP_BARE_CR', 400);
    rejects('GET / HTTP/1.1\r\n' + H + '\rX\r\n\r\n', 'ERR_HTTP_BARE_CR', 400);
  });

  test('rejects a head over maxHeaderBytes with 400 ERR_HTTP_HEADER_TOO_LARGE (nginx 494)', () => {
    const request = 'GET / HTTP/1.1\r\n' + H + 'X: ' + 'v'.repeat(200) + '\r\n\r\n';
    rejects(request, 'ERR_HTTP_HEADER_TOO_LARGE', 400, { maxHeaderBytes: request.length - 1 });
    assert.equal(only(request, { maxHeaderBytes: request.length }).headers.length, 4);
  });

  test('rejects a head over maxHeaderBytes that arrives in small pieces', () => {
    const pieces = ['GET / HTTP/1.1\r\n', H];
    for (let i = 0; i < 100; i++) pieces.push(`X-${i}: ${'v'.repeat(20)}\r\n`);
    const run = feed(pieces, { maxHeaderBytes: 1024, maxHeaderCount: 1000 });
    assert.equal(run.error?.code, 'ERR_HTTP_HEADER_TOO_LARGE');
    assert.equal(run.error?.status, 400);
  });

  test('rejects more than maxHeaderCount fields with 400 ERR_HTTP_TOO_MANY_HEADERS', () => {
    let fields = H;
    for (let i = 0; i < 4; i++) fields += `X-${i}: v\r\n`;
    rejects('GET / HTTP/1.1\r\n' + fields + '\r\n', 'ERR_HTTP_TOO_MANY_HEADERS', 400, { maxHeaderCount: 4 });
    assert.equal(only('GET / HTTP/1.1\r\n' + fields + '\r\n', { maxHeaderCount: 5 }).headers.length, 10);
  });

  test('the defaults follow nginx sizes', () => {
    assert.deepEqual({ ...DEFAULT_HTTP1_LIMITS }, { maxHeaderBytes: 65536, maxHeaderCount: 100, maxRequestLineBytes: 8192 });
  });
});

describe('http1: Host', () => {
  test('rejects HTTP/1.1 without Host with 400 ERR_HTTP_MISSING_HOST', () => {
    rejects('GET / HTTP/1.1\r\nAccept: */*\r\n\r\n', 'ERR_HTTP_MISSING_HOST', 400);
    rejects('GET http://example.com/ HTTP/1.1\r\n\r\n', 'ERR_HTTP_MISSING_HOST', 400);
  });

  test('HTTP/1.0 may omit Host', () => {
    assert.equal(only('GET / HTTP/1.0\r\n\r\n').host, '');
  });

  test('rejects a duplicate Host with 400 ERR_HTTP_DUPLICATE_HEADER (ngx_http_process_host)', () => {
    rejects('GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n', 'ERR_HTTP_DUPLICATE_HEADER', 400);
  });

  test('rejects invalid Host values with 400 ERR_HTTP_BAD_HOST (ngx_http_validate_host)', () => {
    for (const host of ['', 'a..b', 'a/b', 'a\\b', ':80', '.', '..', 'a b', 'a\tb']) {
      rejects(`GET / HTTP/1.1\r\nHost: ${host}\r\n\r\n`, 'ERR_HTTP_BAD_HOST', 400);
    }
  });

  test('accepts host:port, IP literals and a trailing dot', () => {
    for (const host of ['example.com:8080', '[::1]:80', '[::1]', 'example.com.', '127.0.0.1']) {
      assert.equal(only(`GET / HTTP/1.1\r\nHost: ${host}\r\n\r\n`).host, host);
    }
  });
});

describe('http1: Content-Length and Transfer-Encoding', () => {
  test('delivers a Content-Length body as subarrays of the input, without copying', () => {
    const input = Buffer.from('POST /p HTTP/1.1\r\n' + H + 'Content-Length: 5\r\n\r\nhello');
    const run = parse(input);
    const message = run.messages[0];
    assert.ok(message !== undefined && message.complete);
    assert.equal(message.head.contentLength, 5);
    assert.equal(bodyOf(message), 'hello');
    const chunk = message.body[0];
    assert.ok(chunk !== undefined);
    assert.equal(chunk.buffer, input.buffer);
    assert.equal(chunk.byteOffset, input.byteOffset + input.length - 5);
  });

  test('a body split over reads is counted down', () => {
    const run = feed(['POST /p HTTP/1.1\r\n' + H + 'Content-Length: 10\r\n\r\nabc', 'defg', 'hij']);
    assert.equal(run.error, null);
    assert.equal(bodyOf(run.messages[0]), 'abcdefghij');
    assert.equal(run.messages[0]?.complete, true);
  });

  test('no Content-Length and no chunked: empty body, onComplete right after onHead', () => {
    const { parser, messages } = recorder();
    const input = Buffer.from('POST / HTTP/1.1\r\n' + H + '\r\nGET');
    assert.equal(parser.execute(input), input.length - 3);
    assert.equal(messages.length, 1);
    assert.equal(messages[0]?.head.contentLength, -1);
    assert.equal(messages[0]?.complete, true);
    assert.equal(messages[0]?.body.length, 0);
    assert.equal(parser.idle, true);
  });

  test('Content-Length: 0 completes at once', () => {
    const head = only('POST / HTTP/1.1\r\n' + H + 'Content-Length: 0\r\n\r\n');
    assert.equal(head.contentLength, 0);
  });

  test('Content-Length with leading zeros and the largest safe integer', () => {
    assert.equal(parse('POST / HTTP/1.1\r\n' + H + 'Content-Length: 007\r\n\r\n').messages[0]?.head.contentLength, 7);
    const run = parse('POST / HTTP/1.1\r\n' + H + 'Content-Length: 9007199254740991\r\n\r\n');
    assert.equal(run.error, null);
    assert.equal(run.messages[0]?.head.contentLength, Number.MAX_SAFE_INTEGER);
  });

  test('rejects duplicate Content-Length with different values (400 ERR_HTTP_DUPLICATE_HEADER)', () => {
    rejects('POST / HTTP/1.1\r\n' + H + 'Content-Length: 1\r\nContent-Length: 2\r\n\r\nxx', 'ERR_HTTP_DUPLICATE_HEADER', 400);
  });

  test('rejects duplicate Content-Length even with equal values, as nginx does', () => {
    rejects('POST / HTTP/1.1\r\n' + H + 'Content-Length: 1\r\ncontent-length: 1\r\n\r\nx', 'ERR_HTTP_DUPLICATE_HEADER', 400);
  });

  test('rejects non-numeric, signed, listed, spaced and overflowing Content-Length (ERR_HTTP_BAD_CONTENT_LENGTH)', () => {
    for (const value of ['abc', '-1', '+5', '1 2', '5, 5', '0x10', '1.0', '9007199254740992', '99999999999999999999', '']) {
      rejects(`POST / HTTP/1.1\r\n${H}Content-Length: ${value}\r\n\r\n`, 'ERR_HTTP_BAD_CONTENT_LENGTH', 400);
    }
  });

  test('rejects Content-Length together with Transfer-Encoding (RFC 9112 §6.1, nginx >= 1.21.1)', () => {
    rejects(
      'POST / HTTP/1.1\r\n' + H + 'Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
      'ERR_HTTP_CONTENT_LENGTH_AND_CHUNKED',
      400,
    );
    rejects(
      'POST / HTTP/1.1\r\n' + H + 'Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n',
      'ERR_HTTP_CONTENT_LENGTH_AND_CHUNKED',
      400,
    );
  });

  test('answers 501 ERR_HTTP_UNKNOWN_TRANSFER_ENCODING for anything but "chunked"', () => {
    for (const value of ['gzip', 'gzip, chunked', 'chunked, chunked', 'identity', 'chunked;q=1', '']) {
      rejects(`POST / HTTP/1.1\r\n${H}Transfer-Encoding: ${value}\r\n\r\n`, 'ERR_HTTP_UNKNOWN_TRANSFER_ENCODING', 501);
    }
  });

  test('an unknown Transfer-Encoding with Content-Length is 501, as in nginx', () => {
    rejects('POST / HTTP/1.1\r\n' + H + 'Content-Length: 1\r\nTransfer-Encoding: gzip\r\n\r\nx', 'ERR_HTTP_UNKNOWN_TRANSFER_ENCODING', 501);
  });

  test('"chunked" matches case-insensitively', () => {
    const head = only('POST / HTTP/1.1\r\n' + H + 'transfer-encoding: ChUnKeD\r\n\r\n0\r\n\r\n');
    assert.equal(head.chunked, true);
    assert.equal(head.contentLength, -1);
  });

  test('rejects a duplicate Transfer-Encoding', () => {
    rejects('POST / HTTP/1.1\r\n' + H + 'Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 'ERR_HTTP_DUPLICATE_HEADER', 400);
  });

  test('rejects Transfer-Encoding in an HTTP/1.0 request (400 ERR_HTTP_TRANSFER_ENCODING_HTTP10)', () => {
    rejects('POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 'ERR_HTTP_TRANSFER_ENCODING_HTTP10', 400);
  });

  test('HTTP/1.0 with Content-Length has a body', () => {
    const run = parse('POST / HTTP/1.0\r\nContent-Length: 2\r\n\r\nok');
    assert.equal(bodyOf(run.messages[0]), 'ok');
    assert.equal(run.messages[0]?.head.chunked, false);
  });

  test('checks run in nginx order: missing Host before a bad Content-Length', () => {
    rejects('POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n', 'ERR_HTTP_MISSING_HOST', 400);
  });
});

// ---------------------------------------------------------------------------------------------
// Chunked bodies

describe('http1: chunked bodies', () => {
  const HEAD = 'POST /up HTTP/1.1\r\n' + H + 'Transfer-Encoding: chunked\r\n\r\n';

  test('decodes chunks, ignores extensions, drops trailers', () => {
    const input = HEAD + '5;name=value;x\r\nhello\r\nA ; ext\r\n, world!!!\r\n0;last\r\nExpires: never\r\nX-Sum: 1\r\n\r\n';
    const run = parse(input);
    assert.equal(run.error, null, run.error?.message);
    assert.deepEqual(run.returns, [input.length]);
    const message = run.messages[0];
    assert.ok(message !== undefined && message.complete);
    assert.equal(message.head.chunked, true);
    assert.equal(bodyOf(message), 'hello, world!!!');
    assert.deepEqual(message.head.headers.slice(-2), ['Transfer-Encoding', 'chunked']);
  });

  test('delivers chunk data as subarrays of the input', () => {
    const input = Buffer.from(HEAD + '3\r\nabc\r\n0\r\n\r\n');
    const run = parse(input);
    const chunk = run.messages[0]?.body[0];
    assert.ok(chunk !== undefined);
    assert.equal(chunk.buffer, input.buffer);
  });

  test('hex sizes in either case', () => {
    const data = 'x'.repeat(parseInt('1a', 16));
    assert.equal(bodyOf(parse(HEAD + `1A\r\n${data}\r\n0\r\n\r\n`).messages[0]), data);
    assert.equal(bodyOf(parse(HEAD + `1a\r\n${data}\r\n0\r\n\r\n`).messages[0]), data);
  });

  test('an empty body is just the last chunk', () => {
    const run = parse(HEAD + '0\r\n\r\n');
    assert.equal(run.messages[0]?.complete, true);
    assert.equal(run.messages[0]?.body.length, 0);
  });

  test('rejects an invalid chunk size with 400 ERR_HTTP_BAD_CHUNK', () => {
    rejects(HEAD + 'zz\r\n', 'ERR_HTTP_BAD_CHUNK', 400);
    rejects(HEAD + '\r\n', 'ERR_HTTP_BAD_CHUNK', 400);
    rejects(HEAD + ' 5\r\nhello\r\n0\r\n\r\n', 'ERR_HTTP_BAD_CHUNK', 400);
    rejects(HEAD + '-1\r\n', 'ERR_HTTP_BAD_CHUNK', 400);
    rejects(HEAD + '5x\r\n', 'ERR_HTTP_BAD_CHUNK', 400);
  });

  test('rejects a chunk size that overflows', () => {
    rejects(HEAD + 'fffffffffffffffff\r\n', 'ERR_HTTP_BAD_CHUNK', 400);
  });

  test('rejects a bare LF in chunked framing (ngx_http_parse_chunked wants CRLF)', () => {
    rejects(HEAD + '5\nhello\r\n0\r\n\r\n', 'ERR_HTTP_BAD_CHUNK', 400);
    rejects(HEAD + '5;ext\nhello\r\n0\r\n\r\n', 'ERR_HTTP_BAD_CHUNK', 400);
    rejects(HEAD + '5\r\nhello\n0\r\n\r\n', 'ERR_HTTP_BAD_CHUNK', 400);
    rejects(HEAD + '0\r\n\n', 'ERR_HTTP_BAD_CHUNK', 400);
  });

  test('rejects chunk data longer than its size', () => {
    rejects(HEAD + '3\r\nabcd\r\n0\r\n\r\n', 'ERR_HTTP_BAD_CHUNK', 400);
  });

  test('rejects an endless chunk extension', () => {
    rejects(HEAD + '5;' + 'e'.repeat(5000) + '\r\nhello\r\n0\r\n\r\n', 'ERR_HTTP_BAD_CHUNK', 400);
  });

  test('rejects malformed trailer lines', () => {
    rejects(HEAD + '0\r\n bad\r\n\r\n', 'ERR_HTTP_BAD_CHUNK', 400);
    rejects(HEAD + '0\r\nNoColon\r\n\r\n', 'ERR_HTTP_BAD_CHUNK', 400);
    rejects(HEAD + '0\r\nX: a\x00b\r\n\r\n', 'ERR_HTTP_BAD_CHUNK', 400);
  });

  test('rejects trailers over maxHeaderBytes', () => {
    rejects(HEAD + '0\r\nX: ' + 'v'.repeat(300) + '\r\n\r\n', 'ERR_HTTP_HEADER_TOO_LARGE', 400, { maxHeaderBytes: 256 });
  });

  test('decodes the same when fed one byte at a time', () => {
    const input = Buffer.from(HEAD + '5;e=1\r\nhello\r\n1\r\n!\r\n0\r\nT: v\r\n\r\n');
    const run = feed([...input].map((byte) => Buffer.from([byte])));
    assert.equal(run.error, null, run.error?.message);
    assert.equal(bodyOf(run.messages[0]), 'hello!');
    assert.equal(run.messages[0]?.complete, true);
  });
});

// ---------------------------------------------------------------------------------------------
// Connection management

describe('http1: keep-alive, Expect, Upgrade', () => {
  const keepAlive = (request: string): boolean => only(request).keepAlive;

  test('HTTP/1.1 keeps the connection unless Connection: close', () => {
    assert.equal(keepAlive('GET / HTTP/1.1\r\n' + H + '\r\n'), true);
    assert.equal(keepAlive('GET / HTTP/1.1\r\n' + H + 'Connection: close\r\n\r\n'), false);
    assert.equal(keepAlive('GET / HTTP/1.1\r\n' + H + 'Connection: Keep-Alive, CLOSE\r\n\r\n'), false);
    assert.equal(keepAlive('GET / HTTP/1.1\r\n' + H + 'Connection: te\r\nConnection: close\r\n\r\n'), false);
  });

  test('HTTP/1.0 keeps the connection only with Connection: keep-alive', () => {
    assert.equal(keepAlive('GET / HTTP/1.0\r\n\r\n'), false);
    assert.equal(keepAlive('GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n'), true);
    assert.equal(keepAlive('GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n'), false);
  });

  test('Connection is read as tokens, not substrings', () => {
    assert.equal(keepAlive('GET / HTTP/1.1\r\n' + H + 'Connection: closed\r\n\r\n'), true);
    assert.equal(keepAlive('GET / HTTP/1.0\r\nConnection: not-keep-alive\r\n\r\n'), false);
  });

  test('expectContinue for Expect: 100-continue in any case, HTTP/1.1 only', () => {
    assert.equal(only('POST / HTTP/1.1\r\n' + H + 'Expect: 100-Continue\r\nContent-Length: 0\r\n\r\n').expectContinue, true);
    assert.equal(only('POST / HTTP/1.1\r\n' + H + 'Expect: something\r\n\r\n').expectContinue, false);
    assert.equal(only('POST / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n').expectContinue, false);
  });

  test('rejects a duplicate Expect, as nginx does', () => {
    rejects('POST / HTTP/1.1\r\n' + H + 'Expect: 100-continue\r\nExpect: 100-continue\r\n\r\n', 'ERR_HTTP_DUPLICATE_HEADER', 400);
  });

  test('upgrade needs an Upgrade header and the upgrade token in Connection', () => {
    assert.equal(only('GET /ws HTTP/1.1\r\n' + H + 'Connection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\r\n').upgrade, true);
    assert.equal(only('GET /ws HTTP/1.1\r\n' + H + 'Upgrade: websocket\r\n\r\n').upgrade, false);
    assert.equal(only('GET /ws HTTP/1.1\r\n' + H + 'Connection: upgrade\r\n\r\n').upgrade, false);
    assert.equal(only('GET /ws HTTP/1.0\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n').upgrade, false);
  });

  test('execute stops after each pipelined message', () => {
    const a = 'GET /a HTTP/1.1\r\n' + H + '\r\n';
    const b = 'POST /b HTTP/1.1\r\n' + H + 'Content-Length: 3\r\n\r\nxyz';
    const c = 'PUT /c HTTP/1.1\r\n' + H + 'Transfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n';
    const d = 'GET /d HTTP/1.0\r\n\r\n';
    const run = parse(a + b + c + d);
    assert.equal(run.error, null);
    assert.deepEqual(run.returns, [a.length, b.length, c.length, d.length]);
    assert.deepEqual(
      run.messages.map((m) => [m.head.target, bodyOf(m), m.complete]),
      [
        ['/a', '', true],
        ['/b', 'xyz', true],
        ['/c', 'hi', true],
        ['/d', '', true],
      ],
    );
  });

  test('execute counts from the offset it is given', () => {
    const { parser } = recorder();
    const input = Buffer.from('junkGET / HTTP/1.1\r\n' + H + '\r\n');
    assert.equal(parser.execute(input, 4), input.length - 4);
    assert.equal(parser.execute(input, input.length), 0);
  });
});

describe('http1: idle, buffering, finish, errors', () => {
  test('idle and bufferedHeadBytes follow a head that arrives in pieces', () => {
    const { parser, messages } = recorder();
    assert.equal(parser.idle, true);
    const first = Buffer.from('GET / HTTP/1.1\r\nHo');
    assert.equal(parser.execute(first), first.length);
    assert.equal(parser.idle, false);
    assert.equal(parser.bufferedHeadBytes, first.length);
    const rest = Buffer.from('st: a\r\n\r\n');
    assert.equal(parser.execute(rest), rest.length);
    assert.equal(messages.length, 1);
    assert.equal(parser.idle, true);
    assert.equal(parser.bufferedHeadBytes, 0);
  });

  test('a large head split into small pieces grows the buffer and decodes like one shot', () => {
    let fields = H;
    for (let i = 0; i < 60; i++) fields += `X-Field-${i}: ${'v'.repeat(i * 7)}\r\n`;
    const input = Buffer.from('POST /big HTTP/1.1\r\n' + fields + 'Content-Length: 4\r\n\r\nbody');
    assert.ok(input.length > 10_000);
    const pieces: Buffer[] = [];
    for (let at = 0; at < input.length; at += 97) pieces.push(input.subarray(at, at + 97));
    const split = feed(pieces);
    const whole = parse(input);
    assert.equal(split.error, null, split.error?.message);
    assert.deepEqual(split.messages[0]?.head, whole.messages[0]?.head);
    assert.equal(bodyOf(split.messages[0]), 'body');
    assert.equal(whole.messages[0]?.head.headers.length, 2 * 62);
  });

  test('bytes after an Upgrade request are left to the caller', () => {
    const { parser, messages } = recorder();
    const request = 'GET /ws HTTP/1.1\r\n' + H + 'Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n';
    const input = Buffer.concat([Buffer.from(request), Buffer.from('\u0081\u0085frame', 'latin1')]);
    assert.equal(parser.execute(input), request.length);
    assert.equal(messages[0]?.head.upgrade, true);
    assert.equal(messages[0]?.complete, true);
  });

  test('finish() is null when idle and after a complete message', () => {
    const { parser } = recorder();
    assert.equal(parser.finish(), null);
    parser.execute(Buffer.from('GET / HTTP/1.1\r\n' + H + '\r\n'));
    assert.equal(parser.finish(), null);
  });

  test('finish() reports a truncated head with 400 ERR_HTTP_TRUNCATED', () => {
    const { parser } = recorder();
    parser.execute(Buffer.from('GET / HTTP/1.1\r\nHost'));
    const error = parser.finish();
    assert.equal(error?.code, 'ERR_HTTP_TRUNCATED');
    assert.equal(error?.status, 400);
    assert.equal(parser.error, error);
  });

  test('finish() reports a truncated body', () => {
    for (const request of [
      'POST / HTTP/1.1\r\n' + H + 'Content-Length: 10\r\n\r\nabc',
      'POST / HTTP/1.1\r\n' + H + 'Transfer-Encoding: chunked\r\n\r\n5\r\nab',
      'POST / HTTP/1.1\r\n' + H + 'Transfer-Encoding: chunked\r\n\r\n0\r\n',
    ]) {
      const { parser } = recorder();
      assert.ok(parser.execute(Buffer.from(request)) > 0);
      assert.equal(parser.finish()?.code, 'ERR_HTTP_TRUNCATED');
    }
  });

  test('after an error every call returns -1', () => {
    const { parser } = recorder();
    assert.equal(parser.execute(Buffer.from('BAD\x01 / HTTP/1.1\r\n\r\n')), -1);
    const error = parser.error;
    assert.ok(error instanceof HttpParseError);
    assert.equal(parser.execute(Buffer.from('GET / HTTP/1.1\r\n' + H + '\r\n')), -1);
    assert.equal(parser.error, error);
    assert.equal(parser.finish(), error);
    assert.equal(parser.idle, false);
  });

  test('HttpParseError is a TsgiError with a stable code and the nginx status', () => {
    const error = rejects('GET / HTTP/2.0\r\n\r\n', 'ERR_HTTP_VERSION', 505);
    assert.ok(error instanceof TsgiError);
    assert.equal(error.name, 'HttpParseError');
    for (const [code, status] of Object.entries(HTTP1_ERROR_STATUS)) {
      assert.ok(code.startsWith('ERR_HTTP_'));
      assert.ok([400, 414, 501, 505].includes(status), code);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Response helpers

describe('http1: response helpers', () => {
  test('chunkHeader writes the size in hex with CRLF', () => {
    assert.equal(chunkHeader(1).toString(), '1\r\n');
    assert.equal(chunkHeader(255).toString(), 'ff\r\n');
    assert.equal(chunkHeader(65536).toString(), '10000\r\n');
  });

  test('chunkHeader refuses zero, negative and fractional lengths', () => {
    assert.throws(() => chunkHeader(0), RangeError);
    assert.throws(() => chunkHeader(-1), RangeError);
    assert.throws(() => chunkHeader(1.5), RangeError);
  });

  test('CHUNK_TRAILER and LAST_CHUNK', () => {
    assert.equal(CHUNK_TRAILER.toString(), '\r\n');
    assert.equal(LAST_CHUNK.toString(), '0\r\n\r\n');
  });

  test('an encoded body decodes back through the parser', () => {
    const parts = ['hello', ' ', 'world'].map((s) => Buffer.from(s));
    const body = Buffer.concat(parts.flatMap((p) => [chunkHeader(p.length), p, CHUNK_TRAILER]).concat([LAST_CHUNK]));
    const run = parse(Buffer.concat([Buffer.from('POST / HTTP/1.1\r\n' + H + 'Transfer-Encoding: chunked\r\n\r\n'), body]));
    assert.equal(bodyOf(run.messages[0]), 'hello world');
  });

  test('reasonPhrase', () => {
    assert.equal(reasonPhrase(200), 'OK');
    assert.equal(reasonPhrase(404), 'Not Found');
    assert.equal(reasonPhrase(414), 'URI Too Long');
    assert.equal(reasonPhrase(502), 'Bad Gateway');
    assert.equal(reasonPhrase(799), '');
  });
});

// ---------------------------------------------------------------------------------------------
// Properties

const TCHARS = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const PATH_CHARS = 'abcdefghijklmnopqrstuvwxyz0123456789-._~%!$&()*+,;=:@/?';
const HTAB = 0x09;
const LF = 0x0a;
const CR = 0x0d;
const SP = 0x20;
const BANG = 0x21;
const TILDE = 0x7e;
const DEL = 0x7f;
const FIRST_OBS_TEXT = 0x80;
const LAST_BYTE = 0xff;
const RESERVED = new Set(['host', 'content-length', 'transfer-encoding', 'expect', 'connection', 'upgrade']);

interface Model {
  method: string;
  target: string;
  headers: Array<[string, string]>;
  body: Buffer;
  chunked: boolean;
  chunkSizes: number[];
  lf: boolean;
  trailers: Array<[string, string]>;
}

const nameArb = fc
  .string({ unit: fc.constantFrom(...TCHARS), minLength: 1, maxLength: 20 })
  .filter((name) => !RESERVED.has(name.toLowerCase()));
// Values: visible ASCII, obs-text and inner SP/HTAB, never starting or ending with whitespace.
const valueCharArb = fc.oneof(
  fc.integer({ min: BANG, max: TILDE }),
  fc.integer({ min: FIRST_OBS_TEXT, max: LAST_BYTE }),
  fc.constantFrom(SP, HTAB),
);
const valueArb = fc
  .array(valueCharArb, { maxLength: 40 })
  .map((codes) => String.fromCharCode(...codes).replace(/^[ \t]+|[ \t]+$/g, ''));

const modelArb: fc.Arbitrary<Model> = fc.record({
  method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'M-SEARCH'),
  target: fc.string({ unit: fc.constantFrom(...PATH_CHARS), maxLength: 40 }).map((path) => '/' + path),
  headers: fc.array(fc.tuple(nameArb, valueArb), { maxLength: 12 }),
  body: fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes)),
  chunked: fc.boolean(),
  chunkSizes: fc.array(fc.integer({ min: 1, max: 64 }), { maxLength: 10 }),
  lf: fc.boolean(),
  trailers: fc.array(fc.tuple(nameArb, valueArb), { maxLength: 3 }),
});

function encode(model: Model): Buffer {
  const eol = model.lf ? '\n' : '\r\n';
  let head = `${model.method} ${model.target} HTTP/1.1${eol}Host: example.com${eol}`;
  for (const [name, value] of model.headers) head += `${name}: ${value}${eol}`;
  if (!model.chunked) {
    head += `Content-Length: ${model.body.length}${eol}${eol}`;
    return Buffer.concat([Buffer.from(head, 'latin1'), model.body]);
  }
  head += `Transfer-Encoding: chunked${eol}${eol}`;
  const parts: Buffer[] = [Buffer.from(head, 'latin1')];
  let at = 0;
  let i = 0;
  while (at < model.body.length) {
    const size = Math.min(model.chunkSizes[i % Math.max(1, model.chunkSizes.length)] ?? 16, model.body.length - at);
    const extension = i % 2 === 1 ? ';i=' + String(i) : '';
    parts.push(Buffer.from(size.toString(16) + extension + '\r\n'), model.body.subarray(at, at + size), Buffer.from('\r\n'));
    at += size;
    i++;
  }
  let trailer = '0\r\n';
  for (const [name, value] of model.trailers) trailer += `${name}: ${value}\r\n`;
  parts.push(Buffer.from(trailer + '\r\n', 'latin1'));
  return Buffer.concat(parts);
}

function expectedHeaders(model: Model): string[] {
  const flat = ['Host', 'example.com'];
  for (const [name, value] of model.headers) flat.push(name, value);
  if (model.chunked) flat.push('Transfer-Encoding', 'chunked');
  else flat.push('Content-Length', String(model.body.length));
  return flat;
}

/** Cuts `input` at the given (sorted, deduplicated) positions. */
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

function summary(run: Run): Array<{ head: RequestHead; body: string; complete: boolean }> {
  return run.messages.map((m) => ({ head: m.head, body: Buffer.concat(m.body).toString('latin1'), complete: m.complete }));
}

describe('http1: properties', () => {
  test('a stream of pipelined requests decodes to its model, however it is split', () => {
    fc.assert(
      fc.property(fc.array(modelArb, { minLength: 1, maxLength: 4 }), fc.array(fc.nat(), { maxLength: 30 }), (models, cuts) => {
        const stream = Buffer.concat(models.map(encode));
        const whole = parse(stream);
        assert.equal(whole.error, null, whole.error?.message);
        assert.equal(whole.messages.length, models.length);
        models.forEach((model, i) => {
          const message = whole.messages[i];
          assert.ok(message !== undefined && message.complete);
          assert.equal(message.head.method, model.method);
          assert.equal(message.head.target, model.target);
          assert.deepEqual(message.head.headers, expectedHeaders(model));
          assert.equal(message.head.chunked, model.chunked);
          assert.ok(Buffer.concat(message.body).equals(model.body));
        });
        const pieces = feed(split(stream, cuts));
        assert.equal(pieces.error, null, pieces.error?.message);
        assert.deepEqual(summary(pieces), summary(whole));
      }),
      { numRuns: 300 },
    );
  });

  test('one byte at a time decodes like one shot (general scanner against the fast path)', () => {
    fc.assert(
      fc.property(modelArb, (model) => {
        const stream = encode(model);
        const bytes: Buffer[] = [];
        for (let i = 0; i < stream.length; i++) bytes.push(stream.subarray(i, i + 1));
        assert.deepEqual(summary(feed(bytes)), summary(parse(stream)));
      }),
      { numRuns: 100 },
    );
  });

  test('a header value is accepted exactly when it has no CTL but HTAB and no DEL', () => {
    // CR and LF end the line (a new, valid field may follow), so they have their own tests.
    const valueByte = fc.integer({ min: 0, max: LAST_BYTE }).filter((b) => b !== CR && b !== LF);
    fc.assert(
      fc.property(fc.array(valueByte, { minLength: 1, maxLength: 24 }), fc.nat({ max: 7 }), (bytes, pad) => {
        // The padding moves the value to every alignment within the input.
        const prefix = Buffer.from('GET / HTTP/1.1\r\n' + H + 'X' + 'x'.repeat(pad) + ': v');
        const input = Buffer.concat([prefix, Buffer.from(bytes), Buffer.from('v\r\n\r\n')]);
        const run = parse(input);
        const allowed = bytes.every((b) => b === HTAB || (b >= SP && b !== DEL));
        if (allowed) {
          assert.equal(run.error, null);
          assert.equal(run.messages[0]?.head.headers[3], 'v' + Buffer.from(bytes).toString('latin1') + 'v');
        } else {
          assert.ok(run.error instanceof HttpParseError);
          assert.equal(run.error.status, 400);
        }
      }),
      { numRuns: 500 },
    );
  });

  test('random bytes never make execute throw', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 8 }), (chunks) => {
        const { parser } = recorder({ maxHeaderBytes: 256, maxHeaderCount: 8, maxRequestLineBytes: 64 });
        for (const chunk of chunks) {
          const data = Buffer.from(chunk);
          let offset = 0;
          while (offset < data.length) {
            const n = parser.execute(data, offset);
            assert.equal(typeof n, 'number');
            if (n < 0) {
              assert.equal(n, -1);
              assert.ok(parser.error instanceof HttpParseError);
              return;
            }
            assert.equal(parser.error, null);
            offset += n;
          }
        }
        const end = parser.finish();
        assert.ok(end === null || end instanceof HttpParseError);
      }),
      { numRuns: 2000 },
    );
  });

  test('mutated valid requests never make execute throw, and errors carry a known status', () => {
    fc.assert(
      fc.property(
        modelArb,
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        (model, mutations, cuts) => {
          const stream = Buffer.from(encode(model));
          for (const [at, byte] of mutations) stream[at % stream.length] = byte;
          const run = feed(split(stream, cuts));
          if (run.error !== null) {
            assert.ok(run.error instanceof HttpParseError);
            assert.equal(run.error.status, HTTP1_ERROR_STATUS[run.error.code]);
            assert.equal(run.returns[run.returns.length - 1], -1);
          }
        },
      ),
      { numRuns: 1000 },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// The web server's lenient reading (ignore_invalid_headers, underscores_in_headers)

describe('lenient field names (tsgi web)', () => {
  const lenient = { ignoreInvalidHeaders: true, maxHeaderCount: 1000 };
  const request = 'GET / HTTP/1.1\r\nHost: a\r\nFoo_Bar: 1\r\nX@Y: 2\r\nF\xe9o: 3\r\nBare\r\nCtl: a\x01b\r\nKept: yes\r\n\r\n';

  function lenientRun(pieces: string[], options: typeof lenient & { underscoresInHeaders?: boolean } = lenient): { heads: RequestHead[]; dropped: string[]; error: HttpParseError | null } {
    const heads: RequestHead[] = [];
    const dropped: string[] = [];
    const parser = new Http1RequestParser(
      { onHead: (head) => heads.push(head), onBody: () => {}, onComplete: () => {}, onInvalidHeader: (line) => dropped.push(line) },
      options,
    );
    for (const piece of pieces) {
      const data = Buffer.from(piece, 'latin1');
      let offset = 0;
      while (offset < data.length) {
        const n = parser.execute(data, offset);
        if (n < 0) return { heads, dropped, error: parser.error };
        offset += n;
      }
    }
    return { heads, dropped, error: null };
  }

  test('drops invalid names, keeps a name without colon as empty, passes controls in values', () => {
    const { heads, dropped, error } = lenientRun([request]);
    assert.equal(error, null);
    assert.deepEqual(dropped, ['Foo_Bar: 1', 'X@Y: 2', 'F\xe9o: 3']);
    assert.deepEqual(heads[0]!.headers, ['Host', 'a', 'Bare', '', 'Ctl', 'a\x01b', 'Kept', 'yes']);
  });

  test('the same fields and drops whatever the split, byte by byte included', () => {
    const whole = lenientRun([request]);
    const bytes = lenientRun([...request]);
    assert.deepEqual(bytes.heads[0]!.headers, whole.heads[0]!.headers);
    assert.deepEqual(bytes.dropped, whole.dropped);
  });

  test('underscores_in_headers on keeps underscore names', () => {
    const { heads, dropped } = lenientRun(['GET / HTTP/1.1\r\nHost: a\r\nFoo_Bar: 1\r\n\r\n'], { ...lenient, underscoresInHeaders: true });
    assert.deepEqual(dropped, []);
    assert.deepEqual(heads[0]!.headers, ['Host', 'a', 'Foo_Bar', '1']);
  });

  test('still refuses what nginx refuses: whitespace or DEL in a name, a leading colon, NUL', () => {
    for (const line of ['Foo Bar: 1', 'Foo\x7fx: 1', ':x: 1', 'Foo: a\x00b', 'Foo\x00: 1']) {
      const { error } = lenientRun([`GET / HTTP/1.1\r\nHost: a\r\n${line}\r\n\r\n`]);
      assert.ok(error instanceof HttpParseError, JSON.stringify(line));
      assert.equal(error.status, 400);
    }
  });

  test('grows past its initial room: 500 fields', () => {
    const fields = Array.from({ length: 500 }, (_, i) => `X-${i}: ${i}\r\n`).join('');
    const { heads, error } = lenientRun([`GET / HTTP/1.1\r\nHost: a\r\n${fields}\r\n`]);
    assert.equal(error, null);
    assert.equal(heads[0]!.headers.length, 1002);
    assert.equal(heads[0]!.headers[1001], '499');
  });

  test('random bytes never throw or stall', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.integer({ min: 1, max: 40 }), (bytes, step) => {
        const text = 'GET / HTTP/1.1\r\nHost: a\r\n' + Buffer.from(bytes).toString('latin1');
        const pieces: string[] = [];
        for (let i = 0; i < text.length; i += step) pieces.push(text.slice(i, i + step));
        lenientRun(pieces);
      }),
      { numRuns: 300 },
    );
  });
});
