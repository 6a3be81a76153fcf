/**
 * ngx_http_core_module: `http`, `server`, `location`, `listen`, `server_name`, `root`/`alias`,
 * `types`, `limit_except`, `try_files`, `error_page` and the per-server and per-location core
 * settings, with nginx's checks and messages (src/http/ngx_http_core_module.c, ngx_http.c).
 */
import { hostname } from 'node:os';
import type { Directive } from '../parser.js';
import { NginxConfigErrorCode } from '../errors.js';
import { parseUrl, type ParsedUrl } from '../address.js';
import { compilePcre } from '../regex.js';
import { namedCaptures } from '../variables.js';
import {
  newHttpBuilder,
  newLocLevels,
  type LocationBuilder,
  type ServerBuilder,
} from '../builders.js';
import type { ErrorPageEntry, ListenConf, LocationModifier, RootSetting, ServerNameConf } from '../types.js';
import { parseErrorLog } from './core.js';
import {
  Context,
  FLAG,
  HTTP_SRV,
  HTTP_SRV_LOC,
  NOARGS,
  ONE_OR_MORE,
  TAKE1,
  TAKE12,
  TAKE1234,
  TAKE2,
  TWO_OR_MORE,
  custom,
  fieldOf,
  slot,
  type DirectiveContext,
  type DirectiveSpec,
} from './spec.js';
import {
  arg,
  atoi,
  parseOffset,
  parseSize,
  parseTime,
  setBitmask,
  setBufs,
  setEnum,
  setFlag,
  setMsec,
  setNum,
  setOffset,
  setPath,
  setSec,
  setSize,
  setSizeOrTemplate,
  setStr,
} from './setters.js';
import { addListen } from '../listen.js';

/** nginx's built-in types when no `types {}` is written anywhere. */
const DEFAULT_TYPES: ReadonlyMap<string, string> = new Map([
  ['html', 'text/html'],
  ['gif', 'image/gif'],
  ['jpg', 'image/jpeg'],
]);

// ---- http, server ---------------------------------------------------------------------------

function applyHttp(d: Directive, cx: DirectiveContext): void {
  if (cx.builders.http) throw cx.directiveError(d, 'is duplicate', NginxConfigErrorCode.Duplicate);
  const http = newHttpBuilder(d);
  cx.builders.http = http;
  cx.evaluateBlock(d, Context.Http, (frame) => {
    frame.setBuilders({ http, server: null, location: null, upstream: null, ifBlock: null });
    frame.setLevels({ http: http.http, srv: http.srv, ...http.levels });
    frame.setRewriteSteps([]);
  });
  cx.finishHttp(d);
}

function applyServer(d: Directive, cx: DirectiveContext): void {
  const http = cx.builders.http!;
  const server: ServerBuilder = {
    directive: d,
    srv: {},
    levels: newLocLevels(),
    steps: [],
    listen: [],
    serverNames: [],
    locations: [],
    ifs: [],
  };
  http.servers.push(server);
  cx.evaluateBlock(d, Context.Server, (frame) => {
    frame.setBuilders({ server, location: null, ifBlock: null });
    frame.setLevels({ srv: server.srv, ...server.levels });
    frame.setRewriteSteps(server.steps);
  });
  if (server.listen.length === 0) {
    // nginx's implicit `listen *:80` (as root) or `*:8000`.
    const port = cx.env.isRoot ? 80 : 8000;
    const text = `0.0.0.0:${port}`;
    const listen: ListenConf = {
      ...LISTEN_DEFAULTS,
      address: { kind: 'tcp', host: '0.0.0.0', port, ipVersion: 4, text },
      text,
      wildcard: true,
      implicit: true,
      position: null,
    };
    addListen(cx, d, server, listen);
  }
}

// ---- location ---------------------------------------------------------------------------------

function parseLocationName(d: Directive, cx: DirectiveContext): { modifier: LocationModifier; name: string } {
  if (d.args.length === 2) {
    const modifier = d.args[0]!;
    const name = d.args[1]!;
    if (modifier === '=' || modifier === '^~' || modifier === '~' || modifier === '~*') return { modifier, name };
    throw cx.error(d, `invalid location modifier "${modifier}"`);
  }
  const name = arg(d);
  if (name.startsWith('=')) return { modifier: '=', name: name.slice(1) };
  if (name.startsWith('^~')) return { modifier: '^~', name: name.slice(2) };
  if (name.startsWith('~*')) return { modifier: '~*', name: name.slice(2) };
  if (name.startsWith('~')) return { modifier: '~', name: name.slice(1) };
  if (name.startsWith('@')) return { modifier: '@', name };
  return { modifier: '', name };
}

/** Compiles a regex the way nginx does at configuration time; its named captures become variables. */
export function checkRegex(d: Directive, cx: DirectiveContext, pattern: string, caseless: boolean): void {
  const compiled = compilePcre(pattern, caseless);
  if (!compiled.ok && 'nginxError' in compiled) throw cx.error(d, compiled.nginxError, NginxConfigErrorCode.InvalidValue);
  if (!compiled.ok) cx.warn(d, `regex "${pattern}" is valid PCRE but tsgi cannot run it (${compiled.unsupported})`, false);
  for (const name of namedCaptures(pattern)) cx.defineVariable(name);
}

function applyLocation(d: Directive, cx: DirectiveContext): void {
  const { modifier, name } = parseLocationName(d, cx);
  const regex = modifier === '~' || modifier === '~*';
  if (regex) checkRegex(d, cx, name, modifier === '~*');
  const parent = cx.context === Context.Location ? cx.builders.location : null;
  if (parent) {
    // ngx_http_core_location's rules for nested locations.
    const at = NginxConfigErrorCode.Location;
    if (parent.modifier === '=') throw cx.error(d, `location "${name}" cannot be inside the exact location "${parent.name}"`, at);
    if (parent.modifier === '@') throw cx.error(d, `location "${name}" cannot be inside the named location "${parent.name}"`, at);
    if (modifier === '@') throw cx.error(d, `named location "${name}" can be on the server level only`, at);
    if (!regex && !startsWithBytes(name, parent.name)) throw cx.error(d, `location "${name}" is outside location "${parent.name}"`, at);
  }
  const location: LocationBuilder = {
    directive: d,
    modifier,
    name,
    caseless: modifier === '~*',
    levels: newLocLevels(),
    steps: [],
    locations: [],
    ifs: [],
    limitExcept: null,
    parent,
  };
  (parent ? parent.locations : cx.builders.server!.locations).push(location);
  cx.evaluateBlock(d, Context.Location, (frame) => {
    frame.setBuilders({ location, ifBlock: null });
    frame.setLevels(location.levels);
    frame.setRewriteSteps(location.steps);
  });
}

/** `ngx_filename_cmp(name, parent, strlen(parent))`: the first bytes of `name` are `parent`. */
function startsWithBytes(name: string, parent: string): boolean {
  return Buffer.from(name).subarray(0, Buffer.byteLength(parent)).equals(Buffer.from(parent));
}

// ---- limit_except -----------------------------------------------------------------------------

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'MKCOL', 'COPY', 'MOVE', 'OPTIONS', 'PROPFIND', 'PROPPATCH', 'LOCK', 'UNLOCK', 'PATCH'];

function applyLimitExcept(d: Directive, cx: DirectiveContext): void {
  const location = cx.builders.location!;
  if (location.limitExcept) throw cx.directiveError(d, 'is duplicate', NginxConfigErrorCode.Duplicate);
  const methods: string[] = [];
  for (const word of d.args) {
    const method = METHODS.find((m) => m === word.toUpperCase());
    if (!method) throw cx.error(d, `invalid method "${word}"`);
    if (!methods.includes(method)) methods.push(method);
  }
  if (methods.includes('GET') && !methods.includes('HEAD')) methods.push('HEAD');
  const limitExcept = { directive: d, methods, levels: newLocLevels() };
  location.limitExcept = limitExcept;
  cx.evaluateBlock(d, Context.LimitExcept, (frame) => {
    frame.setLevels(limitExcept.levels);
    frame.setRewriteSteps([]);
  });
}

// ---- listen -----------------------------------------------------------------------------------

const LISTEN_DEFAULTS = {
  defaultServer: false,
  backlog: 511,
  rcvbuf: null,
  sndbuf: null,
  bind: false,
  reuseport: false,
  deferred: false,
  ipv6only: true,
  ssl: false,
  http2: false,
  proxyProtocol: false,
  soKeepalive: null,
} as const;

/** `listen` allows a port range (`8000-8003`); nginx binds each port. */
function listenPorts(url: string, parsed: ParsedUrl): { ports: number[] } | { err: string } {
  const range = /^(?:(.*):)?([0-9]+)-([0-9]*)$/.exec(url.startsWith('[') ? url.slice(url.indexOf(']') + 1) : url);
  if (!range) return { ports: [parsed.port] };
  const first = Number(range[2]);
  const last = atoi(range[3]!);
  if (last === null || last < 1 || last > 65535 || first < 1 || first > 65535) return { err: 'invalid port' };
  if (first > last) return { err: 'invalid port range' };
  return { ports: Array.from({ length: last - first + 1 }, (_, i) => first + i) };
}

function parseListenUrl(url: string): ParsedUrl | { err: string } {
  // Strip a port range to let ngx_parse_url read the first port.
  const ranged = /^((?:\[[^\]]*\]|[^:[]*):)?([0-9]+)-([0-9]+)$/.exec(url);
  if (ranged) {
    const parsed = parseUrl(`${ranged[1] ?? ''}${ranged[2]}`, { listen: true, defaultPort: 80 });
    return parsed;
  }
  return parseUrl(url, { listen: true, defaultPort: 80 });
}

function applyListen(d: Directive, cx: DirectiveContext): void {
  const server = cx.builders.server!;
  const url = arg(d);
  const parsed = parseListenUrl(url);
  if ('err' in parsed) throw cx.error(d, `${parsed.err} in "${url}" of the "listen" directive`);
  const ports = listenPorts(url, parsed);
  if ('err' in ports) throw cx.error(d, `${ports.err} in "${url}" of the "listen" directive`);
  const options = {
    defaultServer: false,
    backlog: 511,
    rcvbuf: null as number | null,
    sndbuf: null as number | null,
    bind: false,
    reuseport: false,
    deferred: false,
    ipv6only: true,
    ssl: false,
    http2: false,
    proxyProtocol: false,
    soKeepalive: null as string | null,
    set: false,
  };
  for (const word of d.args.slice(1)) {
    const [key, value] = word.includes('=') ? [word.slice(0, word.indexOf('=') + 1), word.slice(word.indexOf('=') + 1)] : [word, ''];
    switch (key) {
      case 'default_server':
      case 'default':
        options.defaultServer = true;
        continue;
      case 'bind':
        options.bind = options.set = true;
        continue;
      case 'fastopen=':
        if (atoi(value) === null) throw cx.error(d, `invalid fastopen "${word}"`);
        options.bind = options.set = true;
        continue;
      case 'backlog=': {
        const n = atoi(value);
        if (n === null || n === 0) throw cx.error(d, `invalid backlog "${word}"`);
        options.backlog = n;
        options.bind = options.set = true;
        continue;
      }
      case 'rcvbuf=':
      case 'sndbuf=': {
        const size = parseSize(value);
        if (size === null) throw cx.error(d, `invalid ${key.slice(0, -1)} "${word}"`);
        if (key === 'rcvbuf=') options.rcvbuf = size;
        else options.sndbuf = size;
        options.bind = options.set = true;
        continue;
      }
      case 'accept_filter=':
        cx.warn(d, `accept filters "${word}" are not supported on this platform, ignored`);
        continue;
      case 'deferred':
        options.deferred = options.bind = options.set = true;
        continue;
      case 'ipv6only=':
        if (value !== 'on' && value !== 'off') throw cx.error(d, `invalid ipv6only flags "${value}"`);
        options.ipv6only = value === 'on';
        options.bind = options.set = true;
        continue;
      case 'reuseport':
        options.reuseport = options.bind = options.set = true;
        continue;
      case 'ssl':
        options.ssl = true;
        continue;
      case 'http2':
        options.http2 = true;
        continue;
      case 'so_keepalive=':
        if (value !== 'on' && value !== 'off' && !validKeepaliveTuning(value)) throw cx.error(d, `invalid so_keepalive value: "${value}"`);
        options.soKeepalive = value;
        options.bind = options.set = true;
        continue;
      case 'proxy_protocol':
        options.proxyProtocol = true;
        continue;
      default:
        throw cx.error(d, `invalid parameter "${word}"`);
    }
  }
  const { set, ...flags } = options;
  for (const port of ports.ports) {
    const address =
      parsed.address.kind === 'unix'
        ? parsed.address
        : { ...parsed.address, port, text: parsed.address.ipVersion === 6 ? `[${parsed.address.host}]:${port}` : `${parsed.address.host}:${port}` };
    const listen: ListenConf = {
      ...flags,
      address,
      text: address.text,
      wildcard: parsed.wildcard,
      implicit: false,
      position: { file: d.file, line: d.line },
    };
    addListen(cx, d, server, listen, set);
  }
}

/** `so_keepalive=[keepidle]:[keepintvl]:[keepcnt]`, at least one part. */
function validKeepaliveTuning(value: string): boolean {
  const parts = value.split(':');
  if (parts.length > 3) return false;
  const [idle = '', interval = '', count = ''] = parts;
  if (idle && parseTime(idle, true) === null) return false;
  if (interval && parseTime(interval, true) === null) return false;
  if (count && atoi(count) === null) return false;
  const zero = (text: string, parse: (t: string) => number | null) => !text || parse(text) === 0;
  return !(zero(idle, (t) => parseTime(t, true)) && zero(interval, (t) => parseTime(t, true)) && zero(count, atoi));
}

// ---- server_name ------------------------------------------------------------------------------

function applyServerName(d: Directive, cx: DirectiveContext): void {
  const server = cx.builders.server!;
  for (const value of d.args) {
    const first = value[0];
    if ((first === '*' && (value.length < 3 || value[1] !== '.')) || (first === '.' && value.length < 2)) {
      throw cx.error(d, `server name "${value}" is invalid`);
    }
    if (value.includes('/')) cx.warn(d, `server name "${value}" has suspicious symbols`);
    if (first !== '~') {
      const name = value.toLowerCase() === '$hostname' ? hostname() : value.toLowerCase();
      server.serverNames.push(serverNameOf(name));
      continue;
    }
    if (value.length === 1) throw cx.error(d, `empty regex in server name "${value}"`);
    const pattern = value.slice(1);
    // nginx matches a server name regex caselessly when it contains an upper-case letter.
    checkRegex(d, cx, pattern, /[A-Z]/.test(pattern));
    server.serverNames.push({ name: pattern, kind: 'regex' });
  }
}

function serverNameOf(name: string): ServerNameConf {
  if (name.startsWith('*.')) return { name, kind: 'wildcard-start' };
  if (name.startsWith('.')) return { name, kind: 'dot' };
  if (name.endsWith('.*')) return { name, kind: 'wildcard-end' };
  return { name, kind: 'exact' };
}

// ---- root, alias ------------------------------------------------------------------------------

function applyRoot(d: Directive, cx: DirectiveContext): void {
  const alias = d.name === 'alias';
  const raw = cx.raw('loc');
  if (raw.root) {
    if ((raw.root.kind === 'alias') === alias) throw cx.directiveError(d, 'is duplicate', NginxConfigErrorCode.Duplicate);
    throw cx.error(d, `"${d.name}" directive is duplicate, "${raw.root.kind}" directive was specified earlier`, NginxConfigErrorCode.Duplicate);
  }
  const location = cx.context === Context.Location ? cx.builders.location : null;
  if (alias && location?.modifier === '@') throw cx.error(d, 'the "alias" directive cannot be used inside the named location');
  const value = arg(d);
  for (const variable of ['document_root', 'realpath_root']) {
    if (value.includes(`$${variable}`) || value.includes(`\${${variable}}`)) {
      throw cx.error(d, `the $${variable} variable cannot be used in the "${d.name}" directive`);
    }
  }
  let path = value;
  if (!alias && path.length > 0 && path.endsWith('/')) path = path.slice(0, -1);
  if (!path.startsWith('$')) path = cx.fullPath(path);
  const hasVariables = path.includes('$');
  if (hasVariables) cx.useVariables(d, path);
  raw.root = { kind: alias ? 'alias' : 'root', path, hasVariables };
  const prefixLocation = location && (location.modifier === '' || location.modifier === '^~');
  if (alias && prefixLocation && !location.name.endsWith('/') && value.endsWith('/')) {
    // nginx serves "/i../x" from "/data/images/../x" here and prints nothing; tsgi says so.
    cx.warn(
      d,
      `alias "${value}" ends with "/" but location "${location.name}" does not: a request for "${location.name}../file" ` +
        `reads "${value}../file", outside the alias (the nginx alias traversal pitfall); ` +
        `write "location ${location.name}/" or "alias ${value.replace(/\/+$/, '')}"`,
      false,
    );
  }
}

// ---- types ------------------------------------------------------------------------------------

function applyTypes(d: Directive, cx: DirectiveContext): void {
  const raw = cx.raw('loc');
  const types = new Map(raw.types ?? []);
  raw.types = types;
  cx.evaluateBlock(d, cx.context, (frame) =>
    frame.setStatementHandler((entry, inner) => {
      if (entry.name === 'include') {
        if (entry.args.length !== 1) throw inner.error(entry, 'invalid number of arguments in "include" directive', NginxConfigErrorCode.Arguments);
        inner.evaluateIncluded(entry);
        return;
      }
      for (const written of entry.args) {
        const extension = written.toLowerCase();
        const previous = types.get(extension);
        if (previous !== undefined) {
          inner.warn(entry, `duplicate extension "${extension}", content type: "${entry.name}", previous content type: "${previous}"`);
        }
        types.set(extension, entry.name);
      }
    }),
  );
}

// ---- keepalive_timeout, error_page, try_files, open_file_cache, ... ------------------------------

function applyKeepaliveTimeout(d: Directive, cx: DirectiveContext): void {
  const raw = cx.raw('loc');
  if (raw.keepaliveTimeoutMs !== undefined) throw cx.directiveError(d, 'is duplicate', NginxConfigErrorCode.Duplicate);
  const timeout = parseTime(arg(d, 0), false);
  if (timeout === null) throw cx.directiveError(d, 'invalid value');
  raw.keepaliveTimeoutMs = timeout;
  if (d.args.length === 2) {
    const header = parseTime(arg(d, 1), true);
    if (header === null) throw cx.directiveError(d, 'invalid value');
    raw.keepaliveHeaderSec = header;
  }
}

/** Statuses nginx answers with 400 when an error_page for them does not say otherwise. */
const BAD_REQUEST_STATUSES = [494, 495, 496, 497];

function applyErrorPage(d: Directive, cx: DirectiveContext): void {
  const raw = cx.raw('loc');
  const pages: ErrorPageEntry[] = [...(raw.errorPages ?? [])];
  const args = d.args;
  let i = args.length - 2;
  let overwrite: number | null = null;
  let codes = args.length - 1;
  if (args[i]!.startsWith('=')) {
    if (i === 0) throw cx.error(d, `invalid value "${args[i]}"`);
    if (args[i]!.length > 1) {
      const n = atoi(args[i]!.slice(1));
      if (n === null) throw cx.error(d, `invalid value "${args[i]}"`);
      overwrite = n;
    } else {
      overwrite = 0;
    }
    codes = i;
  }
  const uri = args[args.length - 1]!;
  cx.useVariables(d, uri);
  let target = uri;
  let query: string | null = null;
  if (!uri.includes('$') && uri.startsWith('/') && uri.includes('?')) {
    target = uri.slice(0, uri.indexOf('?'));
    query = uri.slice(uri.indexOf('?') + 1);
  }
  for (i = 0; i < codes; i += 1) {
    const text = args[i]!;
    const status = atoi(text);
    if (status === null || status === 499) throw cx.error(d, `invalid value "${text}"`);
    if (status < 300 || status > 599) throw cx.error(d, `value "${text}" must be between 300 and 599`);
    const effective = overwrite === null && BAD_REQUEST_STATUSES.includes(status) ? 400 : overwrite;
    pages.push({ status, overwrite: effective, uri: target, args: query });
  }
  raw.errorPages = pages;
}

function applyTryFiles(d: Directive, cx: DirectiveContext): void {
  const raw = cx.raw('loc');
  if (raw.tryFiles) throw cx.directiveError(d, 'is duplicate', NginxConfigErrorCode.Duplicate);
  for (const value of d.args) cx.useVariables(d, value);
  const last = d.args[d.args.length - 1]!;
  if (last.startsWith('=')) {
    const code = atoi(last.slice(1));
    if (code === null || code > 999) throw cx.error(d, `invalid code "${last}"`);
  }
  raw.tryFiles = [...d.args];
}

function applyOpenFileCache(d: Directive, cx: DirectiveContext): void {
  const raw = cx.raw('loc');
  if (raw.openFileCache !== undefined) throw cx.directiveError(d, 'is duplicate', NginxConfigErrorCode.Duplicate);
  let max = 0;
  let inactive = 60;
  let off = false;
  for (const word of d.args) {
    if (word.startsWith('max=')) {
      const n = atoi(word.slice(4));
      if (n !== null && n > 0) {
        max = n;
        continue;
      }
    } else if (word.startsWith('inactive=')) {
      const t = parseTime(word.slice(9), true);
      if (t !== null) {
        inactive = t;
        continue;
      }
    } else if (word === 'off') {
      off = true;
      continue;
    }
    throw cx.error(d, `invalid "open_file_cache" parameter "${word}"`);
  }
  if (off) {
    raw.openFileCache = null;
    return;
  }
  if (max === 0) throw cx.error(d, '"open_file_cache" must have the "max" parameter');
  raw.openFileCache = { max, inactiveSec: inactive };
}

function applyAio(d: Directive, cx: DirectiveContext): string {
  const value = arg(d);
  if (value === 'off') return 'off';
  // Debian's nginx is built without file AIO, but with threads.
  if (value === 'on') throw cx.error(d, '"aio on" is unsupported on this platform');
  if (value === 'threads' || value.startsWith('threads=')) return value;
  throw cx.directiveError(d, 'invalid value');
}

function applyDirectio(d: Directive, cx: DirectiveContext): number | null {
  const value = arg(d);
  if (value === 'off') return null;
  const size = parseOffset(value);
  if (size === null) throw cx.directiveError(d, 'invalid value');
  return size;
}

function applyDisableSymlinks(d: Directive, cx: DirectiveContext): void {
  const raw = cx.raw('loc');
  if (raw.disableSymlinks !== undefined) throw cx.directiveError(d, 'is duplicate', NginxConfigErrorCode.Duplicate);
  let mode: 'off' | 'on' | 'if_not_owner' | null = null;
  let from: string | null = null;
  for (const word of d.args) {
    if (word === 'off' || word === 'on' || word === 'if_not_owner') {
      mode = word;
      continue;
    }
    if (word.startsWith('from=')) {
      from = word.slice(5);
      cx.useVariables(d, from);
      continue;
    }
    throw cx.error(d, `invalid parameter "${word}"`);
  }
  if (mode === null) throw cx.error(d, `"${d.name}" must have "off", "on" or "if_not_owner" parameter`);
  if (d.args.length === 2) {
    if (from === null) throw cx.error(d, `duplicate parameters "${d.args[0]} ${d.args[1]}"`);
    if (mode === 'off') throw cx.error(d, '"from=" cannot be used with "off" parameter');
  }
  raw.disableSymlinks = { mode, from };
}

function applyGzipDisable(d: Directive, cx: DirectiveContext, previous: readonly string[] | undefined): string[] {
  for (const value of d.args) {
    if (value !== 'msie6' && value !== 'degradation') checkRegex(d, cx, value, true);
  }
  return [...(previous ?? []), ...d.args];
}

function applyResolver(d: Directive, cx: DirectiveContext): void {
  const raw = cx.raw('loc');
  if (raw.resolver) throw cx.directiveError(d, 'is duplicate', NginxConfigErrorCode.Duplicate);
  raw.resolver = [...d.args];
}

export const HTTP_CORE_DIRECTIVES: readonly DirectiveSpec[] = [
  custom('http', Context.Main, NOARGS, applyHttp, { block: true, help: 'the HTTP server' }),
  slot('variables_hash_max_size', Context.Http, TAKE1, 'http', 'variablesHashMaxSize', setNum, { default: 1024, help: 'variables hash size' }),
  slot('variables_hash_bucket_size', Context.Http, TAKE1, 'http', 'variablesHashBucketSize', setNum, { default: 64, help: 'variables hash bucket size' }),
  slot('server_names_hash_max_size', Context.Http, TAKE1, 'http', 'serverNamesHashMaxSize', setNum, { default: 512, help: 'server names hash size' }),
  slot('server_names_hash_bucket_size', Context.Http, TAKE1, 'http', 'serverNamesHashBucketSize', setNum, {
    default: 64,
    help: 'server names hash bucket size',
  }),
  custom('server', Context.Http, NOARGS, applyServer, { block: true, help: 'a virtual server' }),
  slot('connection_pool_size', HTTP_SRV, TAKE1, 'srv', 'connectionPoolSize', setSize, { default: 512, help: 'per-connection memory' }),
  slot('request_pool_size', HTTP_SRV, TAKE1, 'srv', 'requestPoolSize', setSize, { default: 4096, help: 'per-request memory' }),
  slot('client_header_timeout', HTTP_SRV, TAKE1, 'srv', 'clientHeaderTimeoutMs', setMsec, { default: 60000, help: 'time to read the request header' }),
  slot('client_header_buffer_size', HTTP_SRV, TAKE1, 'srv', 'clientHeaderBufferSize', setSize, { default: 1024, help: 'buffer for the request header' }),
  slot('large_client_header_buffers', HTTP_SRV, TAKE2, 'srv', 'largeClientHeaderBuffers', setBufs, {
    default: { number: 4, size: 8192 },
    help: 'buffers for long request lines and headers (a longer line is 414, a longer header 400)',
  }),
  slot('ignore_invalid_headers', HTTP_SRV, FLAG, 'srv', 'ignoreInvalidHeaders', setFlag, { default: true, help: 'drop headers with invalid names' }),
  slot('merge_slashes', HTTP_SRV, FLAG, 'srv', 'mergeSlashes', setFlag, { default: true, help: 'merge // in URIs' }),
  slot('underscores_in_headers', HTTP_SRV, FLAG, 'srv', 'underscoresInHeaders', setFlag, { default: false, help: 'accept _ in header names' }),
  custom('location', Context.Server | Context.Location, TAKE12, applyLocation, { block: true, help: 'settings for URIs that match' }),
  custom('listen', Context.Server, ONE_OR_MORE, applyListen, { help: 'address and port to accept requests on' }),
  custom('server_name', Context.Server, ONE_OR_MORE, applyServerName, { help: 'names of the virtual server' }),
  slot('types_hash_max_size', HTTP_SRV_LOC, TAKE1, 'loc', 'typesHashMaxSize', setNum, { default: 1024, help: 'types hash size' }),
  slot('types_hash_bucket_size', HTTP_SRV_LOC, TAKE1, 'loc', 'typesHashBucketSize', setNum, { default: 64, help: 'types hash bucket size' }),
  custom('types', HTTP_SRV_LOC, NOARGS, applyTypes, {
    block: true,
    help: 'file extensions to MIME types',
    slots: [fieldOf('loc', 'types', DEFAULT_TYPES)],
  }),
  slot('default_type', HTTP_SRV_LOC, TAKE1, 'loc', 'defaultType', setStr, { default: 'text/plain', help: 'MIME type of unknown extensions' }),
  custom('root', HTTP_SRV_LOC | Context.LocationIf, TAKE1, applyRoot, {
    help: 'directory the URI is appended to',
    slots: [fieldOf('loc', 'root', (env): RootSetting => ({ kind: 'root', path: env.prefix + 'html', hasVariables: false }))],
  }),
  custom('alias', Context.Location, TAKE1, applyRoot, {
    help: 'directory that replaces the location prefix',
    slots: [fieldOf('loc', 'root', (env): RootSetting => ({ kind: 'root', path: env.prefix + 'html', hasVariables: false }))],
  }),
  custom('limit_except', Context.Location, ONE_OR_MORE, applyLimitExcept, { block: true, help: 'restrictions for the other methods' }),
  slot('client_max_body_size', HTTP_SRV_LOC, TAKE1, 'loc', 'clientMaxBodySize', setOffset, {
    default: 1024 * 1024,
    help: 'largest request body (413 above; 0: no limit)',
  }),
  slot('client_body_buffer_size', HTTP_SRV_LOC, TAKE1, 'loc', 'clientBodyBufferSize', setSize, {
    default: 2 * 4096,
    help: 'request body kept in memory; more goes to a temp file',
  }),
  slot('client_body_timeout', HTTP_SRV_LOC, TAKE1, 'loc', 'clientBodyTimeoutMs', setMsec, { default: 60000, help: 'time between two body reads' }),
  slot('client_body_temp_path', HTTP_SRV_LOC, TAKE1234, 'loc', 'clientBodyTempPath', setPath, {
    default: (env) => ({ path: env.prefix + 'client_body_temp', levels: [] }),
    help: 'directory for request bodies',
  }),
  slot('client_body_in_file_only', HTTP_SRV_LOC, TAKE1, 'loc', 'clientBodyInFileOnly', setEnum(['off', 'on', 'clean']), {
    default: 'off',
    help: 'always keep the request body in a file',
  }),
  slot('client_body_in_single_buffer', HTTP_SRV_LOC, FLAG, 'loc', 'clientBodyInSingleBuffer', setFlag, {
    default: false,
    help: 'keep the request body in one buffer',
  }),
  slot('sendfile', HTTP_SRV_LOC | Context.LocationIf, FLAG, 'loc', 'sendfile', setFlag, { default: false, help: 'use sendfile()' }),
  slot('sendfile_max_chunk', HTTP_SRV_LOC, TAKE1, 'loc', 'sendfileMaxChunk', setSize, { default: 2 * 1024 * 1024, help: 'largest sendfile() call' }),
  slot('subrequest_output_buffer_size', HTTP_SRV_LOC, TAKE1, 'loc', 'subrequestOutputBufferSize', setSize, {
    default: 4096,
    help: 'subrequest response buffer',
  }),
  slot('aio', HTTP_SRV_LOC, TAKE1, 'loc', 'aio', applyAio, { default: 'off', help: 'asynchronous file I/O' }),
  slot('aio_write', HTTP_SRV_LOC, FLAG, 'loc', 'aioWrite', setFlag, { default: false, help: 'asynchronous file writes' }),
  slot('read_ahead', HTTP_SRV_LOC, TAKE1, 'loc', 'readAhead', setSize, { default: 0, help: 'file read-ahead' }),
  slot('directio', HTTP_SRV_LOC, TAKE1, 'loc', 'directio', applyDirectio, { default: null, help: 'O_DIRECT for files this large' }),
  slot('directio_alignment', HTTP_SRV_LOC, TAKE1, 'loc', 'directioAlignment', setOffset, { default: 512, help: 'O_DIRECT alignment' }),
  slot('tcp_nopush', HTTP_SRV_LOC, FLAG, 'loc', 'tcpNopush', setFlag, { default: false, help: 'TCP_CORK with sendfile (accepted)' }),
  slot('tcp_nodelay', HTTP_SRV_LOC, FLAG, 'loc', 'tcpNodelay', setFlag, { default: true, help: 'TCP_NODELAY on keep-alive connections' }),
  slot('send_timeout', HTTP_SRV_LOC, TAKE1, 'loc', 'sendTimeoutMs', setMsec, { default: 60000, help: 'time between two writes to the client' }),
  slot('send_lowat', HTTP_SRV_LOC, TAKE1, 'loc', 'sendLowat', setSize, { default: 0, help: 'SO_SNDLOWAT' }),
  slot('postpone_output', HTTP_SRV_LOC, TAKE1, 'loc', 'postponeOutput', setSize, { default: 1460, help: 'smallest write to the client' }),
  slot('limit_rate', HTTP_SRV_LOC | Context.LocationIf, TAKE1, 'loc', 'limitRate', setSizeOrTemplate, { default: 0, help: 'response rate limit per request' }),
  slot('limit_rate_after', HTTP_SRV_LOC | Context.LocationIf, TAKE1, 'loc', 'limitRateAfter', setSizeOrTemplate, {
    default: 0,
    help: 'bytes sent before limit_rate applies',
  }),
  slot('keepalive_time', HTTP_SRV_LOC, TAKE1, 'loc', 'keepaliveTimeMs', setMsec, { default: 3600000, help: 'longest life of a keep-alive connection' }),
  custom('keepalive_timeout', HTTP_SRV_LOC, TAKE12, applyKeepaliveTimeout, {
    help: 'idle keep-alive timeout [and Keep-Alive header value]',
    slots: [fieldOf('loc', 'keepaliveTimeoutMs', 75000), fieldOf('loc', 'keepaliveHeaderSec', null)],
  }),
  slot('keepalive_requests', HTTP_SRV_LOC, TAKE1, 'loc', 'keepaliveRequests', setNum, { default: 1000, help: 'requests per keep-alive connection' }),
  slot('keepalive_disable', HTTP_SRV_LOC, TAKE12, 'loc', 'keepaliveDisable', setBitmask(['none', 'msie6', 'safari']), {
    default: ['msie6'],
    accumulate: true,
    help: 'browsers that get no keep-alive',
  }),
  slot('satisfy', HTTP_SRV_LOC, TAKE1, 'loc', 'satisfy', setEnum(['all', 'any']), { default: 'all', help: 'all or any access check must pass' }),
  slot('auth_delay', HTTP_SRV_LOC, TAKE1, 'loc', 'authDelayMs', setMsec, { default: 0, help: 'delay of a 401 response' }),
  slot('internal', Context.Location, NOARGS, 'loc', 'internal', () => true, { default: false, help: 'only internal redirects reach this location' }),
  slot('lingering_close', HTTP_SRV_LOC, TAKE1, 'loc', 'lingeringClose', setEnum(['off', 'on', 'always']), { default: 'on', help: 'read on before closing' }),
  slot('lingering_time', HTTP_SRV_LOC, TAKE1, 'loc', 'lingeringTimeMs', setMsec, { default: 30000, help: 'longest lingering close' }),
  slot('lingering_timeout', HTTP_SRV_LOC, TAKE1, 'loc', 'lingeringTimeoutMs', setMsec, { default: 5000, help: 'wait for more client data when lingering' }),
  slot('reset_timedout_connection', HTTP_SRV_LOC, FLAG, 'loc', 'resetTimedoutConnection', setFlag, { default: false, help: 'RST timed-out connections' }),
  slot('absolute_redirect', HTTP_SRV_LOC, FLAG, 'loc', 'absoluteRedirect', setFlag, { default: true, help: 'redirects carry scheme and host' }),
  slot('server_name_in_redirect', HTTP_SRV_LOC, FLAG, 'loc', 'serverNameInRedirect', setFlag, { default: false, help: 'redirects use the server name' }),
  slot('port_in_redirect', HTTP_SRV_LOC, FLAG, 'loc', 'portInRedirect', setFlag, { default: true, help: 'redirects carry the port' }),
  slot('msie_padding', HTTP_SRV_LOC, FLAG, 'loc', 'msiePadding', setFlag, { default: true, help: 'pad error pages for MSIE' }),
  slot('msie_refresh', HTTP_SRV_LOC, FLAG, 'loc', 'msieRefresh', setFlag, { default: false, help: 'refresh instead of redirect for MSIE' }),
  slot('log_not_found', HTTP_SRV_LOC, FLAG, 'loc', 'logNotFound', setFlag, { default: true, help: 'log missing files' }),
  slot('log_subrequest', HTTP_SRV_LOC, FLAG, 'loc', 'logSubrequest', setFlag, { default: false, help: 'log subrequests' }),
  slot('recursive_error_pages', HTTP_SRV_LOC, FLAG, 'loc', 'recursiveErrorPages', setFlag, { default: false, help: 'error_page may chain' }),
  slot('server_tokens', HTTP_SRV_LOC, TAKE1, 'loc', 'serverTokens', setEnum(['off', 'on', 'build']), {
    default: 'on',
    help: 'version in the Server header and error pages',
  }),
  slot('if_modified_since', HTTP_SRV_LOC, TAKE1, 'loc', 'ifModifiedSince', setEnum(['off', 'exact', 'before']), {
    default: 'exact',
    help: 'how If-Modified-Since is compared',
  }),
  slot('max_ranges', HTTP_SRV_LOC, TAKE1, 'loc', 'maxRanges', setNum, { default: null, help: 'ranges allowed in a request' }),
  slot('chunked_transfer_encoding', HTTP_SRV_LOC, FLAG, 'loc', 'chunkedTransferEncoding', setFlag, { default: true, help: 'chunked responses' }),
  slot('etag', HTTP_SRV_LOC, FLAG, 'loc', 'etag', setFlag, { default: true, help: 'ETag on static files' }),
  custom('error_page', HTTP_SRV_LOC | Context.LocationIf, TWO_OR_MORE, applyErrorPage, {
    help: 'URI shown for these error statuses',
    slots: [fieldOf('loc', 'errorPages', [])],
  }),
  slot('post_action', HTTP_SRV_LOC | Context.LocationIf, TAKE1, 'loc', 'postAction', setStr, { default: null, help: 'URI requested after the response' }),
  slot('error_log', HTTP_SRV_LOC, ONE_OR_MORE, 'loc', 'errorLog', (d, cx, previous) => parseErrorLog(d, cx, previous ?? undefined), {
    default: null,
    accumulate: true,
    help: 'error log of this server or location',
  }),
  custom('open_file_cache', HTTP_SRV_LOC, TAKE12, applyOpenFileCache, {
    help: 'cache of open files and stat() results',
    slots: [fieldOf('loc', 'openFileCache', null)],
  }),
  slot('open_file_cache_valid', HTTP_SRV_LOC, TAKE1, 'loc', 'openFileCacheValidSec', setSec, { default: 60, help: 'revalidate cached files after' }),
  slot('open_file_cache_min_uses', HTTP_SRV_LOC, TAKE1, 'loc', 'openFileCacheMinUses', setNum, { default: 1, help: 'uses before a file stays cached' }),
  slot('open_file_cache_errors', HTTP_SRV_LOC, FLAG, 'loc', 'openFileCacheErrors', setFlag, { default: false, help: 'cache lookup errors' }),
  slot('open_file_cache_events', HTTP_SRV_LOC, FLAG, 'loc', 'openFileCacheEvents', setFlag, { default: false, help: 'accepted for compatibility' }),
  custom('resolver', HTTP_SRV_LOC, ONE_OR_MORE, applyResolver, { help: 'DNS servers', slots: [fieldOf('loc', 'resolver', null)] }),
  slot('resolver_timeout', HTTP_SRV_LOC, TAKE1, 'loc', 'resolverTimeoutMs', setMsec, { default: 30000, help: 'DNS timeout' }),
  slot('gzip_vary', HTTP_SRV_LOC, FLAG, 'loc', 'gzipVary', setFlag, { default: false, help: 'send Vary: Accept-Encoding' }),
  slot('gzip_http_version', HTTP_SRV_LOC, TAKE1, 'loc', 'gzipHttpVersion', setEnum(['1.0', '1.1']), { default: '1.1', help: 'lowest HTTP version gzipped' }),
  slot(
    'gzip_proxied',
    HTTP_SRV_LOC,
    ONE_OR_MORE,
    'loc',
    'gzipProxied',
    setBitmask(['off', 'expired', 'no-cache', 'no-store', 'private', 'no_last_modified', 'no_etag', 'auth', 'any']),
    { default: ['off'], accumulate: true, help: 'gzip responses to proxied requests when' },
  ),
  slot('gzip_disable', HTTP_SRV_LOC, ONE_OR_MORE, 'loc', 'gzipDisable', applyGzipDisable, {
    default: [],
    accumulate: true,
    help: 'User-Agent regexes that get no gzip',
  }),
  custom('disable_symlinks', HTTP_SRV_LOC, TAKE12, applyDisableSymlinks, {
    help: 'refuse symbolic links in paths',
    slots: [fieldOf('loc', 'disableSymlinks', { mode: 'off', from: null })],
  }),
  custom('try_files', Context.Server | Context.Location, TWO_OR_MORE, applyTryFiles, {
    help: 'files tried in order; the last is the fallback URI or =CODE',
    slots: [fieldOf('loc', 'tryFiles', null, 'none')],
  }),
];
