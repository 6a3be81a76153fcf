import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  OptionIndex,
  OptionTableError,
  UsageError,
  closestName,
  convertValue,
  editDistance,
  formatHelp,
  parseOptions,
  validateTable,
  type OptionSpec,
} from '../../src/cli/options.js';
import { SERVE_OPTIONS } from '../../src/appserver/options.js';

const TABLE = [
  { name: 'socket', short: 's', aliases: ['uwsgi-socket'], type: 'string', repeatable: true, section: 'Sockets', help: 'bind' },
  { name: 'processes', aliases: ['workers'], short: 'p', type: 'number', default: 1, section: 'Processes', help: 'workers' },
  { name: 'master', short: 'M', type: 'boolean', section: 'Processes', help: 'master' },
  { name: 'kind', type: 'string', choices: ['a', 'b'], help: 'kind' },
  { name: 'plugins', type: 'string', status: 'ignored', ignoredReason: 'no plugins here', section: 'Sockets', help: 'load plugins' },
] as const satisfies readonly OptionSpec[];

describe('command-line syntax', () => {
  it('parses uWSGI syntax: --opt value, --opt=value, short, aliases, repeats, bare booleans', () => {
    const options = parseOptions(TABLE, ['--socket', ':1', '--uwsgi-socket=:2', '-s', ':3', '--workers', '4', '-M', 'file.ini']);
    assert.deepEqual(options.list('socket'), [':1', ':2', ':3']);
    assert.equal(options.number('processes'), 4);
    assert.equal(options.flag('master'), true);
    assert.deepEqual(options.positionals, ['file.ini']);
    assert.deepEqual(options.sources('socket'), [{ kind: 'command-line' }, { kind: 'command-line' }, { kind: 'command-line' }]);
    assert.deepEqual(
      options.given.map((entry) => entry.option),
      ['socket', 'socket', 'socket', 'processes', 'master'],
    );
  });

  it('takes defaults from the table and the last value of a non-repeatable option', () => {
    const none = parseOptions(TABLE, []);
    assert.equal(none.number('processes'), 1);
    assert.equal(none.source('processes'), undefined);
    assert.equal(none.has('processes'), false);
    assert.equal(parseOptions(TABLE, ['-p', '2', '-p', '3']).number('processes'), 3);
    assert.equal(parseOptions(TABLE, ['--master=false']).flag('master'), false);
    assert.deepEqual(parseOptions(TABLE, ['--', '--master']).positionals, ['--master']);
    assert.deepEqual(parseOptions(TABLE, ['-s:1', '-p8']).list('socket'), [':1']);
    assert.equal(parseOptions(TABLE, ['-p8']).number('processes'), 8);
    assert.throws(() => parseOptions(TABLE, ['-Mx']), /unknown option "-Mx"/);
  });

  it('rejects unknown options (with a suggestion), missing values, bad numbers and bad choices', () => {
    assert.throws(
      () => parseOptions(TABLE, ['--nope']),
      (e: unknown) => e instanceof UsageError && e.code === 'ERR_USAGE' && e.message === 'unknown option "--nope" (see --help)',
    );
    assert.throws(() => parseOptions(TABLE, ['--proceses', '2']), /^UsageError: unknown option "--proceses"; did you mean "--processes"\? \(see --help\)$/);
    assert.throws(() => parseOptions(TABLE, ['-z']), /unknown option "-z"/);
    assert.throws(() => parseOptions(TABLE, ['--socket']), /option --socket needs a value/);
    assert.throws(() => parseOptions(TABLE, ['--processes', 'many']), /^UsageError: option --processes expects a number, got "many"$/);
    assert.throws(() => parseOptions(TABLE, ['--kind', 'c']), /expects one of a, b; got "c"/);
    assert.throws(() => parseOptions(TABLE, ['--master=maybe']), /expects true or false, got "maybe"/);
  });

  it('reads booleans as uWSGI spells them, an empty value (a bare ini key) being true', () => {
    const master = TABLE[2];
    for (const word of ['', 'true', 'TRUE', '1', 'yes', 'on', 'y']) assert.deepEqual(convertValue(master, word), { value: true }, word);
    for (const word of ['false', '0', 'no', 'Off', 'n']) assert.deepEqual(convertValue(master, word), { value: false }, word);
    assert.deepEqual(convertValue(TABLE[1], ' 4 '), { value: 4 });
  });

  it('reports ignored options that were given', () => {
    const options = parseOptions(TABLE, ['--plugins', 'python3']);
    assert.deepEqual(
      options.ignored().map(({ spec, sources }) => [spec.name, sources.length]),
      [['plugins', 1]],
    );
  });
});

describe('suggestions', () => {
  it('measures edits, counting a swap of neighbours as one', () => {
    assert.equal(editDistance('proceses', 'processes'), 1);
    assert.equal(editDistance('lisetn', 'listen'), 1);
    assert.equal(editDistance('', 'abc'), 3);
  });

  it('suggests only names close enough to be a typo', () => {
    const names = new OptionIndex(TABLE).names();
    assert.equal(closestName('proceses', names), 'processes');
    assert.equal(closestName('mastr', names), 'master');
    assert.equal(closestName('uwsgi-sockets', names), 'uwsgi-socket');
    assert.equal(closestName('daemonize', names), undefined);
    assert.equal(closestName('x', names), undefined);
  });
});

describe('the table', () => {
  it('is checked: unique spellings, reasons for ignored options, defaults of the right type', () => {
    const base = { type: 'string', help: 'h' } as const;
    assert.throws(() => validateTable([{ ...base, name: 'a' }, { ...base, name: 'b', aliases: ['a'] }]), OptionTableError);
    assert.throws(() => validateTable([{ ...base, name: 'a', short: 's' }, { ...base, name: 'b', short: 's' }]), /-s is claimed by both "a" and "b"/);
    assert.throws(() => validateTable([{ ...base, name: 'a', status: 'ignored' }]), /"a" is ignored but gives no reason/);
    assert.throws(() => validateTable([{ ...base, name: 'a', ignoredReason: 'x' }]), /has an ignoredReason but is not ignored/);
    assert.throws(() => validateTable([{ name: 'a', type: 'number', default: '1', help: 'h' }]), /the default of "a" is not a number/);
  });

  it("tsgi serve's table is valid, every option has a section, and ignored ones say why", () => {
    validateTable(SERVE_OPTIONS);
    for (const spec of SERVE_OPTIONS) assert.ok(spec.section, `${spec.name} has no section`);
    const ignored = SERVE_OPTIONS.filter((spec) => 'status' in spec && spec.status === 'ignored');
    assert.deepEqual(
      ignored.map((spec) => spec.name),
      ['plugins', 'enable-threads', 'single-interpreter'],
    );
  });
});

describe('--help', () => {
  it('groups options by section, in table order, and marks ignored ones with the reason', () => {
    const help = formatHelp('Usage: x', TABLE);
    assert.match(help, /^Usage: x\n\nSockets:\n {2}-s, --socket, --uwsgi-socket STRING\s+bind \(repeatable\)\n {2}--plugins STRING\s+IGNORED: no plugins here\n\nProcesses:\n/);
    assert.match(help, /-p, --processes, --workers NUMBER\s+workers \(default: 1\)/);
    assert.match(help, /\n\nOptions:\n {2}--kind STRING\s+kind \(one of: a, b\)\n$/);
  });

  it("lists every option of tsgi serve", () => {
    const help = formatHelp('Usage: tsgi serve', SERVE_OPTIONS);
    for (const spec of SERVE_OPTIONS) assert.ok(help.includes(`--${spec.name}`), spec.name);
    assert.match(help, /Config files:\n {2}--ini FILE\[:SECTION\]/);
    assert.match(help, /--plugins, --plugin LIST\s+IGNORED: tsgi has no plugins; Python support is built in/);
  });
});
