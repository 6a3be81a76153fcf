/**
 * What each file system error becomes, in every handler (nginx 1.22's static, index and
 * autoindex handlers and try_files). The tests run as root, where EACCES cannot be produced with
 * permissions, so the errors are planted in the open-file cache, which resolution trusts.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createStaticConf, serveStatic, StaticContext, type FsErrorCode, type StaticConfInput, type StaticResult } from '../../../src/web/static/index.js';

const DIR = { kind: 'directory', size: 4096, mtime: 0, mtimeMs: 0, ino: 1, dev: 1 } as const;
const FILE = { kind: 'file', size: 3, mtime: 0, mtimeMs: 0, ino: 2, dev: 1 } as const;

/** A context whose cache says `entries` about these paths (under /w) for a long time. */
function planted(entries: Record<string, FsErrorCode | typeof DIR | typeof FILE>): StaticContext {
  const ctx = new StaticContext({ now: () => 0, cache: { validMs: 1e12 } });
  for (const [path, value] of Object.entries(entries)) {
    const entry = ctx.cache!.store(path, typeof value === 'string' ? { error: value } : value, 0);
    if (value === FILE) ctx.cache!.storeContent(entry, Buffer.from('abc'));
  }
  return ctx;
}

function status(ctx: StaticContext, uri: string, input: Partial<StaticConfInput> = {}, method = 'GET'): number | string {
  const result = serveStatic(ctx, { method, uri, args: '', headers: {} }, createStaticConf({ files: { kind: 'root', root: '/w' }, ...input }));
  assert.ok(!(result instanceof Promise), 'everything needed was planted');
  return describe_(result);
}

function describe_(result: StaticResult): number | string {
  switch (result.kind) {
    case 'response':
    case 'error':
    case 'redirect':
      return result.status;
    case 'internalRedirect':
      return `-> ${result.uri}`;
    case 'namedLocation':
      return `-> ${result.name}`;
  }
}

describe('file system errors', () => {
  it('static: ENOENT, ENOTDIR, ENAMETOOLONG 404; EACCES, ELOOP 403; others 500', () => {
    const table: Array<[FsErrorCode, number]> = [
      ['ENOENT', 404],
      ['ENOTDIR', 404],
      ['ENAMETOOLONG', 404],
      ['EACCES', 403],
      ['ELOOP', 403],
      ['EMLINK', 403],
      ['EOTHER', 500],
    ];
    for (const [code, expected] of table) assert.equal(status(planted({ '/w/f': code }), '/f'), expected, code);
  });

  it('index: EACCES on the file 403, on the directory search ignored; missing directory 404', () => {
    assert.equal(status(planted({ '/w/d/index.html': 'EACCES' }), '/d/'), 403);
    assert.equal(status(planted({ '/w/d/index.html': 'ENOTDIR' }), '/d/'), 404);
    assert.equal(status(planted({ '/w/d/index.html': 'ENOENT', '/w/d': 'ENOENT' }), '/d/'), 404);
    assert.equal(status(planted({ '/w/d/index.html': 'ENOENT', '/w/d': 'EACCES' }), '/d/'), 403, 'then no index: forbidden');
    assert.equal(status(planted({ '/w/d/index.html': 'ENOENT', '/w/d': FILE }), '/d/'), 500);
    assert.equal(status(planted({ '/w/d/index.html': 'EOTHER', '/w/d': DIR }), '/d/'), 500);
    assert.equal(status(planted({ '/w/d/index.html': DIR }), '/d/'), '-> /d/index.html', 'nginx only stats the index');
    assert.equal(status(planted({ '/w/d/a': 'ENOENT', '/w/d': DIR, '/w/d/b': FILE }), '/d/', { index: ['a', 'b'] }), '-> /d/b');
  });

  it('try_files skips every kind of error', () => {
    const ctx = planted({ '/w/f': 'EACCES', '/w/g': 'EOTHER', '/w/h': FILE });
    assert.equal(status(ctx, '/x', { tryFiles: ['/f', '/g', '/h', '=404'] }), 200);
    assert.equal(status(ctx, '/x', { tryFiles: ['/f', '/g', '=418'] }), 418);
  });

  it('methods are checked before the file system', () => {
    assert.equal(status(planted({}), '/f', {}, 'DELETE'), 405);
    assert.equal(status(planted({}), '/d/', {}, 'PATCH'), 405);
  });
});
