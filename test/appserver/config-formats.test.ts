/**
 * The config readers and expansion helpers as pure functions: text in, entries out. Loading,
 * ordering and the option table are tested in config.test.ts.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseIni } from '../../src/appserver/config/ini.js';
import { parseXmlConfig } from '../../src/appserver/config/xml.js';
import { parseJsonConfig } from '../../src/appserver/config/json.js';
import { parseYamlConfig } from '../../src/appserver/config/yaml.js';
import { ConfigSyntaxError, PlaceholderError } from '../../src/appserver/config/errors.js';
import { environmentValue, evaluateReference, expandTokens, findToken } from '../../src/appserver/config/placeholders.js';
import { expandMagic, magicTable, type HostFacts } from '../../src/appserver/config/magic.js';
import { formatOfPath, type FileEntry } from '../../src/appserver/config/format.js';

const FIXTURES = join(process.cwd(), 'test/fixtures/config');
const fixture = (name: string): string => readFileSync(join(FIXTURES, name), 'utf8');
const pairs = (entries: FileEntry[] | null): Array<[string, string]> => (entries ?? []).map((entry) => [entry.key, entry.value]);

/** Asserts a ConfigSyntaxError whose message ends with FILE:LINE information. */
function syntaxError(fn: () => unknown, pattern: RegExp, line: number): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof ConfigSyntaxError, String(error));
    assert.equal(error.code, 'ERR_CONFIG_SYNTAX');
    assert.match(error.message, pattern);
    assert.deepEqual(error.source, { kind: 'file', file: 'f', line });
    return true;
  });
}

describe('ini (core/ini.c)', () => {
  it('reads the docs example: repeated keys, in order, with their lines', () => {
    const entries = parseIni(fixture('docs-example.ini'), 'docs-example.ini');
    assert.deepEqual(entries, [
      { key: 'socket', value: '/tmp/uwsgi.sock', line: 3 },
      { key: 'socket', value: '127.0.0.1:8000', line: 4 },
      { key: 'workers', value: '3', line: 5 },
      { key: 'master', value: 'true', line: 6 },
    ]);
  });

  it('strips blanks and CR, skips ; and # comments only at line start, splits at the first =', () => {
    const text = '\uFEFF[uwsgi]\r\n  ; comment\r\n# another\r\n\tsocket=:1 ; not a comment\r\nroute = ^/a=b\r\n\r\nkey =\r\n';
    assert.deepEqual(pairs(parseIni(text, 'f')), [
      ['socket', ':1 ; not a comment'],
      ['route', '^/a=b'],
      ['key', ''],
    ]);
  });

  it('reads a bare key as an empty value (a boolean reads that as true)', () => {
    assert.deepEqual(parseIni('[uwsgi]\nmaster\n', 'f'), [{ key: 'master', value: '', line: 2 }]);
  });

  it('reads only the asked section; [uwsgi] and [tsgi] by default; null when absent', () => {
    const text = 'orphan = 1\n[uwsgi]\na = 1\n[x]\nb = 2\n[tsgi]\nc = 3\n';
    assert.deepEqual(pairs(parseIni(text, 'f')), [
      ['a', '1'],
      ['c', '3'],
    ]);
    assert.deepEqual(pairs(parseIni(text, 'f', 'x')), [['b', '2']]);
    assert.equal(parseIni(text, 'f', 'nope'), null);
    assert.equal(parseIni('[other]\na = 1\n', 'f'), null);
  });

  it('rejects a section header with text after it, naming the line', () => {
    syntaxError(() => parseIni('; c\n[uwsgi]vhost = false\n', 'f'), /malformed section header "\[uwsgi\]vhost = false" in f:2/, 2);
    syntaxError(() => parseIni('[uwsgi]\n= value\n', 'f'), /a line with no option name in f:2/, 2);
  });
});

describe('xml (core/xmlconf.c)', () => {
  it('reads the docs example: repeated elements, <master/> as "1", lines of each element', () => {
    assert.deepEqual(parseXmlConfig(fixture('docs-example.xml'), 'x'), [
      { key: 'socket', value: '/tmp/uwsgi.sock', line: 3 },
      { key: 'socket', value: '127.0.0.1:8000', line: 4 },
      { key: 'master', value: '1', line: 5 },
      { key: 'workers', value: '3', line: 6 },
    ]);
  });

  it('chooses a <uwsgi> stanza inside another root, by id with FILE:ID', () => {
    const text = fixture('docs-stanzas.xml');
    assert.deepEqual(pairs(parseXmlConfig(text, 'x', 'django')), [['socket', '/tmp/django.sock']]);
    assert.deepEqual(pairs(parseXmlConfig(text, 'x')), [['socket', '/tmp/tg.sock']]);
    assert.equal(parseXmlConfig(text, 'x', 'rails'), null);
    assert.equal(parseXmlConfig('<config><other/></config>', 'x'), null);
  });

  it('skips child elements with another id, accepts <tsgi>, decodes entities, trims values, reads <app>', () => {
    const text = `<?xml version="1.0"?>
<!DOCTYPE tsgi>
<tsgi>
  <!-- a comment -->
  <socket id="a">:1</socket>
  <socket id="b">:2</socket>
  <route> ^/a?x=1&amp;y=&#50;&#x33; &lt;ok&gt; </route>
  <master></master>
  <app mountpoint="/blog">blog.py</app>
  <app>server.ts</app>
  <![CDATA[import os]]>
</tsgi>`;
    assert.deepEqual(pairs(parseXmlConfig(text, 'x', 'a')), [
      ['socket', ':1'],
      ['route', '^/a?x=1&y=23 <ok>'],
      ['master', '1'],
      ['mount', '/blog=blog.py'],
      ['app', 'server.ts'],
      ['eval', 'import os'],
    ]);
  });

  it('names the line of every syntax error', () => {
    syntaxError(() => parseXmlConfig('<uwsgi>\n<socket>:1</sockt>\n</uwsgi>', 'f'), /<\/sockt> closes <socket> opened on line 2/, 2);
    syntaxError(() => parseXmlConfig('<uwsgi>\n\n<socket>:1\n', 'f'), /<socket> is never closed/, 3);
    syntaxError(() => parseXmlConfig('<uwsgi>\n<a b=c/>\n</uwsgi>', 'f'), /the value of attribute b must be quoted/, 2);
    syntaxError(() => parseXmlConfig('<uwsgi>\n<a>&nbsp;</a>\n</uwsgi>', 'f'), /unknown entity "&nbsp;"/, 2);
    syntaxError(() => parseXmlConfig('<uwsgi>\nstray\n</uwsgi>', 'f'), /text "stray" outside an option element/, 2);
    syntaxError(() => parseXmlConfig('<uwsgi>\n<a>\n<b/></a>\n</uwsgi>', 'f'), /<a> holds an element/, 3);
    syntaxError(() => parseXmlConfig('<uwsgi/>\n<more/>', 'f'), /text after the root element/, 2);
  });
});

describe('json (core/json.c)', () => {
  it('reads the docs example: arrays repeat, true is "1", numbers are text', () => {
    assert.deepEqual(parseJsonConfig(fixture('docs-example.json'), 'j'), [
      { key: 'socket', value: '/tmp/uwsgi.sock', line: 2 },
      { key: 'socket', value: '127.0.0.1:8000', line: 2 },
      { key: 'master', value: '1', line: 3 },
      { key: 'workers', value: '3', line: 4 },
    ]);
  });

  it('maps false and null to "0", reads named and tsgi sections, counts a repeated key twice', () => {
    const text = '{"tsgi": {"vhost": false, "x": null, "a": "1", "a": "2", "list": [true, 2.5, "s"]}, "app": {"b": "\\u00e9\\n"}}';
    assert.deepEqual(pairs(parseJsonConfig(text, 'j')), [
      ['vhost', '0'],
      ['x', '0'],
      ['a', '1'],
      ['a', '2'],
      ['list', '1'],
      ['list', '2.5'],
      ['list', 's'],
    ]);
    assert.deepEqual(pairs(parseJsonConfig(text, 'j', 'app')), [['b', 'é\n']]);
    assert.equal(parseJsonConfig(text, 'j', 'nope'), null);
  });

  it('names the line of syntax errors and of values that are not options', () => {
    syntaxError(() => parseJsonConfig('{"uwsgi": {\n"a": 1,\n}}', 'f'), /invalid json in f:3: expected a quoted member name, found "}"/, 3);
    syntaxError(() => parseJsonConfig('{"uwsgi": {\n"a": {"b": 1}\n}}', 'f'), /the value of "a" is an object/, 2);
    syntaxError(() => parseJsonConfig('{"uwsgi": {\n"a": [[1]]\n}}', 'f'), /an array inside an array/, 2);
    syntaxError(() => parseJsonConfig('{"uwsgi": []}', 'f'), /"uwsgi" must be an object of options/, 1);
    syntaxError(() => parseJsonConfig('["uwsgi"]', 'f'), /the document must be an object/, 1);
    syntaxError(() => parseJsonConfig('{"uwsgi": {}}\n\nx', 'f'), /unexpected "x" after the document/, 3);
  });
});

describe('yaml (core/yaml.c)', () => {
  it('reads the docs example, whose key repeats', () => {
    assert.deepEqual(parseYamlConfig(fixture('docs-example.yaml'), 'y'), [
      { key: 'socket', value: '/tmp/uwsgi.sock', line: 3 },
      { key: 'socket', value: '127.0.0.1:8000', line: 4 },
      { key: 'master', value: '1', line: 5 },
      { key: 'workers', value: '3', line: 6 },
    ]);
  });

  it('reads block lists (indented or not), flow lists, quotes, comments and bare keys', () => {
    const text = `---
other:
  socket: :never
uwsgi:
  static-map:
    - /static=/srv/static   # a comment
    - '/media=/srv/it''s'
  route:
  - "^/a\\t#not-a-comment"
  http-socket: [":8000", ':8001', :8002]
  logformat: %(method) a#b
  master:
  empty: []
`;
    assert.deepEqual(parseYamlConfig(text, 'y'), [
      { key: 'static-map', value: '/static=/srv/static', line: 6 },
      { key: 'static-map', value: "/media=/srv/it's", line: 7 },
      { key: 'route', value: '^/a\t#not-a-comment', line: 9 },
      { key: 'http-socket', value: ':8000', line: 10 },
      { key: 'http-socket', value: ':8001', line: 10 },
      { key: 'http-socket', value: ':8002', line: 10 },
      { key: 'logformat', value: '%(method) a#b', line: 11 },
      { key: 'master', value: '', line: 12 },
    ]);
    assert.deepEqual(pairs(parseYamlConfig(text, 'y', 'other')), [['socket', ':never']]);
    assert.equal(parseYamlConfig(text, 'y', 'nope'), null);
  });

  it('refuses what is not option syntax, naming the line', () => {
    syntaxError(() => parseYamlConfig('uwsgi:\n\tsocket: :1\n', 'f'), /tabs cannot indent yaml/, 2);
    syntaxError(() => parseYamlConfig('uwsgi:\n  a:\n    b: 1\n', 'f'), /"a" holds a nested mapping/, 3);
    syntaxError(() => parseYamlConfig('uwsgi:\n  a: |\n    text\n', 'f'), /block scalars/, 2);
    syntaxError(() => parseYamlConfig('uwsgi:\n  a: *ref\n', 'f'), /anchors, aliases and tags/, 2);
    syntaxError(() => parseYamlConfig('uwsgi:\n  a: one\n    two\n', 'f'), /continued on the next line/, 3);
    syntaxError(() => parseYamlConfig('uwsgi:\n  - a\n', 'f'), /a list item that belongs to no option/, 2);
    syntaxError(() => parseYamlConfig('uwsgi: {a: 1}\n', 'f'), /"uwsgi" must hold indented "option: value" lines/, 1);
    syntaxError(() => parseYamlConfig('uwsgi:\n  a: "open\n', 'f'), /unterminated double-quoted value/, 2);
    syntaxError(() => parseYamlConfig('- a\n', 'f'), /the document must be a mapping/, 1);
  });
});

describe('placeholders (uwsgi_apply_config_pass, uwsgi_manage_placeholder)', () => {
  it('finds tokens with nested parentheses and leaves unresolved ones as written', () => {
    assert.deepEqual(findToken('a %(b (c)) d', '%', 0), { start: 2, end: 10, inner: 'b (c)' });
    assert.equal(findToken('a %(unclosed', '%', 0), undefined);
    const resolve = (name: string): string | undefined => ({ x: 'X', y: '%(x)' })[name];
    const runaway = (): Error => new Error('runaway');
    assert.equal(expandTokens('%(method) %(x) %(y)', '%', resolve, runaway), '%(method) X X');
    assert.throws(() => expandTokens('%(a)', '%', () => '%(a)!', runaway), /runaway/);
  });

  it('reads $(NAME), $(NAME:-default) and $(NAME-default) as the uWSGI docs define them', () => {
    const env = { SET: 'v', EMPTY: '' };
    assert.equal(environmentValue('SET', env), 'v');
    assert.equal(environmentValue('UNSET', env), undefined);
    assert.equal(environmentValue('EMPTY:-d', env), 'd');
    assert.equal(environmentValue('EMPTY-d', env), '');
    assert.equal(environmentValue('UNSET-d', env), 'd');
    assert.equal(environmentValue('SET:-d', env), 'v');
  });

  it('evaluates the math pipeline of the uWSGI docs left to right', () => {
    const values: Record<string, string> = { foo: '17', bar: '30', two: '2', nine: '9', n: '29' };
    const lookup = (name: string): string | undefined => values[name];
    assert.equal(evaluateReference('foo + bar + 3', lookup), '50');
    assert.equal(evaluateReference('foo + bar + 3 * 2', lookup), '100');
    assert.equal(evaluateReference('n ++', lookup), '30');
    assert.equal(evaluateReference('two nine ++', lookup), '30');
    assert.equal(evaluateReference('bar / 0', lookup), '0');
    assert.equal(evaluateReference('bar - foo', lookup), '13');
    assert.equal(evaluateReference('missing', lookup), undefined);
    assert.equal(evaluateReference('missing 1', lookup), '1');
  });
});

describe('magic variables (config_magic_table_fill)', () => {
  const host: HostFacts = { hostname: 'box', cpus: 8, uid: 1000, gid: 100, user: 'me', startedAt: 1_700_000_000_123, version: '9.9.9' };
  const file = { given: 'conf/app.ini', absolute: '/srv/conf/app.ini', section: 'uwsgi' };
  const first = { given: '/etc/site.yaml', absolute: '/etc/site.yaml', section: 'prod' };
  const table = magicTable(file, first, '/work', host);
  const where = { kind: 'file' as const, file: 'conf/app.ini', line: 4 };
  const expand = (value: string): string => expandMagic(value, table, where, ' in conf/app.ini:4');

  it('describes the file the value is in, and the first file in upper case', () => {
    assert.equal(expand('%d|%p|%s|%n|%e|%c|%o|%x'), '/srv/conf/|/srv/conf/app.ini|app.ini|app|ini|conf|conf/app.ini|conf/app.ini:uwsgi');
    assert.equal(expand('%D|%N|%X|%C'), '/etc/|site|/etc/site.yaml:prod|etc');
    assert.equal(expand('%0/%1'), 'srv/conf');
    assert.equal(expand('%v %h %k %u %U %g %t %V'), '/work box 8 1000 me 100 1700000000 9.9.9');
    assert.equal(expand('100%% and %(placeholder) stay'), '100% and %(placeholder) stay');
  });

  it('rejects an unknown %X, naming where it was written', () => {
    assert.throws(
      () => expand('50%z'),
      (error: unknown) =>
        error instanceof PlaceholderError &&
        error.code === 'ERR_CONFIG_PLACEHOLDER' &&
        error.message === 'unknown magic variable "%z" in "50%z" in conf/app.ini:4; write %% for a literal %',
    );
    assert.throws(() => expand('100%'), /unknown magic variable "%"/);
  });
});

it('recognises config files by extension as uwsgi_opt_load does', () => {
  assert.equal(formatOfPath('a.ini'), 'ini');
  assert.equal(formatOfPath('a.XML'), 'xml');
  assert.equal(formatOfPath('a.json'), 'json');
  assert.equal(formatOfPath('a.yaml'), 'yaml');
  assert.equal(formatOfPath('a.yml'), 'yaml');
  // uWSGI also reads .js as json; for tsgi a .js file is an application.
  assert.equal(formatOfPath('app.js'), undefined);
});
