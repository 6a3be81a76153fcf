/**
 * The gzip filter (ngx_http_gzip_filter_module.c, nginx 1.22): compresses a response while it is
 * sent, when all of these hold (checked in this order):
 *
 *   gzip on
 *   status 200, 403 or 404
 *   no Content-Encoding yet (an upstream's gzip or a gzip_static file stays as it is)
 *   the length is unknown, or at least gzip_min_length (20)
 *   the MIME type (without parameters) is text/html, in gzip_types, or gzip_types is *
 *        ── from here on the response varies by Accept-Encoding: `Vary` if gzip_vary on ──
 *   the request accepts gzip (accept.ts: Accept-Encoding, gzip_http_version, gzip_proxied,
 *   gzip_disable)
 *
 * HEAD requests get the headers of a compressed response (nginx marks them header-only only in
 * its last header filter, after gzip), with no body.
 *
 * Ranges: nginx's range filter runs after gzip and finds no length to cut, so a request with
 * Range gets the whole compressed 200. The static handler, which serves ranges itself, asks
 * `GzipModule.compresses()` first and ignores Range when it says yes. A 206 that reaches the
 * filter (gzip would not apply) is judged as the 200 it was cut from, so it gets `Vary` as
 * nginx's does.
 *
 * A compressed response gets `Content-Encoding: gzip` after its other headers, loses
 * Content-Length (it is sent chunked, or close-delimited to HTTP/1.0) and Accept-Ranges (so no
 * ranges are served from it), and its strong ETag becomes weak (`W/"..."`; other ETags go).
 *
 * Compression: zlib at gzip_comp_level, with the window and hash of gzip_window / gzip_hash,
 * both shrunk for a short body of known length exactly as nginx shrinks them. $gzip_ratio
 * (original size / compressed size, two decimals, rounded as nginx rounds) is set when the body
 * is done. The output is a valid gzip stream; its bytes need not equal nginx's (nginx writes
 * XFL=0 in the header and flushes at its buffer boundaries).
 */
import { createReadStream } from 'node:fs';
import { constants as zlibConstants, createGzip, gzipSync, type ZlibOptions } from 'node:zlib';
import type { LocationSettings } from '../config/index.js';
import type { HeaderPair, OutgoingResponse, RequestContext, ResponseBody } from '../request-context.js';
import { contentTypeOnly } from '../variables.js';

/** Statuses nginx compresses. */
const GZIP_STATUSES: ReadonlySet<number> = new Set([200, 403, 404]);
const OK = 200;
const PARTIAL = 206;
/** Buffers up to this size are compressed in one synchronous call; larger bodies stream. */
const SYNC_LIMIT = 64 * 1024;
const LOG2_BYTES_TO_MEMLEVEL = 8;
/** deflate's MIN_LOOKAHEAD: nginx shrinks the window while the body is smaller than window/2 - 262. */
const WINDOW_SLACK = 262;
const PERCENT = 100;
const PERMILLE = 1000;
const ROUND_DIGIT = 10;
const ROUND_UP_FROM = 4;

export type GzipFilterSettings = Pick<LocationSettings, 'gzip' | 'gzipTypes' | 'gzipMinLength' | 'gzipCompLevel' | 'gzipWindow' | 'gzipHash'>;

/** Why a response is not compressed (for tests and debug logs), or 'compress'. */
export type GzipVerdict =
  | 'off'
  | 'status'
  | 'encoded'
  | 'too-short'
  | 'type'
  /** Passed the response checks, but the request does not take gzip: Vary still applies. */
  | 'not-accepted'
  | 'compress';

export function headerValue(headers: readonly HeaderPair[], name: string): string | undefined {
  for (const [key, value] of headers) if (key.toLowerCase() === name) return value;
  return undefined;
}

/** The body length nginx would know (r->headers_out.content_length_n), or -1. */
export function knownLength(response: OutgoingResponse): number {
  // A 206 stands for the 200 it was cut from: "bytes 0-9/3413" is 3413 bytes.
  const total = /\/(\d+)$/.exec(headerValue(response.headers, 'content-range') ?? '');
  if (response.status === PARTIAL && total) return Number(total[1]);
  const header = headerValue(response.headers, 'content-length');
  if (header !== undefined && /^\d+$/.test(header)) return Number(header);
  const body: ResponseBody = response.body;
  if (body.kind === 'buffer') return body.data.length;
  if (body.kind === 'file') return body.end - body.start;
  if (body.kind === 'none') return 0;
  return -1;
}

/** ngx_http_test_content_type against gzip_types (always holding text/html unless `*`). */
export function typeMatches(contentType: string | undefined, types: readonly string[]): boolean {
  if (types.includes('*')) return true;
  if (contentType === undefined || contentType.length === 0) return false;
  return types.includes(contentTypeOnly(contentType));
}

/** The response-side checks of the gzip header filter, in nginx's order. */
export function responseVerdict(settings: GzipFilterSettings, response: OutgoingResponse): Exclude<GzipVerdict, 'not-accepted' | 'compress'> | null {
  if (!settings.gzip) return 'off';
  const status = response.status === PARTIAL ? OK : response.status;
  if (!GZIP_STATUSES.has(status)) return 'status';
  const encoding = headerValue(response.headers, 'content-encoding');
  if (encoding !== undefined && encoding.length > 0) return 'encoded';
  const length = knownLength(response);
  if (length !== -1 && length < settings.gzipMinLength) return 'too-short';
  if (!typeMatches(headerValue(response.headers, 'content-type'), settings.gzipTypes)) return 'type';
  return null;
}

/** zlib options as nginx sets deflateInit2 up for this response. */
export function deflateOptions(settings: GzipFilterSettings, length: number): ZlibOptions {
  let windowBits = Math.round(Math.log2(settings.gzipWindow));
  let memLevel = Math.round(Math.log2(settings.gzipHash)) - LOG2_BYTES_TO_MEMLEVEL;
  if (length > 0) {
    while (length < (1 << (windowBits - 1)) - WINDOW_SLACK) {
      windowBits -= 1;
      memLevel -= 1;
    }
    if (memLevel < 1) memLevel = 1;
  }
  return { level: settings.gzipCompLevel, windowBits, memLevel, strategy: zlibConstants.Z_DEFAULT_STRATEGY };
}

/** $gzip_ratio: "%ui.%02ui" of in/out, the hundredths rounded on the thousandths as nginx does. */
export function gzipRatio(zin: number, zout: number): string | null {
  if (zout === 0) return null;
  let whole = Math.floor(zin / zout);
  let fraction = Math.floor((zin * PERCENT) / zout) % PERCENT;
  if (Math.floor((zin * PERMILLE) / zout) % ROUND_DIGIT > ROUND_UP_FROM) {
    fraction += 1;
    if (fraction > PERCENT - 1) {
      whole += 1;
      fraction = 0;
    }
  }
  return `${whole}.${String(fraction).padStart(2, '0')}`;
}

/** The body's bytes as a stream. */
async function* bodyChunks(body: ResponseBody): AsyncIterable<Buffer> {
  switch (body.kind) {
    case 'none':
      return;
    case 'buffer':
      yield body.data;
      return;
    case 'file': {
      if (body.end <= body.start) return;
      const options = { start: body.start, end: body.end - 1 };
      // An fd that came with the slice belongs to whoever opened it: read it, leave it open.
      const stream = body.fd === undefined ? createReadStream(body.path, options) : createReadStream('', { ...options, fd: body.fd, autoClose: false });
      for await (const chunk of stream) yield chunk as Buffer;
      return;
    }
    case 'multipart':
      for (const part of body.parts) yield* bodyChunks(Buffer.isBuffer(part) ? { kind: 'buffer', data: part } : part);
      return;
    case 'stream':
      yield* body.chunks;
      return;
  }
}

/** Compresses a body as it is read; `done(zin, zout)` is called at its end. */
export async function* gzipBody(body: ResponseBody, options: ZlibOptions, done: (zin: number, zout: number) => void): AsyncIterable<Buffer> {
  if (body.kind === 'buffer' && body.data.length <= SYNC_LIMIT) {
    const out = gzipSync(body.data, options);
    done(body.data.length, out.length);
    yield out;
    return;
  }
  const gzip = createGzip(options);
  let zin = 0;
  let zout = 0;
  const feed = (async (): Promise<void> => {
    try {
      for await (const chunk of bodyChunks(body)) {
        if (gzip.destroyed) return;
        zin += chunk.length;
        if (!gzip.write(chunk)) {
          await new Promise<void>((resolve) => {
            gzip.once('drain', resolve);
            gzip.once('close', resolve);
          });
        }
      }
      gzip.end();
    } catch (error) {
      gzip.destroy(error instanceof Error ? error : new Error(String(error)));
    }
  })();
  try {
    for await (const chunk of gzip) {
      const out = chunk as Buffer;
      zout += out.length;
      yield out;
    }
    await feed;
    done(zin, zout);
  } finally {
    // The consumer may stop early (the client went away): stop compressing and reading.
    if (!gzip.destroyed) gzip.destroy();
  }
}

/** ngx_http_weak_etag: `"x"` → `W/"x"`, `W/...` stays, anything else is dropped. */
export function weakEtag(etag: string): string | null {
  if (etag.startsWith('W/')) return etag;
  if (etag.startsWith('"')) return 'W/' + etag;
  return null;
}

/** The header changes of a compressed response (headers in nginx's order). */
export function compressedHeaders(headers: readonly HeaderPair[]): HeaderPair[] {
  const out: HeaderPair[] = [];
  for (const pair of headers) {
    const name = pair[0].toLowerCase();
    if (name === 'content-length' || name === 'accept-ranges') continue;
    if (name === 'etag') {
      const weak = weakEtag(pair[1]);
      if (weak !== null) out.push([pair[0], weak]);
      continue;
    }
    out.push(pair);
  }
  out.push(['Content-Encoding', 'gzip']);
  return out;
}

/** Headers nginx writes from its own fields before the Vary header and the header list. */
const FIELD_HEADERS: ReadonlySet<string> = new Set(['content-type', 'content-length', 'last-modified', 'location', 'transfer-encoding', 'connection', 'keep-alive']);

/**
 * Adds `Vary: Accept-Encoding` where nginx writes it (after Content-Type, Content-Length,
 * Last-Modified, Location, before ETag and the other list headers), once.
 */
export function withVary(headers: readonly HeaderPair[]): HeaderPair[] {
  if (headers.some(([key, value]) => key.toLowerCase() === 'vary' && value === 'Accept-Encoding')) return [...headers];
  const at = headers.findIndex(([key]) => !FIELD_HEADERS.has(key.toLowerCase()));
  const out = [...headers];
  out.splice(at === -1 ? out.length : at, 0, ['Vary', 'Accept-Encoding']);
  return out;
}

/** Applies a verdict: compress the body, adjust headers; sets $gzip_ratio when the body ends. */
export function compressResponse(ctx: RequestContext, response: OutgoingResponse, settings: GzipFilterSettings): OutgoingResponse {
  const options = deflateOptions(settings, knownLength(response));
  const body = response.body;
  const headers = compressedHeaders(response.headers);
  // HEAD: the headers of the compressed response, no body.
  if (body.kind === 'none') return { ...response, headers };
  return {
    ...response,
    headers,
    body: {
      kind: 'stream',
      chunks: gzipBody(body, options, (zin, zout) => {
        const ratio = gzipRatio(zin, zout);
        if (ratio !== null) ctx.variables.set('gzip_ratio', ratio);
      }),
    },
  };
}
