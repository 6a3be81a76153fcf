/**
 * gzip_static in the content phase (ngx_http_gzip_static_module runs before the static handler):
 * for `$uri` not ending in '/', FILE.gz is looked for beside the file `$uri` maps to
 * (src/web/gzip/static.ts decides); when it is to be served, the static module serves `$uri.gz`
 * itself, so ETag, Last-Modified and conditionals are those of the .gz file as in nginx, and the
 * answer then takes the original name's Content-Type and `Content-Encoding: gzip`. A Range gets
 * the whole .gz, as nginx 1.22 answers (checked in test/web/gzip/static-parity.test.ts).
 */
import type { ContentResult, HeaderPair, RequestContext } from '../request-context.js';
import { GzipModule } from '../gzip/index.js';
import { contentTypeFor, extenOf, mapConfined, confinementBase, runTryFiles, serveStatic, type StaticConf, type StaticContext } from '../static/index.js';
import { fromStaticResult, staticRequest } from './static-content.js';

/** The static configuration without try_files, for serving the .gz once try_files has run. */
const withoutTryFiles = new WeakMap<StaticConf, StaticConf>();

function plainConf(conf: StaticConf): StaticConf {
  if (conf.tryFiles === null) return conf;
  let plain = withoutTryFiles.get(conf);
  if (plain === undefined) {
    plain = { ...conf, tryFiles: null };
    withoutTryFiles.set(conf, plain);
  }
  return plain;
}

function gzipModuleOf(ctx: RequestContext): GzipModule | null {
  for (const filter of ctx.modules.filters) if (filter instanceof GzipModule) return filter;
  return null;
}

/** What gzip_static decided: the answer, or the configuration to serve the request with (try_files
 *  already applied when it ran here). */
export type GzipStaticOutcome = { readonly done: ContentResult } | { readonly conf: StaticConf };

export async function serveGzipStatic(ctx: RequestContext, files: StaticContext, conf: StaticConf): Promise<GzipStaticOutcome> {
  const declined = { conf };
  const settings = ctx.loc.settings;
  if (settings.gzipStatic === 'off' || (ctx.method !== 'GET' && ctx.method !== 'HEAD')) return declined;
  // An alias in a regex location names one file whatever $uri is: FILE.gz has no $uri to follow.
  if (conf.files.kind === 'regexAlias') return declined;
  const gzip = gzipModuleOf(ctx);
  if (gzip === null) return declined;
  let after = conf;
  if (conf.tryFiles !== null) {
    const pending = runTryFiles(files, staticRequest(ctx), conf);
    const tried = pending instanceof Promise ? await pending : pending;
    if (tried !== null && tried.kind !== 'found') return { done: fromStaticResult(tried) };
    if (tried !== null) {
      ctx.uri = tried.uri;
      ctx.exten = extenOf(tried.uri);
    }
    after = plainConf(conf);
  }
  const uri = ctx.uri;
  if (uri.endsWith('/')) return { conf: after };
  const path = mapConfined(uri, conf.files, confinementBase(conf.files));
  if (path === null) return { conf: after };
  const found = await gzip.gzipStatic(ctx, path);
  if (found.kind === 'decline') return { conf: after };
  if (found.kind === 'status') return { done: { kind: 'status', status: found.status } };
  // nginx 1.22 answers a Range for a gzip_static file with the whole .gz (probed: 200).
  const plain = staticRequest(ctx);
  const request = { ...plain, uri: `${uri}.gz`, headers: { ...plain.headers, range: undefined, ifRange: undefined } };
  const pending = serveStatic(files, request, plainConf(conf));
  const result = fromStaticResult(pending instanceof Promise ? await pending : pending);
  if (result.kind !== 'response') return { done: result };
  const response = result.response;
  const type = contentTypeFor(ctx.exten, settings.types, settings.defaultType);
  const headers: HeaderPair[] = response.headers.map((header) => (header[0].toLowerCase() === 'content-type' ? ['Content-Type', type] : header));
  // A 304 or 412 says nothing of the encoding (nginx clears it with the body).
  if (response.status === 200) headers.push(['Content-Encoding', 'gzip']);
  return { done: { kind: 'response', response: { ...response, headers } } };
}
