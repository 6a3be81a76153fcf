/** createStaticConf: defaults, nginx's configuration checks, precompiled arguments. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createStaticConf, STATIC_DEFAULTS, StaticConfError } from '../../../src/web/static/index.js';

const root = { kind: 'root', root: '/srv/www/' } as const;

describe('createStaticConf', () => {
  it("fills nginx's defaults", () => {
    const conf = createStaticConf({ files: root });
    assert.deepEqual(conf.index.map((entry) => entry.name), ['index.html']);
    assert.equal(conf.etag, true);
    assert.equal(conf.ifModifiedSince, 'exact');
    assert.equal(conf.defaultType, 'text/plain');
    assert.equal(conf.maxRanges, null);
    assert.equal(conf.autoindexExactSize, true);
    assert.equal(conf.serverTokens, 'on');
    assert.equal(conf.expires.kind, 'off');
    assert.equal(conf.charsetTypes, STATIC_DEFAULTS.charsetTypes);
    assert.ok(Object.isFrozen(conf));
  });
  it("drops one trailing slash of a root (ngx_http_core_root), keeps an alias's", () => {
    assert.deepEqual(createStaticConf({ files: root }).files, { kind: 'root', root: '/srv/www' });
    assert.deepEqual(createStaticConf({ files: { kind: 'alias', alias: '/d/', location: '/x/' } }).files, { kind: 'alias', alias: '/d/', location: '/x/' });
  });
  it('holds paths and names as byte strings', () => {
    const conf = createStaticConf({ files: { kind: 'root', root: '/srv/\u00e9' }, index: ['\u00e9.html'] });
    assert.deepEqual(conf.files, { kind: 'root', root: '/srv/\xc3\xa9' });
    assert.equal(conf.index[0]!.name, '\xc3\xa9.html');
  });
  it('compiles try_files: directory tests, variables, the last argument', () => {
    const conf = createStaticConf({ files: root, tryFiles: ['$uri', '$uri/', '/static/x', '/index.php?$args'] });
    const tf = conf.tryFiles!;
    assert.deepEqual(tf.candidates.map((c) => [c.template, c.testDir, c.hasVariables]), [['$uri', false, true], ['$uri', true, true], ['/static/x', false, false]]);
    assert.deepEqual(tf.fallback?.parts, ['/index.php?', { variable: 'args' }]);
    assert.equal(tf.code, null);
    assert.equal(createStaticConf({ files: root, tryFiles: ['$uri', '=404'] }).tryFiles!.code, 404);
  });
  it("refuses what nginx refuses, in nginx's words", () => {
    const refuse = (input: Parameters<typeof createStaticConf>[0], message: string): void =>
      assert.throws(() => createStaticConf(input), (e: unknown) => e instanceof StaticConfError && e.code === 'ERR_STATIC_CONF' && e.message === message);
    refuse({ files: root, tryFiles: ['$uri'] }, 'invalid number of arguments in "try_files" directive');
    refuse({ files: root, tryFiles: ['$uri', '=abc'] }, 'invalid code "=abc"');
    refuse({ files: root, tryFiles: ['$uri', '=1000'] }, 'invalid code "=1000"');
    refuse({ files: root, index: [] }, 'invalid number of arguments in "index" directive');
    refuse({ files: root, index: ['a', ''] }, 'index "" in "index" directive is invalid');
    refuse({ files: root, maxRanges: -1 }, 'invalid value in "max_ranges" directive');
  });
});
