/**
 * Loading options from the command line and config files (src/appserver/config/load.ts): in-place
 * expansion, sections, placeholders, includes, errors; and the seeds' config files and commands.
 *
 * tsgi's real table (SERVE_OPTIONS) only holds options that work today, so most seed options are
 * not in it yet. SEED_TABLE below declares the uWSGI options the seeds use, so that the loader can
 * be proven on the seeds' complete files; a last group checks that the real table refuses them
 * with a clear "unknown option ... FILE:LINE" until they are built.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadOptions, loadServeOptions, type LoadContext } from '../../src/appserver/config/load.js';
import {
  BadOptionValueError,
  ConfigIncludeLoopError,
  ConfigReadError,
  ConfigSectionError,
  ConfigSyntaxError,
  PlaceholderError,
  UnknownOptionError,
} from '../../src/appserver/config/errors.js';
import { SERVE_OPTIONS } from '../../src/appserver/options.js';
import { UsageError, describeSource, type OptionSpec, type ParsedOptions } from '../../src/cli/options.js';
import type { HostFacts } from '../../src/appserver/config/magic.js';

const DIR = join(process.cwd(), 'test/fixtures/config');

/** The config-file options, exactly as the real table declares them. */
const LOADERS = SERVE_OPTIONS.filter((spec) => 'action' in spec);

/** The uWSGI options the seeds use, declared as uWSGI declares them (core/uwsgi.c, python plugin). */
const SEED_TABLE: readonly OptionSpec[] = [
  ...LOADERS,
  { name: 'socket', short: 's', type: 'string', repeatable: true, help: 'bind (default protocol)' },
  { name: 'uwsgi-socket', type: 'string', repeatable: true, help: 'bind (uwsgi protocol)' },
  { name: 'http-socket', type: 'string', repeatable: true, help: 'bind (HTTP)' },
  { name: 'fastcgi-socket', type: 'string', repeatable: true, help: 'bind (FastCGI)' },
  { name: 'http', type: 'string', repeatable: true, help: 'HTTP router' },
  { name: 'wsgi-file', type: 'string', help: 'app file' },
  { name: 'module', short: 'w', type: 'string', help: 'app module' },
  { name: 'callable', type: 'string', help: 'callable name' },
  { name: 'pythonpath', aliases: ['python-path', 'pp'], type: 'string', repeatable: true, help: 'sys.path' },
  { name: 'chdir', type: 'string', help: 'chdir' },
  { name: 'processes', short: 'p', aliases: ['workers'], type: 'number', help: 'workers' },
  { name: 'threads', type: 'number', help: 'threads' },
  { name: 'master', short: 'M', type: 'boolean', help: 'master' },
  { name: 'memory-report', type: 'boolean', help: 'memory report' },
  { name: 'listen', short: 'l', type: 'number', default: 100, help: 'listen queue' },
  { name: 'log-date', aliases: ['logdate'], type: 'string', help: 'dates in logs' },
  { name: 'daemonize', short: 'd', type: 'string', help: 'daemonize' },
  { name: 'plugins', aliases: ['plugin'], type: 'string', repeatable: true, help: 'plugins' },
  { name: 'vhost', type: 'boolean', help: 'virtual hosting' },
  { name: 'enable-threads', short: 'T', type: 'boolean', help: 'threads' },
  { name: 'virtualenv', short: 'H', aliases: ['venv', 'home', 'pyhome'], type: 'string', help: 'virtualenv' },
  { name: 'mount', type: 'string', repeatable: true, help: 'mount' },
  { name: 'manage-script-name', type: 'boolean', help: 'SCRIPT_NAME' },
  { name: 'route', type: 'string', repeatable: true, help: 'routing' },
  { name: 'kind', type: 'string', choices: ['a', 'b'], help: 'a choice' },
];

const HOST: HostFacts = { hostname: 'box', cpus: 4, uid: 1000, gid: 1000, user: 'me', startedAt: 0, version: '0.0.0' };

function load(argv: string[], context: Partial<LoadContext> = {}): ParsedOptions {
  return loadOptions(SEED_TABLE, argv, { env: {}, cwd: DIR, host: HOST, ...context });
}

/** Files that exist only in memory, under /v, for the error cases. */
function virtual(files: Record<string, string>): Partial<LoadContext> {
  return {
    cwd: '/v',
    readFile: (path) => {
      const text = files[path.replace(/^\/v\//, '')];
      if (text === undefined) throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
      return text;
    },
  };
}

/** Runs `fn`, expects it to throw `type`, and returns the error for more checks. */
function failure<T extends Error>(fn: () => unknown, type: new (...args: never[]) => T): T {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof type, `expected ${type.name}, got ${String(error)}`);
    return error;
  }
  assert.fail(`expected ${type.name}, nothing was thrown`);
}

const at = (file: string, line: number) => ({ kind: 'file', file, line });

describe("the seeds' config files and commands (SEED_TABLE)", () => {
  it('seed 000: app_config.xml (pythonpath, module, callable, socket, <master/>, processes, <memory-report/>)', () => {
    const options = load(['-x', 'seed000-app_config.xml']);
    assert.deepEqual(options.list('pythonpath'), ['/home/chenjiebin/web/flaskdemo']);
    assert.equal(options.string('module'), 'flask');
    assert.equal(options.string('callable'), 'app');
    assert.deepEqual(options.list('socket'), ['127.0.0.1:5000']);
    assert.equal(options.flag('master'), true);
    assert.equal(options.number('processes'), 4);
    assert.equal(options.flag('memory-report'), true);
    assert.deepEqual(options.source('processes'), at('seed000-app_config.xml', 8));
    assert.deepEqual(options.list('xml'), ['seed000-app_config.xml']);
  });

  it('seed 000: the mount and unix-socket ini snippets', () => {
    const mount = load(['--ini', 'seed000-mount.ini']);
    assert.deepEqual(mount.list('mount'), ['/myapp=server.py']);
    assert.equal(mount.flag('manage-script-name'), true);
    assert.deepEqual(mount.sources('mount'), [at('seed000-mount.ini', 4)]);
    assert.deepEqual(load(['seed000-unix-socket.ini']).list('socket'), ['/tmp/uwsgi.sock']);
  });

  it('seed 001: the commented ini with four protocols, repeated sockets and their lines', () => {
    const options = load(['--ini', 'seed001-protocols.ini']);
    assert.deepEqual(options.list('socket'), ['127.0.0.1:9000', '/dev/shm/owan_web_uwsgi.sock']);
    assert.deepEqual(options.sources('socket'), [at('seed001-protocols.ini', 9), at('seed001-protocols.ini', 10)]);
    assert.deepEqual(options.list('uwsgi-socket'), ['/dev/shm/owan_web_uwsgi.sock']);
    assert.deepEqual(options.list('fastcgi-socket'), ['/dev/shm/owan_web_uwsgi.sock']);
    assert.deepEqual(options.list('http-socket'), ['/dev/shm/owan_web_uwsgi.sock']);
    assert.equal(options.string('chdir'), '/data/web/advance_python/uwsgi/');
    assert.equal(options.string('wsgi-file'), 'app.py');
    assert.equal(options.number('processes'), 4);
    assert.equal(options.number('threads'), 2);
    assert.equal(options.flag('master'), true);
    assert.equal(describeSource(options.source('master')!), 'seed001-protocols.ini:29');
  });

  it('seed 004: nowamagic_pj.xml, by -x, --xml and as a bare argument', () => {
    for (const argv of [['-x', 'seed004-nowamagic_pj.xml'], ['--xml', 'seed004-nowamagic_pj.xml'], ['seed004-nowamagic_pj.xml']]) {
      const options = load(argv);
      assert.deepEqual(options.list('socket'), ['127.0.0.1:8077']);
      assert.equal(options.number('listen'), 80);
      assert.equal(options.flag('master'), true);
      assert.deepEqual(options.list('pythonpath'), ['/root/nowamagic_venv/nowamagic_pj']);
      assert.equal(options.number('processes'), 1);
      assert.equal(options.string('log-date'), 'true');
      assert.equal(options.string('daemonize'), '/var/log/uwsgi.log');
      assert.deepEqual(options.list('plugins'), ['python']);
      assert.deepEqual(options.source('daemonize'), at('seed004-nowamagic_pj.xml', 7));
    }
  });

  it('seed 004: nowamagic_pj.ini, and the same options as json and yaml, load alike', () => {
    for (const argv of [
      ['--ini', 'seed004-nowamagic_pj.ini'],
      ['--json', 'seed004-nowamagic_pj.json'],
      ['--yaml', 'seed004-nowamagic_pj.yaml'],
      ['seed004-nowamagic_pj.yaml'],
      ['-j', 'seed004-nowamagic_pj.json'],
    ]) {
      const options = load(argv);
      assert.equal(options.flag('vhost'), false, argv.join(' '));
      assert.equal(options.has('vhost'), true);
      assert.deepEqual(options.list('plugins'), ['python']);
      assert.deepEqual(options.list('socket'), ['127.0.0.1:8077']);
      assert.equal(options.flag('master'), true);
      assert.equal(options.flag('enable-threads'), true);
      assert.equal(options.number('processes'), 1);
      assert.equal(options.string('wsgi-file'), '/root/nowamagic_venv/nowamagic_pj/nowamagic_pj/wsgi.py');
      assert.equal(options.string('virtualenv'), '/root/nowamagic_venv');
      assert.equal(options.string('chdir'), '/root/nowamagic_venv/nowamagic_pj');
    }
    assert.deepEqual(load(['--ini', 'seed004-nowamagic_pj.ini']).source('processes'), at('seed004-nowamagic_pj.ini', 9));
  });

  it("seed 004 as the post renders it ('[uwsgi]vhost = false' on one line) fails at line 1", () => {
    const error = failure(() => load(['--ini', 'seed004-verbatim.ini']), ConfigSyntaxError);
    assert.equal(error.code, 'ERR_CONFIG_SYNTAX');
    assert.match(error.message, /^malformed section header "\[uwsgi\]vhost = false" in seed004-verbatim.ini:1/);
  });

  it("the seeds' command lines", () => {
    const router = load(['--http', ':9090', '--wsgi-file', 'foobar.py', '--master', '--processes', '4', '--threads', '2']);
    assert.deepEqual(router.list('http'), [':9090']);
    assert.equal(router.string('wsgi-file'), 'foobar.py');
    assert.equal(router.flag('master'), true);
    assert.equal(router.number('processes'), 4);
    assert.equal(router.number('threads'), 2);
    assert.deepEqual(router.source('threads'), { kind: 'command-line' });

    const socket = load(['--http-socket', '127.0.0.1:9000', '--wsgi-file', 'app.py']);
    assert.deepEqual(socket.list('http-socket'), ['127.0.0.1:9000']);

    const django = load(['--http', ':8000', '--chdir', '/root/nowamagic_venv/nowamagic_pj/', '--module', 'django_wsgi']);
    assert.equal(django.string('module'), 'django_wsgi');
    assert.equal(django.string('chdir'), '/root/nowamagic_venv/nowamagic_pj/');
  });
});

describe("the real table (SERVE_OPTIONS) loads the seeds' config files", () => {
  for (const argv of [
    ['--xml', 'seed004-nowamagic_pj.xml'],
    ['--ini', 'seed004-nowamagic_pj.ini'],
    ['--json', 'seed004-nowamagic_pj.json'],
    ['--yaml', 'seed004-nowamagic_pj.yaml'],
  ]) {
    it(argv.join(' '), () => {
      const options = loadServeOptions(argv, {}, DIR);
      assert.deepEqual(options.list('socket'), ['127.0.0.1:8077']);
      assert.equal(options.flag('master'), true);
    });
  }

  it('accepts the ignored plugins and enable-threads, and reports them as ignored', () => {
    const options = loadServeOptions(['--plugin', 'python3', '-T', '--http-socket', ':8000'], {}, DIR);
    assert.deepEqual(options.list('plugins'), ['python3']);
    assert.deepEqual(
      options.ignored().map(({ spec }) => spec.name),
      ['plugins', 'enable-threads'],
    );
  });

  it("loads the seeds' Python options (pythonpath, module, callable, wsgi-file) with the real table", () => {
    const xml = loadServeOptions(['-x', 'seed000-app_config.xml'], {}, DIR);
    assert.deepEqual(xml.list('pythonpath'), ['/home/chenjiebin/web/flaskdemo']);
    assert.equal(xml.string('module'), 'flask');
    assert.equal(xml.string('callable'), 'app');
    const ini = loadServeOptions(['--ini', 'seed001-protocols.ini'], {}, DIR);
    assert.equal(ini.string('wsgi-file'), 'app.py');
    const argv = loadServeOptions(['--http', ':9090', '--wsgi-file', 'foobar.py', '--master', '--processes', '4', '--threads', '2'], {}, DIR);
    assert.equal(argv.string('wsgi-file'), 'foobar.py');
    assert.equal(argv.string('callable'), 'application');
    assert.equal(loadServeOptions(['-H', '/srv/venv', '-w', 'mysite.wsgi', '--pp', 'a', '--python-path', 'b'], {}, DIR).string('virtualenv'), '/srv/venv');
  });
});

describe('in-place expansion (top-bottom, expand asap)', () => {
  it('assembles the example of "How uWSGI parses config files" in its documented order', () => {
    const options = load(['--ini', 'order-1.ini']);
    assert.deepEqual(
      options.given.map((entry) => `${entry.option}=${String(entry.value)}`),
      [
        'ini=order-1.ini',
        'socket=:3031',
        `ini=${DIR}/order-2.ini`,
        'master=true',
        `xml=${DIR}/order-3.xml`,
        'plugins=router_uwsgi',
        'route=^/foo uwsgi:127.0.0.1:4040,0,0',
        'memory-report=true',
        'processes=4',
        'socket=:3032',
        'chdir=/var/www',
      ],
    );
    assert.deepEqual(options.source('route'), at(`${DIR}/order-3.xml`, 3));
  });

  it("puts a file's options where its flag stands on the command line", () => {
    assert.deepEqual(load(['--socket', ':1', '--ini', 'docs-example.ini', '--socket', ':2']).list('socket'), [
      ':1',
      '/tmp/uwsgi.sock',
      '127.0.0.1:8000',
      ':2',
    ]);
    // The last value of a single-valued option wins, wherever it was written.
    assert.equal(load(['--processes', '2', '--ini', 'docs-example.ini']).number('processes'), 3);
    assert.equal(load(['--ini', 'docs-example.ini', '--workers', '5']).number('processes'), 5);
    assert.deepEqual(load(['--ini', 'docs-example.ini', '--workers', '5']).source('processes'), { kind: 'command-line' });
  });

  it('loads bare config-file arguments after the options, as getopt reorders them for uWSGI', () => {
    const options = load(['docs-example.ini', '--socket', ':1', 'other-argument', 'docs-example.yaml']);
    assert.deepEqual(options.list('socket'), [':1', '/tmp/uwsgi.sock', '127.0.0.1:8000', '/tmp/uwsgi.sock', '127.0.0.1:8000']);
    assert.deepEqual(options.positionals, ['other-argument']);
  });

  it('loads a file by extension with include, and refuses a name it cannot classify', () => {
    assert.deepEqual(load(['--include', 'docs-example.json']).list('socket'), ['/tmp/uwsgi.sock', '127.0.0.1:8000']);
    const error = failure(() => load(['--include', 'site.conf']), ConfigSyntaxError);
    assert.match(error.message, /^cannot tell the format of config file "site.conf" on the command line/);
  });

  it('loads the same file twice in a row (not a loop)', () => {
    assert.deepEqual(load(['--ini', 'twice.ini']).list('socket'), [':4', ':4']);
  });
});

describe('file:section', () => {
  it('reads named ini sections; ":name" alone means the last ini file loaded', () => {
    assert.deepEqual(load(['--ini', 'sections.ini']).list('socket'), [':1', ':2', ':4', ':5', ':9']);
    assert.deepEqual(load(['--ini', 'sections.ini:app1']).list('socket'), [':2']);
    assert.deepEqual(load(['--ini', 'sections.ini:']).list('socket'), [':1', ':2', ':4', ':5', ':9']);
  });

  it('reads [tsgi] as well as [uwsgi], in file order', () => {
    assert.deepEqual(load(['tsgi-section.ini']).list('socket'), [':3031', ':3032']);
  });

  it('reads named json objects and yaml mappings, and xml stanzas by id', () => {
    const json = load(['--json', 'sections.json:app2']);
    assert.deepEqual(json.list('plugins'), ['php']);
    assert.deepEqual(json.list('socket'), [':1', ':2']);
    assert.deepEqual(load(['--yaml', 'sections.yaml:app1']).list('plugins'), ['rack']);
    assert.deepEqual(load(['--yaml', 'sections.yaml:app2']).sources('socket'), [at('sections.yaml', 6), at('sections.yaml', 7)]);
    assert.deepEqual(load(['-x', 'docs-stanzas.xml:django']).list('socket'), ['/tmp/django.sock']);
    assert.deepEqual(load(['-x', 'docs-stanzas.xml']).list('socket'), ['/tmp/tg.sock']);
  });

  it('names the missing section and who asked for it', () => {
    const error = failure(() => load(['--ini', 'docs-example.ini:nope']), ConfigSectionError);
    assert.equal(error.code, 'ERR_CONFIG_SECTION');
    assert.equal(error.message, 'no [nope] section in config file "docs-example.ini" on the command line');
    assert.equal(
      failure(() => load(['--json', 'sections.json']), ConfigSectionError).message,
      'no "uwsgi" object or "tsgi" object in config file "sections.json" on the command line',
    );
    assert.match(failure(() => load(['-x', 'docs-stanzas.xml:rails']), ConfigSectionError).message, /no <uwsgi id="rails"> or <tsgi id="rails"> element/);
    assert.match(failure(() => load(['--ini', ':app1']), ConfigSyntaxError).message, /^no config file before ":app1" in ":app1" on the command line/);
  });
});

describe('placeholders and environment variables', () => {
  it('expands %(name), $(ENV) with a default, @(file), math, and leaves unknown ones as written', () => {
    const options = load(['--ini', 'placeholders.ini'], { env: { TSGI_TEST_HOME: '/home/me', date: undefined } });
    assert.equal(options.string('chdir'), '/srv/www/mysite');
    assert.deepEqual(options.list('socket'), ['/tmp/mysite.sock', ':8000']);
    assert.equal(options.number('threads'), 5);
    assert.equal(options.string('virtualenv'), '/home/me/venv');
    assert.equal(options.string('callable'), 'application');
    assert.equal(options.string('module'), 'app:%(nonexistent)');
    assert.equal(options.string('daemonize'), '$(date)');
    assert.deepEqual(Object.fromEntries(options.placeholders), { base: '/srv/www', project: 'mysite' });
  });

  it('expands command-line values too, and set-placeholder there', () => {
    const options = load(['--set-ph', 'port=9000', '--socket', ':%(port)', '--socket', '$(HOST-localhost):$(PORT:-80)'], { env: { PORT: '' } });
    assert.deepEqual(options.list('socket'), [':9000', 'localhost:80']);
  });

  it("takes an option's FIRST value, by name or alias, as uWSGI's uwsgi_get_exported_opt does", () => {
    const options = load(['--processes', '2', '--processes', '3', '--threads', '%(workers)', '--chdir', '%(listen)']);
    assert.equal(options.number('processes'), 3);
    assert.equal(options.number('threads'), 2);
    // A default is not a given value: the reference stays as written.
    assert.equal(options.string('chdir'), '%(listen)');
  });

  it('expands placeholders in the path of a file to load, against what was read so far', () => {
    assert.deepEqual(load(['--set-ph', 'conf=docs-example', '--ini', '%(conf).ini']).list('socket'), ['/tmp/uwsgi.sock', '127.0.0.1:8000']);
    assert.deepEqual(load(['--ini', '$(CONF)'], { env: { CONF: 'docs-example.ini' } }).list('socket'), ['/tmp/uwsgi.sock', '127.0.0.1:8000']);
  });

  it('stops a placeholder that refers to itself, naming where it was written', () => {
    const error = failure(() => load(['--set-ph', 'a=%(a)x', '--chdir', '%(a)']), PlaceholderError);
    assert.equal(error.code, 'ERR_CONFIG_PLACEHOLDER');
    assert.match(error.message, /^placeholder %\(a\) never stops expanding \(does it refer to itself\?\) on the command line$/);
  });

  it('refuses a placeholder named like an option, or without a value', () => {
    assert.match(failure(() => load(['--set-placeholder', 'chdir=/x']), PlaceholderError).message, /"chdir" is an option, so it cannot be a placeholder/);
    assert.match(failure(() => load(['--set-ph', 'novalue']), PlaceholderError).message, /option --set-ph expects NAME=VALUE, got "novalue"/);
  });

  it('fails on an @(file) that cannot be read, naming the line', () => {
    const error = failure(() => load(['--ini', 'x.ini'], virtual({ 'x.ini': '[uwsgi]\n\nchdir = @(missing.txt)\n' })), ConfigReadError);
    assert.equal(error.message, 'cannot read @(missing.txt) (no such file) in x.ini:3');
  });
});

describe('magic variables', () => {
  it("describe the file they are written in, even when it is included, and %N/%O the first file", () => {
    const options = load(['--ini', 'magic/site/app.ini']);
    const site = `${DIR}/magic/site`;
    assert.deepEqual(options.list('pythonpath'), [
      `${site}/`,
      `${site}/app.ini`,
      'app.ini',
      'app',
      'ini',
      'site',
      'magic/site/app.ini',
      'magic/site/app.ini:uwsgi',
      '100%',
      '%(logformat)',
    ]);
    assert.deepEqual(options.list('socket'), ['/tmp/app.sock']);
    assert.equal(options.string('chdir'), `${site}/`);
    assert.equal(options.string('module'), 'nested-app');
    assert.equal(options.string('callable'), 'magic/site/app.ini');
  });

  it('use the host facts, and are not expanded on the command line', () => {
    const options = load(['--ini', 'x.ini', '--chdir', '%d'], { ...virtual({ 'x.ini': '[uwsgi]\nmodule = %h-%k-%U-%v\n' }), host: HOST });
    assert.equal(options.string('module'), 'box-4-me-/v');
    assert.equal(options.string('chdir'), '%d');
  });

  it('reject an unknown letter with FILE:LINE', () => {
    const error = failure(() => load(['--ini', 'x.ini'], virtual({ 'x.ini': '[uwsgi]\nsocket = :80\nchdir = /srv/50%z\n' })), PlaceholderError);
    assert.deepEqual(error.source, at('x.ini', 3));
    assert.equal(error.message, 'unknown magic variable "%z" in "/srv/50%z" in x.ini:3; write %% for a literal %');
  });
});

describe('nested includes', () => {
  it('detects a loop and shows the chain', () => {
    const error = failure(() => load(['--ini', 'loop-a.ini']), ConfigIncludeLoopError);
    assert.equal(error.code, 'ERR_CONFIG_INCLUDE_LOOP');
    assert.deepEqual(error.chain, ['loop-a.ini', `${DIR}/loop-b.ini`, `${DIR}/loop-a.ini`]);
    assert.equal(error.message, `config files include each other in a loop: ${error.chain.join(' -> ')} (the last include is in ${DIR}/loop-b.ini:3)`);
  });

  it('detects a file that includes its own section, but not another section of itself', () => {
    assert.ok(failure(() => load(['--ini', 'x.ini'], virtual({ 'x.ini': '[uwsgi]\nini = :uwsgi\n' })), ConfigIncludeLoopError));
    const ok = load(['--ini', 'x.ini'], virtual({ 'x.ini': '[uwsgi]\nini = :more\nsocket = :1\n[more]\nsocket = :0\n' }));
    assert.deepEqual(ok.list('socket'), [':0', ':1']);
  });

  it('names the including line when an included file cannot be read', () => {
    const error = failure(() => load(['--ini', 'x.ini'], virtual({ 'x.ini': '[uwsgi]\nxml = other.xml\n' })), ConfigReadError);
    assert.equal(error.code, 'ERR_CONFIG_READ');
    assert.equal(error.message, 'cannot read config file "other.xml" (no such file: /v/other.xml) in x.ini:2');
    assert.deepEqual(error.source, at('x.ini', 2));
  });

  it('reports syntax errors of an included file with its own name and line', () => {
    const error = failure(() => load(['--ini', 'x.ini'], virtual({ 'x.ini': '[uwsgi]\njson = y.json\n', 'y.json': '{"uwsgi": {\n  "a": tru\n}}' })), ConfigSyntaxError);
    assert.deepEqual(error.source, at('y.json', 2));
  });
});

describe('errors name the option and where it was written', () => {
  it('an unknown option in a file, with a suggestion', () => {
    const error = failure(() => load(['--ini', 'typo.ini']), UnknownOptionError);
    assert.equal(error.message, 'unknown option "proceses" in typo.ini:3; did you mean "processes"?');
    assert.equal(error.suggestion, 'processes');
    assert.deepEqual(error.source, at('typo.ini', 3));
  });

  it('an unknown option with no close match hints at placeholders', () => {
    const error = failure(() => load(['--ini', 'x.ini'], virtual({ 'x.ini': '[uwsgi]\nfrobnicate = 1\n' })), UnknownOptionError);
    assert.equal(
      error.message,
      'unknown option "frobnicate" in x.ini:2; if it is a placeholder, use it as %(frobnicate) or define it with set-placeholder = frobnicate=VALUE',
    );
  });

  it('a bad value in a file', () => {
    const error = failure(() => load(['--ini', 'site.ini']), BadOptionValueError);
    assert.equal(error.code, 'ERR_CONFIG_BAD_VALUE');
    assert.equal(error.message, 'option "processes" expects a number, got "four" in site.ini:7');
    const choice = failure(() => load(['--yaml', 'x.yaml'], virtual({ 'x.yaml': 'uwsgi:\n  master: sure\n' })), BadOptionValueError);
    assert.equal(choice.message, 'option "master" expects true or false, got "sure" in x.yaml:2');
    const kind = failure(() => load(['-j', 'x.json'], virtual({ 'x.json': '{"uwsgi": {"kind": "c"}}' })), BadOptionValueError);
    assert.equal(kind.message, 'option "kind" expects one of a, b; got "c" in x.json:1');
  });

  it('a value that only becomes bad through a placeholder still names its own line', () => {
    const error = failure(() => load(['--ini', 'x.ini'], virtual({ 'x.ini': '[uwsgi]\nset-ph = n=lots\n\nthreads = %(n)\n' })), BadOptionValueError);
    assert.equal(error.message, 'option "threads" expects a number, got "lots" in x.ini:4');
  });

  it('command-line mistakes are UsageErrors', () => {
    assert.equal(failure(() => load(['--proceses', '2']), UsageError).message, 'unknown option "--proceses"; did you mean "--processes"? (see --help)');
    assert.equal(failure(() => load(['--processes', 'many']), UsageError).message, 'option --processes expects a number, got "many"');
    assert.equal(failure(() => load(['--ini']), UsageError).message, 'option --ini needs a value (FILE[:SECTION])');
    assert.equal(failure(() => load(['--ini', 'nope.ini']), ConfigReadError).message, `cannot read config file "nope.ini" (no such file: ${DIR}/nope.ini) on the command line`);
  });
});

describe('the examples in docs/options.md hold (with the real table)', () => {
  const serve = (argv: string[], files: Record<string, string>): ParsedOptions => {
    const context = virtual(files);
    return loadOptions(SERVE_OPTIONS, argv, { env: {}, cwd: '/v', host: HOST, readFile: context.readFile });
  };

  it('the same configuration in the four formats', () => {
    const files = {
      'a.ini': '[uwsgi]\n; a comment: ; or # at the start of a line\nhttp-socket = :8000\nhttp-socket = /run/app.sock\napp = %dapp.ts\nenable-threads\n',
      'a.xml': '<uwsgi>\n  <http-socket>:8000</http-socket>\n  <http-socket>/run/app.sock</http-socket>\n  <app>%dapp.ts</app>\n  <enable-threads/>\n</uwsgi>\n',
      'a.json': '{"uwsgi": {"http-socket": [":8000", "/run/app.sock"], "app": "%dapp.ts", "enable-threads": true}}',
      'a.yaml': 'uwsgi:\n  http-socket:\n    - ":8000"\n    - /run/app.sock\n  app: "%dapp.ts"\n  enable-threads: true\n',
    };
    for (const file of Object.keys(files)) {
      const options = serve([file], files);
      assert.deepEqual(options.list('http-socket'), [':8000', '/run/app.sock'], file);
      assert.equal(options.string('app'), '/v/app.ts', file);
      assert.equal(options.flag('enable-threads'), true, file);
    }
  });

  it('order and precedence', () => {
    const options = serve(['--listen', '64', '--ini', 'site.ini', '--http-keepalive', '5'], {
      'site.ini': '[uwsgi]\nhttp-socket = :9000\nini = %dbase.ini\nlisten = 128\n',
      'base.ini': '[uwsgi]\nlisten = 1024\nhttp-socket = :8000\n',
    });
    assert.deepEqual(options.list('http-socket'), [':9000', ':8000']);
    assert.equal(options.number('listen'), 128);
    assert.equal(options.number('http-keepalive'), 5);
    assert.equal(serve(['site.ini', '--listen', '64'], { 'site.ini': '[uwsgi]\nlisten = 128\n' }).number('listen'), 128);
  });

  it('placeholders', () => {
    const options = serve(['--ini', 'shop.ini'], {
      'shop.ini': '[uwsgi]\nproject = shop\nbase = /srv/%(project)\nhttp-socket = %(base)/app.sock\napp = %(base)/app.ts\n',
    });
    assert.deepEqual(options.list('http-socket'), ['/srv/shop/app.sock']);
    assert.equal(options.string('app'), '/srv/shop/app.ts');
  });
});

describe('log-date', () => {
  it('dates every line as uWSGI does, and takes a strftime format', async () => {
    const { Logger, strftime } = await import('../../src/appserver/log.js');
    const lines: string[] = [];
    const log = new Logger({ write: (text: string) => lines.push(text) });
    log.dateLines();
    log.line('one\ntwo');
    assert.match(lines[0]!, /^[A-Z][a-z]{2} [A-Z][a-z]{2} \d\d \d\d:\d\d:\d\d \d{4} - one\n[A-Z][a-z]{2} .* - two\n$/);
    assert.equal(strftime('%Y-%m-%d %H:%M:%S %%', new Date(2026, 10, 22, 2, 8, 4)), '2026-11-22 02:08:04 %');
  });
});
