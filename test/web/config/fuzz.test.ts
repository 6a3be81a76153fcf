/**
 * Whatever text it is given, the reader either returns a configuration or throws a TsgiError that
 * says where: never a TypeError, a RangeError or an error without a position when one exists.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { TsgiError } from '../../../src/errors.js';
import { NginxConfigError } from '../../../src/web/config/errors.js';
import { loadNginxConfigText } from '../../../src/web/config/load.js';
import { DIRECTIVES_BY_NAME } from '../../../src/web/config/directives.js';

const FILE = '/nonexistent-tsgi-fuzz/nginx.conf';
const NAMES = [...DIRECTIVES_BY_NAME.keys()].filter((name) => name !== 'include');

/** Pieces of nginx.conf text: real directive names, values, punctuation, quotes, escapes, comments. */
const piece = fc.oneof(
  { weight: 5, arbitrary: fc.constantFrom(...NAMES) },
  { weight: 3, arbitrary: fc.constantFrom(';', '{', '}', ' ', '\n', '\t', '"', "'", '\\', '#', '$', '${', ')', '(', '=', '~', '~*', '^~', '@x', '/') },
  {
    weight: 3,
    arbitrary: fc.constantFrom('on', 'off', '80', '127.0.0.1:8080', 'unix:/tmp/x.sock', '[::1]:80', '1k', '10m', '1h', '5s', 'x', '$host', '$uri', 'http://a', 'auto', 'zone=z:10m', '2', '-1'),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 6 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 4 }) },
);

const soup = fc.array(piece, { maxLength: 60 }).map((pieces) => pieces.join(' '));
const structured = fc
  .array(fc.tuple(fc.constantFrom(...NAMES), fc.array(piece, { maxLength: 3 }), fc.constantFrom(';', '{', '}', '{}')), { maxLength: 12 })
  .map((statements) => `events {}\nhttp {\nserver {\n${statements.map(([n, a, end]) => `${n} ${a.join(' ')}${end}`).join('\n')}\n}\n}\n`);

function check(text: string): void {
  const lines = text.split('\n').length;
  try {
    loadNginxConfigText(text, FILE, { isRoot: false, prefix: '/nonexistent-tsgi-fuzz/' });
  } catch (error) {
    assert.ok(error instanceof TsgiError, `not a TsgiError: ${String(error)}`);
    assert.ok(error instanceof NginxConfigError);
    if (error.file !== null && error.file === FILE) {
      assert.ok(error.message.endsWith(` in ${FILE}:${error.line}`), error.message);
      assert.ok(error.line >= 1 && error.line <= lines, `line ${error.line} of ${lines}`);
    }
  }
}

it('random token soup only ever throws positioned NginxConfigErrors', () => {
  fc.assert(fc.property(soup, check), { numRuns: 400 });
});

it('random statements inside a server only ever throw positioned NginxConfigErrors', () => {
  fc.assert(fc.property(structured, check), { numRuns: 400 });
});
