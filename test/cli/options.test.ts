import { it } from 'node:test';
import assert from 'node:assert/strict';
import { formatHelp, parseOptions, UsageError, type OptionSpec } from '../../src/cli/options.js';

const TABLE = [
  { name: 'socket', short: 's', aliases: ['uwsgi-socket'], type: 'string', repeatable: true, help: 'bind' },
  { name: 'processes', aliases: ['workers'], short: 'p', type: 'number', default: 1, help: 'workers' },
  { name: 'master', short: 'M', type: 'boolean', help: 'master' },
  { name: 'kind', type: 'string', choices: ['a', 'b'], help: 'kind' },
] as const satisfies readonly OptionSpec[];

it('parses uWSGI syntax: --opt value, --opt=value, short, aliases, repeats, bare booleans', () => {
  const options = parseOptions(TABLE, ['--socket', ':1', '--uwsgi-socket=:2', '-s', ':3', '--workers', '4', '-M', 'file.ini']);
  assert.deepEqual(options.list('socket'), [':1', ':2', ':3']);
  assert.equal(options.number('processes'), 4);
  assert.equal(options.flag('master'), true);
  assert.deepEqual(options.positionals, ['file.ini']);
});

it('takes defaults from the table and the last value of a non-repeatable option', () => {
  assert.equal(parseOptions(TABLE, []).number('processes'), 1);
  assert.equal(parseOptions(TABLE, ['-p', '2', '-p', '3']).number('processes'), 3);
  assert.equal(parseOptions(TABLE, ['--master=false']).flag('master'), false);
});

it('rejects unknown options, missing values, bad numbers and bad choices with a clear message', () => {
  assert.throws(() => parseOptions(TABLE, ['--nope']), (e: unknown) => e instanceof UsageError && /unknown option "--nope"/.test(e.message));
  assert.throws(() => parseOptions(TABLE, ['--socket']), /option --socket needs a value/);
  assert.throws(() => parseOptions(TABLE, ['--processes', 'many']), /expects a number, got "many"/);
  assert.throws(() => parseOptions(TABLE, ['--kind', 'c']), /expects one of a, b; got "c"/);
  assert.throws(() => parseOptions(TABLE, ['--master=maybe']), /expects true or false/);
});

it('formats --help from the table', () => {
  const help = formatHelp('Usage: x', TABLE);
  assert.match(help, /-s, --socket, --uwsgi-socket STRING\s+bind \(repeatable\)/);
  assert.match(help, /--processes, --workers NUMBER\s+workers \(default: 1\)/);
});
