/**
 * The request-target conformance table: what $uri, $args, $request_uri and $host (from an
 * absolute-form target) nginx computes, or that it answers 400. Targets and results are byte
 * strings ('\xff' is the byte 0xFF). Run against tsgi and the real nginx by normalize.test.ts.
 */

export type NormalizeExpect =
  | { readonly uri: string; readonly args?: string; readonly requestUri?: string; readonly host?: string }
  | 400;

export interface NormalizeCase {
  readonly target: string;
  readonly expect: NormalizeExpect;
}

export interface NormalizeCaseGroup {
  readonly name: string;
  readonly mergeSlashes: boolean;
  readonly cases: readonly NormalizeCase[];
}

const same = (target: string): NormalizeCase => ({ target, expect: { uri: target } });

export const NORMALIZE_CASES: readonly NormalizeCaseGroup[] = [
  {
    name: 'simple targets are taken as they are',
    mergeSlashes: true,
    cases: [
      same('/'),
      same('/index.html'),
      same('/a/b.c.d'),
      same('/a+b'),
      same('/a\\b'),
      same('/..a/b'),
      same('/a/b.'),
      same('/a/b./'),
      same('/a/b.../c'),
      same('/a/...b'),
      same('/caf\xc3\xa9'),
      { target: '/a?b=1&c', expect: { uri: '/a', args: 'b=1&c' } },
      { target: '/a?', expect: { uri: '/a', args: '' } },
      { target: '/a?b?c', expect: { uri: '/a', args: 'b?c' } },
      { target: '/a?%zz', expect: { uri: '/a', args: '%zz' } },
      { target: '/a?b/./c//d', expect: { uri: '/a', args: 'b/./c//d' } },
    ],
  },
  {
    name: 'dot-segments',
    mergeSlashes: true,
    cases: [
      { target: '/a/./b/../c', expect: { uri: '/a/c' } },
      { target: '/a/..', expect: { uri: '/' } },
      { target: '/a/b/..', expect: { uri: '/a/' } },
      { target: '/a/.', expect: { uri: '/a/' } },
      { target: '/.', expect: { uri: '/' } },
      { target: '/./c', expect: { uri: '/c' } },
      { target: '/a/.?x', expect: { uri: '/a/', args: 'x' } },
      { target: '/a/..?x', expect: { uri: '/', args: 'x' } },
      { target: '/a/.#x', expect: { uri: '/a/' } },
      { target: '/a/..#x', expect: { uri: '/' } },
      { target: '/a//..//b', expect: { uri: '/b' } },
      { target: '/a/...//b', expect: { uri: '/a/.../b' } },
      { target: '/..', expect: 400 },
      { target: '/../', expect: 400 },
      { target: '/../a', expect: 400 },
      { target: '/a/../..', expect: 400 },
      { target: '/a/../../b', expect: 400 },
      { target: '/a/..?', expect: { uri: '/', args: '' } },
    ],
  },
  {
    name: '%-decoding: encoded slashes and dots are real ones, %00 and bad escapes are refused',
    mergeSlashes: true,
    cases: [
      { target: '/%61%62c', expect: { uri: '/abc' } },
      { target: '/a%2fb', expect: { uri: '/a/b' } },
      { target: '/a%2F..%2Fb', expect: { uri: '/b' } },
      { target: '/a/%2e%2e/b', expect: { uri: '/b' } },
      { target: '/a/.%2E', expect: { uri: '/' } },
      { target: '/a/..%2f', expect: { uri: '/' } },
      { target: '/a/b/%2e%2e%2f%2e%2e%2fc', expect: { uri: '/c' } },
      { target: '/a%2e', expect: { uri: '/a.' } },
      { target: '/%2e', expect: { uri: '/' } },
      { target: '/a%2f%2fb', expect: { uri: '/a/b' } },
      { target: '/%2e%2e', expect: 400 },
      { target: '/.%2e/x', expect: 400 },
      { target: '/a/%2E%2E%2F%2E%2E%2F', expect: 400 },
      { target: '/a%3fb?c=%3f', expect: { uri: '/a?b', args: 'c=%3f' } },
      { target: '/a%23b', expect: { uri: '/a#b' } },
      { target: '/a%25', expect: { uri: '/a%' } },
      { target: '/a%252e', expect: { uri: '/a%2e' } },
      { target: '/%2B', expect: { uri: '/+' } },
      { target: '/a%0ab', expect: { uri: '/a\nb' } },
      { target: '/a%0D%0A', expect: { uri: '/a\r\n' } },
      { target: '/a%20b', expect: { uri: '/a b' } },
      { target: '/caf%C3%A9', expect: { uri: '/caf\xc3\xa9' } },
      { target: '/%ff%FE', expect: { uri: '/\xff\xfe' } },
      { target: '/%00', expect: 400 },
      { target: '/a%00b', expect: 400 },
      { target: '/%', expect: 400 },
      { target: '/%4', expect: 400 },
      { target: '/a%4?x', expect: 400 },
      { target: '/%zz', expect: 400 },
      { target: '/%g0', expect: 400 },
      { target: '/%0g', expect: 400 },
    ],
  },
  {
    name: "'?' and '#'",
    mergeSlashes: true,
    cases: [
      { target: '/a?b#c', expect: { uri: '/a', args: 'b' } },
      { target: '/a#b?c', expect: { uri: '/a', args: '' } },
      { target: '/#', expect: { uri: '/' } },
      { target: '/?#', expect: { uri: '/', args: '' } },
      { target: '/a?b#c#d', expect: { uri: '/a', args: 'b' } },
      { target: '/%3F?%3F', expect: { uri: '/?', args: '%3F' } },
    ],
  },
  {
    name: 'merge_slashes on',
    mergeSlashes: true,
    cases: [
      { target: '//a//b', expect: { uri: '/a/b' } },
      { target: '///', expect: { uri: '/' } },
      { target: '/a//', expect: { uri: '/a/' } },
      { target: '//..', expect: 400 },
      { target: '/a//.', expect: { uri: '/a/' } },
    ],
  },
  {
    name: 'merge_slashes off',
    mergeSlashes: false,
    cases: [
      { target: '//a//b', expect: { uri: '//a//b' } },
      { target: '/a//../b', expect: { uri: '/a/b' } },
      { target: '/a/.//b', expect: { uri: '/a//b' } },
      { target: '///', expect: { uri: '///' } },
      { target: '//..', expect: { uri: '/' } },
      { target: '/a//..', expect: { uri: '/a/' } },
      { target: '/a///..//b', expect: { uri: '/a///b' } },
      { target: '//', expect: { uri: '//' } },
      { target: '/%2f%2F', expect: { uri: '///' } },
    ],
  },
  {
    name: 'absolute-form: the host comes from the target',
    mergeSlashes: true,
    cases: [
      { target: 'http://Example.COM:80/x/../y?q', expect: { uri: '/y', args: 'q', requestUri: '/x/../y?q', host: 'example.com' } },
      { target: 'http://example.com', expect: { uri: '/', requestUri: '/', host: 'example.com' } },
      { target: 'http://example.com?x=1', expect: { uri: '/', args: 'x=1', requestUri: '?x=1', host: 'example.com' } },
      { target: 'http://example.com./a', expect: { uri: '/a', host: 'example.com' } },
      { target: 'HTTP://a/b', expect: { uri: '/b', host: 'a' } },
      { target: 'ftp://a/b', expect: { uri: '/b', host: 'a' } },
      { target: 'http://h:/x', expect: { uri: '/x', host: 'h' } },
      { target: 'http://[::1]:8080/x', expect: { uri: '/x', host: '[::1]' } },
      { target: 'http://a.b-c.d//x', expect: { uri: '/x', requestUri: '//x', host: 'a.b-c.d' } },
      { target: 'http://ex_ample.com/', expect: 400 },
      { target: 'http:///x', expect: 400 },
      { target: 'http://:80/x', expect: 400 },
      { target: 'http://a..b/', expect: 400 },
      { target: 'http:/a/b', expect: 400 },
      { target: 'http://a/%zz', expect: 400 },
      { target: 'http://a#b', expect: 400 },
    ],
  },
  {
    name: 'targets nginx refuses outright',
    mergeSlashes: true,
    cases: [
      { target: '*', expect: 400 },
      { target: 'x/y', expect: 400 },
      { target: '/a\x7fb', expect: 400 },
      { target: '/a\x01b', expect: 400 },
      { target: '/a\tb', expect: 400 },
    ],
  },
];
