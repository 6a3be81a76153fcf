/**
 * The server-name conformance table: servers listening on one address, requests with or without
 * a Host header (and sometimes an absolute-form target), and the server that must answer (its id,
 * then the captures it echoes, joined by '|'), or 400. Run by server-name.test.ts against tsgi,
 * the reference reading of the documentation (groups without conflicts) and the real nginx.
 */
import { hostname } from 'node:os';

export interface ServerSpec {
  readonly names: readonly string[];
  readonly id: string;
  readonly defaultServer?: boolean;
  /** Captures the server echoes after its id: '1', 'name'. */
  readonly echo?: readonly string[];
}

export interface ServerRequest {
  /** The Host header value; null for none. */
  readonly host: string | null;
  readonly target?: string;
  readonly version?: '1.0' | '1.1';
  readonly expect: string | 400;
}

export interface ServerCaseGroup {
  readonly name: string;
  readonly servers: readonly ServerSpec[];
  readonly requests: readonly ServerRequest[];
  /** Has names nginx ignores as conflicting (the documentation-level reference does not model that). */
  readonly conflicts?: boolean;
}

const S = (id: string, names: readonly string[], extra: Partial<ServerSpec> = {}): ServerSpec => ({ id, names, ...extra });
const R = (host: string | null, expect: string | 400, extra: Partial<ServerRequest> = {}): ServerRequest => ({ host, expect, ...extra });

export const SERVER_CASES: readonly ServerCaseGroup[] = [
  {
    name: 'exact names, leading and trailing wildcards, regexes, the default server',
    servers: [
      S('first', ['first']),
      S('exact', ['example.com', 'www.example.com']),
      S('star', ['*.example.com']),
      S('dot', ['.example.org']),
      S('tail', ['www.example.*']),
      S('regex', ['~^(?<sub>[a-z]+)\\.regex\\.net$'], { echo: ['sub', '1'] }),
      S('upper', ['~^WWW\\.Upper\\.net$']),
      S('lower', ['~^www\\.lower\\.net$']),
    ],
    requests: [
      R('example.com', 'exact'),
      R('EXAMPLE.COM:8080', 'exact'),
      R('example.com.', 'exact'),
      R('www.example.com', 'exact'),
      R('a.example.com', 'star'),
      R('a.b.example.com', 'star'),
      R('.example.com', 'star'),
      R('example.org', 'dot'),
      R('x.example.org', 'dot'),
      R('www.example.net', 'tail'),
      R('www.example', 'first'),
      R('abc.regex.net', 'regex|abc|abc'),
      R('www.upper.net', 'upper'),
      R('WWW.UPPER.NET', 'upper'),
      R('www.lower.net', 'lower'),
      R('unknown.test', 'first'),
      R(null, 'first'),
      R('[::1]:80', 'first'),
      R('a..b', 400),
      R('a/b', 400),
      R(':80', 400),
      R('.', 400),
      R('exa mple.com', 400),
      R('example.com:8 0', 400),
      R('example.com:1..2', 400),
    ],
  },
  {
    name: 'leading wildcards before trailing ones before regexes; the longest wildcard wins',
    servers: [
      S('regex', ['~^www\\..*$']),
      S('www-tail', ['www.*']),
      S('com', ['*.com']),
      S('deep', ['*.deep.test']),
      S('a-deep', ['*.a.deep.test']),
      S('b-deep', ['.b.deep.test']),
      S('www-deep', ['www.deep.*']),
      S('fallback', ['fallback'], { defaultServer: true }),
    ],
    requests: [
      R('www.test.com', 'com'),
      R('www.test.org', 'www-tail'),
      R('www.x', 'www-tail'),
      R('www', 'fallback'),
      R('zzz.com', 'com'),
      R('q.a.deep.test', 'a-deep'),
      R('a.deep.test', 'deep'),
      R('b.deep.test', 'b-deep'),
      R('q.b.deep.test', 'b-deep'),
      R('www.deep.test', 'deep'),
      R('www.deep.zz', 'www-deep'),
      R('www.zz', 'www-tail'),
      R('deep.test', 'fallback'),
      R(null, 'fallback'),
    ],
  },
  {
    name: 'server_name "" takes requests without Host; _ is an ordinary name',
    servers: [S('main', ['main']), S('empty', ['', '_']), S('other', ['other'], { defaultServer: true })],
    requests: [
      R(null, 'empty'),
      R('_', 'empty'),
      R('x', 'other'),
      R('main', 'main'),
      R(null, 400, { version: '1.1' }),
      R('main', 'main', { version: '1.1' }),
    ],
  },
  {
    name: 'a server without server_name is named ""',
    servers: [S('named', ['a']), S('unnamed', [])],
    requests: [R(null, 'unnamed'), R('a', 'named'), R('b', 'named')],
  },
  {
    name: 'conflicting names: the first one wins, and ".x" claims the exact name "x"',
    conflicts: true,
    servers: [
      S('dup1', ['dup.test']),
      S('dup2', ['dup.test', 'dup2.test']),
      S('both', ['.both.test']),
      S('both-exact', ['both.test']),
      S('exact', ['exact.test']),
      S('exact-dot', ['.exact.test']),
      S('star', ['*.star.test']),
      S('star-dot', ['.star.test']),
      S('star-exact', ['star.test']),
      S('tail1', ['www.tail.*']),
      S('tail2', ['www.tail.*']),
    ],
    requests: [
      R('dup.test', 'dup1'),
      R('dup2.test', 'dup2'),
      R('both.test', 'both'),
      R('x.both.test', 'both'),
      R('exact.test', 'exact'),
      R('x.exact.test', 'dup1'),
      R('x.star.test', 'star'),
      // ".star.test" lost to "*.star.test" but had already claimed "star.test" from the exact names.
      R('star.test', 'dup1'),
      R('www.tail.x', 'tail1'),
    ],
  },
  {
    name: 'an absolute-form target names the host, but the Host header must still be valid',
    servers: [S('abs', ['abs.test']), S('other', ['other.test'])],
    requests: [
      R('other.test', 'abs', { target: 'http://abs.test/x', version: '1.1' }),
      R(null, 'abs', { target: 'http://ABS.test./' }),
      R('a/b', 400, { target: 'http://abs.test/' }),
      R('other.test', 400, { target: 'http://a..b/' }),
      R(null, 400, { target: 'http://abs.test/', version: '1.1' }),
    ],
  },
  {
    name: 'one server: nginx neither looks at its names nor checks its wildcards',
    servers: [S('only', ['www.*.com', 'a.b.*'])],
    requests: [R('anything', 'only'), R(null, 'only'), R('www.x.com', 'only')],
  },
  {
    name: 'one server with a capturing regex: the names are looked at for the captures',
    servers: [S('only', ['~^(?<name>.+)\\.single\\.test$'], { echo: ['name'] })],
    requests: [R('x.single.test', 'only|x'), R('other', 'only|')],
  },
  {
    name: '$hostname',
    servers: [S('first', ['first']), S('host', ['$hostname'])],
    requests: [R(hostname(), 'host'), R(hostname().toUpperCase(), 'host'), R('x', 'first')],
  },
];
