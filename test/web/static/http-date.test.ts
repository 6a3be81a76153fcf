/** HTTP dates: ngx_http_time's format and ngx_parse_http_time's three formats and limits. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { HttpDateCache, httpDate, INVALID_DATE, parseHttpDate } from '../../../src/web/static/index.js';

const NOV_6_1994 = 784111777; // Sun, 06 Nov 1994 08:49:37 GMT

describe('parseHttpDate (ngx_parse_http_time)', () => {
  const table: Array<[value: string, seconds: number]> = [
    ['Sun, 06 Nov 1994 08:49:37 GMT', NOV_6_1994],
    ['Sun, 06 Nov 1994 08:49:37', NOV_6_1994],
    ['Sun, 06 Nov 1994 08:49:37 XYZ and more', NOV_6_1994],
    ['Xyz,   06 Nov 1994 08:49:37 GMT', NOV_6_1994],
    ['Sunday, 06-Nov-94 08:49:37 GMT', NOV_6_1994],
    ['Sunday, 06-Nov-69 08:49:37 GMT', Date.UTC(2069, 10, 6, 8, 49, 37) / 1000],
    ['Sun Nov  6 08:49:37 1994', NOV_6_1994],
    ['Sun Nov 6 08:49:37 1994', NOV_6_1994],
    ['Thu, 01 Jan 1970 00:00:00 GMT', 0],
    ['Tue, 29 Feb 2000 00:00:00 GMT', Date.UTC(2000, 1, 29) / 1000],
    ['Mon, 00 Nov 1994 08:49:37 GMT', Date.UTC(1994, 9, 31, 8, 49, 37) / 1000],
    ['Sun, 06 Nov 1994 08:49:37GMT', NOV_6_1994],
    ['06 Nov 1994 08:49:37 GMT', INVALID_DATE],
    ['Sun, 6 Nov 1994 08:49:37 GMT', INVALID_DATE],
    ['Sun, 06 Xyz 1994 08:49:37 GMT', INVALID_DATE],
    ['Sun, 06 Nov 1994 24:00:00 GMT', INVALID_DATE],
    ['Sun, 06 Nov 1994 08:60:00 GMT', INVALID_DATE],
    ['Thu, 29 Feb 1900 00:00:00 GMT', INVALID_DATE],
    ['Thu, 31 Apr 2001 00:00:00 GMT', INVALID_DATE],
    ['Sun, 06 Nov 1994', INVALID_DATE],
    ['', INVALID_DATE],
    ['yesterday', INVALID_DATE],
  ];
  for (const [value, seconds] of table) it(JSON.stringify(value), () => assert.equal(parseHttpDate(value), seconds));

  it('reads back what httpDate writes, over 130 years', () => {
    for (let t = 0; t < 4_200_000_000; t += 86_399 * 37 + 13) assert.equal(parseHttpDate(httpDate(t)), t, httpDate(t));
  });
});

describe('httpDate', () => {
  it('writes RFC 9110 dates', () => {
    assert.equal(httpDate(NOV_6_1994), 'Sun, 06 Nov 1994 08:49:37 GMT');
    assert.equal(httpDate(0), 'Thu, 01 Jan 1970 00:00:00 GMT');
  });
  it('HttpDateCache formats the same second once', () => {
    const cache = new HttpDateCache();
    const first = cache.format(NOV_6_1994);
    assert.equal(cache.format(NOV_6_1994), first);
    assert.equal(cache.format(0), 'Thu, 01 Jan 1970 00:00:00 GMT');
  });
});
