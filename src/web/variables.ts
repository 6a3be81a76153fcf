/**
 * nginx variables at request time (src/http/ngx_http_variables.c, ngx_http_script.c and the
 * modules that add variables, nginx 1.22): the values of `$uri`, `$http_user_agent`, `$arg_id`...
 * and the templates that use them (`return 200 "$uri"`, `log_format`, `rewrite`, `*_param`).
 *
 * A value is a byte string (src/web/match/bytes.ts) or null for nginx's "not found". The
 * difference shows in two places: the access log prints a not-found value as "-" and a found
 * empty one as nothing, and `if ($x)` is false for both. Templates print both as "".
 *
 * Names are case-insensitive, as nginx lower-cases them when it compiles a configuration. They
 * resolve in nginx's order, once, when a template is compiled:
 *
 *   1. `map` variables (http {}), evaluated lazily and cached for the request unless `volatile`,
 *      as nginx caches them (a map over $uri keeps its first value after a rewrite, as in nginx)
 *   2. the built-in variables implemented here ($uri, $remote_addr, $status...)
 *   3. built-in names whose owner module sets them (upstream_*, ssl_*...): read from ctx.variables
 *   4. names made by `set` and named regex captures: ctx.variables
 *   5. prefix families: $http_NAME, $sent_http_NAME, $cookie_NAME, $arg_NAME (the upstream_*
 *      families are read from ctx.variables, where the upstream module leaves them)
 *
 * Anything else is nginx's configuration error `unknown "x" variable`.
 *
 * Variables owned by other modules of tsgi that keep state per request read it from
 * ctx.variables: $limit_req_status, $limit_conn_status (src/web/limits/), $gzip_ratio
 * (src/web/gzip.ts).
 */
import { realpathSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { hostname as osHostname } from 'node:os';
import { TsgiError } from '../errors.js';
import { parseIPv4, parseIPv6 } from './config/address.js';
import { describeErrno } from './config/errors.js';
import type { IfConf, LocationConf, MapConf, NginxConfig, PerLocation, RewriteStep } from './config/index.js';
import { BUILTIN_VARIABLES, namedCaptures } from './config/variables.js';
import { asciiLowerCase, compileRegex, execRegex, textToBytes, type CompiledRegex } from './match/index.js';
import { TimeTexts, secondsWithMillis } from './log/time.js';
import type { HeaderPair, RequestContext, VariableEngine } from './request-context.js';

/** A variable's value for one request: a byte string, or null for nginx's "not found". */
export type VariableValue = string | null;
export type VariableGetter = (ctx: RequestContext) => VariableValue;

/** What `$NGINX_VERSION` answers: the nginx version tsgi behaves as. */
export const NGINX_VERSION = '1.22.1';

/** A template or variable name nginx would refuse; `message` is nginx's text. */
export class VariableError extends TsgiError {
  constructor(code: 'ERR_UNKNOWN_VARIABLE' | 'ERR_VARIABLE_SYNTAX', message: string) {
    super(code, message);
  }
}

// ---------------------------------------------------------------------------------------------
// Templates
// ---------------------------------------------------------------------------------------------

/** One piece of a template, as `ngx_http_script_compile` splits it. */
export type TemplateToken =
  | { readonly kind: 'text'; readonly text: string }
  /** `$1`..`$9`: a capture of the last regex that matched. */
  | { readonly kind: 'capture'; readonly index: number }
  | { readonly kind: 'variable'; readonly name: string };

/** A compiled piece: variables carry their getter. */
export type TemplatePart =
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'capture'; readonly index: number }
  | { readonly kind: 'variable'; readonly name: string; readonly get: VariableGetter };

const DOLLAR = 0x24; // '$'
const OPEN_BRACE = 0x7b; // '{'
const CLOSE_BRACE = 0x7d; // '}'
const DIGIT_0 = 0x30;
const DIGIT_1 = 0x31;
const DIGIT_9 = 0x39;

function isNameChar(c: number): boolean {
  // [A-Za-z0-9_], the only characters ngx_http_script_compile takes into a name.
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || (c >= DIGIT_0 && c <= DIGIT_9) || c === 0x5f;
}

/**
 * Splits a template as nginx's script compiler reads it: `$name`, `${name}` (so text may follow
 * a name directly: `${host}x`), and `$1`..`$9` (one digit: `$10` is `$1` then "0").
 * Throws VariableError with nginx's messages for `$` at the end, `$` before a non-name
 * character, and an unclosed `${`.
 */
export function parseTemplate(text: string): TemplateToken[] {
  const tokens: TemplateToken[] = [];
  let literal = '';
  let i = 0;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c !== DOLLAR) {
      literal += text[i];
      i += 1;
      continue;
    }
    i += 1;
    if (i === text.length) throw new VariableError('ERR_VARIABLE_SYNTAX', 'invalid variable name');
    if (literal) tokens.push({ kind: 'text', text: literal });
    literal = '';
    const first = text.charCodeAt(i);
    if (first >= DIGIT_1 && first <= DIGIT_9) {
      tokens.push({ kind: 'capture', index: first - DIGIT_0 });
      i += 1;
      continue;
    }
    let bracket = false;
    if (first === OPEN_BRACE) {
      bracket = true;
      i += 1;
      if (i === text.length) throw new VariableError('ERR_VARIABLE_SYNTAX', 'invalid variable name');
    }
    const start = i;
    let end = i;
    while (i < text.length) {
      const ch = text.charCodeAt(i);
      if (ch === CLOSE_BRACE && bracket) {
        end = i;
        i += 1;
        bracket = false;
        break;
      }
      if (!isNameChar(ch)) break;
      i += 1;
      end = i;
    }
    if (bracket) {
      throw new VariableError('ERR_VARIABLE_SYNTAX', `the closing bracket in "${text.slice(start, i)}" variable is missing`);
    }
    if (end === start) throw new VariableError('ERR_VARIABLE_SYNTAX', 'invalid variable name');
    tokens.push({ kind: 'variable', name: text.slice(start, end) });
  }
  if (literal) tokens.push({ kind: 'text', text: literal });
  return tokens;
}

/** Runs compiled parts: not-found values and missing captures print as nothing. */
function runParts(parts: readonly TemplatePart[], ctx: RequestContext): string {
  let out = '';
  for (const part of parts) {
    if (part.kind === 'text') out += part.text;
    else if (part.kind === 'capture') out += ctx.captures.groups[part.index] ?? '';
    else out += part.get(ctx) ?? '';
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Request parsing helpers (pure, exported for tests and for other modules)
// ---------------------------------------------------------------------------------------------

/**
 * `ngx_http_arg`: the value of `name=` in the query string, found case-insensitively where a
 * parameter starts; the first one wins; the value is not %-decoded. Null when absent (a bare
 * `name` without '=' does not count).
 */
export function findArg(args: string, name: string): VariableValue {
  if (args.length === 0 || name.length === 0) return null;
  const lowerArgs = asciiLowerCase(args);
  const key = asciiLowerCase(name) + '=';
  let from = 0;
  for (;;) {
    const at = lowerArgs.indexOf(key, from);
    if (at === -1) return null;
    if (at === 0 || args[at - 1] === '&') {
      const start = at + key.length;
      const amp = args.indexOf('&', start);
      return args.slice(start, amp === -1 ? args.length : amp);
    }
    from = at + 1;
  }
}

/**
 * `ngx_http_parse_multi_header_lines` over the Cookie headers: `name=` at the start of an item
 * (items end at ';' or ','), spaces around '=' skipped, the value runs to the next ';' (spaces
 * and commas included, as nginx reads it). The name matches case-insensitively.
 */
export function findCookie(headerValues: readonly string[], name: string): VariableValue {
  const lowerName = asciiLowerCase(name);
  for (const value of headerValues) {
    if (name.length > value.length) continue;
    let start = 0;
    const end = value.length;
    while (start < end) {
      if (asciiLowerCase(value.slice(start, start + lowerName.length)) === lowerName) {
        let p = start + lowerName.length;
        while (p < end && value[p] === ' ') p += 1;
        if (p < end && value[p] === '=') {
          p += 1;
          while (p < end && value[p] === ' ') p += 1;
          let last = p;
          while (last < end && value[last] !== ';') last += 1;
          return value.slice(p, last);
        }
        // nginx steps over the character it found instead of '=' before it looks for the next
        // item, so in "b;b=5" the ';' is consumed and the second "b" is never seen.
        start = p < end ? p + 1 : p;
      }
      // skip to the next item
      while (start < end) {
        const ch = value[start];
        start += 1;
        if (ch === ';' || ch === ',') break;
      }
      while (start < end && value[start] === ' ') start += 1;
    }
  }
  return null;
}

/**
 * Whether a Cache-Control (or similar) header names `token` as an item (nginx's
 * `ngx_http_parse_multi_header_lines(..., NULL)`: the token, optional spaces, then the end or ',').
 */
export function headerHasToken(headerValues: readonly string[], token: string): boolean {
  const lower = asciiLowerCase(token);
  for (const value of headerValues) {
    let start = 0;
    const end = value.length;
    while (start < end) {
      if (asciiLowerCase(value.slice(start, start + lower.length)) === lower) {
        let p = start + lower.length;
        while (p < end && value[p] === ' ') p += 1;
        if (p === end || value[p] === ',') return true;
        start = p;
      }
      while (start < end) {
        const ch = value[start];
        start += 1;
        if (ch === ';' || ch === ',') break;
      }
      while (start < end && value[start] === ' ') start += 1;
    }
  }
  return false;
}

const BASE64_CHAR = /^[A-Za-z0-9+/]$/;

/**
 * `$remote_user` (ngx_http_auth_basic_user): "Basic" (any case) and a space, more spaces, then
 * base64 up to the first '='; the user is what comes before the first ':' of the decoded text.
 * Null when the header is absent, not Basic, not base64, or has no ':' or an empty user.
 */
export function basicAuthUser(authorization: string | undefined): VariableValue {
  if (authorization === undefined) return null;
  const scheme = 'basic ';
  if (authorization.length < scheme.length || asciiLowerCase(authorization.slice(0, scheme.length)) !== scheme) return null;
  let encoded = authorization.slice(scheme.length);
  while (encoded.startsWith(' ')) encoded = encoded.slice(1);
  if (encoded.length === 0) return null;
  const eq = encoded.indexOf('=');
  const body = eq === -1 ? encoded : encoded.slice(0, eq);
  for (const ch of body) if (!BASE64_CHAR.test(ch)) return null;
  // A single character left over cannot be decoded (ngx_decode_base64: len % 4 == 1).
  if (body.length % 4 === 1) return null;
  const decoded = Buffer.from(body, 'base64').toString('latin1');
  const colon = decoded.indexOf(':');
  if (colon <= 0) return null;
  return decoded.slice(0, colon);
}

/**
 * `ngx_http_variable_unknown_header`: the first header whose name, lower-cased with '-' read as
 * '_', equals `suffix` (already lower case). nginx 1.22 returns the first one only; 1.23 joined them.
 */
export function findHeader(list: readonly HeaderPair[], suffix: string): VariableValue {
  for (const [key, value] of list) {
    if (key.length !== suffix.length) continue;
    if (asciiLowerCase(key).replaceAll('-', '_') === suffix) return value;
  }
  return null;
}

/** Every value of the headers named like `suffix` (see findHeader), in order. */
function findHeaders(list: readonly HeaderPair[], suffix: string): string[] {
  const out: string[] = [];
  for (const [key, value] of list) {
    if (key.length === suffix.length && asciiLowerCase(key).replaceAll('-', '_') === suffix) out.push(value);
  }
  return out;
}

/** `$binary_remote_addr`: 4 bytes for IPv4, 16 for IPv6, the text itself for a UNIX socket. */
export function binaryAddress(address: string): string {
  const v4 = parseIPv4(address);
  if (v4) return String.fromCharCode(...v4);
  const v6 = parseIPv6(address);
  if (v6) return String.fromCharCode(...v6);
  return address;
}

/**
 * The MIME type of a Content-Type value without parameters, lower-cased: what nginx compares
 * gzip_types and charset_types with (r->headers_out.content_type_len).
 */
export function contentTypeOnly(value: string): string {
  const semi = value.indexOf(';');
  return asciiLowerCase((semi === -1 ? value : value.slice(0, semi)).trimEnd());
}

const pad3 = (n: number): string => String(n).padStart(3, '0');

// ---------------------------------------------------------------------------------------------
// The engine
// ---------------------------------------------------------------------------------------------

export interface VariablesOptions {
  /** Wall clock in ms since the epoch (Date.now); tests pass a fixed one. */
  readonly now?: () => number;
  /** `$hostname` (os.hostname(), lower-cased as nginx does). */
  readonly hostname?: string;
  /** Names that `set`, named captures or other modules define, besides those found in the config. */
  readonly declared?: Iterable<string>;
}

/** Per-request values nginx computes once: $request_id, and map results (not `volatile`). */
interface RequestCache {
  requestId?: string;
  maps?: Map<string, string>;
}

interface CompiledMap {
  readonly source: (ctx: RequestContext) => string;
  readonly exact: ReadonlyMap<string, readonly TemplatePart[]>;
  /** hostnames: `*.example.com` / `.example.com` suffixes (with their leading dot), longest first. */
  readonly heads: readonly (readonly [suffix: string, value: readonly TemplatePart[]])[];
  /** hostnames: `www.example.*` prefixes (with their trailing dot). */
  readonly tails: readonly (readonly [prefix: string, value: readonly TemplatePart[]])[];
  readonly regexes: readonly (readonly [regex: CompiledRegex, value: readonly TemplatePart[]])[];
  readonly defaultValue: readonly TemplatePart[];
}

/**
 * The variables of one configuration generation: resolves names, compiles templates (cached by
 * text), and answers `get`/`expand` for the request pipeline. Holds no per-request state except
 * in a WeakMap keyed by the request.
 */
export class Variables implements VariableEngine {
  private readonly now: () => number;
  private readonly hostname: string;
  private readonly prefix: string;
  private readonly times = new TimeTexts();
  private readonly builtins: ReadonlyMap<string, VariableGetter>;
  private readonly declared: Set<string>;
  private readonly mapConfs = new Map<string, MapConf>();
  private readonly compiledMaps = new Map<string, CompiledMap>();
  private readonly templates = new Map<string, readonly TemplatePart[]>();
  private readonly getters = new Map<string, VariableGetter>();
  private readonly cache = new WeakMap<RequestContext, RequestCache>();
  private readonly regexes = new Map<string, CompiledRegex>();

  constructor(config: NginxConfig | null, options: VariablesOptions = {}) {
    this.now = options.now ?? Date.now;
    this.hostname = (options.hostname ?? osHostname()).toLowerCase();
    this.prefix = config?.prefix ?? '';
    this.declared = new Set([...(config ? declaredVariables(config) : []), ...(options.declared ?? [])].map((n) => n.toLowerCase()));
    for (const map of config?.http?.maps ?? []) this.mapConfs.set(map.variable.toLowerCase(), map);
    this.builtins = this.builtinGetters();
  }

  /** True when nginx would accept `$name` in this configuration. */
  isKnown(name: string): boolean {
    try {
      this.resolve(name);
      return true;
    } catch {
      return false;
    }
  }

  /** The getter of a variable. Throws VariableError `unknown "x" variable`. */
  resolve(name: string): VariableGetter {
    const lower = name.toLowerCase();
    const known = this.getters.get(lower);
    if (known) return known;
    const getter = this.makeGetter(lower);
    if (!getter) throw new VariableError('ERR_UNKNOWN_VARIABLE', `unknown "${name}" variable`);
    this.getters.set(lower, getter);
    return getter;
  }

  /** `VariableEngine.get`: the value, null when not found or not a variable at all. */
  get(ctx: RequestContext, name: string): VariableValue {
    let getter: VariableGetter;
    try {
      getter = this.resolve(name);
    } catch {
      return null;
    }
    return getter(ctx);
  }

  /** A template split and resolved, for callers that treat variables specially (the access log). */
  compileParts(text: string): readonly TemplatePart[] {
    const cached = this.templates.get(text);
    if (cached) return cached;
    // Literal text comes from the configuration (Unicode); requests give byte strings. Turning
    // the text into its UTF-8 bytes keeps every expansion a byte string, as nginx's are.
    const parts: TemplatePart[] = parseTemplate(text).map((token): TemplatePart => {
      if (token.kind === 'variable') return { kind: 'variable', name: token.name, get: this.resolve(token.name) };
      if (token.kind === 'text') return { kind: 'text', text: textToBytes(token.text) };
      return token;
    });
    this.templates.set(text, parts);
    return parts;
  }

  /** `compileTemplate`: the template as a function of the request. Throws VariableError. */
  compile(text: string): (ctx: RequestContext) => string {
    const parts = this.compileParts(text);
    const only = parts.length === 1 ? parts[0]! : null;
    if (parts.length === 0) return () => '';
    if (only?.kind === 'text') {
      const constant = only.text;
      return () => constant;
    }
    return (ctx) => runParts(parts, ctx);
  }

  /** `VariableEngine.expand`: a configuration value expanded for this request (compiled once). */
  expand(ctx: RequestContext, template: string): string {
    if (!template.includes('$')) return template;
    return runParts(this.compileParts(template), ctx);
  }

  private requestCache(ctx: RequestContext): RequestCache {
    let entry = this.cache.get(ctx);
    if (!entry) {
      entry = {};
      this.cache.set(ctx, entry);
    }
    return entry;
  }

  private makeGetter(lower: string): VariableGetter | null {
    if (this.mapConfs.has(lower)) return (ctx) => this.mapValue(ctx, lower);
    const builtin = this.builtins.get(lower);
    if (builtin) return builtin;
    // Built-in names of modules that store their values on the request (upstream, ssl...), and
    // the names `set` and named captures make.
    if (BUILTIN_VARIABLES.has(lower) || this.declared.has(lower)) return (ctx) => ctx.variables.get(lower) ?? null;
    if (lower.startsWith('http_')) return this.requestHeaderGetter(lower.slice('http_'.length));
    if (lower.startsWith('sent_http_')) return this.sentHeaderGetter(lower.slice('sent_http_'.length));
    if (lower.startsWith('cookie_')) {
      const cookie = lower.slice('cookie_'.length);
      return (ctx) => findCookie(ctx.headers.getAll('cookie'), cookie);
    }
    if (lower.startsWith('arg_')) {
      const arg = lower.slice('arg_'.length);
      return (ctx) => findArg(ctx.args, arg);
    }
    if (lower.startsWith('sent_trailer_') || lower.startsWith('upstream_http_') || lower.startsWith('upstream_trailer_') || lower.startsWith('upstream_cookie_')) {
      return (ctx) => ctx.variables.get(lower) ?? null;
    }
    return null;
  }

  private requestHeaderGetter(suffix: string): VariableGetter {
    // nginx 1.22 joins the repeated headers it keeps in arrays; the others give the first one.
    if (suffix === 'cookie') return (ctx) => joinOrNull(ctx.headers.getAll('cookie'), '; ');
    if (suffix === 'x_forwarded_for') return (ctx) => joinOrNull(ctx.headers.getAll('x-forwarded-for'), ', ');
    return (ctx) => findHeader(ctx.headers.list, suffix);
  }

  private sentHeaderGetter(suffix: string): VariableGetter {
    if (suffix === 'cache_control') return (ctx) => joinOrNull(findHeaders(ctx.sentHeaders, suffix), '; ');
    if (suffix === 'link') return (ctx) => joinOrNull(findHeaders(ctx.sentHeaders, suffix), ', ');
    return (ctx) => findHeader(ctx.sentHeaders, suffix);
  }

  // ---- map ------------------------------------------------------------------------------------

  private mapValue(ctx: RequestContext, name: string): string {
    const conf = this.mapConfs.get(name)!;
    const cache = conf.volatile ? null : (this.requestCache(ctx).maps ??= new Map());
    const cached = cache?.get(name);
    if (cached !== undefined) return cached;
    const value = this.evaluateMap(ctx, name, conf);
    cache?.set(name, value);
    return value;
  }

  private compiledMap(name: string, conf: MapConf): CompiledMap {
    let compiled = this.compiledMaps.get(name);
    if (compiled) return compiled;
    const exact = new Map<string, readonly TemplatePart[]>();
    const heads: [string, readonly TemplatePart[]][] = [];
    const tails: [string, readonly TemplatePart[]][] = [];
    const regexes: [CompiledRegex, readonly TemplatePart[]][] = [];
    for (const { key, value } of conf.entries) {
      const parts = this.compileParts(value);
      if (key.startsWith('~')) {
        const caseless = key.startsWith('~*');
        regexes.push([compileRegex(key.slice(caseless ? 2 : 1), { caseless }), parts]);
        continue;
      }
      const lower = asciiLowerCase(textToBytes(key));
      if (conf.hostnames && lower.startsWith('*.')) heads.push([lower.slice(1), parts]);
      else if (conf.hostnames && lower.startsWith('.')) {
        // ".example.com" is both "example.com" and "*.example.com".
        if (!exact.has(lower.slice(1))) exact.set(lower.slice(1), parts);
        heads.push([lower, parts]);
      } else if (conf.hostnames && lower.endsWith('.*')) tails.push([lower.slice(0, -1), parts]);
      else if (!exact.has(lower)) exact.set(lower, parts);
    }
    heads.sort((a, b) => b[0].length - a[0].length);
    tails.sort((a, b) => b[0].length - a[0].length);
    const source = this.compile(conf.source);
    compiled = { source, exact, heads, tails, regexes, defaultValue: this.compileParts(conf.default) };
    this.compiledMaps.set(name, compiled);
    return compiled;
  }

  /** ngx_http_map_variable + ngx_http_map_find: exact (case-insensitive), wildcards, regexes in order. */
  private evaluateMap(ctx: RequestContext, name: string, conf: MapConf): string {
    const map = this.compiledMap(name, conf);
    let key = map.source(ctx);
    if (conf.hostnames && key.endsWith('.')) key = key.slice(0, -1);
    if (key.length === 0) return runParts(map.defaultValue, ctx);
    const lower = asciiLowerCase(key);
    const exact = map.exact.get(lower);
    if (exact) return runParts(exact, ctx);
    for (const [suffix, value] of map.heads) if (lower.endsWith(suffix) && lower.length > suffix.length) return runParts(value, ctx);
    for (const [prefix, value] of map.tails) if (lower.startsWith(prefix) && lower.length > prefix.length) return runParts(value, ctx);
    for (const [regex, value] of map.regexes) {
      const captures = execRegex(regex, key);
      if (!captures) continue;
      // ngx_http_regex_exec: a regex with groups replaces the request's captures, and its named
      // groups set their variables, before the value is evaluated.
      if (regex.captureCount > 0) ctx.captures = captures;
      for (const [group, text] of Object.entries(captures.named)) ctx.variables.set(group.toLowerCase(), text);
      return runParts(value, ctx);
    }
    return runParts(map.defaultValue, ctx);
  }

  // ---- built-ins ------------------------------------------------------------------------------

  private regex(pattern: string): CompiledRegex {
    let compiled = this.regexes.get(pattern);
    if (!compiled) {
      compiled = compileRegex(pattern);
      this.regexes.set(pattern, compiled);
    }
    return compiled;
  }

  /** $document_root: the root or alias in force, its variables expanded (relative → prefix). */
  private documentRoot(ctx: RequestContext): string {
    const root = ctx.loc.settings.root;
    if (!root.hasVariables) return root.path;
    const path = this.expand(ctx, root.path);
    return path.startsWith('/') ? path : this.prefix + path;
  }

  /** $request_filename: ngx_http_map_uri_to_path. */
  private requestFilename(ctx: RequestContext): string {
    const root = ctx.loc.settings.root;
    const base = this.documentRoot(ctx);
    if (root.kind === 'root') return base + ctx.uri;
    const location: LocationConf | null = ctx.location;
    if (location === null) return base + ctx.uri;
    // An alias in a regex location is the whole path; elsewhere it replaces the location's name.
    if (location.modifier === '~' || location.modifier === '~*') return base;
    return base + ctx.uri.slice(location.name.length);
  }

  /** `fastcgi_split_path_info`: [script name, path info] of $uri. */
  private fastcgiSplit(ctx: RequestContext): readonly [string, string] {
    const pattern = ctx.loc.fastcgi.splitPathInfo;
    if (pattern === null) return [ctx.uri, ''];
    const match = execRegex(this.regex(pattern), ctx.uri);
    if (!match) return [ctx.uri, ''];
    return [match.groups[1] ?? '', match.groups[2] ?? ''];
  }

  private builtinGetters(): Map<string, VariableGetter> {
    const times = this.times;
    const now = this.now;
    const hostname = this.hostname;
    const g = new Map<string, VariableGetter>();

    // request line and URI
    g.set('request', (ctx) => ctx.head.requestLine);
    // The method in force: an error_page redirect turns a POST into GET, and nginx logs that.
    g.set('request_method', (ctx) => ctx.method);
    g.set('request_uri', (ctx) => ctx.head.requestUri);
    g.set('uri', (ctx) => ctx.uri);
    g.set('document_uri', (ctx) => ctx.uri);
    // nginx keeps no args for "/x" and "/x?" alike: both are not found.
    g.set('args', (ctx) => (ctx.args === '' ? null : ctx.args));
    g.set('query_string', (ctx) => (ctx.args === '' ? null : ctx.args));
    g.set('is_args', (ctx) => (ctx.args === '' ? '' : '?'));
    g.set('server_protocol', (ctx) => ctx.head.protocol);
    g.set('scheme', (ctx) => ctx.scheme);
    g.set('https', (ctx) => ((ctx.scheme as string) === 'https' ? 'on' : ''));
    g.set('request_length', (ctx) => String(ctx.requestLength));
    g.set('request_completion', (ctx) => (ctx.completed ? 'OK' : ''));
    g.set('request_id', (ctx) => {
      const cache = this.requestCache(ctx);
      return (cache.requestId ??= randomBytes(16).toString('hex'));
    });
    g.set('pipe', () => '.');

    // request headers
    g.set('host', (ctx) => ctx.host);
    g.set('content_type', (ctx) => ctx.headers.get('content-type') ?? null);
    g.set('content_length', (ctx) => ctx.headers.get('content-length') ?? null);
    g.set('remote_user', (ctx) => basicAuthUser(ctx.headers.get('authorization')));
    g.set('proxy_add_x_forwarded_for', (ctx) => {
      const forwarded = ctx.headers.getAll('x-forwarded-for');
      return forwarded.length === 0 ? ctx.connection.remoteAddr : `${forwarded.join(', ')}, ${ctx.connection.remoteAddr}`;
    });

    // connection and server
    g.set('remote_addr', (ctx) => ctx.connection.remoteAddr);
    g.set('remote_port', (ctx) => ctx.connection.remotePort);
    g.set('binary_remote_addr', (ctx) => binaryAddress(ctx.connection.remoteAddr));
    g.set('realip_remote_addr', (ctx) => ctx.connection.remoteAddr);
    g.set('realip_remote_port', (ctx) => ctx.connection.remotePort);
    g.set('server_addr', (ctx) => ctx.connection.serverAddr);
    g.set('server_port', (ctx) => ctx.connection.serverPort);
    g.set('server_name', (ctx) => ctx.serverName);
    g.set('hostname', () => hostname);
    g.set('connection', (ctx) => String(ctx.connection.serial));
    g.set('connection_requests', (ctx) => String(ctx.connection.requests));
    g.set('connection_time', (ctx) => secondsWithMillis(now() - ctx.connection.acceptedMs));
    g.set('pid', (ctx) => String(ctx.worker.pid));
    g.set('nginx_version', () => NGINX_VERSION);
    g.set('connections_active', (ctx) => String(ctx.worker.counters.active));
    g.set('connections_reading', (ctx) => String(ctx.worker.counters.reading));
    g.set('connections_writing', (ctx) => String(ctx.worker.counters.writing));
    g.set('connections_waiting', (ctx) => String(ctx.worker.counters.waiting));

    // files
    g.set('document_root', (ctx) => this.documentRoot(ctx));
    g.set('realpath_root', (ctx) => {
      const root = this.documentRoot(ctx);
      try {
        return textToBytes(realpathSync(root));
      } catch (error) {
        ctx.log('crit', `realpath() "${root}" failed ${describeErrno(error)}`);
        return null;
      }
    });
    g.set('request_filename', (ctx) => this.requestFilename(ctx));
    g.set('fastcgi_script_name', (ctx) => {
      const [script] = this.fastcgiSplit(ctx);
      const index = ctx.loc.fastcgi.index;
      return script.endsWith('/') && index !== null ? script + index : script;
    });
    g.set('fastcgi_path_info', (ctx) => this.fastcgiSplit(ctx)[1]);
    g.set('limit_rate', (ctx) => {
      const rate = ctx.loc.settings.limitRate;
      return typeof rate === 'number' ? String(rate) : this.expand(ctx, rate);
    });

    // response and timing
    g.set('status', (ctx) => pad3(ctx.status));
    g.set('body_bytes_sent', (ctx) => String(Math.max(0, ctx.bodyBytesSent)));
    g.set('bytes_sent', (ctx) => String(ctx.bytesSent));
    g.set('request_time', (ctx) => secondsWithMillis(Math.floor(now()) - Math.floor(ctx.startMs)));
    g.set('msec', () => secondsWithMillis(now()));
    g.set('time_local', () => times.httpLogTime(now()));
    g.set('time_iso8601', () => times.iso8601(now()));
    return g;
  }
}

function joinOrNull(values: readonly string[], separator: string): VariableValue {
  return values.length === 0 ? null : values.join(separator);
}

// ---------------------------------------------------------------------------------------------
// Names a configuration declares
// ---------------------------------------------------------------------------------------------

/** Variables a configuration makes: `set` targets and the named groups of every regex. */
export function declaredVariables(config: NginxConfig): Set<string> {
  const names = new Set<string>();
  const addPattern = (pattern: string): void => {
    for (const name of namedCaptures(pattern)) names.add(name.toLowerCase());
  };
  const walkSteps = (steps: readonly RewriteStep[]): void => {
    for (const step of steps) {
      if (step.op === 'set') names.add(step.variable.toLowerCase());
      else if (step.op === 'rewrite') addPattern(step.pattern);
      else if (step.op === 'if') {
        if (step.condition.kind === 'regex') addPattern(step.condition.pattern);
        walkIf(step.block);
      }
    }
  };
  const walkIf = (block: IfConf): void => {
    walkSteps(block.steps);
    if (block.loc) walkPer(block.loc);
  };
  const walkPer = (per: PerLocation): void => walkSteps(per.settings.rewrite);
  const walkLocation = (location: LocationConf): void => {
    if (location.modifier === '~' || location.modifier === '~*') addPattern(location.name);
    walkPer(location);
    if (location.limitExcept) walkPer(location.limitExcept.loc);
    for (const inner of location.locations) walkLocation(inner);
  };
  for (const server of config.servers) {
    for (const name of server.serverNames) if (name.kind === 'regex') addPattern(name.name);
    walkPer(server.loc);
    for (const location of server.locations) walkLocation(location);
  }
  for (const map of config.http?.maps ?? []) {
    for (const entry of map.entries) if (entry.key.startsWith('~')) addPattern(entry.key.replace(/^~\*?/, ''));
  }
  return names;
}

/** The variable engine of a configuration (the `WebModules.variables` of a generation). */
export function createVariableEngine(config: NginxConfig, options: VariablesOptions = {}): Variables {
  return new Variables(config, options);
}

/**
 * A template as a function of the request: nginx's `$name`, `${name}` and `$1`..`$9`. Without an
 * engine only the built-in variables are known. Throws VariableError (`unknown "x" variable`,
 * `invalid variable name`, `the closing bracket in "x" variable is missing`).
 */
export function compileTemplate(text: string, variables: Variables = new Variables(null)): (ctx: RequestContext) => string {
  return variables.compile(text);
}
