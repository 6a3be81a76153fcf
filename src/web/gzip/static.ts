/**
 * gzip_static (ngx_http_gzip_static_module.c, nginx 1.22): serve `FILE.gz` in place of FILE.
 *
 *   gzip_static on       when the request takes gzip (accept.ts) and FILE.gz exists; the
 *                        response varies by Accept-Encoding once FILE.gz exists, whether it is
 *                        served or not (Vary, with gzip_vary on)
 *   gzip_static always   whenever FILE.gz exists, whatever the request says; no Vary
 *   gzip_static off      never
 *
 * Only GET and HEAD, never for a URI ending in '/'. With `on`, gzip_vary off and a request that
 * does not take gzip, the file is not even looked for.
 *
 * The content phase (src/web/phases/gzip-static.ts) calls this with the path $uri maps to, and
 * on `serve` sends `result.path` as it sends files (ETag and Last-Modified of the .gz file,
 * conditional requests allowed, a Range ignored), with the Content-Type of the original name,
 * Content-Length of the .gz file and `Content-Encoding: gzip` after its other headers. On `status` it finalizes the
 * request with that status (FILE.gz is not a regular file: nginx says 404). On `decline` it
 * serves FILE as usual.
 */
import { stat } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import type { LogLevel } from '../config/index.js';
import { describeErrno } from '../config/errors.js';
import type { RequestContext } from '../request-context.js';

export type GzipStaticResult =
  /** Serve `path` (FILE.gz), described by `stats`, with Content-Encoding: gzip. */
  | { readonly kind: 'serve'; readonly path: string; readonly stats: Stats; readonly vary: boolean }
  /** Serve the original file. */
  | { readonly kind: 'decline'; readonly vary: boolean }
  /** Finalize with this status. */
  | { readonly kind: 'status'; readonly status: number; readonly vary: boolean };

/** Errors that mean "no such file": nginx declines quietly. */
const QUIET_ERRORS: ReadonlySet<string> = new Set(['ENOENT', 'ENOTDIR', 'ENAMETOOLONG']);
/** Errors logged at `error` (nginx: EACCES, EMLINK, ELOOP); others are `crit`. */
const ERROR_LEVEL_ERRORS: ReadonlySet<string> = new Set(['EACCES', 'EMLINK', 'ELOOP']);

function errorCode(error: unknown): string {
  return error instanceof Error && 'code' in error && typeof error.code === 'string' ? error.code : '';
}

/**
 * ngx_http_gzip_static_handler. `accepts` runs the request test (ngx_http_gzip_ok) when needed;
 * `log` reports what nginx reports.
 */
export async function findGzipStatic(
  ctx: Pick<RequestContext, 'method' | 'uri' | 'loc'>,
  path: string,
  accepts: () => boolean,
  log: (level: LogLevel, message: string) => void,
): Promise<GzipStaticResult> {
  const decline: GzipStaticResult = { kind: 'decline', vary: false };
  const method = ctx.method;
  if (method !== 'GET' && method !== 'HEAD') return decline;
  if (ctx.uri.endsWith('/')) return decline;
  const settings = ctx.loc.settings;
  const mode = settings.gzipStatic;
  if (mode === 'off') return decline;
  const ok = mode === 'always' ? true : accepts();
  if (!settings.gzipVary && !ok) return decline;
  const gzPath = path + '.gz';
  let stats: Stats;
  try {
    stats = await stat(gzPath);
  } catch (error) {
    const code = errorCode(error);
    if (!QUIET_ERRORS.has(code)) log(ERROR_LEVEL_ERRORS.has(code) ? 'error' : 'crit', `open() "${gzPath}" failed ${describeErrno(error)}`);
    return decline;
  }
  const vary = mode === 'on';
  if (!ok) return { kind: 'decline', vary };
  if (stats.isDirectory()) return { kind: 'decline', vary };
  if (!stats.isFile()) {
    log('crit', `"${gzPath}" is not a regular file`);
    return { kind: 'status', status: 404, vary };
  }
  return { kind: 'serve', path: gzPath, stats, vary };
}
