import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { firstSyntaxError, parseConfigFile, parseConfigText, type ConfigFile, type Directive } from '../../../src/web/config/parser.js';
import { NginxConfigErrorCode } from '../../../src/web/config/errors.js';
import { checkConfig, loadNginxConfig, shippedConfDir } from '../../../src/web/config/load.js';
import { expandGlob, hasGlobMagic } from '../../../src/web/config/glob.js';
import { writeCase } from './nginx-runner.js';

/** A tree as `name args [children]`, for compact comparisons. */
function shape(directives: readonly Directive[]): unknown[] {
  return directives.map((d) => {
    const head = [d.name, ...d.args].join(' ');
    if (d.block) return [head, shape(d.block)];
    if (d.included) return [head, d.included.map((f: ConfigFile) => shape(f.directives))];
    return head;
  });
}

const TEXT = { kind: 'file', file: '/virtual/nginx.conf' } as const;
const OPTIONS = { confPrefix: '/virtual/' };

describe('parser: the directive tree', () => {
  it('builds names, arguments, blocks, files and lines', () => {
    const { root } = parseConfigText('events {}\nhttp {\n  server {\n    listen 80;\n    location / {\n      root html;\n    }\n  }\n}\n', TEXT, OPTIONS);
    assert.deepEqual(shape(root.directives), [
      ['events', []],
      ['http', [['server', ['listen 80', ['location /', ['root html']]]]]],
    ]);
    const http = root.directives[1]!;
    assert.equal(http.file, '/virtual/nginx.conf');
    assert.equal(http.line, 2);
    assert.equal(http.endLine, 9);
    const listen = http.block![0]!.block![0]!;
    assert.deepEqual([listen.name, listen.args, listen.line, listen.startLine], ['listen', ['80'], 4, 4]);
  });

  it('reports a directive at the line of its ; or {, as nginx does', () => {
    const { root } = parseConfigText('gzip\n  on\n  ;\nlocation\n/\n{\n}\n', TEXT, OPTIONS);
    assert.deepEqual(
      root.directives.map((d) => [d.name, d.startLine, d.line]),
      [
        ['gzip', 1, 3],
        ['location', 4, 6],
      ],
    );
  });

  it('attaches a syntax error where reading stopped, after what came before', () => {
    const { root } = parseConfigText('a;\nb { c;\n  d { } }\n}\ne;', TEXT, OPTIONS);
    assert.deepEqual(shape(root.directives), ['a', ['b', ['c', ['d', []]]]]);
    assert.equal(root.error?.message, 'unexpected "}" in /virtual/nginx.conf:4');
    const inner = parseConfigText('a { b { c; ', TEXT, OPTIONS).root;
    assert.equal(inner.error, undefined);
    assert.equal(inner.directives[0]!.block![0]!.blockError?.message, 'unexpected end of file, expecting "}" in /virtual/nginx.conf:1');
    assert.equal(firstSyntaxError(inner)?.code, NginxConfigErrorCode.Syntax);
  });

  it('refuses blocks in -g text and reports it "in command line"', () => {
    const { root } = parseConfigText('daemon off; http {}', { kind: 'command-line' }, OPTIONS);
    assert.deepEqual(shape(root.directives), ['daemon off']);
    assert.equal(root.error?.message, 'block directives are not supported in -g option in command line');
  });
});

describe('parser: include', () => {
  it('reads includes relative to the main file directory, globs in byte order, dot files skipped', () => {
    const c = writeCase({
      conf: 'events {}\ninclude conf.d/*.conf;\ninclude one.conf;\n',
      files: { 'conf.d/b.conf': 'env B;', 'conf.d/A.conf': 'env A;', 'conf.d/a.conf': 'env a;', 'conf.d/.hidden.conf': 'env H;', 'one.conf': 'env ONE;' },
    });
    try {
      const { root, files } = parseConfigFile(c.file, { confPrefix: `${c.dir}/` });
      assert.deepEqual(shape(root.directives), [
        ['events', []],
        ['include conf.d/*.conf', [['env A'], ['env a'], ['env B']]],
        ['include one.conf', [['env ONE']]],
      ]);
      assert.deepEqual(
        files.map((f) => f.slice(c.dir.length)),
        ['/nginx.conf', '/conf.d/A.conf', '/conf.d/a.conf', '/conf.d/b.conf', '/one.conf'],
      );
    } finally {
      c.cleanup();
    }
  });

  it('finds the shipped conf/ files when the config directory has none', () => {
    const c = writeCase({ conf: 'events {}\nhttp {\n  include mime.types;\n  server { location / { include uwsgi_params; uwsgi_pass 127.0.0.1:3031; } }\n}\n' });
    try {
      const config = loadNginxConfig(c.file, { isRoot: false });
      assert.ok(config.files.some((f) => f === `${shippedConfDir()}mime.types`));
      const loc = config.servers[0]!.locations[0]!;
      assert.equal(config.http!.loc.settings.types.get('css'), 'text/css');
      assert.deepEqual(loc.uwsgi.params.slice(0, 2), [
        { key: 'QUERY_STRING', value: '$query_string', ifNotEmpty: false },
        { key: 'REQUEST_METHOD', value: '$request_method', ifNotEmpty: false },
      ]);
      assert.equal(loc.uwsgi.params.length, 15);
    } finally {
      c.cleanup();
    }
  });

  it('prefers a file beside the config over the shipped one', () => {
    const c = writeCase({ conf: 'events {}\nhttp { include mime.types; }\n', files: { 'mime.types': 'types { text/x-mine mine; }' } });
    try {
      const config = loadNginxConfig(c.file, { isRoot: false });
      assert.deepEqual([...config.http!.loc.settings.types], [['mine', 'text/x-mine']]);
    } finally {
      c.cleanup();
    }
  });

  it('detects include loops, which nginx itself crashes on', () => {
    const c = writeCase({ conf: 'events {}\nhttp {\n  include a.conf;\n}\n', files: { 'a.conf': 'include b.conf;\n', 'b.conf': '\ninclude a.conf;\n' } });
    try {
      const result = checkConfig(c.file, { isRoot: false });
      assert.equal(result.ok, false);
      assert.equal(result.error?.code, NginxConfigErrorCode.IncludeLoop);
      assert.equal(result.error?.message, `include loop: "${c.dir}/a.conf" is already being read in ${c.dir}/b.conf:2`);
      assert.equal(result.exitCode, 1);
    } finally {
      c.cleanup();
    }
  });

  it('detects a loop through a symbolic link too', () => {
    const c = writeCase({ conf: 'events {}\ninclude self.conf;\n', files: {} });
    try {
      symlinkSync(c.file, join(c.dir, 'self.conf'));
      assert.equal(checkConfig(c.file, { isRoot: false }).error?.code, NginxConfigErrorCode.IncludeLoop);
    } finally {
      c.cleanup();
    }
  });

  it('reports a missing include with nginx words at the include line', () => {
    const c = writeCase({ conf: 'events {}\n\ninclude nope.conf;\n' });
    try {
      const result = checkConfig(c.file, { isRoot: false });
      assert.equal(result.error?.code, NginxConfigErrorCode.Open);
      assert.equal(result.error?.text, `open() "${c.dir}/nope.conf" failed (2: No such file or directory)`);
      assert.equal(result.error?.line, 3);
    } finally {
      c.cleanup();
    }
  });

  it('reports a missing main file without a position', () => {
    const result = checkConfig('/nonexistent/tsgi/nginx.conf', { isRoot: false });
    assert.deepEqual(result.lines, [
      '[emerg] open() "/nonexistent/tsgi/nginx.conf" failed (2: No such file or directory)',
      'configuration file /nonexistent/tsgi/nginx.conf test failed',
    ]);
  });
});

describe('glob', () => {
  it('knows nginx pattern characters', () => {
    assert.equal(hasGlobMagic('/a/*.conf'), true);
    assert.equal(hasGlobMagic('/a/b?.conf'), true);
    assert.equal(hasGlobMagic('/a/[ab].conf'), true);
    assert.equal(hasGlobMagic('/a/b.conf'), false);
  });

  it('expands classes, negations and directory patterns', () => {
    const c = writeCase({ conf: '', files: { 'x/a1': '', 'x/b1': '', 'x/c1': '', 'y/p/f.conf': '', 'y/q/f.conf': '', 'y/q/g.conf': '' } });
    try {
      const rel = (list: string[]) => list.map((p) => p.slice(c.dir.length + 1));
      assert.deepEqual(rel(expandGlob(`${c.dir}/x/[ab]1`)), ['x/a1', 'x/b1']);
      assert.deepEqual(rel(expandGlob(`${c.dir}/x/[!ab]1`)), ['x/c1']);
      assert.deepEqual(rel(expandGlob(`${c.dir}/x/?1`)), ['x/a1', 'x/b1', 'x/c1']);
      assert.deepEqual(rel(expandGlob(`${c.dir}/y/*/f.conf`)), ['y/p/f.conf', 'y/q/f.conf']);
      assert.deepEqual(expandGlob(`${c.dir}/none/*`), []);
    } finally {
      c.cleanup();
    }
  });
});
