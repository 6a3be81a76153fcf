/**
 * Variable values that the nginx comparison cannot reach (time, response counters, per-request
 * caching), and the pure parsers, table by table.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  Variables,
  basicAuthUser,
  binaryAddress,
  contentTypeOnly,
  findArg,
  findCookie,
  findHeader,
  headerHasToken,
} from '../../../src/web/variables.js';
import { configFromText, fakeContext } from './fake-context.js';

const CONFIG = configFromText(`
events {}
http {
  access_log off;
  map $uri $cached { default "u=$uri"; }
  map $uri $fresh { volatile; default "u=$uri"; }
  server { listen 127.0.0.1:8080; server_name example.org; root /srv/www; location / {} }
}`);

/** 2026-11-22 01:02:40.123 UTC. */
const NOW = Date.UTC(2026, 10, 22, 1, 2, 40, 123);

function context(raw = 'GET /a?x=1 HTTP/1.1\r\nHost: h\r\n\r\n', now = NOW) {
  const variables = new Variables(CONFIG, { now: () => now, hostname: 'Box.Example' });
  return { variables, ctx: fakeContext({ config: CONFIG, raw, location: '/', variables, startMs: now - 1500.7 }) };
}

describe('findArg', () => {
  const CASES: readonly (readonly [string, string, string | null])[] = [
    ['a=1&b=2', 'a', '1'],
    ['a=1&b=2', 'b', '2'],
    ['A=1', 'a', '1'],
    ['xa=1&a=2', 'a', '2'],
    ['a&a=3', 'a', '3'],
    ['a', 'a', null],
    ['a=', 'a', ''],
    ['a=%20', 'a', '%20'],
    ['', 'a', null],
    ['b=1', 'a', null],
    ['a=1&a=2', 'a', '1'],
  ];
  for (const [args, name, expected] of CASES) it(`${JSON.stringify(args)} ${name}`, () => assert.equal(findArg(args, name), expected));
});

describe('findCookie', () => {
  const CASES: readonly (readonly [readonly string[], string, string | null])[] = [
    [['a=1; b = 2 ;c=3'], 'b', '2 '],
    [['a=1', 'b=9'], 'b', '9'],
    [['b;b=5, c=6'], 'b', null],
    [['b;b=5, c=6'], 'c', '6'],
    [['bb=1;b='], 'b', ''],
    [['B=up'], 'b', 'up'],
    [['c = 7, d=8'], 'c', '7, d=8'],
    [['x'], 'longer', null],
  ];
  for (const [headers, name, expected] of CASES) it(`${JSON.stringify(headers)} ${name}`, () => assert.equal(findCookie(headers, name), expected));
});

describe('headerHasToken', () => {
  it('finds a token item as gzip_proxied looks for no-cache', () => {
    assert.equal(headerHasToken(['private, no-cache'], 'no-cache'), true);
    assert.equal(headerHasToken(['no-cache="x"'], 'no-cache'), false);
    assert.equal(headerHasToken(['max-age=0', 'No-Store'], 'no-store'), true);
    assert.equal(headerHasToken(['public'], 'private'), false);
  });
});

describe('basicAuthUser', () => {
  const CASES: readonly (readonly [string | undefined, string | null])[] = [
    [undefined, null],
    ['Basic dXNlcjpwYXNz', 'user'],
    ['basic  Zm9vOg==', 'foo'],
    ['Basic Zm9v', null],
    ['Basic Om5vdXNlcg==', null],
    ['Bearer abc', null],
    ['Basic', null],
    ['Basic !!!!', null],
    ['Basic dTpw=garbage', 'u'],
  ];
  for (const [header, expected] of CASES) it(String(header), () => assert.equal(basicAuthUser(header), expected));
});

describe('small parsers', () => {
  it('binaryAddress', () => {
    assert.equal(binaryAddress('127.0.0.1'), '\x7f\x00\x00\x01');
    assert.equal(binaryAddress('::1'), '\x00'.repeat(15) + '\x01');
    assert.equal(binaryAddress('unix:'), 'unix:');
  });
  it('findHeader reads - as _ and takes the first', () => {
    assert.equal(findHeader([['X-Y', '1'], ['x-y', '2']], 'x_y'), '1');
    assert.equal(findHeader([['X-Yz', '1']], 'x_y'), null);
  });
  it('contentTypeOnly', () => {
    assert.equal(contentTypeOnly('Text/HTML; charset=utf-8'), 'text/html');
    assert.equal(contentTypeOnly('text/css '), 'text/css');
  });
});

describe('values of one request', () => {
  it('time variables in nginx layouts', () => {
    const { variables, ctx } = context();
    const tz = -new Date(NOW).getTimezoneOffset();
    if (tz === 0) {
      assert.equal(variables.get(ctx, 'time_local'), '22/Nov/2026:01:02:40 +0000');
      assert.equal(variables.get(ctx, 'time_iso8601'), '2026-11-22T01:02:40+00:00');
    } else {
      assert.match(variables.get(ctx, 'time_local')!, /^\d\d\/[A-Z][a-z]{2}\/2026:\d\d:\d\d:40 [+-]\d{4}$/);
    }
    assert.equal(variables.get(ctx, 'msec'), `${Math.floor(NOW / 1000)}.123`);
    // floor(now) - floor(start) = 1501 ms.
    assert.equal(variables.get(ctx, 'request_time'), '1.501');
  });

  it('response counters and status', () => {
    const { variables, ctx } = context();
    assert.equal(variables.get(ctx, 'status'), '000');
    ctx.status = 404;
    ctx.bodyBytesSent = 153;
    ctx.bytesSent = 300;
    ctx.sentHeaders = [
      ['Content-Type', 'text/html'],
      ['Cache-Control', 'no-cache'],
      ['Cache-Control', 'private'],
      ['Link', '<a>'],
      ['Link', '<b>'],
      ['X-Custom', 'one'],
    ];
    assert.equal(variables.expand(ctx, '$status $body_bytes_sent $bytes_sent'), '404 153 300');
    assert.equal(variables.get(ctx, 'sent_http_content_type'), 'text/html');
    assert.equal(variables.get(ctx, 'sent_http_cache_control'), 'no-cache; private');
    assert.equal(variables.get(ctx, 'sent_http_link'), '<a>, <b>');
    assert.equal(variables.get(ctx, 'sent_http_x_custom'), 'one');
    assert.equal(variables.get(ctx, 'sent_http_absent'), null);
  });

  it('connection, worker and server values', () => {
    const { variables, ctx } = context();
    assert.equal(
      variables.expand(ctx, '$pid $connection $connection_requests $hostname $server_name $remote_port $nginx_version'),
      '4242 1 1 box.example example.org 40000 1.22.1',
    );
    assert.equal(variables.expand(ctx, '$connections_active $connections_writing'), '1 1');
  });

  it('module state read from the request: limit_*_status, gzip_ratio, upstream_*', () => {
    const { variables, ctx } = context();
    assert.equal(variables.get(ctx, 'limit_req_status'), null);
    ctx.variables.set('limit_req_status', 'DELAYED');
    ctx.variables.set('upstream_addr', '127.0.0.1:9000');
    ctx.variables.set('upstream_http_x_app', 'yes');
    assert.equal(variables.expand(ctx, '$limit_req_status $upstream_addr $upstream_http_x_app'), 'DELAYED 127.0.0.1:9000 yes');
  });

  it('$request_id is 32 hex digits, fixed for the request', () => {
    const { variables, ctx } = context();
    const id = variables.get(ctx, 'request_id')!;
    assert.match(id, /^[0-9a-f]{32}$/);
    assert.equal(variables.get(ctx, 'request_id'), id);
    assert.notEqual(variables.get(context().ctx, 'request_id'), id);
  });

  it('a map keeps its first value for the request unless volatile, as nginx caches it', () => {
    const { variables, ctx } = context();
    assert.equal(variables.get(ctx, 'cached'), 'u=/a');
    assert.equal(variables.get(ctx, 'fresh'), 'u=/a');
    ctx.uri = '/b';
    assert.equal(variables.get(ctx, 'cached'), 'u=/a');
    assert.equal(variables.get(ctx, 'fresh'), 'u=/b');
  });

  it('unknown names are not found for get()', () => {
    const { variables, ctx } = context();
    assert.equal(variables.get(ctx, 'no_such_thing'), null);
  });

  it('$realpath_root of a missing root logs crit and is not found', () => {
    const { variables, ctx } = context();
    assert.equal(variables.get(ctx, 'realpath_root'), null);
    assert.deepEqual(ctx.logged, [{ level: 'crit', message: 'realpath() "/srv/www" failed (2: No such file or directory)' }]);
  });
});
