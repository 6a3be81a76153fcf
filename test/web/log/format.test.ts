/**
 * log_format escaping and compilation, table by table (the byte-for-byte comparison with nginx's
 * own access.log is in nginx-access.test.ts).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { compileLogFormat, escapeDefault, escapeJson } from '../../../src/web/log/index.js';
import { Variables, VariableError } from '../../../src/web/variables.js';
import { configFromText, fakeContext } from '../variables/fake-context.js';

describe('escape=default (ngx_http_log_escape)', () => {
  const CASES: readonly (readonly [string, string])[] = [
    ['plain text/with:punct', 'plain text/with:punct'],
    ['"', '\\x22'],
    ['\\', '\\x5C'],
    ['\x00\x01\x1f', '\\x00\\x01\\x1F'],
    ['\x7f\x80\xff', '\\x7F\\x80\\xFF'],
    ["'`~{}|", "'`~{}|"],
    ['\xc3\xa9', '\\xC3\\xA9'],
    ['', ''],
  ];
  for (const [input, output] of CASES) it(JSON.stringify(input), () => assert.equal(escapeDefault(input), output));
});

describe('escape=json (ngx_escape_json)', () => {
  const CASES: readonly (readonly [string, string])[] = [
    ['plain', 'plain'],
    ['"\\', '\\"\\\\'],
    ['\n\r\t\b\f', '\\n\\r\\t\\b\\f'],
    ['\x00\x1f', '\\u0000\\u001F'],
    ['\x7f\xc3\xa9', '\x7f\xc3\xa9'],
  ];
  for (const [input, output] of CASES) it(JSON.stringify(input), () => assert.equal(escapeJson(input), output));
});

describe('compileLogFormat', () => {
  const config = configFromText(`
events {}
http { access_log off; server { listen 127.0.0.1:8080; location / {} } }`);
  const variables = new Variables(config, { now: () => Date.UTC(2026, 0, 2, 3, 4, 5, 6) });
  const raw = 'GET /p?q="x" HTTP/1.1\r\nHost: h\r\nUser-Agent: a"b\\c\x01\r\nX-Empty: \r\n\r\n';

  const CASES: readonly (readonly ['default' | 'json' | 'none', string, string])[] = [
    ['default', '$http_user_agent|$http_referer|$http_x_empty|$args', 'a\\x22b\\x5Cc\\x01|-||q=\\x22x\\x22'],
    ['json', '$http_user_agent|$http_referer|$http_x_empty|$args', 'a\\"b\\\\c\\u0001|||q=\\"x\\"'],
    ['none', '$http_user_agent|$http_referer|$http_x_empty|$args', 'a"b\\c\x01|||q="x"'],
    ['default', '$status $body_bytes_sent "$request"', '000 0 "GET /p?q=\\x22x\\x22 HTTP/1.1"'],
  ];
  for (const [escape, format, line] of CASES) {
    it(`${escape}: ${format}`, () => {
      const ctx = fakeContext({ config, raw, location: '/', variables });
      assert.equal(compileLogFormat({ escape, format }, variables)(ctx), line);
    });
  }

  it('refuses $1 as nginx does: unknown "1" variable', () => {
    assert.throws(
      () => compileLogFormat({ escape: 'default', format: '$1 $uri' }, variables),
      (error: unknown) => error instanceof VariableError && error.message === 'unknown "1" variable',
    );
  });
});
