/**
 * The location conformance suite (Hono's `common.case.test.ts` pattern): one table of configs and
 * requests, run against every implementation of "which location serves this request target":
 * tsgi's matcher, the reference port of nginx's tree in reference.ts, and the real nginx.
 *
 * A request is a raw request-target, so normalisation ($uri) is part of what is compared. The
 * expected answer is the body the location returns (its id, then the captures it echoes, joined
 * by '|'), a redirect, a status (400), or 'none' when no location matches (nginx: 404 from the
 * server level).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { LocationModifier } from '../../../src/web/match/location.js';

export interface LocationSpec {
  readonly modifier: LocationModifier;
  readonly pattern: string;
  readonly id: string;
  /** Captures the location echoes after its id: '1', '2', 'name'. */
  readonly echo?: readonly string[];
  /** Has proxy_pass (so a name ending in '/' gets nginx's auto redirect). */
  readonly pass?: boolean;
  readonly children?: readonly LocationSpec[];
}

export type LocationExpect = string | { readonly redirect: string } | { readonly status: number } | 'none';

export interface LocationRequest {
  readonly target: string;
  readonly expect: LocationExpect;
}

export interface LocationCaseGroup {
  readonly name: string;
  readonly mergeSlashes?: boolean;
  readonly locations: readonly LocationSpec[];
  readonly requests: readonly LocationRequest[];
}

export type LocationOutcome =
  | { readonly kind: 'body'; readonly body: string }
  | { readonly kind: 'redirect'; readonly location: string }
  | { readonly kind: 'status'; readonly status: number }
  | { readonly kind: 'none' };

export interface LoadedLocations {
  resolve(target: string): Promise<LocationOutcome>;
  close(): Promise<void>;
}

export interface LocationImplementation {
  readonly name: string;
  /** Set when the implementation cannot run here; the suite is skipped with this reason. */
  readonly skip?: string;
  load(group: LocationCaseGroup): Promise<LoadedLocations>;
}

const L = (modifier: LocationModifier, pattern: string, id: string, extra: Partial<LocationSpec> = {}): LocationSpec => ({
  modifier,
  pattern,
  id,
  ...extra,
});

export const LOCATION_CASES: readonly LocationCaseGroup[] = [
  {
    name: 'the example of nginx.org "location" documentation',
    locations: [
      L('=', '/', 'A'),
      L('', '/', 'B'),
      L('', '/documents/', 'C'),
      L('^~', '/images/', 'D'),
      L('~*', '\\.(gif|jpg|jpeg)$', 'E'),
    ],
    requests: [
      { target: '/', expect: 'A' },
      { target: '/index.html', expect: 'B' },
      { target: '/documents/document.html', expect: 'C' },
      { target: '/images/1.gif', expect: 'D' },
      { target: '/documents/1.jpg', expect: 'E' },
      { target: '/DOCUMENTS/1.JPG', expect: 'E' },
      { target: '/Documents/x', expect: 'B' },
      { target: '/images', expect: 'B' },
      { target: '/?a=b', expect: 'A' },
    ],
  },
  {
    name: 'regexes beat the longest prefix unless it is ^~; first regex in config order wins',
    locations: [
      L('', '/a/', 'prefix-a'),
      L('~', '^/a/b', 're-ab'),
      L('~', '^/a/', 're-a'),
      L('^~', '/s/', 'noregex-s'),
      L('~', '^/s/', 're-s'),
      L('', '/s/t/', 'prefix-st'),
      L('~', '^/s/t/', 're-st'),
    ],
    requests: [
      { target: '/a/b', expect: 're-ab' },
      { target: '/a/c', expect: 're-a' },
      // A prefix location named exactly like $uri is still only a prefix: regexes run.
      { target: '/a/', expect: 're-a' },
      { target: '/s/x', expect: 'noregex-s' },
      { target: '/s/', expect: 'noregex-s' },
      // The longest prefix is /s/t/ (not ^~), so regexes run even though /s/ is ^~.
      { target: '/s/t/x', expect: 're-s' },
      { target: '/x', expect: 'none' },
    ],
  },
  {
    name: 'nested locations: the longest prefix is searched first, then its regexes, then the outer ones',
    locations: [
      L('', '/a/', 'a', { children: [L('~', '\\.php$', 'a-php'), L('', '/a/b/', 'a-b')] }),
      L('~', '\\.php$', 'php'),
      L('^~', '/n/', 'n', { children: [L('~', '\\.php$', 'n-php')] }),
      L('', '/m/', 'm', { children: [L('^~', '/m/x/', 'm-x')] }),
      L('~', '^/m/', 're-m'),
      L('', '/e/', 'e', { children: [L('=', '/e/x', 'e-x')] }),
      L('~', '^/e/', 're-e'),
    ],
    requests: [
      { target: '/a/x.php', expect: 'a-php' },
      { target: '/a/x', expect: 'a' },
      // /a/b/ has no regex of its own: /a/'s regexes come next, before the server's.
      { target: '/a/b/x.php', expect: 'a-php' },
      { target: '/a/b/x', expect: 'a-b' },
      // ^~ stops the regexes of its level, not the ones nested inside it.
      { target: '/n/x.php', expect: 'n-php' },
      { target: '/n/x', expect: 'n' },
      { target: '/x.php', expect: 'php' },
      // A nested ^~ stops only its own level's regexes: the server's ^/m/ still wins.
      { target: '/m/x/y', expect: 're-m' },
      { target: '/m/y', expect: 're-m' },
      // A nested exact match is final, even against the outer regexes.
      { target: '/e/x', expect: 'e-x' },
      { target: '/e/y', expect: 're-e' },
    ],
  },
  {
    name: 'exact and prefix locations of the same name; = / versus /',
    locations: [L('=', '/x', 'exact-x'), L('', '/x', 'prefix-x'), L('=', '/', 'exact-root'), L('', '/', 'root')],
    requests: [
      { target: '/x', expect: 'exact-x' },
      { target: '/x/', expect: 'prefix-x' },
      { target: '/xy', expect: 'prefix-x' },
      { target: '/x?q=1', expect: 'exact-x' },
      { target: '/', expect: 'exact-root' },
      { target: '/y', expect: 'root' },
      { target: '//x', expect: 'exact-x' },
    ],
  },
  {
    name: 'longest prefix, with and without a trailing slash; case-sensitive',
    locations: [
      L('', '/i', 'i'),
      L('', '/images/', 'images'),
      L('', '/doc', 'doc'),
      L('', '/doc/', 'doc-slash'),
      L('', '/documents', 'documents'),
      L('', '/Case/', 'case'),
    ],
    requests: [
      { target: '/images/a.png', expect: 'images' },
      { target: '/images', expect: 'i' },
      { target: '/img', expect: 'i' },
      { target: '/i', expect: 'i' },
      { target: '/doc', expect: 'doc' },
      { target: '/doc/', expect: 'doc-slash' },
      { target: '/docs', expect: 'doc' },
      { target: '/doc/x', expect: 'doc-slash' },
      { target: '/documents/x', expect: 'documents' },
      { target: '/do', expect: 'none' },
      { target: '/Case/x', expect: 'case' },
      { target: '/case/x', expect: 'none' },
    ],
  },
  {
    name: 'the automatic 301 to a trailing slash for *_pass locations',
    locations: [
      L('', '/api/', 'api', { pass: true }),
      L('~', '^/api$', 're-api'),
      L('=', '/exact/', 'exact', { pass: true }),
      L('', '/plain/', 'plain'),
      L('', '/nest/', 'nest', { children: [L('', '/nest/inner/', 'nest-inner', { pass: true })] }),
      L('', '/api2', 'api2-short'),
      L('', '/api2/', 'api2', { pass: true }),
      L('', '/both/', 'both-prefix', { pass: true }),
      L('=', '/both/', 'both-exact'),
    ],
    requests: [
      // The redirect ends the search: the regex ^/api$ is not even tried.
      { target: '/api', expect: { redirect: '/api/' } },
      { target: '/api?x=1&y', expect: { redirect: '/api/?x=1&y' } },
      { target: '/api/', expect: 'api' },
      { target: '/api/v1', expect: 'api' },
      { target: '/exact', expect: { redirect: '/exact/' } },
      { target: '/exact/', expect: 'exact' },
      { target: '/plain', expect: 'none' },
      { target: '/nest/inner', expect: { redirect: '/nest/inner/' } },
      { target: '/nest/x', expect: 'nest' },
      // A prefix location named like $uri is found before the redirect candidate.
      { target: '/api2', expect: 'api2-short' },
      { target: '/both', expect: { redirect: '/both/' } },
      { target: '/both/', expect: 'both-exact' },
      { target: '/API', expect: 'none' },
      { target: '/a%70i', expect: { redirect: '/api/' } },
    ],
  },
  {
    name: 'regex captures: numbered, named, Python-style, case-insensitive, accumulated by nesting',
    locations: [
      L('~', '^/user/(\\d+)/(?<action>[a-z]+)$', 'user', { echo: ['1', '2', 'action'] }),
      L('~', '^/p/(?P<py>x+)(y)?$', 'py', { echo: ['py', '2'] }),
      L('~*', '^/CI/(A+)$', 'ci', { echo: ['1'] }),
      L('~', '^/(?<first>[a-z]+)/', 'outer', {
        echo: ['first'],
        children: [L('~', '/(?<second>\\d+)$', 'inner', { echo: ['first', 'second', '1'] })],
      }),
    ],
    requests: [
      { target: '/user/42/edit', expect: 'user|42|edit|edit' },
      { target: '/p/xx', expect: 'py|xx|' },
      { target: '/p/xxy', expect: 'py|xx|y' },
      { target: '/ci/aA', expect: 'ci|aA' },
      { target: '/abc/123', expect: 'inner|abc|123|123' },
      { target: '/abc/x', expect: 'outer|abc' },
    ],
  },
  {
    name: 'PCRE semantics that differ from JavaScript',
    locations: [
      L('~', '^/dollar\\.php$', 'dollar'),
      L('~', '^/dot/a.b$', 'dot'),
      L('~', '^/s/a\\sb$', 'space'),
      L('~', '^/class/[]x]+$', 'bracket'),
      L('~', '^/posix/[[:digit:]]+$', 'posix'),
      L('~', '^/quote/\\Q.*\\E$', 'quote'),
      L('~', '(?i)^/inline/abc$', 'inline'),
      L('~', '^/hex/\\x41\\x{42}$', 'hex'),
      L('~', '^/café$', 'cafe'),
      L('~*', '^/ÉCOLE$', 'ecole'),
      L('~', '^/v/\\v$', 'vspace'),
      L('~', '^/h/a\\hb$', 'hspace'),
      L('~', '^/mixed/(?i:abc)d$', 'mixed'),
    ],
    requests: [
      { target: '/dollar.php', expect: 'dollar' },
      // PCRE's $ also matches before a final newline (a classic nginx pitfall).
      { target: '/dollar.php%0A', expect: 'dollar' },
      { target: '/dollar.php%0A%0A', expect: 'none' },
      // PCRE's . matches \r (JavaScript's does not), never \n.
      { target: '/dot/a%0Db', expect: 'dot' },
      { target: '/dot/a%0Ab', expect: 'none' },
      // \s includes VT but not NBSP (no UTF, "C" tables).
      { target: '/s/a%0Bb', expect: 'space' },
      { target: '/s/a%A0b', expect: 'none' },
      { target: '/class/x]x', expect: 'bracket' },
      { target: '/posix/123', expect: 'posix' },
      { target: '/quote/.*', expect: 'quote' },
      { target: '/quote/ab', expect: 'none' },
      { target: '/INLINE/ABC', expect: 'inline' },
      { target: '/hex/AB', expect: 'hex' },
      { target: '/caf%C3%A9', expect: 'cafe' },
      { target: '/café', expect: 'cafe' },
      // Caseless folds ASCII only: É (C3 89) matches neither é (C3 A9) nor E3 89.
      { target: '/%C3%89cole', expect: 'ecole' },
      { target: '/%C3%A9cole', expect: 'none' },
      { target: '/%E3%89cole', expect: 'none' },
      { target: '/v/%0C', expect: 'vspace' },
      { target: '/v/%85', expect: 'vspace' },
      { target: '/h/a%09b', expect: 'hspace' },
      { target: '/h/a%A0b', expect: 'hspace' },
      { target: '/mixed/ABCd', expect: 'mixed' },
      { target: '/mixed/abcD', expect: 'none' },
    ],
  },
  {
    name: 'normalisation before matching',
    locations: [L('=', '/a/b', 'ab'), L('=', '/c', 'c'), L('', '/a/', 'a'), L('=', '/', 'root'), L('', '/', 'any')],
    requests: [
      { target: '//a//b', expect: 'ab' },
      { target: '/a/./b/../b', expect: 'ab' },
      { target: '/x/../c', expect: 'c' },
      { target: '/%2e%2e', expect: { status: 400 } },
      { target: '/.%2e/c', expect: { status: 400 } },
      { target: '/a/%2e%2e/c', expect: 'c' },
      { target: '/..', expect: { status: 400 } },
      { target: '/a/../..', expect: { status: 400 } },
      { target: '/a/..', expect: 'root' },
      { target: '/a%2Fb', expect: 'ab' },
      { target: '/%61/b', expect: 'ab' },
      { target: '/a/b?x#y', expect: 'ab' },
      { target: '/a/b#frag', expect: 'ab' },
      { target: '/./c', expect: 'c' },
      { target: '/c/.', expect: 'any' },
      { target: '/%00', expect: { status: 400 } },
      { target: '/%zz', expect: { status: 400 } },
      { target: '/a%2', expect: { status: 400 } },
      { target: '/a/b%3F', expect: 'a' },
      { target: 'http://example.com/a//b', expect: 'ab' },
      { target: 'http://example.com', expect: 'root' },
      { target: 'http://example.com?x', expect: 'root' },
      { target: '*', expect: { status: 400 } },
      { target: 'a/b', expect: { status: 400 } },
    ],
  },
  {
    name: 'merge_slashes off',
    mergeSlashes: false,
    locations: [L('=', '/a/b', 'ab'), L('=', '//a//b', 'double'), L('', '/', 'any')],
    requests: [
      { target: '//a//b', expect: 'double' },
      { target: '/a//b', expect: 'any' },
      { target: '/a/b', expect: 'ab' },
      { target: '/a//..//b', expect: 'any' },
      { target: '/a/.//b', expect: 'any' },
      { target: '/a/x/../b', expect: 'ab' },
    ],
  },
  {
    name: 'named locations never match a URI',
    locations: [L('@', 'fallback', 'named'), L('', '/x', 'x')],
    requests: [
      { target: '/@fallback', expect: 'none' },
      { target: '/x', expect: 'x' },
    ],
  },
];

function expectedOutcome(expect: LocationExpect): LocationOutcome {
  if (expect === 'none') return { kind: 'none' };
  if (typeof expect === 'string') return { kind: 'body', body: expect };
  if ('redirect' in expect) return { kind: 'redirect', location: expect.redirect };
  return { kind: 'status', status: expect.status };
}

/** Registers the whole table as node:test suites for one implementation. */
export function runLocationCases(impl: LocationImplementation, groups: readonly LocationCaseGroup[] = LOCATION_CASES): void {
  describe(`location conformance: ${impl.name}`, { skip: impl.skip ?? false }, () => {
    for (const group of groups) {
      describe(group.name, () => {
        let loaded: LoadedLocations | undefined;
        before(async () => {
          loaded = await impl.load(group);
        });
        after(async () => {
          await loaded?.close();
        });
        for (const request of group.requests) {
          it(`${JSON.stringify(request.target)} → ${JSON.stringify(request.expect)}`, async () => {
            assert.deepEqual(await loaded!.resolve(request.target), expectedOutcome(request.expect));
          });
        }
      });
    }
  });
}
