/**
 * Serving a request from the file system as nginx 1.22's content phase does for a location with
 * root or alias: try_files first (a phase of its own), then the content handlers in nginx's order
 * (index, autoindex, static), then the filters the answer passes through (not-modified, headers
 * for expires, charset, range).
 *
 *   $uri ends in '/'                              $uri does not
 *   index: first existing entry → internal        static: GET/HEAD/POST only (405)
 *          redirect; missing directory → 404        missing → 404, EACCES → 403
 *   autoindex (if on, GET/HEAD): the listing        directory → 301 to $uri/ (+ ?args)
 *   else 405 for methods other than                 not a regular file → 404
 *        GET/HEAD/POST, 403 for the rest            POST → 405
 *                                                 200 / 206 / 304 / 412 / 416
 *
 * Resolution is a pure function of the request, the configuration and a view of the file
 * system. The view is the open-file cache (file-cache.ts); when it lacks something, `resolve`
 * returns what it needs (a stat, a file's content, a directory listing) instead of a result, the
 * driver fetches it into a per-request scratch view, and resolution runs again from the start.
 * A request whose files are all cached is therefore answered synchronously, with no system call
 * and, for a plain GET of a cached file, no allocation: serveStatic returns the response itself
 * rather than a Promise.
 */
import { TsgiError } from '../../errors.js';
import {
  FileCache,
  isFsError,
  listDirectory,
  readWholeFile,
  statPath,
  type CacheEntry,
  type DirectoryEntry,
  type FileCacheOptions,
  type FileInfo,
  type FsErrorCode,
  type StatResult,
} from './file-cache.js';
import type { StaticConf, TemplatePart, TryFilesEntry } from './conf.js';
import { contentTypeFor, extenOf } from './mime.js';
import { evaluatePreconditions, fileEtag } from './conditional.js';
import { EXPIRES_STATUSES, expiresDependsOnTime, expiresHeaders } from './expires.js';
import { HttpDateCache, httpDate, parseHttpDate } from './http-date.js';
import { contentRange, formatBoundary, ifRangeAllows, multipartFraming, parseRange } from './ranges.js';
import { aliasLength, confinedPath, confinementBase, mapConfined, mapUriToPath } from './paths.js';
import { autoindexContentType, jsonpCallback, renderAutoindex, sortEntries } from './autoindex.js';
import { errorResponse, redirectResponse, type ErrorPageOptions } from './error-pages.js';
import type { BufferBody, FileMapping, FileSlice, Header, StaticBody, StaticRequest, StaticResponse, StaticResult } from './types.js';

export interface StaticContextOptions {
  /** The open-file cache, or false for none (every request then stats, and streams files). */
  readonly cache?: FileCacheOptions | false;
  /** The clock, in ms (tests pin it). */
  readonly now?: () => number;
}

/**
 * What outlives a request: the open-file cache, the multipart boundary counter and a date
 * formatter. One per worker; share it between all static locations.
 */
export class StaticContext {
  readonly cache: FileCache | null;
  readonly now: () => number;
  readonly dates = new HttpDateCache();
  /** nginx's ngx_temp_number: multipart boundaries count up from 1 in each worker. */
  private boundaryCounter = 0n;

  constructor(options: StaticContextOptions = {}) {
    this.cache = options.cache === false ? null : new FileCache(options.cache ?? {});
    this.now = options.now ?? Date.now;
  }

  nextBoundary(): string {
    this.boundaryCounter += 1n;
    return formatBoundary(this.boundaryCounter);
  }
}

/** Resolution did not settle: a file system that changes under every look. */
export class StaticResolutionError extends TsgiError {
  constructor(message: string) {
    super('ERR_STATIC_UNSETTLED', message);
  }
}

/**
 * Answers `request` from the files of `conf`: synchronously when everything needed is in the
 * cache, else through a Promise.
 */
export function serveStatic(ctx: StaticContext, request: StaticRequest, conf: StaticConf): StaticResult | Promise<StaticResult> {
  const now = ctx.now();
  const outcome = resolve(ctx, null, request, conf, now);
  if (!isNeed(outcome)) return outcome;
  return resolveWithIo(ctx, request, conf, now, outcome, resolve);
}

/** try_files on its own: the file found (its name becomes $uri), or how the request ends. */
export type TryFilesOutcome = StaticResult | { readonly kind: 'found'; readonly uri: string };

/**
 * nginx's PRECONTENT phase for a location served by a content handler (`try_files $uri =404;`
 * before `fastcgi_pass`): the static module runs try_files itself, the `*_pass` handlers run
 * after this. Null when the location has no try_files.
 */
export function runTryFiles(ctx: StaticContext, request: StaticRequest, conf: StaticConf): TryFilesOutcome | null | Promise<TryFilesOutcome> {
  if (conf.tryFiles === null) return null;
  const now = ctx.now();
  const outcome = resolveTryFiles(ctx, null, request, conf, now);
  if (!isNeed(outcome)) return outcome;
  return resolveWithIo(ctx, request, conf, now, outcome, resolveTryFiles);
}

function resolveTryFiles(ctx: StaticContext, scratch: Scratch | null, request: StaticRequest, conf: StaticConf, now: number): TryFilesOutcome | Need {
  const where = request.documentRoot === undefined ? conf : placeAt(conf.files, request.documentRoot);
  const tried = tryFiles(ctx, scratch, request, conf, where, now);
  return 'continueWith' in tried ? { kind: 'found', uri: tried.continueWith } : tried;
}

// --- the driver -------------------------------------------------------------------------------

/** What resolution lacks to go on. */
type Need =
  | { readonly need: 'stat'; readonly path: string }
  | { readonly need: 'content'; readonly path: string }
  | { readonly need: 'list'; readonly path: string };

const isNeed = (value: object): value is Need => 'need' in value;

/** What this request has fetched: consulted before the cache, so a path reads the same throughout. */
class Scratch {
  readonly entries = new Map<string, CacheEntry>();
  readonly contents = new Map<string, Buffer | null>();
  readonly lists = new Map<string, readonly DirectoryEntry[] | { readonly error: FsErrorCode }>();
}

/** Each round fetches one new thing; a request touches a handful of paths. */
const MAX_ROUNDS = 256;

async function resolveWithIo<T extends object>(
  ctx: StaticContext,
  request: StaticRequest,
  conf: StaticConf,
  now: number,
  first: Need,
  resolver: (ctx: StaticContext, scratch: Scratch | null, request: StaticRequest, conf: StaticConf, now: number) => T | Need,
): Promise<T> {
  const scratch = new Scratch();
  let need = first;
  for (let round = 0; round < MAX_ROUNDS; round++) {
    await fetchNeed(ctx, scratch, need, now);
    const outcome = resolver(ctx, scratch, request, conf, now);
    if (!isNeed(outcome)) return outcome;
    need = outcome;
  }
  throw new StaticResolutionError(`static resolution of "${request.uri}" needed more than ${MAX_ROUNDS} file system lookups`);
}

async function fetchNeed(ctx: StaticContext, scratch: Scratch, need: Need, now: number): Promise<void> {
  switch (need.need) {
    case 'stat': {
      scratch.entries.set(need.path, storeStat(ctx, need.path, await statPath(need.path), now));
      return;
    }
    case 'content': {
      const { info, content } = await readWholeFile(need.path);
      const entry = storeStat(ctx, need.path, info, now);
      if (content !== null) ctx.cache?.storeContent(entry, content);
      scratch.entries.set(need.path, entry);
      scratch.contents.set(need.path, content);
      return;
    }
    case 'list':
      scratch.lists.set(need.path, await listDirectory(need.path));
      return;
  }
}

function storeStat(ctx: StaticContext, path: string, result: StatResult, now: number): CacheEntry {
  if (ctx.cache !== null) return ctx.cache.store(path, result, now);
  return { path, stat: result, validUntil: now, content: null, derived: undefined };
}

function lookup(ctx: StaticContext, scratch: Scratch | null, path: string, now: number): CacheEntry | Need {
  const own = scratch?.entries.get(path);
  if (own !== undefined) return own;
  const cached = ctx.cache?.fresh(path, now);
  if (cached !== undefined) return cached;
  return { need: 'stat', path };
}

/** The whole file in memory if the cache keeps it (fetching it first), else null: stream it. */
function lookupContent(ctx: StaticContext, scratch: Scratch | null, entry: CacheEntry, info: FileInfo): Buffer | null | Need {
  if (entry.content !== null) return entry.content;
  if (ctx.cache === null || !ctx.cache.wantsContent(info)) return null;
  const fetched = scratch?.contents.get(entry.path);
  if (fetched !== undefined) return fetched;
  return { need: 'content', path: entry.path };
}

// --- resolution -------------------------------------------------------------------------------

type Outcome = StaticResult | Need;

function resolve(ctx: StaticContext, scratch: Scratch | null, request: StaticRequest, conf: StaticConf, now: number): Outcome {
  const where = request.documentRoot === undefined ? conf : placeAt(conf.files, request.documentRoot);
  let uri = request.uri;
  let addUriToAlias = false;
  if (conf.tryFiles !== null) {
    const tried = tryFiles(ctx, scratch, request, conf, where, now);
    if (!('continueWith' in tried)) return tried;
    uri = tried.continueWith;
    addUriToAlias = tried.addUriToAlias;
  }
  if (uri.charCodeAt(uri.length - 1) === SLASH) {
    const indexed = index(ctx, scratch, request, conf, where, uri, now);
    if (indexed !== DECLINED) return indexed;
    const listed = autoindex(ctx, scratch, request, conf, where, uri, now);
    if (listed !== DECLINED) return listed;
    // ngx_http_static_handler declines a trailing slash after its method check; the content
    // phase then ends with "directory index of ... is forbidden".
    return error(isStaticMethod(request.method) ? 403 : 405);
  }
  return staticFile(ctx, scratch, request, conf, where, uri, addUriToAlias, now);
}

/** Where the files are for this request: the configured mapping, or one at an expanded path. */
interface Where {
  readonly files: FileMapping;
  /** Paths may not resolve outside this directory (see paths.ts). */
  readonly confinedTo: string;
}

function placeAt(files: FileMapping, documentRoot: string): Where {
  let moved: FileMapping;
  switch (files.kind) {
    case 'root':
      moved = { kind: 'root', root: documentRoot };
      break;
    case 'alias':
      moved = { kind: 'alias', alias: documentRoot, location: files.location };
      break;
    case 'regexAlias':
      moved = { kind: 'regexAlias', alias: documentRoot };
      break;
  }
  return { files: moved, confinedTo: confinementBase(moved) };
}

const SLASH = 0x2f;
const DECLINED = Symbol('declined');
const NO_HEADERS: readonly Header[] = Object.freeze([]);

const error = (status: number, headers: readonly Header[] = NO_HEADERS): StaticResult => ({ kind: 'error', status, headers });
const isStaticMethod = (method: string): boolean => method === 'GET' || method === 'HEAD' || method === 'POST';

/** The default variable expansion: $uri, $document_uri, $args, $query_string, $is_args. */
function expandParts(parts: readonly TemplatePart[], uri: string, args: string): string {
  let out = '';
  for (const part of parts) {
    if (typeof part === 'string') {
      out += part;
      continue;
    }
    switch (part.variable) {
      case 'uri':
      case 'document_uri':
        out += uri;
        break;
      case 'args':
      case 'query_string':
        out += args;
        break;
      case 'is_args':
        out += args === '' ? '' : '?';
        break;
      default:
        break;
    }
  }
  return out;
}

function expand(request: StaticRequest, template: string, parts: readonly TemplatePart[], uri: string): string {
  return request.expand !== undefined ? request.expand(template, uri) : expandParts(parts, uri, request.args);
}

/**
 * ngx_http_core_try_files_phase. Each candidate is looked up as root + name (alias: the location
 * name is cut off a name with variables that starts with it); a file must be a file, "$uri/" a
 * directory. The first hit becomes $uri and the content phase goes on in this location. The last
 * argument is a status (=404), a named location, or a URI to redirect to internally: its '?'
 * starts new $args, and without one $args become empty (as in nginx).
 */
function tryFiles(
  ctx: StaticContext,
  scratch: Scratch | null,
  request: StaticRequest,
  conf: StaticConf,
  where: Where,
  now: number,
): Outcome | { readonly continueWith: string; readonly addUriToAlias: boolean } {
  const { candidates, code, fallback } = conf.tryFiles!;
  const files = where.files;
  const cut = aliasLength(files);
  for (const candidate of candidates) {
    const name = candidateName(request, candidate, cut);
    const path = mapTryFilesPath(files, name);
    // tsgi keeps variable-built names inside the root; nginx would open "../" paths.
    if (confinedPath(path, where.confinedTo) === null) continue;
    const entry = lookup(ctx, scratch, path, now);
    if (isNeed(entry)) return entry;
    const info = entry.stat;
    if (isFsError(info)) continue;
    if ((info.kind === 'directory') !== candidate.testDir) continue;
    switch (files.kind) {
      case 'root':
        return { continueWith: name, addUriToAlias: false };
      case 'alias':
        return { continueWith: request.uri.slice(0, cut) + name, addUriToAlias: false };
      case 'regexAlias':
        return candidate.testDir ? { continueWith: request.uri, addUriToAlias: false } : { continueWith: name, addUriToAlias: true };
    }
  }
  if (code !== null) return error(code);
  const target = candidateName(request, fallback!, cut);
  if (target.startsWith('@')) return { kind: 'namedLocation', name: target };
  const question = target.indexOf('?');
  if (question < 0) return { kind: 'internalRedirect', uri: target, args: '' };
  return { kind: 'internalRedirect', uri: target.slice(0, question), args: target.slice(question + 1) };
}

/** A try_files argument expanded; with alias, a leading copy of the location name is cut off. */
function candidateName(request: StaticRequest, candidate: TryFilesEntry, cut: number): string {
  if (!candidate.hasVariables) return candidate.template;
  const name = expand(request, candidate.template, candidate.parts, request.uri);
  if (cut > 0 && name.startsWith(request.uri.slice(0, cut))) return name.slice(cut);
  return name;
}

function mapTryFilesPath(files: FileMapping, name: string): string {
  switch (files.kind) {
    case 'root':
      return files.root + name;
    case 'alias':
    case 'regexAlias':
      return files.alias + name;
  }
}

/**
 * ngx_http_index_handler: for $uri ending in '/', the first index entry that exists (as anything:
 * nginx only stats it) becomes an internal redirect to $uri + name; an absolute entry redirects
 * at once. A missing directory is a 404, a path through a file (ENOTDIR) too, EACCES a 403.
 */
function index(
  ctx: StaticContext,
  scratch: Scratch | null,
  request: StaticRequest,
  conf: StaticConf,
  where: Where,
  uri: string,
  now: number,
): Outcome | typeof DECLINED {
  if (!isStaticMethod(request.method)) return DECLINED;
  const base = mapUriToPath(uri, where.files);
  let dirTested = false;
  for (const entry of conf.index) {
    const name = entry.hasVariables ? expand(request, entry.name, entry.parts, uri) : entry.name;
    if (name.startsWith('/')) return { kind: 'internalRedirect', uri: name, args: request.args };
    const path = base + name;
    if (confinedPath(path, where.confinedTo) === null) return error(404);
    const found = lookup(ctx, scratch, path, now);
    if (isNeed(found)) return found;
    const info = found.stat;
    if (!isFsError(info)) return { kind: 'internalRedirect', uri: uri + name, args: request.args };
    switch (info.error) {
      case 'EACCES':
      case 'ELOOP':
      case 'EMLINK':
        return error(403);
      case 'ENOTDIR':
      case 'ENAMETOOLONG':
        return error(404);
      default:
        break;
    }
    if (!dirTested) {
      const tested = testDirectory(ctx, scratch, base, now);
      if (tested !== null) return tested;
      dirTested = true;
    }
    if (info.error !== 'ENOENT') return error(500);
  }
  return DECLINED;
}

/** ngx_http_index_test_dir: the directory holding the index files must exist. */
function testDirectory(ctx: StaticContext, scratch: Scratch | null, base: string, now: number): Outcome | null {
  // The directory is `base` without its trailing '/' (an alias without one is used whole).
  const dir = base.length > 1 && base.charCodeAt(base.length - 1) === SLASH ? base.slice(0, -1) : base;
  const found = lookup(ctx, scratch, dir, now);
  if (isNeed(found)) return found;
  const info = found.stat;
  if (isFsError(info)) {
    if (info.error === 'ENOENT') return error(404);
    if (info.error === 'EACCES') return null;
    if (info.error === 'ELOOP' || info.error === 'EMLINK') return error(403);
    return error(500);
  }
  return info.kind === 'directory' ? null : error(500);
}

/** ngx_http_autoindex_handler, followed by the filters a 200 listing goes through. */
function autoindex(
  ctx: StaticContext,
  scratch: Scratch | null,
  request: StaticRequest,
  conf: StaticConf,
  where: Where,
  uri: string,
  now: number,
): Outcome | typeof DECLINED {
  if (!conf.autoindex || (request.method !== 'GET' && request.method !== 'HEAD')) return DECLINED;
  const mapped = mapUriToPath(uri, where.files);
  // nginx drops the last byte of the mapped path, the '/' (or a letter of a slash-less alias).
  const dir = mapped.length > 1 ? mapped.slice(0, -1) : mapped;
  if (confinedPath(dir, where.confinedTo) === null) return error(404);
  let callback: string | null = null;
  let format = conf.autoindexFormat;
  if (format === 'jsonp') {
    const value = jsonpCallback(request.args);
    if (value === 'invalid') return error(400);
    callback = value;
    if (callback === null) format = 'json';
  }
  const listing = scratch?.lists.get(dir);
  if (listing === undefined) return { need: 'list', path: dir };
  if ('error' in listing) {
    switch (listing.error) {
      case 'ENOENT':
      case 'ENOTDIR':
      case 'ENAMETOOLONG':
        return error(404);
      case 'EACCES':
        return error(403);
      default:
        return error(500);
    }
  }
  const nowSeconds = Math.floor(now / 1000);
  const outcome = evaluatePreconditions(request.headers, null, null, conf.ifModifiedSince);
  if (outcome === 412) return error(412);
  const expires = expiresHeaders(conf.expires, nowSeconds, null);
  if (outcome === 304) return { kind: 'response', status: 304, headers: expires, body: NO_BODY };
  const type = withCharset(autoindexContentType(format), conf);
  const headers: Header[] = [['Content-Type', type], ...expires];
  if (request.method === 'HEAD') return { kind: 'response', status: 200, headers, body: NO_BODY };
  const gmtOffsetMinutes = conf.autoindexLocaltime ? -new Date(now).getTimezoneOffset() : 0;
  const body = renderAutoindex(uri, sortEntries([...listing]), {
    format,
    exactSize: conf.autoindexExactSize,
    gmtOffsetMinutes,
    charset: conf.charset,
    callback,
  });
  return { kind: 'response', status: 200, headers, body: { kind: 'buffer', data: Buffer.from(body, 'latin1') } };
}

const NO_BODY: StaticBody = Object.freeze({ kind: 'none' });

/** `charset`: appended to the types of `charset_types` (text/html always among them). */
function withCharset(type: string, conf: StaticConf): string {
  if (conf.charset === null || type.includes(';')) return type;
  return conf.charsetTypes.has(type.toLowerCase()) ? `${type}; charset=${conf.charset}` : type;
}

/** What a cached file's entry keeps about the file (reset when the file changes). */
interface FileFacts {
  readonly etag: string;
  readonly lastModified: string;
  /** The 200 answer to a plain GET and HEAD, for one configuration and extension. */
  prepared: Prepared | null;
}

export interface Prepared {
  readonly conf: StaticConf;
  readonly exten: string;
  /** The second the headers hold for (expires relative to now), or -1 for always. */
  readonly second: number;
  readonly get: StaticResult;
  readonly head: StaticResult;
}

function factsOf(entry: CacheEntry, info: FileInfo): FileFacts {
  const known = entry.derived as FileFacts | undefined;
  if (known !== undefined) return known;
  const facts: FileFacts = { etag: fileEtag(info.mtime, info.size), lastModified: httpDate(info.mtime), prepared: null };
  entry.derived = facts;
  return facts;
}

/** ngx_http_static_handler: methods, the file's kind, the redirect of a directory. */
function staticFile(
  ctx: StaticContext,
  scratch: Scratch | null,
  request: StaticRequest,
  conf: StaticConf,
  where: Where,
  uri: string,
  addUriToAlias: boolean,
  now: number,
): Outcome {
  const method = request.method;
  if (!isStaticMethod(method)) return error(405);
  const path = mapConfined(uri, where.files, where.confinedTo, addUriToAlias);
  if (path === null) return error(404);
  const entry = lookup(ctx, scratch, path, now);
  if (isNeed(entry)) return entry;
  const info = entry.stat;
  if (isFsError(info)) {
    switch (info.error) {
      case 'ENOENT':
      case 'ENOTDIR':
      case 'ENAMETOOLONG':
        return error(404);
      case 'EACCES':
      case 'ELOOP':
      case 'EMLINK':
        return error(403);
      default:
        return error(500);
    }
  }
  if (info.kind === 'directory') {
    const location = request.args === '' ? uri + '/' : `${uri}/?${request.args}`;
    // A directory has no Last-Modified: `expires modified` counts from now.
    return { kind: 'redirect', status: 301, location, headers: expiresFor(conf, 301, Math.floor(now / 1000), null) };
  }
  if (info.kind !== 'file') return error(404);
  if (method === 'POST') return error(405);
  return fileResponse(ctx, scratch, request, conf, uri, entry, info, now);
}

/**
 * The 200 for a file as the header filters shape it: not-modified (304, 412), expires, charset,
 * range (206, 416). A plain GET or HEAD of a cached file returns the response prepared by the
 * previous one.
 */
function fileResponse(
  ctx: StaticContext,
  scratch: Scratch | null,
  request: StaticRequest,
  conf: StaticConf,
  uri: string,
  entry: CacheEntry,
  info: FileInfo,
  now: number,
): Outcome {
  const nowSeconds = Math.floor(now / 1000);
  const facts = conf.etag || ctx.cache !== null ? factsOf(entry, info) : null;
  const exten = extenOf(uri);
  const headers = request.headers;
  const http10 = (request.httpVersion ?? 1001) >= 1000;
  const plain =
    headers.ifModifiedSince === undefined &&
    headers.ifNoneMatch === undefined &&
    headers.ifMatch === undefined &&
    headers.ifUnmodifiedSince === undefined &&
    headers.range === undefined &&
    http10;
  if (plain && facts !== null) {
    const prepared = facts.prepared;
    const current = prepared !== null && prepared.conf === conf && prepared.exten === exten;
    if (current && (prepared.second < 0 || prepared.second === nowSeconds)) {
      return request.method === 'HEAD' ? prepared.head : prepared.get;
    }
  }

  const content = lookupContent(ctx, scratch, entry, info);
  if (content !== null && isNeed(content)) return content;
  const file: FileData = { path: entry.path, content, size: info.size };

  const etag = conf.etag ? (facts?.etag ?? fileEtag(info.mtime, info.size)) : null;
  const precondition = evaluatePreconditions(headers, etag, info.mtime, conf.ifModifiedSince);
  if (precondition === 412) return error(412);
  const validators: Header[] = [['Last-Modified', facts?.lastModified ?? ctx.dates.format(info.mtime)]];
  if (etag !== null) validators.push(['ETag', etag]);
  if (precondition === 304) {
    return { kind: 'response', status: 304, headers: [...validators, ...expiresFor(conf, 304, nowSeconds, info.mtime)], body: NO_BODY };
  }
  const contentType = withCharset(contentTypeFor(exten, conf.types, conf.defaultType), conf);
  const expires = expiresFor(conf, 200, nowSeconds, info.mtime);
  const rangesApply = conf.maxRanges !== 0 && http10;
  const ifRange = headers.ifRange;
  if (rangesApply && headers.range !== undefined && (ifRange === undefined || ifRangeAllows(ifRange, etag, info.mtime, parseHttpDate))) {
    const partial = partialResponse(ctx, request, conf, file, headers.range, contentType, [...validators, ...expires]);
    if (partial !== null) return partial;
  }

  const full: Header[] = [];
  if (contentType !== '') full.push(['Content-Type', contentType]);
  full.push(['Content-Length', String(info.size)], ...validators, ...expires);
  if (rangesApply) full.push(['Accept-Ranges', 'bytes']);
  const body = slice(file, 0, info.size);
  const get: StaticResult = { kind: 'response', status: 200, headers: full, rawHeaders: serializeHeaders(full), body };
  const head: StaticResult = { ...get, body: NO_BODY };
  if (plain && facts !== null && ctx.cache !== null) {
    // Remember the answer: the next plain GET or HEAD of this file returns it as it is.
    facts.prepared = { conf, exten, second: expiresDependsOnTime(conf.expires) ? nowSeconds : -1, get, head };
  }
  return request.method === 'HEAD' ? head : get;
}

/**
 * The path a GET of `uri` reads under `conf` when nothing rewrites it (no try_files, no trailing
 * slash, the configured root), or null when that request is not such a plain file read.
 */
export function plainFilePath(conf: StaticConf, uri: string): string | null {
  if (conf.tryFiles !== null || uri.charCodeAt(uri.length - 1) === SLASH) return null;
  return mapConfined(uri, conf.files, conf.confinedTo, false);
}

/**
 * The answer fileResponse would return for a plain GET or HEAD of `path` (no conditionals, no
 * Range) right now, if one is prepared, without resolving anything: the server's fast path
 * (src/web/server/fast-static.ts) asks this instead of running the pipeline. Null when the cache
 * entry is stale or gone, or nothing current is prepared: the full path then runs (and prepares).
 */
export function preparedAnswer(ctx: StaticContext, conf: StaticConf, path: string, exten: string, now: number): Prepared | null {
  const entry = ctx.cache?.fresh(path, now);
  if (entry === undefined) return null;
  const prepared = (entry.derived as FileFacts | undefined)?.prepared;
  if (prepared === undefined || prepared === null || prepared.conf !== conf || prepared.exten !== exten) return null;
  return prepared.second < 0 || prepared.second === Math.floor(now / 1000) ? prepared : null;
}

/** A file's bytes: in memory when the cache holds them, else at `path`. */
interface FileData {
  readonly path: string;
  readonly content: Buffer | null;
  readonly size: number;
}

/**
 * The range filter on a 200: a 206 (one part, or multipart/byteranges), a 416 (as an error, with
 * Content-Range and the expires headers it already had), or null to send the whole file.
 * `common` holds the validators and expires headers of the 200.
 */
function partialResponse(
  ctx: StaticContext,
  request: StaticRequest,
  conf: StaticConf,
  file: FileData,
  range: string,
  contentType: string,
  common: readonly Header[],
): StaticResult | null {
  const outcome = parseRange(range, file.size, conf.maxRanges);
  if (outcome.kind === 'full') return null;
  if (outcome.kind === 'unsatisfiable') {
    const expires = common.filter(([name]) => name === 'Expires' || name === 'Cache-Control');
    return error(416, [...expires, ['Content-Range', `bytes */${file.size}`]]);
  }
  const head = request.method === 'HEAD';
  const ranges = outcome.ranges;
  if (ranges.length === 1) {
    const only = ranges[0]!;
    const headers: Header[] = [];
    if (contentType !== '') headers.push(['Content-Type', contentType]);
    headers.push(['Content-Length', String(only.end - only.start)], ...common, ['Content-Range', contentRange(only, file.size)]);
    return { kind: 'response', status: 206, headers, body: head ? NO_BODY : slice(file, only.start, only.end) };
  }
  // nginx numbers every multipart response, HEAD included.
  const boundary = ctx.nextBoundary();
  const framing = multipartFraming(boundary, contentType === '' ? null : contentType, ranges, file.size);
  const headers: Header[] = [
    ['Content-Type', `multipart/byteranges; boundary=${boundary}`],
    ['Content-Length', String(framing.length)],
    ...common,
  ];
  if (head) return { kind: 'response', status: 206, headers, body: NO_BODY };
  const parts: (Buffer | FileSlice)[] = [];
  ranges.forEach((part, i) => {
    parts.push(framing.heads[i]!);
    const data = slice(file, part.start, part.end);
    parts.push(data.kind === 'buffer' ? data.data : data);
  });
  parts.push(framing.tail);
  return { kind: 'response', status: 206, headers, body: { kind: 'multipart', parts } };
}

/** Expires and Cache-Control for a response with this status (nginx's "safe" statuses only). */
function expiresFor(conf: StaticConf, status: number, nowSeconds: number, mtime: number | null): Header[] {
  if (conf.expires.kind === 'off' || !EXPIRES_STATUSES.has(status)) return [];
  return expiresHeaders(conf.expires, nowSeconds, mtime);
}

/** Bytes [start, end) of the file: from memory when cached, else from disk. */
function slice(file: FileData, start: number, end: number): BufferBody | FileSlice {
  const content = file.content;
  if (content !== null) return { kind: 'buffer', data: start === 0 && end === content.length ? content : content.subarray(start, end) };
  return { kind: 'file', path: file.path, start, end };
}

/** "Name: value\r\n" for each header, as bytes. */
export function serializeHeaders(headers: readonly Header[]): Buffer {
  let text = '';
  for (const [name, value] of headers) text += `${name}: ${value}\r\n`;
  return Buffer.from(text, 'latin1');
}

/** Who the error pages name, and the request's User-Agent (for the MSIE / Chrome padding). */
export interface PageIdentity {
  readonly serverVersion?: string;
  readonly serverBuild?: string;
  readonly userAgent?: string;
}

/**
 * nginx's special response for an error or redirect result when no error_page applies: the
 * default page, with the result's headers (Location is given as the result has it; make it
 * absolute first if absolute_redirect applies).
 */
export function defaultPage(
  result: Extract<StaticResult, { kind: 'error' | 'redirect' }>,
  request: StaticRequest,
  conf: StaticConf,
  identity: PageIdentity = {},
): StaticResponse {
  const options: ErrorPageOptions = {
    serverTokens: conf.serverTokens,
    serverVersion: identity.serverVersion,
    serverBuild: identity.serverBuild,
    userAgent: identity.userAgent,
    msiePadding: conf.msiePadding,
    httpVersion: request.httpVersion,
    charset: conf.charset,
    method: request.method,
    headers: result.headers,
  };
  return result.kind === 'redirect' ? redirectResponse(result.status, result.location, options) : errorResponse(result.status, options);
}
