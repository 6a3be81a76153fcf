/**
 * Whether a request may get a gzipped response: nginx's ngx_http_gzip_ok and
 * ngx_http_gzip_accept_encoding (ngx_http_core_module.c, nginx 1.22), shared by the gzip filter
 * and gzip_static.
 *
 *   Accept-Encoding (the first header)       gzip?
 *   gzip, deflate / gzip,deflate              yes (the common "gzip," start is checked first)
 *   deflate, gzip / br;q=1, gzip;q=0.5        yes: "gzip" at the start or after ',' or ' '
 *   gzip;q=0 / gzip; q=0.000 / gzip;q=1.5     no: a zero, invalid or > 1 quantity
 *   x-gzip / gzipx / identity                 no
 *   gzip;q=0.001 ... gzip;q=1.000             yes
 *
 * Then: HTTP/1.0 requests are refused unless gzip_http_version 1.0; a request with Via (it came
 * through a proxy) only per gzip_proxied, looking at the response's Expires, Cache-Control,
 * Last-Modified and ETag; finally gzip_disable regexes against User-Agent (`msie6` stands for
 * MSIE 4-6 without SV1).
 */
import type { LocationSettings } from '../config/index.js';
import { compileRegex, execRegex, type CompiledRegex } from '../match/index.js';
import { parseHttpDate, INVALID_DATE } from '../static/http-date.js';
import { headerHasToken } from '../variables.js';
import type { HeaderPair } from '../request-context.js';

const COMMA = ',';
const SEMICOLON = ';';
const SPACE = ' ';
const GZIP = 'gzip';

/** ngx_http_gzip_quantity: a q-value in thousandths-ish as nginx adds them up (0 means refused). */
export function gzipQuantity(text: string, start: number): number {
  let p = start;
  let c = text[p++];
  if (c !== '0' && c !== '1') return 0;
  let q = (c === '1' ? 1 : 0) * 100;
  if (p === text.length) return q;
  c = text[p++];
  if (c === COMMA || c === SPACE) return q;
  if (c !== '.') return 0;
  let digits = 0;
  while (p < text.length) {
    c = text[p++]!;
    if (c === COMMA || c === SPACE) break;
    if (c >= '0' && c <= '9') {
      // nginx adds each digit's value to q whatever its position: only zero versus non-zero and
      // the > 100 check matter.
      q += c.charCodeAt(0) - '0'.charCodeAt(0);
      digits += 1;
      continue;
    }
    return 0;
  }
  if (q > 100 || digits > 3) return 0;
  return q;
}

/** ngx_http_gzip_accept_encoding on an Accept-Encoding value. */
export function acceptEncodingAllowsGzip(value: string): boolean {
  if (value.length < GZIP.length) return false;
  if (value.startsWith('gzip,')) return true;
  const lower = value.toLowerCase();
  let from = 0;
  let p: number;
  for (;;) {
    p = lower.indexOf(GZIP, from);
    if (p === -1) return false;
    if (p === 0 || value[p - 1] === COMMA || value[p - 1] === SPACE) break;
    from = p + GZIP.length;
  }
  p += GZIP.length;
  while (p < value.length) {
    const c = value[p++];
    if (c === COMMA) return true;
    if (c === SEMICOLON) {
      while (p < value.length) {
        const q = value[p++];
        if (q === 'q' || q === 'Q') {
          if (p + 2 > value.length || value[p++] !== '=') return false;
          return gzipQuantity(value, p) !== 0;
        }
        if (q !== SPACE) return false;
      }
      return true;
    }
    if (c !== SPACE) return false;
  }
  return true;
}

/** ngx_http_process_user_agent's msie6: MSIE 4.x, 5.x, or 6.x without "SV1", and not Opera. */
export function isMsie6(userAgent: string): boolean {
  if (userAgent.includes('Opera')) return false;
  const at = userAgent.indexOf('MSIE ');
  if (at === -1 || at + 7 >= userAgent.length) return false;
  if (userAgent[at + 6] !== '.') return false;
  const major = userAgent[at + 5];
  if (major === '4' || major === '5') return true;
  return major === '6' && !userAgent.slice(at + 8).includes('SV1');
}

/** What ngx_http_gzip_ok reads. Header values are the first of their name. */
export interface GzipRequest {
  readonly acceptEncoding: string | undefined;
  readonly via: string | undefined;
  readonly authorization: string | undefined;
  readonly userAgent: string | undefined;
  /** r->http_version: 1000 or 1001. */
  readonly httpVersion: number;
}

export type GzipOkSettings = Pick<LocationSettings, 'gzipHttpVersion' | 'gzipProxied' | 'gzipDisable'>;

const HTTP_VERSION: Readonly<Record<LocationSettings['gzipHttpVersion'], number>> = { '1.0': 1000, '1.1': 1001 };

function header(headers: readonly HeaderPair[], name: string): string | undefined {
  for (const [key, value] of headers) if (key.toLowerCase() === name) return value;
  return undefined;
}

function headers(list: readonly HeaderPair[], name: string): string[] {
  return list.filter(([key]) => key.toLowerCase() === name).map(([, value]) => value);
}

/** Compiled gzip_disable regexes, cached by the caller per settings list. */
export function compileGzipDisable(patterns: readonly string[]): { msie6: boolean; regexes: CompiledRegex[] } {
  const regexes: CompiledRegex[] = [];
  let msie6 = false;
  for (const pattern of patterns) {
    if (pattern === 'msie6') msie6 = true;
    // `degradation` needs nginx's NGX_HTTP_DEGRADATION build option, which Debian's lacks.
    else if (pattern !== 'degradation') regexes.push(compileRegex(pattern, { caseless: true }));
  }
  return { msie6, regexes };
}

/**
 * ngx_http_gzip_ok. `response` is what the response carries so far (gzip_proxied looks at it);
 * `nowSeconds` stands for the response's Date when it has none.
 */
export function gzipOk(
  request: GzipRequest,
  response: readonly HeaderPair[],
  settings: GzipOkSettings,
  disable: { msie6: boolean; regexes: readonly CompiledRegex[] },
  nowSeconds: number,
): boolean {
  const ae = request.acceptEncoding;
  if (ae === undefined || !acceptEncodingAllowsGzip(ae)) return false;
  if (disable.msie6 && request.userAgent !== undefined && isMsie6(request.userAgent)) return false;
  if (request.httpVersion < HTTP_VERSION[settings.gzipHttpVersion]) return false;
  if (request.via !== undefined && !proxiedAllowed(request, response, settings.gzipProxied, nowSeconds)) return false;
  if (request.userAgent !== undefined) {
    for (const regex of disable.regexes) if (execRegex(regex, request.userAgent)) return false;
  }
  return true;
}

/** The gzip_proxied part of ngx_http_gzip_ok. */
function proxiedAllowed(request: GzipRequest, response: readonly HeaderPair[], p: readonly string[], nowSeconds: number): boolean {
  if (p.includes('off')) return false;
  if (p.includes('any')) return true;
  if (request.authorization !== undefined && p.includes('auth')) return true;
  const expires = header(response, 'expires');
  if (expires !== undefined) {
    if (!p.includes('expired')) return false;
    const expiresAt = parseHttpDate(expires);
    if (expiresAt === INVALID_DATE) return false;
    const dateHeader = header(response, 'date');
    const date = dateHeader === undefined ? nowSeconds : parseHttpDate(dateHeader);
    if (date === INVALID_DATE) return false;
    return expiresAt < date;
  }
  const cacheControl = headers(response, 'cache-control');
  if (cacheControl.length > 0) {
    return (
      (p.includes('no-cache') && headerHasToken(cacheControl, 'no-cache')) ||
      (p.includes('no-store') && headerHasToken(cacheControl, 'no-store')) ||
      (p.includes('private') && headerHasToken(cacheControl, 'private'))
    );
  }
  if (p.includes('no_last_modified') && header(response, 'last-modified') !== undefined) return false;
  if (p.includes('no_etag') && header(response, 'etag') !== undefined) return false;
  return true;
}
