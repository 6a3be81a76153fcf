/**
 * The PCRE2 → JavaScript translation: a table of (regex, subject) run through tsgi and through
 * the real nginx (each regex as `location ~ ...` in a server of its own), then the refusals.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseRequestTarget } from '../../../src/web/match/normalize.js';
import { compileRegex, execRegex, RegexError } from '../../../src/web/match/pcre.js';
import { confString, nginx, startOracle, type NginxOracle } from './nginx-oracle.js';

interface RegexCase {
  readonly pattern: string;
  readonly caseless?: boolean;
  /** Subjects ($uri byte strings) and what $1|$2|$3 are on a match, or null for no match. */
  readonly subjects: ReadonlyArray<readonly [subject: string, captures: string | null]>;
}

const CASES: readonly RegexCase[] = [
  { pattern: '^/a$', subjects: [['/a', '||'], ['/a\n', '||'], ['/a\n\n', null], ['/ab', null]] },
  { pattern: '^/a.b$', subjects: [['/a\rb', '||'], ['/a\nb', null], ['/a\xffb', '||']] },
  { pattern: '^/a\\sb$', subjects: [['/a\x0bb', '||'], ['/a\xa0b', null], ['/a\x85b', null], ['/a b', '||']] },
  { pattern: '^/a\\Sb$', subjects: [['/a\xa0b', '||'], ['/a\tb', null]] },
  { pattern: '^/\\w+$', subjects: [['/a_1', '||'], ['/\xe9', null]] },
  { pattern: '^/[[:alpha:]]+$', subjects: [['/abC', '||'], ['/ab1', null]] },
  { pattern: '^/[^[:alpha:]]+$', subjects: [['/123', '||'], ['/1a', null]] },
  { pattern: '^/[[:^digit:]]+$', subjects: [['/abc', '||'], ['/a1', null]] },
  { pattern: '^/[]a]+$', subjects: [['/]a]', '||'], ['/b', null]] },
  { pattern: '^/[^]a]+$', subjects: [['/bc', '||'], ['/b]', null]] },
  { pattern: '^/\\Qa.b\\E$', subjects: [['/a.b', '||'], ['/axb', null]] },
  { pattern: '^/(a)(b)?(c)$', subjects: [['/ac', 'a||c'], ['/abc', 'a|b|c']] },
  { pattern: "^/(?<x>a)(?P<y>b)(?'z'c)$", subjects: [['/abc', 'a|b|c']] },
  { pattern: '^/(a|b)x\\1$', subjects: [['/axa', 'a||'], ['/axb', null]] },
  { pattern: '^/(?<q>[ab])-\\k<q>-(?P=q)-\\g{1}-\\g{-1}$', subjects: [['/a-a-a-a-a', 'a||'], ['/a-b-a-a-a', null]] },
  { pattern: 'x|^/(a)+\\1$', subjects: [['/aaa', 'a||']] },
  { pattern: '(?i)^/abc$', subjects: [['/ABC', '||']] },
  { pattern: '^/a(?i)bc$', subjects: [['/aBC', '||'], ['/ABC', null]] },
  { pattern: '^/(?i:a)b$', subjects: [['/Ab', '||'], ['/AB', null]] },
  // An option set inside a group also covers the group's later alternatives, but not what follows.
  { pattern: '^/(a(?i)b|c)d$', subjects: [['/aBd', 'aB||'], ['/Cd', 'C||'], ['/cD', null]] },
  { pattern: '(?s)^/a.b$', subjects: [['/a\nb', '||']] },
  { pattern: '(?m)^x$', subjects: [['/a\nx', '||'], ['/a\nx\nb', '||'], ['/ax', null]] },
  { pattern: '(?m)a$', subjects: [['/a\nb', '||']] },
  { pattern: '(?x)^/ a b  # a comment', subjects: [['/ab', '||'], ['/a b', null]] },
  { pattern: '^/\\x41\\x{42}\\101\\o{103}\\cA$', subjects: [['/ABAC\x01', '||']] },
  { pattern: '^/a{2}b{1,}c{,2}$', subjects: [['/aabc{,2}', '||'], ['/aabcc', null]] },
  { pattern: '^/a\\z', subjects: [['/a', '||'], ['/a\n', null]] },
  { pattern: '^/a\\Z', subjects: [['/a\n', '||']] },
  { pattern: '^/\\d+-\\D$', subjects: [['/12-x', '||']] },
  { pattern: '^/a\\b', subjects: [['/a-', '||'], ['/ab', null]] },
  { pattern: '\\.php$', caseless: true, subjects: [['/X.PHP', '||'], ['/x.phpx', null]] },
  { pattern: '^/[a-c]+$', caseless: true, subjects: [['/ABC', '||']] },
  { pattern: '^/[^a]$', caseless: true, subjects: [['/A', null], ['/b', '||']] },
  { pattern: '^/\\xe9$', caseless: true, subjects: [['/\xc9', null], ['/\xe9', '||']] },
  { pattern: '^/a\\/b$', subjects: [['/a/b', '||']] },
  { pattern: '^/\\h\\H$', subjects: [['/\xa0x', '||'], ['/\t\t', null]] },
  { pattern: '^/\\N$', subjects: [['/x', '||'], ['/\n', null]] },
  { pattern: '^/\\R$', subjects: [['/\r\n', '||'], ['/\r', '||'], ['/\x85', '||']] },
  { pattern: '^/\\R\\n', subjects: [['/\r\n', null], ['/\r\n\n', '||']] },
  { pattern: '^/\\v+$', subjects: [['/\n\x0b\x0c\r\x85', '||']] },
  { pattern: '^/[\\d-]+$', subjects: [['/1-2', '||']] },
  { pattern: '^/[a\\-z]+$', subjects: [['/-az', '||'], ['/b', null]] },
  { pattern: '^/[\\x41-\\x43]+$', subjects: [['/ABC', '||'], ['/D', null]] },
  { pattern: '^/[\\Q]\\E]+$', subjects: [['/]]', '||']] },
  { pattern: '^/\\$', subjects: [['/$', '||']] },
  { pattern: '^/(?=a)\\w+$', subjects: [['/ab', '||'], ['/ba', null]] },
  { pattern: '^/\\w+(?<!x)$', subjects: [['/ay', '||'], ['/ax', null]] },
  { pattern: '^/(a|ab)(c|bcd)(d*)$', subjects: [['/abcd', 'a|bcd|']] },
  { pattern: '^/(a*?)(b)', subjects: [['/aab', 'aa|b|']] },
  { pattern: '^/(?#comment)a(?:b|c)+$', subjects: [['/abcb', '||']] },
  { pattern: '^/{x}]', subjects: [['/{x}]', '||']] },
  { pattern: '/(\\d+)\\.(jpg|png)$', subjects: [['/img/42.png', '42|png|']] },
  { pattern: '^/caf\\xc3\\xa9|é$', subjects: [['/caf\xc3\xa9', '||'], ['/x\xc3\xa9', '||']] },
];

/** A target nginx normalises back to exactly `subject`. */
function targetFor(subject: string): string {
  return subject.replace(/[^A-Za-z0-9/_~-]/g, (c) => '%' + c.charCodeAt(0).toString(16).padStart(2, '0').toUpperCase());
}

function tsgiAnswer(c: RegexCase, subject: string): string | null {
  const captures = execRegex(compileRegex(c.pattern, { caseless: c.caseless ?? false }), subject);
  return captures === null ? null : [1, 2, 3].map((k) => captures.groups[k] ?? '').join('|');
}

describe('PCRE translation: tsgi', () => {
  for (const c of CASES) {
    for (const [subject, expected] of c.subjects) {
      it(`${c.caseless ? '~*' : '~'} ${c.pattern} on ${JSON.stringify(subject)} → ${JSON.stringify(expected)}`, () => {
        assert.equal(tsgiAnswer(c, subject), expected);
      });
    }
  }
});

describe('PCRE translation: nginx', { skip: 'skip' in nginx ? nginx.skip : false }, () => {
  let oracle: NginxOracle | undefined;
  before(async () => {
    if (!('path' in nginx)) return;
    const servers = CASES.map(
      (c, k) => `server {
        listen 127.0.0.1:PORT;
        server_name p${k};
        location ${c.caseless ? '~*' : '~'} ${confString(Buffer.from(c.pattern, 'utf8').toString('latin1'))} { return 200 "m|$1|$2|$3"; }
        location / { return 200 "none"; }
      }`,
    );
    oracle = await startOracle(nginx.path, servers.join('\n'));
  });
  after(async () => {
    await oracle?.stop();
  });
  CASES.forEach((c, k) => {
    for (const [subject, expected] of c.subjects) {
      it(`${c.caseless ? '~*' : '~'} ${c.pattern} on ${JSON.stringify(subject)} → ${JSON.stringify(expected)}`, async () => {
        const target = targetFor(subject);
        const parsed = parseRequestTarget(target);
        assert.ok(parsed.ok && parsed.target.uri === subject, 'the target must normalise back to the subject');
        const response = await oracle!.request(`GET ${target} HTTP/1.0\r\nHost: p${k}\r\n\r\n`);
        assert.equal(response.status, 200);
        assert.equal(response.body === 'none' ? null : response.body.slice('m|'.length), expected);
      });
    }
  });
});

describe('PCRE translation: refusals', () => {
  const unsupported: Array<[string, string]> = [
    ['a++', 'a possessive quantifier'],
    ['a{2}+', 'a possessive quantifier'],
    ['(?>a)', 'an atomic group'],
    ['(?|a)', 'a branch reset group'],
    ['(?(1)a|b)', 'a conditional group'],
    ['(a)(?1)', 'recursion or a subroutine call'],
    ['(?R)', 'recursion or a subroutine call'],
    ['(?&n)', 'recursion or a subroutine call'],
    ['\\p{L}', '\\p (Unicode properties)'],
    ['a\\Kb', '\\K (reset match start)'],
    ['(*UTF)a', 'a backtracking control verb'],
    ['(?U)a', 'the inline option (?U)'],
    ['(a)\\1', 'a backreference in a case-insensitive regex'],
    ['(a)?\\1', 'a backreference to a group that may not have taken part'],
    ['(a)*\\1', 'a backreference to a group that may not have taken part'],
    ['(a){0,2}\\1', 'a backreference to a group that may not have taken part'],
    ['(a)|\\1', 'a backreference to a group that may not have taken part'],
    ['((a))\\2', 'a backreference to a group that may not have taken part'],
    ['\\1(a)', 'a backreference to a group that may not have taken part'],
    ['(a\\1)', 'a backreference to a group that may not have taken part'],
    ['(?<n>a)?\\k<n>', 'a backreference to a group that may not have taken part'],
  ];
  for (const [pattern, feature] of unsupported) {
    it(`refuses ${pattern}: ${feature}`, () => {
      assert.throws(
        () => compileRegex(pattern, { caseless: pattern === '(a)\\1' }),
        (error: unknown) => error instanceof RegexError && error.code === 'ERR_REGEX_UNSUPPORTED' && error.message.includes(feature),
      );
    });
  }

  const invalid: Array<[string, string]> = [
    ['(a', 'pcre2_compile() failed: missing closing parenthesis in "(a" at ""'],
    ['a)', 'pcre2_compile() failed: unmatched closing parenthesis in "a)" at ")"'],
    ['[a', 'pcre2_compile() failed: missing terminating ] for character class in "[a" at "[a"'],
    ['[z-a]', 'pcre2_compile() failed: range out of order in character class in "[z-a]" at "]"'],
    ['a\\', 'pcre2_compile() failed: \\ at end of pattern in "a\\" at "\\"'],
    ['\\i', 'pcre2_compile() failed: unrecognized character follows \\ in "\\i" at "\\i"'],
    ['(a)\\2', 'pcre2_compile() failed: reference to non-existent subpattern in "(a)\\2" at "\\2"'],
    ['(?<n>a)(?<n>b)', 'pcre2_compile() failed: two named subpatterns have the same name (PCRE2_DUPNAMES not set) in "(?<n>a)(?<n>b)" at "<n>b)"'],
    ['a{70000}', 'pcre2_compile() failed: number too big in {} quantifier in "a{70000}" at "{70000}"'],
    ['[[:foo:]]', 'pcre2_compile() failed: unknown POSIX class name in "[[:foo:]]" at "[:foo:]]"'],
    ['*a', 'pcre2_compile() failed: nothing to repeat in "*a"'],
  ];
  for (const [pattern, message] of invalid) {
    it(`refuses ${JSON.stringify(pattern)} as PCRE2 would`, () => {
      assert.throws(
        () => compileRegex(pattern),
        (error: unknown) => error instanceof RegexError && error.code === 'ERR_REGEX_SYNTAX' && error.message === message,
      );
    });
  }
});

describe('PCRE translation: properties', () => {
  it('finds \\Q...\\E text exactly where String.includes does', () => {
    // ASCII patterns (config text is UTF-8 encoded first); subjects are any bytes.
    const ascii = fc.integer({ min: 0, max: 127 }).map((c) => String.fromCharCode(c));
    const byte = fc.integer({ min: 0, max: 255 }).map((c) => String.fromCharCode(c));
    fc.assert(
      fc.property(fc.string({ unit: ascii, maxLength: 8 }), fc.string({ unit: byte, maxLength: 20 }), (literal, subject) => {
        const quoted = '\\Q' + literal.replaceAll('\\E', '\\E\\\\E\\Q') + '\\E';
        assert.equal(execRegex(compileRegex(quoted), subject) !== null, subject.includes(literal));
      }),
      { numRuns: 1000 },
    );
  });

  it('folds ASCII letters only under caseless', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), (a, b) => {
        const re = compileRegex(`^\\x{${a.toString(16)}}$`, { caseless: true });
        const [x, y] = [String.fromCharCode(a), String.fromCharCode(b)];
        const same = x === y || (/[A-Za-z]/.test(x) && x.toLowerCase() === y.toLowerCase());
        assert.equal(execRegex(re, String.fromCharCode(b)) !== null, same);
      }),
      { numRuns: 3000 },
    );
  });
});
