/**
 * gzip for `tsgi web`: the response filter (filter.ts), gzip_static (static.ts) and the request
 * test they share (accept.ts), joined in one module object per configuration generation so that
 * gzip_static and the filter agree on `Vary` as nginx's single r->gzip_vary flag does.
 *
 *   const gzip = createGzip(config, env);
 *   modules.filters = [gzip, ...];                      // after add_header / expires
 *   await gzip.gzipStatic(ctx, '/srv/www/app.js');       // from the static handler, before it
 *                                                        // opens the file (see static.ts)
 */
import type { LocationSettings, NginxConfig, PerLocation } from '../config/index.js';
import type { CompiledRegex } from '../match/index.js';
import type { ModuleEnv, OutgoingResponse, RequestContext, ResponseFilter } from '../request-context.js';
import { compileGzipDisable, gzipOk, type GzipRequest } from './accept.js';
import { compressResponse, responseVerdict, withVary, type GzipVerdict } from './filter.js';
import { findGzipStatic, type GzipStaticResult } from './static.js';

export * from './accept.js';
export * from './filter.js';
export * from './static.js';

const MS_PER_SECOND = 1000;

export interface GzipOptions {
  /** Wall clock ms (Date.now), for gzip_proxied's Expires test. */
  readonly now?: () => number;
}

/** The facts of a request ngx_http_gzip_ok reads. */
export function gzipRequest(ctx: RequestContext): GzipRequest {
  return {
    acceptEncoding: ctx.headers.get('accept-encoding'),
    via: ctx.headers.get('via'),
    authorization: ctx.headers.get('authorization'),
    userAgent: ctx.headers.get('user-agent'),
    httpVersion: ctx.head.httpVersion,
  };
}

/** The gzip filter and gzip_static of one configuration generation. */
export class GzipModule implements ResponseFilter {
  readonly name = 'gzip';
  private readonly now: () => number;
  /** Requests gzip_static marked as varying by Accept-Encoding (nginx's r->gzip_vary). */
  private readonly vary = new WeakSet<RequestContext>();
  /** The request test is made once per request (nginx's r->gzip_tested / r->gzip_ok). */
  private readonly tested = new WeakMap<RequestContext, boolean>();
  private readonly disable = new WeakMap<readonly string[], { msie6: boolean; regexes: CompiledRegex[] }>();

  constructor(_config: NginxConfig | null, _env: ModuleEnv | null, options: GzipOptions = {}) {
    this.now = options.now ?? Date.now;
  }

  private disableOf(settings: LocationSettings): { msie6: boolean; regexes: CompiledRegex[] } {
    let compiled = this.disable.get(settings.gzipDisable);
    if (!compiled) {
      compiled = compileGzipDisable(settings.gzipDisable);
      this.disable.set(settings.gzipDisable, compiled);
    }
    return compiled;
  }

  /** ngx_http_gzip_ok for this request, remembered for the rest of the request. */
  accepts(ctx: RequestContext, response: OutgoingResponse | null): boolean {
    const known = this.tested.get(ctx);
    if (known !== undefined) return known;
    const settings = ctx.loc.settings;
    const ok = gzipOk(gzipRequest(ctx), response?.headers ?? [], settings, this.disableOf(settings), Math.floor(this.now() / MS_PER_SECOND));
    this.tested.set(ctx, ok);
    return ok;
  }

  /** What the filter would do with this response. */
  verdict(ctx: RequestContext, response: OutgoingResponse): GzipVerdict {
    const early = responseVerdict(ctx.loc.settings, response);
    if (early !== null) return early;
    return this.accepts(ctx, response) ? 'compress' : 'not-accepted';
  }

  /**
   * For the static handler, before it serves a Range: true when this full 200 response will be
   * compressed, in which case nginx ignores the Range and sends the whole compressed body.
   */
  compresses(ctx: RequestContext, response: OutgoingResponse): boolean {
    return this.verdict(ctx, response) === 'compress';
  }

  /** `ResponseFilter.idleFor`: gzip off and no gzip_static leaves responses as they are. */
  idleFor(loc: PerLocation): boolean {
    return !loc.settings.gzip && loc.settings.gzipStatic === 'off';
  }

  /** `ResponseFilter.apply`. */
  apply(ctx: RequestContext, response: OutgoingResponse): OutgoingResponse {
    const settings = ctx.loc.settings;
    const verdict = this.verdict(ctx, response);
    const varies = verdict === 'compress' || verdict === 'not-accepted' || this.vary.has(ctx);
    // A 206 reaching here was not compressible as a 200 (see compresses()): it only may vary.
    let out = verdict === 'compress' && response.status !== 206 ? compressResponse(ctx, response, settings) : response;
    if (varies && settings.gzipVary) out = { ...out, headers: withVary(out.headers) };
    return out;
  }

  /**
   * gzip_static for the file `path` of this request (see static.ts). Marks the request for
   * `Vary` when nginx would.
   */
  async gzipStatic(ctx: RequestContext, path: string): Promise<GzipStaticResult> {
    const result = await findGzipStatic(ctx, path, () => this.accepts(ctx, null), (level, message) => ctx.log(level, message));
    if (result.vary) this.vary.add(ctx);
    return result;
  }
}

/** The gzip module of a configuration generation: register it as a response filter. */
export function createGzip(config: NginxConfig, env: ModuleEnv, options: GzipOptions = {}): GzipModule {
  return new GzipModule(config, env, options);
}
