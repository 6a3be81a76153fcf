/**
 * Templates as nginx's script compiler reads them: tokens, nginx's error messages, unknown
 * variables, case-insensitive names, captures.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Variables, VariableError, compileTemplate, parseTemplate, type TemplateToken } from '../../../src/web/variables.js';
import { configFromText, fakeContext } from './fake-context.js';

const TOKEN_CASES: readonly (readonly [string, TemplateToken[]])[] = [
  ['plain', [{ kind: 'text', text: 'plain' }]],
  ['$uri', [{ kind: 'variable', name: 'uri' }]],
  ['a$uri.b', [{ kind: 'text', text: 'a' }, { kind: 'variable', name: 'uri' }, { kind: 'text', text: '.b' }]],
  ['${host}x', [{ kind: 'variable', name: 'host' }, { kind: 'text', text: 'x' }]],
  ['$1$10', [{ kind: 'capture', index: 1 }, { kind: 'capture', index: 1 }, { kind: 'text', text: '0' }]],
  ['$arg_a-$http_X_Y', [{ kind: 'variable', name: 'arg_a' }, { kind: 'text', text: '-' }, { kind: 'variable', name: 'http_X_Y' }]],
  ['/p/$uri?$args', [{ kind: 'text', text: '/p/' }, { kind: 'variable', name: 'uri' }, { kind: 'text', text: '?' }, { kind: 'variable', name: 'args' }]],
  ['', []],
  // A digit other than 1-9 starts an ordinary name, which no variable has: `unknown "0" variable`.
  ['$0', [{ kind: 'variable', name: '0' }]],
];

describe('parseTemplate', () => {
  for (const [text, tokens] of TOKEN_CASES) {
    it(JSON.stringify(text), () => assert.deepEqual(parseTemplate(text), tokens));
  }

  const ERRORS: readonly (readonly [string, string])[] = [
    ['x$', 'invalid variable name'],
    ['$ x', 'invalid variable name'],
    ['${', 'invalid variable name'],
    ['${}', 'invalid variable name'],
    ['${uri', 'the closing bracket in "uri" variable is missing'],
    ['${ur i}', 'the closing bracket in "ur" variable is missing'],
  ];
  for (const [text, message] of ERRORS) {
    it(`refuses ${JSON.stringify(text)}: ${message}`, () => {
      assert.throws(
        () => parseTemplate(text),
        (error: unknown) => error instanceof VariableError && error.code === 'ERR_VARIABLE_SYNTAX' && error.message === message,
      );
    });
  }
});

describe('compileTemplate', () => {
  const config = configFromText(`
events {}
http {
  access_log off;
  map $uri $m { default d; }
  server { listen 127.0.0.1:8080; server_name one; location / { set $mine "v"; } location ~ ^/(?<named>x)$ {} }
}`);

  it('answers an unknown variable as nginx: unknown "x" variable', () => {
    assert.throws(
      () => compileTemplate('a $nosuch b'),
      (error: unknown) => error instanceof VariableError && error.code === 'ERR_UNKNOWN_VARIABLE' && error.message === 'unknown "nosuch" variable',
    );
  });

  it('knows set, map and named-capture variables of the configuration', () => {
    const variables = new Variables(config);
    for (const name of ['mine', 'm', 'named', 'MINE', 'uri', 'http_anything', 'cookie_x', 'arg_y', 'sent_http_z', 'upstream_addr']) {
      assert.equal(variables.isKnown(name), true, name);
    }
    assert.equal(variables.isKnown('other'), false);
    assert.equal(new Variables(null).isKnown('mine'), false);
  });

  it('reads names case-insensitively and prints not-found values as nothing', () => {
    const variables = new Variables(config);
    const ctx = fakeContext({ config, raw: 'GET /a/b?x=1 HTTP/1.1\r\nHost: h\r\n\r\n', location: '/', variables });
    assert.equal(variables.compile('[$URI][${Args}][$arg_X][$arg_none][$http_nothere]')(ctx), '[/a/b][x=1][1][][]');
  });

  it('writes captures, empty when the regex had fewer groups', () => {
    const variables = new Variables(config);
    const ctx = fakeContext({ config, raw: 'GET / HTTP/1.1\r\nHost: h\r\n\r\n', variables, captures: { groups: ['ab', 'a', 'b'], named: {} } });
    assert.equal(variables.compile('$1-$2-$3-$9')(ctx), 'a-b--');
  });

  it('keeps expansions byte strings: UTF-8 text of the configuration becomes its bytes', () => {
    const variables = new Variables(config);
    const ctx = fakeContext({ config, raw: 'GET /%C3%A9 HTTP/1.1\r\nHost: h\r\n\r\n', variables });
    assert.equal(variables.expand(ctx, 'é$uri'), '\xc3\xa9/\xc3\xa9');
  });
});
