/**
 * The location conformance table (location.case.ts) against tsgi's matcher, the reference port of
 * nginx's tree, and the real nginx; plus the parts of the API the table cannot reach.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  autoRedirectTarget,
  buildLocationMatcher,
  LocationError,
  parseLocationArgs,
  type LocationDef,
} from '../../../src/web/match/location.js';
import { runLocationCases } from './location.case.js';
import { nginxImplementation, referenceImplementation, tsgiImplementation } from './location.impls.js';

runLocationCases(tsgiImplementation);
runLocationCases(referenceImplementation);
runLocationCases(nginxImplementation);

describe('location API', () => {
  const def = (modifier: LocationDef<string>['modifier'], pattern: string, children: LocationDef<string>[] = []): LocationDef<string> => ({
    modifier,
    pattern,
    id: `${modifier} ${pattern}`,
    children,
  });

  it('finds named locations by their @reference, the first of a name winning', () => {
    const first = def('@', 'fallback');
    const matcher = buildLocationMatcher([def('', '/'), first, def('@', 'fallback'), def('@', 'other')]);
    assert.equal(matcher.findNamed('@fallback'), first);
    assert.equal(matcher.findNamed('@other')?.pattern, 'other');
    assert.equal(matcher.findNamed('fallback'), null);
    assert.equal(matcher.findNamed('@missing'), null);
  });

  it('returns the defs it was given, by identity', () => {
    const inner = def('~', '\\.php$');
    const outer = def('', '/a/', [inner]);
    const matcher = buildLocationMatcher([outer]);
    assert.equal(matcher.match('/a/x.php')?.location, inner);
    assert.equal(matcher.match('/a/x')?.location, outer);
    assert.equal(matcher.match('/b'), null);
  });

  it('reports no captures when no regex took part', () => {
    const match = buildLocationMatcher([def('', '/')]).match('/x');
    assert.deepEqual(match?.captures, { groups: [], named: {} });
  });

  it('builds the auto-redirect target from the location name and $args', () => {
    const matcher = buildLocationMatcher<string>([{ modifier: '', pattern: '/app/', upstreamPass: true, id: 'app' }]);
    const match = matcher.match('/app')!;
    assert.equal(match.autoRedirect, true);
    assert.equal(autoRedirectTarget(match, ''), '/app/');
    assert.equal(autoRedirectTarget(match, 'a=1&b'), '/app/?a=1&b');
    assert.equal(autoRedirectTarget(matcher.match('/app/x')!, 'a=1'), null);
  });

  it('does not redirect when the *_pass location name has no trailing slash', () => {
    const matcher = buildLocationMatcher<string>([{ modifier: '', pattern: '/app', upstreamPass: true, id: 'app' }]);
    assert.equal(matcher.match('/ap'), null);
    assert.equal(matcher.match('/app')?.autoRedirect, false);
  });

  it('parses the location directive arguments as nginx does', () => {
    assert.deepEqual(parseLocationArgs(['=', '/x']), { modifier: '=', pattern: '/x' });
    assert.deepEqual(parseLocationArgs(['=/x']), { modifier: '=', pattern: '/x' });
    assert.deepEqual(parseLocationArgs(['^~/img/']), { modifier: '^~', pattern: '/img/' });
    assert.deepEqual(parseLocationArgs(['~*\\.png$']), { modifier: '~*', pattern: '\\.png$' });
    assert.deepEqual(parseLocationArgs(['~', '\\.php$']), { modifier: '~', pattern: '\\.php$' });
    assert.deepEqual(parseLocationArgs(['@fallback']), { modifier: '@', pattern: 'fallback' });
    assert.deepEqual(parseLocationArgs(['/plain']), { modifier: '', pattern: '/plain' });
    assert.throws(() => parseLocationArgs(['~~', '/x']), { code: 'ERR_LOCATION_MODIFIER', message: 'invalid location modifier "~~"' });
    assert.throws(() => parseLocationArgs(['@', '/x']), { message: 'invalid location modifier "@"' });
  });

  const refusals: Array<[string, LocationDef<string>[], string, string]> = [
    ['duplicate prefix', [def('', '/a'), def('^~', '/a')], 'ERR_LOCATION_DUPLICATE', 'duplicate location "/a"'],
    ['duplicate exact', [def('=', '/a'), def('=', '/a')], 'ERR_LOCATION_DUPLICATE', 'duplicate location "/a"'],
    ['nested duplicate', [def('', '/a', [def('', '/a/b'), def('', '/a/b')])], 'ERR_LOCATION_DUPLICATE', 'duplicate location "/a/b"'],
    ['inside exact', [def('=', '/a', [def('', '/a/b')])], 'ERR_LOCATION_NESTING', 'location "/a/b" cannot be inside the exact location "/a"'],
    ['inside named', [def('@', 'n', [def('', '/a')])], 'ERR_LOCATION_NESTING', 'location "/a" cannot be inside the named location "@n"'],
    ['nested named', [def('', '/a', [def('@', 'n')])], 'ERR_LOCATION_NESTING', 'named location "@n" can be on the server level only'],
    ['outside', [def('', '/a', [def('', '/b')])], 'ERR_LOCATION_NESTING', 'location "/b" is outside location "/a"'],
    ['outside a regex', [def('~', 'x', [def('', '/x')])], 'ERR_LOCATION_NESTING', 'location "/x" is outside location "x"'],
    ['bad regex', [def('~', '(')], 'ERR_LOCATION_REGEX', 'pcre2_compile() failed: missing closing parenthesis in "(" at ""'],
  ];
  for (const [title, defs, code, message] of refusals) {
    it(`refuses a config nginx refuses: ${title}`, () => {
      assert.throws(() => buildLocationMatcher(defs), (error: unknown) => {
        assert.ok(error instanceof LocationError);
        assert.equal(error.code, code);
        assert.equal(error.message, message);
        return true;
      });
    });
  }

  it('accepts an exact and a prefix location of one name, and regexes of one pattern', () => {
    assert.doesNotThrow(() => buildLocationMatcher([def('=', '/a'), def('', '/a'), def('~', 'x'), def('~', 'x')]));
  });

  it('accepts a nested prefix inside a regex location when it starts with the regex text', () => {
    const matcher = buildLocationMatcher([def('~', '/x', [def('', '/x/y')])]);
    assert.equal(matcher.match('/x/y/z')?.location.pattern, '/x/y');
  });
});
