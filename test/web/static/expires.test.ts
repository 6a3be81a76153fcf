/** `expires`: the directive's arguments (ngx_http_parse_expires, ngx_parse_time) and its headers. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ExpiresError, expiresHeaders, httpDate, parseExpires, parseTime } from '../../../src/web/static/index.js';

describe('parseExpires', () => {
  const table: Array<[args: string[], expected: unknown]> = [
    [['epoch'], { kind: 'epoch' }],
    [['max'], { kind: 'max' }],
    [['off'], { kind: 'off' }],
    [['1h'], { kind: 'access', seconds: 3600 }],
    [['+1h30m'], { kind: 'access', seconds: 5400 }],
    [['-1'], { kind: 'access', seconds: -1 }],
    [['0'], { kind: 'access', seconds: 0 }],
    [['30d'], { kind: 'access', seconds: 30 * 86400 }],
    [['1y'], { kind: 'access', seconds: 365 * 86400 }],
    [['2M'], { kind: 'access', seconds: 60 * 86400 }],
    [['1w 2d'], { kind: 'access', seconds: 9 * 86400 }],
    [['modified', '+1h'], { kind: 'modified', seconds: 3600 }],
    [['modified', 'max'], 'invalid value'],
    [['@15h30m'], { kind: 'daily', seconds: 15 * 3600 + 1800 }],
    [['@25h'], 'daily time value must be less than 24 hours'],
    [['modified', '@1h'], 'daily time cannot be used with "modified" parameter'],
    [['access', '1h'], 'invalid value'],
    [['1x'], 'invalid value'],
    [['1m1h'], 'invalid value'],
    [['h'], 'invalid value'],
    [['1ms'], 'invalid value'],
    [[], 'invalid number of arguments in "expires" directive'],
  ];
  for (const [args, expected] of table) {
    it(args.join(' ') || '(none)', () => {
      if (typeof expected === 'string') assert.throws(() => parseExpires(args), (e: unknown) => e instanceof ExpiresError && e.message === expected);
      else assert.deepEqual(parseExpires(args), expected);
    });
  }
});

describe('parseTime (ngx_parse_time)', () => {
  it('reads milliseconds where asked', () => {
    assert.equal(parseTime('1s 500ms', false), 1500);
    assert.equal(parseTime('30', false), 30_000);
    assert.equal(parseTime('1y', false), null, 'years are not allowed for milliseconds');
    assert.equal(parseTime('', true), null);
  });
});

describe('expiresHeaders', () => {
  const now = 1_700_000_000;
  const mtime = now - 7200;
  it('epoch and max are constants', () => {
    assert.deepEqual(expiresHeaders({ kind: 'epoch' }, now, mtime), [['Expires', 'Thu, 01 Jan 1970 00:00:01 GMT'], ['Cache-Control', 'no-cache']]);
    assert.deepEqual(expiresHeaders({ kind: 'max' }, now, mtime), [['Expires', 'Thu, 31 Dec 2037 23:55:55 GMT'], ['Cache-Control', 'max-age=315360000']]);
    assert.deepEqual(expiresHeaders({ kind: 'off' }, now, mtime), []);
  });
  it('counts from now, from mtime, or to the next time of day', () => {
    assert.deepEqual(expiresHeaders({ kind: 'access', seconds: 60 }, now, mtime), [['Expires', httpDate(now + 60)], ['Cache-Control', 'max-age=60']]);
    assert.deepEqual(expiresHeaders({ kind: 'access', seconds: 0 }, now, mtime), [['Expires', httpDate(now)], ['Cache-Control', 'max-age=0']]);
    assert.deepEqual(expiresHeaders({ kind: 'access', seconds: -1 }, now, mtime), [['Expires', httpDate(now - 1)], ['Cache-Control', 'no-cache']]);
    assert.deepEqual(expiresHeaders({ kind: 'modified', seconds: 3600 }, now, mtime), [['Expires', httpDate(mtime + 3600)], ['Cache-Control', 'no-cache']]);
    assert.deepEqual(expiresHeaders({ kind: 'modified', seconds: 10800 }, now, mtime), [['Expires', httpDate(mtime + 10800)], ['Cache-Control', 'max-age=3600']]);
    assert.deepEqual(expiresHeaders({ kind: 'modified', seconds: 60 }, now, null), [['Expires', httpDate(now + 60)], ['Cache-Control', 'max-age=60']]);
    const [[, expires], [, cacheControl]] = expiresHeaders({ kind: 'daily', seconds: 0 }, now, mtime) as [[string, string], [string, string]];
    const at = Date.parse(expires) / 1000;
    assert.ok(at > now && at <= now + 86400 && new Date(at * 1000).getHours() === 0, expires);
    assert.equal(cacheControl, `max-age=${at - now}`);
  });
});
