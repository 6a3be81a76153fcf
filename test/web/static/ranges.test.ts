/** Byte ranges (ngx_http_range_parse) and the multipart framing, beyond the parity table. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { contentRange, formatBoundary, ifRangeAllows, multipartFraming, parseHttpDate, parseRange } from '../../../src/web/static/index.js';

const ranges = (...pairs: Array<[number, number]>) => ({ kind: 'ranges', ranges: pairs.map(([start, end]) => ({ start, end })) });
const FULL = { kind: 'full' };
const UNSATISFIABLE = { kind: 'unsatisfiable' };

describe('parseRange', () => {
  const table: Array<[header: string, size: number, maxRanges: number | null, expected: unknown]> = [
    ['bytes=0-1', 10, null, ranges([0, 2])],
    ['bytes=-3', 10, null, ranges([7, 10])],
    ['bytes=-30', 10, null, ranges([0, 10])],
    ['bytes=8-', 10, null, ranges([8, 10])],
    ['bytes=0-0,-1', 10, null, ranges([0, 1], [9, 10])],
    ['bytes=5-6,0-1', 10, null, ranges([5, 7], [0, 2])],
    ['bytes=0-1,,2-3', 10, null, UNSATISFIABLE],
    ['bytes=0-1,', 10, null, UNSATISFIABLE],
    ['bytes=0-1 , 3-4', 10, null, ranges([0, 2], [3, 5])],
    ['bytes=0-1;x', 10, null, UNSATISFIABLE],
    ['bytes=1-2-3', 10, null, UNSATISFIABLE],
    ['bytes=10-', 10, null, UNSATISFIABLE],
    ['bytes=0-', 0, null, FULL],
    ['bytes=0-1,2-3,4-5', 10, 2, FULL],
    ['bytes=0-1,2-3', 10, 2, ranges([0, 2], [2, 4])],
    ['bytes=0-9,0-9', 10, null, FULL],
    ['Bytes=0-1', 10, null, ranges([0, 2])],
    ['bytes 0-1', 10, null, FULL],
    ['bytes=9223372036854775807-', 10, null, UNSATISFIABLE],
    ['bytes=9223372036854775808-', 10, null, UNSATISFIABLE],
    ['bytes=0009-', 10, null, ranges([9, 10])],
    ['bytes=0-00000000000000000000001', 10, null, ranges([0, 2])],
  ];
  for (const [header, size, maxRanges, expected] of table) {
    it(`${header} of ${size}${maxRanges === null ? '' : `, max_ranges ${maxRanges}`}`, () => assert.deepEqual(parseRange(header, size, maxRanges), expected));
  }
});

describe('If-Range and framing', () => {
  it('compares an entity tag exactly and a date exactly', () => {
    assert.equal(ifRangeAllows('"a-1"', '"a-1"', 5, parseHttpDate), true);
    assert.equal(ifRangeAllows('W/"a-1"', '"a-1"', 5, parseHttpDate), false);
    assert.equal(ifRangeAllows('"a-1"', null, 5, parseHttpDate), false);
    assert.equal(ifRangeAllows('Thu, 01 Jan 1970 00:00:05 GMT', '"a-1"', 5, parseHttpDate), true);
    assert.equal(ifRangeAllows('Thu, 01 Jan 1970 00:00:06 GMT', '"a-1"', 5, parseHttpDate), false);
    assert.equal(ifRangeAllows('Thu, 01 Jan 1970 00:00:05 GMT', '"a-1"', null, parseHttpDate), false);
  });
  it('frames parts as nginx, and counts the length', () => {
    const boundary = formatBoundary(7n);
    assert.equal(boundary, '00000000000000000007');
    const parts = [{ start: 0, end: 1 }, { start: 3, end: 5 }];
    const framing = multipartFraming(boundary, 'text/plain', parts, 6);
    assert.equal(framing.heads[1]!.toString(), `\r\n--${boundary}\r\nContent-Type: text/plain\r\nContent-Range: bytes 3-4/6\r\n\r\n`);
    assert.equal(framing.tail.toString(), `\r\n--${boundary}--\r\n`);
    const total = framing.heads.reduce((n, h) => n + h.length, 0) + framing.tail.length + 1 + 2;
    assert.equal(framing.length, total);
    assert.ok(!multipartFraming(boundary, null, parts, 6).heads[0]!.toString().includes('Content-Type'));
    assert.equal(contentRange({ start: 3, end: 5 }, 6), 'bytes 3-4/6');
  });
});
