/**
 * The content phase for locations no handler claims: nginx's try_files, index, autoindex and
 * static modules, provided by src/web/static. This file only turns the merged location settings
 * into the static module's configuration (once per location; per request when root or alias
 * holds variables) and the request into its request shape.
 */
import type { LocationConf, PerLocation } from '../config/index.js';
import type { ContentResult, RequestContext } from '../request-context.js';
import {
  createStaticConf,
  runTryFiles,
  serveStatic,
  StaticContext,
  type Expires,
  type FileMapping,
  type StaticConf,
  type StaticRequest,
  type StaticResult,
} from '../static/index.js';
import { extenOf, parseExpires } from '../static/index.js';
import { serveGzipStatic } from './gzip-static.js';

/** Static configurations of settings without variables, per settings object. */
const fixed = new WeakMap<PerLocation, StaticConf>();
/** Per settings object, by expanded root/alias: `root /sites/$host` has one per host. */
const byPath = new WeakMap<PerLocation, Map<string, StaticConf>>();
const PER_LOCATION_PATHS_LIMIT = 256;

/** `expires` of the settings in force, as the static module and the headers filter take it. */
export function expiresOf(ctx: RequestContext, loc: PerLocation): Expires {
  const setting = loc.settings.expires;
  switch (setting.mode) {
    case 'off':
    case 'epoch':
    case 'max':
      return { kind: setting.mode };
    case 'access':
    case 'modified':
      return { kind: setting.mode, seconds: setting.seconds };
    case 'daily':
      return { kind: 'daily', seconds: setting.secondsOfDay };
    case 'variable':
      try {
        return parseExpires(ctx.modules.variables.expand(ctx, setting.template).split(/\s+/));
      } catch {
        return { kind: 'off' };
      }
  }
}

/**
 * How $uri maps to files here. An alias in a prefix location cuts the location's name off $uri;
 * in a regex location the expanded alias is the whole path (nginx's rule).
 */
function mappingOf(ctx: RequestContext, location: LocationConf | null, loc: PerLocation): FileMapping {
  const root = loc.settings.root;
  const path = root.hasVariables ? ctx.modules.variables.expand(ctx, root.path) : root.path;
  if (root.kind === 'root') return { kind: 'root', root: path };
  if (location !== null && (location.modifier === '~' || location.modifier === '~*')) return { kind: 'regexAlias', alias: path };
  return { kind: 'alias', alias: path, location: location?.name ?? '' };
}

function build(ctx: RequestContext, loc: PerLocation, files: FileMapping): StaticConf {
  const s = loc.settings;
  return createStaticConf({
    files,
    index: s.index,
    autoindex: s.autoindex,
    autoindexFormat: s.autoindexFormat,
    autoindexExactSize: s.autoindexExactSize,
    autoindexLocaltime: s.autoindexLocaltime,
    tryFiles: s.tryFiles,
    etag: s.etag,
    ifModifiedSince: s.ifModifiedSince,
    defaultType: s.defaultType,
    types: s.types,
    expires: expiresOf(ctx, loc),
    maxRanges: s.maxRanges,
    charset: s.charset,
    charsetTypes: new Set(s.charsetTypes),
    serverTokens: s.serverTokens,
    msiePadding: s.msiePadding,
  });
}

/** The static configuration in force for this request. */
export function staticConfFor(ctx: RequestContext): StaticConf {
  const loc = ctx.loc;
  const location = ctx.location;
  const dynamic = loc.settings.root.hasVariables || loc.settings.expires.mode === 'variable' || (loc.settings.root.kind === 'alias' && isRegex(location));
  if (!dynamic) {
    let conf = fixed.get(loc);
    if (conf === undefined) {
      conf = build(ctx, loc, mappingOf(ctx, location, loc));
      fixed.set(loc, conf);
    }
    return conf;
  }
  const files = mappingOf(ctx, location, loc);
  const key = `${files.kind}\0${'root' in files ? files.root : files.alias}`;
  let confs = byPath.get(loc);
  if (confs === undefined) {
    confs = new Map();
    byPath.set(loc, confs);
  }
  let conf = loc.settings.expires.mode === 'variable' ? undefined : confs.get(key);
  if (conf === undefined) {
    conf = build(ctx, loc, files);
    if (confs.size >= PER_LOCATION_PATHS_LIMIT) confs.clear();
    confs.set(key, conf);
  }
  return conf;
}

/**
 * The static configuration a request under these settings uses when it is the same for every
 * request (no variables in root, alias or expires), if one was made already; else null.
 */
export function knownFixedStaticConf(location: LocationConf | null, loc: PerLocation): StaticConf | null {
  const s = loc.settings;
  if (s.root.hasVariables || s.expires.mode === 'variable' || (s.root.kind === 'alias' && isRegex(location))) return null;
  return fixed.get(loc) ?? null;
}

function isRegex(location: LocationConf | null): boolean {
  return location !== null && (location.modifier === '~' || location.modifier === '~*');
}

export function staticRequest(ctx: RequestContext): StaticRequest {
  const h = ctx.headers;
  return {
    method: ctx.method,
    uri: ctx.uri,
    args: ctx.args,
    httpVersion: ctx.head.httpVersion,
    headers: {
      ifModifiedSince: h.get('if-modified-since'),
      ifUnmodifiedSince: h.get('if-unmodified-since'),
      ifMatch: h.get('if-match'),
      ifNoneMatch: h.get('if-none-match'),
      range: h.get('range'),
      ifRange: h.get('if-range'),
    },
    expand: (template) => ctx.modules.variables.expand(ctx, template),
  };
}

/** The static module's answer, as a content result of the pipeline. */
export function fromStaticResult(result: StaticResult): ContentResult {
  switch (result.kind) {
    case 'response':
      return { kind: 'response', response: { status: result.status, headers: [...result.headers], body: result.body, fromFile: true } };
    case 'error':
      return { kind: 'status', status: result.status, headers: result.headers };
    case 'redirect':
      return { kind: 'status', status: result.status, headers: [['Location', result.location], ...result.headers] };
    case 'internalRedirect':
      return { kind: 'internalRedirect', uri: result.uri, args: result.args };
    case 'namedLocation':
      return { kind: 'namedLocation', name: result.name };
  }
}

/** Serves the request from files. */
export async function serveStaticContent(ctx: RequestContext, files: StaticContext): Promise<ContentResult> {
  let conf = staticConfFor(ctx);
  if (ctx.loc.settings.gzipStatic !== 'off') {
    const gzipped = await serveGzipStatic(ctx, files, conf);
    if ('done' in gzipped) return gzipped.done;
    conf = gzipped.conf;
  }
  const result = serveStatic(files, staticRequest(ctx), conf);
  return fromStaticResult(result instanceof Promise ? await result : result);
}

/**
 * try_files ahead of a content handler (nginx's PRECONTENT phase): null to go on with the
 * handler ($uri is then the file found), or how the request ends instead.
 */
export async function tryFilesBeforeHandler(ctx: RequestContext, files: StaticContext): Promise<ContentResult | null> {
  if (ctx.loc.settings.tryFiles === null) return null;
  const pending = runTryFiles(files, staticRequest(ctx), staticConfFor(ctx));
  const outcome = pending instanceof Promise ? await pending : pending;
  if (outcome === null) return null;
  if (outcome.kind === 'found') {
    ctx.uri = outcome.uri;
    ctx.exten = extenOf(outcome.uri);
    return null;
  }
  return fromStaticResult(outcome);
}
