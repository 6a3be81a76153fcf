/** MIME types: the mime.types reader, nginx's extension rule and its lower-casing. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { contentTypeFor, extenOf, MimeTypesError, NGINX_DEFAULT_TYPES, parseMimeTypes, typesFromEntries } from '../../../src/web/static/index.js';

describe('extenOf (ngx_http_set_exten)', () => {
  const table: Array<[uri: string, exten: string]> = [
    ['/a/b.txt', 'txt'],
    ['/a/b.HTML', 'HTML'],
    ['/a/b.tar.gz', 'gz'],
    ['/a/.htaccess', ''],
    ['/a/b/.x.css', 'css'],
    ['/a.d/b', ''],
    ['/a/b.', ''],
    ['/.x', ''],
    ['/x', ''],
    ['/ab.c', 'c'],
    ['/a/', ''],
    ['/', ''],
  ];
  for (const [uri, exten] of table) it(`${uri} -> "${exten}"`, () => assert.equal(extenOf(uri), exten));
});

describe('contentTypeFor', () => {
  const types = new Map([['html', 'text/html'], ['\xe9x', 'x/lower']]);
  it('lower-cases A-Z only, as ngx_hash_strlow', () => {
    assert.equal(contentTypeFor('HTML', types, 'd/d'), 'text/html');
    assert.equal(contentTypeFor('HtMl', types, 'd/d'), 'text/html');
    // Byte 0xC9 (É in Latin-1) is not folded to 0xE9.
    assert.equal(contentTypeFor('\xc9x', types, 'd/d'), 'd/d');
    assert.equal(contentTypeFor('\xe9X', types, 'd/d'), 'x/lower');
  });
  it('falls back to default_type, also for no extension', () => {
    assert.equal(contentTypeFor('zzz', types, 'application/octet-stream'), 'application/octet-stream');
    assert.equal(contentTypeFor('', types, 'text/plain'), 'text/plain');
  });
  it("knows nginx's three built-in types", () => {
    assert.deepEqual([...NGINX_DEFAULT_TYPES], [['html', 'text/html'], ['gif', 'image/gif'], ['jpg', 'image/jpeg']]);
  });
});

describe('parseMimeTypes', () => {
  it('reads a types block with comments, quotes and several extensions', () => {
    const types = parseMimeTypes(`
      # a comment
      types {
        text/html   html htm shtml;   # trailing comment
        "image/svg+xml" SVG svgz;
        application/x-7z-compressed 7z;
      }`);
    assert.equal(types.get('htm'), 'text/html');
    assert.equal(types.get('svg'), 'image/svg+xml', 'extensions are lower-cased');
    assert.equal(types.get('7z'), 'application/x-7z-compressed');
    assert.equal(types.size, 6);
  });
  it('reads the inside of a block too; a repeated extension takes the later type', () => {
    const types = parseMimeTypes('text/plain txt; text/x-other txt;');
    assert.equal(types.get('txt'), 'text/x-other');
  });
  it('refuses what nginx refuses, with the line', () => {
    assert.throws(() => parseMimeTypes('types {\n text/html;\n}'), (e: unknown) => e instanceof MimeTypesError && e.line === 2);
    assert.throws(() => parseMimeTypes('types { text/html html'), MimeTypesError);
    assert.throws(() => parseMimeTypes('other { a b; }'), MimeTypesError);
    assert.throws(() => parseMimeTypes('a b; }'), MimeTypesError);
  });
  it('builds a map from entries', () => {
    assert.deepEqual([...typesFromEntries([['text/css', ['CSS']]])], [['css', 'text/css']]);
  });
  it("reads Debian's /etc/nginx/mime.types", { skip: existsSync('/etc/nginx/mime.types') ? false : 'no /etc/nginx/mime.types' }, () => {
    const types = parseMimeTypes(readFileSync('/etc/nginx/mime.types', 'utf8'));
    assert.equal(types.get('html'), 'text/html');
    assert.equal(types.get('js'), 'application/javascript');
    assert.equal(types.get('css'), 'text/css');
    assert.equal(types.get('png'), 'image/png');
    assert.equal(types.get('woff2'), 'font/woff2');
    assert.ok(types.size > 100);
  });
});
