/** Listing details the parity table touches only once: sizes, name cutting, escapes. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { escapeJson, escapeUriComponent, jsonpCallback, renderAutoindex, sortEntries, type AutoindexEntry } from '../../../src/web/static/index.js';

const entry = (name: string, size = 1, isDirectory = false): AutoindexEntry => ({ name, isDirectory, isFile: !isDirectory, mtime: 0, size });
const html = { format: 'html', exactSize: false, gmtOffsetMinutes: 0, charset: null, callback: null } as const;
const line = (listing: string): string => listing.split('\r\n')[4]!;

describe('autoindex html', () => {
  it('rounds sizes as nginx, in 7 columns', () => {
    const table: Array<[size: number, shown: string]> = [
      [0, '      0'],
      [9999, '   9999'],
      [10000, '    10K'],
      [10751, '    10K'],
      [10752, '    11K'],
      [1048575, '  1024K'],
      [1048576, '      1M'.slice(1)],
      [1572863, '      1M'.slice(1)],
      [1572864, '      2M'.slice(1)],
      [1073741824, '      1G'.slice(1)],
    ];
    for (const [size, shown] of table) assert.ok(line(renderAutoindex('/', [entry('f', size)], html)).endsWith(` ${shown}`), `${size}`);
  });
  it('cuts names past 50 bytes (or characters with charset utf-8)', () => {
    const long = 'x'.repeat(51);
    assert.ok(line(renderAutoindex('/', [entry(long)], html)).includes(`>${'x'.repeat(47)}..&gt;</a> `));
    assert.ok(line(renderAutoindex('/', [entry('x'.repeat(50))], html)).includes(`>${'x'.repeat(50)}</a> `));
    const dir50 = line(renderAutoindex('/', [entry('d'.repeat(50), 0, true)], html));
    assert.ok(dir50.includes(`>${'d'.repeat(50)}</a> `), 'no room for the slash');
    const utf8 = '\xc3\xa9'.repeat(30); // 30 characters, 60 bytes
    assert.ok(line(renderAutoindex('/', [entry(utf8)], { ...html, charset: 'UTF-8' })).includes(`>${utf8}</a>${' '.repeat(20)} `));
    assert.ok(line(renderAutoindex('/', [entry(utf8)], html)).includes(`>${utf8.slice(0, 47)}..&gt;</a>`));
    const invalid = '\xff'.repeat(60);
    assert.ok(line(renderAutoindex('/', [entry(invalid)], { ...html, charset: 'utf-8' })).includes(`>${invalid.slice(0, 47)}..&gt;</a>`));
  });
  it('sorts directories first, then by bytes', () => {
    const sorted = sortEntries([entry('b'), entry('a', 0, true), entry('B'), entry('\xe9'), entry('c', 0, true)]);
    assert.deepEqual(sorted.map((e) => e.name), ['a', 'c', 'B', 'b', '\xe9']);
  });
});

describe('escapes', () => {
  it('URI components: all but unreserved bytes', () => {
    assert.equal(escapeUriComponent("a-._~!$&'()*+,;=:@/?# \xff"), 'a-._~%21%24%26%27%28%29%2A%2B%2C%3B%3D%3A%40%2F%3F%23%20%FF');
  });
  it('JSON: short escapes where JSON has them, \\u00XX otherwise', () => {
    assert.equal(escapeJson('a"b\\c\n\r\t\b\f\x01\x1f'), 'a\\"b\\\\c\\n\\r\\t\\b\\f\\u0001\\u001F');
  });
  it('jsonp callbacks: letters, digits, _ and . up to 128 bytes', () => {
    assert.equal(jsonpCallback('a=1&callback=cb.x_1'), 'cb.x_1');
    assert.equal(jsonpCallback('CALLBACK=f'), 'f');
    assert.equal(jsonpCallback('callback='), null);
    assert.equal(jsonpCallback('xcallback=f'), null);
    assert.equal(jsonpCallback('callback=a(b)'), 'invalid');
    assert.equal(jsonpCallback(`callback=${'a'.repeat(129)}`), 'invalid');
  });
});
