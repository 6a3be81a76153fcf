/**
 * A RequestContext for tests of the variable, log, gzip, limit and stub_status modules, built
 * from an nginx.conf text and a raw request head the way the server would build it (request
 * line parsed by parseRequestTarget, Host by validateHost), without sockets.
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadNginxConfigText } from '../../../src/web/config/index.js';
import type { LocationConf, LogLevel, NginxConfig, PerLocation, ServerConf } from '../../../src/web/config/index.js';
import { NO_CAPTURES, parseRequestTarget, validateHost, type Captures } from '../../../src/web/match/index.js';
import type {
  ConnectionInfo,
  HeaderPair,
  RequestBodyReader,
  RequestContext,
  RequestHeaders,
  ServerCounters,
  WebModules,
  WorkerInfo,
} from '../../../src/web/request-context.js';
import { Variables } from '../../../src/web/variables.js';

/**
 * Loads a configuration from text; `PREFIX` in the text stands for `prefix`. The default prefix
 * is never created: tests that write files pass a directory of their own.
 */
export function configFromText(text: string, prefix = join(tmpdir(), 'tsgi-vars-prefix') + '/'): NginxConfig {
  return loadNginxConfigText(text.replaceAll('PREFIX', prefix), join(prefix, 'nginx.conf'), { prefix, isRoot: false });
}

/** The location named `name` (its `name` as nginx prints it), searched depth-first. */
export function findLocation(server: ServerConf, name: string): LocationConf {
  const walk = (locations: readonly LocationConf[]): LocationConf | null => {
    for (const location of locations) {
      if (location.name === name) return location;
      const inner = walk(location.locations);
      if (inner) return inner;
    }
    return null;
  };
  const found = walk(server.locations);
  if (!found) throw new Error(`no location "${name}"`);
  return found;
}

export function headersOf(list: readonly HeaderPair[]): RequestHeaders {
  return {
    list,
    get: (name) => list.find(([key]) => key.toLowerCase() === name.toLowerCase())?.[1],
    getAll: (name) => list.filter(([key]) => key.toLowerCase() === name.toLowerCase()).map(([, value]) => value),
  };
}

export interface ParsedHead {
  readonly method: string;
  readonly target: string;
  readonly protocol: 'HTTP/1.0' | 'HTTP/1.1';
  readonly requestLine: string;
  readonly headers: HeaderPair[];
  /** Bytes up to and including the blank line. */
  readonly headLength: number;
}

/** Splits a raw request head (a byte string with CRLF or LF line ends). */
export function parseHead(raw: string): ParsedHead {
  const end = raw.search(/\r?\n\r?\n/);
  const blank = /\r?\n\r?\n/.exec(raw)!;
  const head = raw.slice(0, end);
  const lines = head.split(/\r?\n/);
  const requestLine = lines[0]!;
  const [method, target, protocol] = requestLine.split(' ') as [string, string, string];
  const headers: HeaderPair[] = lines.slice(1).map((line) => {
    const colon = line.indexOf(':');
    // nginx skips spaces around a value, not tabs (sw_space_before_value / sw_space_after_value).
    return [line.slice(0, colon), line.slice(colon + 1).replace(/^ +| +$/g, '')];
  });
  return {
    method,
    target,
    protocol: protocol === 'HTTP/1.0' ? 'HTTP/1.0' : 'HTTP/1.1',
    requestLine,
    headers,
    headLength: end + blank[0].length,
  };
}

export interface FakeOptions {
  readonly config: NginxConfig;
  /** A raw request head: 'GET /a?b HTTP/1.1\r\nHost: x\r\n\r\n'. */
  readonly raw: string;
  /** Which location serves it, by name; default: the server's own settings. */
  readonly location?: string;
  readonly serverIndex?: number;
  readonly captures?: Captures;
  readonly remoteAddr?: string;
  readonly remotePort?: string;
  readonly serverAddr?: string;
  readonly serverPort?: string;
  readonly connectionSerial?: number;
  readonly connectionRequests?: number;
  readonly startMs?: number;
  readonly pid?: number;
  readonly counters?: Partial<ServerCounters>;
  readonly variables?: Variables;
}

export interface FakeContext extends RequestContext {
  /** What ctx.log received. */
  readonly logged: { level: LogLevel; message: string }[];
  /** Runs the onDone cleanups (the request is over). */
  finish(): void;
}

const NO_BODY: RequestBodyReader = {
  contentLength: 0,
  chunked: false,
  present: false,
  read: async () => ({ kind: 'none' }),
  stream: async function* () {},
  discard: async () => {},
};

export function fakeContext(options: FakeOptions): FakeContext {
  const config = options.config;
  const server = config.servers[options.serverIndex ?? 0]!;
  const head = parseHead(options.raw);
  const parsed = parseRequestTarget(head.target);
  if (!parsed.ok) throw new Error(`bad target ${head.target}`);
  const target = parsed.target;
  const hostHeader = head.headers.find(([key]) => key.toLowerCase() === 'host')?.[1];
  const requestHost = target.host ?? (hostHeader !== undefined ? (validateHost(hostHeader) ?? '') : '');
  const serverName = server.serverNames[0]?.name ?? '';
  const location = options.location === undefined ? null : findLocation(server, options.location);
  const loc: PerLocation = location ?? server.loc;
  const counters: ServerCounters = { active: 1, accepts: 1, handled: 1, requests: 1, reading: 0, writing: 1, waiting: 0, ...options.counters };
  const worker: WorkerInfo = { pid: options.pid ?? 4242, slot: 0, counters, collectCounters: async () => ({ ...counters }) };
  const connection: ConnectionInfo = {
    serial: options.connectionSerial ?? 1,
    requests: options.connectionRequests ?? 1,
    remoteAddr: options.remoteAddr ?? '127.0.0.1',
    remotePort: options.remotePort ?? '40000',
    serverAddr: options.serverAddr ?? '127.0.0.1',
    serverPort: options.serverPort ?? '80',
    listen: server.listen[0]!,
    acceptedMs: options.startMs ?? Date.now(),
  };
  const variables = options.variables ?? new Variables(config, { hostname: 'testhost' });
  const cleanups: (() => void)[] = [];
  const logged: { level: LogLevel; message: string }[] = [];
  const modules: WebModules = {
    variables,
    errorLog: { log: () => {}, reopen: () => {}, close: () => {} },
    accessLog: { write: () => {}, reopen: () => {}, close: async () => {} },
    preaccess: [],
    filters: [],
    content: [],
    close: async () => {},
  };
  const ctx: FakeContext = {
    connection,
    worker,
    startMs: options.startMs ?? Date.now(),
    head: {
      method: head.method,
      requestLine: head.requestLine,
      requestUri: target.requestUri,
      protocol: head.protocol,
      httpVersion: head.protocol === 'HTTP/1.0' ? 1000 : 1001,
      headLength: head.headLength,
    },
    headers: headersOf(head.headers),
    scheme: 'http',
    host: requestHost !== '' ? requestHost : serverName,
    server,
    serverName,
    method: head.method,
    uri: target.uri,
    args: target.args,
    exten: target.exten,
    internal: false,
    redirects: 0,
    location,
    loc,
    captures: options.captures ?? NO_CAPTURES,
    variables: new Map(),
    status: 0,
    sentHeaders: [],
    bodyBytesSent: 0,
    bytesSent: 0,
    requestLength: head.headLength,
    completed: false,
    body: NO_BODY,
    modules,
    config,
    onDone: (cleanup) => cleanups.push(cleanup),
    log: (level, message) => logged.push({ level, message }),
    logged,
    finish: () => cleanups.splice(0).forEach((cleanup) => cleanup()),
  };
  return ctx;
}
