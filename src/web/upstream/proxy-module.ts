/**
 * `proxy_pass`: the PassModule that speaks HTTP/1.x to upstream servers (nginx's
 * ngx_http_proxy_module.c, nginx 1.22). pass.ts chooses the peer, retries and streams the answer;
 * this file makes the request (`prepare`) and the client of one peer (`createClient`, on
 * src/upstream/http-client.ts).
 *
 * The request head, as ngx_http_proxy_create_request writes it:
 *
 *   METHOD TARGET HTTP/1.0|1.1          proxy_method or the request's; proxy-target.ts for TARGET
 *   the proxy_set_header lines          in the order written, then nginx's defaults the
 *                                       configuration did not name:
 *                                         Host $proxy_host, Connection close,
 *                                         Content-Length $proxy_internal_body_length,
 *                                         Transfer-Encoding $proxy_internal_chunked,
 *                                         TE "", Keep-Alive "", Expect "", Upgrade ""
 *                                       a line whose value comes out empty is not sent
 *   the client's header lines           unless proxy_pass_request_headers is off, in the order
 *                                       received, without any whose name is set above (so the
 *                                       client's Connection, TE, Upgrade... never pass unless
 *                                       the configuration sends them: the WebSocket recipe is
 *                                       `proxy_set_header Upgrade $http_upgrade;
 *                                        proxy_set_header Connection "upgrade";`)
 *
 * `$proxy_internal_body_length` is the length of the body sent (the buffered body's size, the
 * client's Content-Length with proxy_request_buffering off), none without a body; a body of
 * unknown length (chunked, proxy_request_buffering off) goes out chunked with
 * `Transfer-Encoding: chunked` over HTTP/1.1. As in nginx, `proxy_pass_request_body off` keeps the
 * client's Content-Length (configurations clear it with `proxy_set_header Content-Length ""`).
 *
 * Connections are kept for the next request when the group has `keepalive N` and the request is
 * HTTP/1.1 (`proxy_http_version 1.1`), and the response allows it; the usual configuration also
 * clears the default `Connection: close` with `proxy_set_header Connection "";`.
 */
import { HttpClient } from '../../upstream/http-client.js';
import { UpstreamError } from '../../upstream/errors.js';
import type { CancelSignal, UpstreamLog } from '../../upstream/types.js';
import type { PassParam, PerLocation, ProxySettings, UpstreamConf } from '../config/index.js';
import type { RequestContext } from '../request-context.js';
import type { PassBody, PassClient, PassModule, PassResponse, PreparedRequest } from './module.js';
import { proxyRequestTarget, proxyTarget, ProxyTargetError } from './proxy-target.js';
import type { UpstreamPeer } from './types.js';

/** ngx_http_proxy_hide_headers: hidden from the client unless proxy_pass_header names them. */
export const PROXY_HIDDEN_HEADERS: readonly string[] = [
  'date',
  'server',
  'x-pad',
  'x-accel-expires',
  'x-accel-redirect',
  'x-accel-limit-rate',
  'x-accel-buffering',
  'x-accel-charset',
];

/** What fills a header line. */
const enum Source {
  /** A value without variables. */
  Text,
  /** A template expanded per request. */
  Template,
  /** $proxy_internal_body_length. */
  BodyLength,
  /** $proxy_internal_chunked. */
  Chunked,
}

interface HeaderLine {
  readonly name: string;
  readonly value: string;
  readonly source: Source;
}

/** A location's proxy_set_header list with nginx's defaults, made once per settings object. */
interface CompiledHeaders {
  readonly lines: readonly HeaderLine[];
  /** Lower-case names the client's headers may not repeat. */
  readonly names: ReadonlySet<string>;
}

/** ngx_http_proxy_headers: the defaults, in nginx's order. Empty values drop the client's. */
const DEFAULT_HEADERS: readonly (readonly [string, string, Source])[] = [
  ['Host', '$proxy_host', Source.Template],
  ['Connection', 'close', Source.Text],
  ['Content-Length', '', Source.BodyLength],
  ['Transfer-Encoding', '', Source.Chunked],
  ['TE', '', Source.Text],
  ['Keep-Alive', '', Source.Text],
  ['Expect', '', Source.Text],
  ['Upgrade', '', Source.Text],
];

const compiledHeaders = new WeakMap<readonly PassParam[], CompiledHeaders>();

/** ngx_http_proxy_init_headers: the configured lines first, then the defaults not overridden. */
function compileHeaders(params: readonly PassParam[]): CompiledHeaders {
  let compiled = compiledHeaders.get(params);
  if (compiled !== undefined) return compiled;
  const lines: HeaderLine[] = [];
  const names = new Set<string>();
  for (const param of params) {
    const lower = param.key.toLowerCase();
    names.add(lower);
    const source = param.value.includes('$') || param.key.includes('$') ? Source.Template : Source.Text;
    // A constant empty value only removes the client's header (nginx skips it at configuration time).
    if (source === Source.Text && param.value === '') continue;
    lines.push({ name: param.key, value: param.value, source });
  }
  for (const [name, value, source] of DEFAULT_HEADERS) {
    const lower = name.toLowerCase();
    if (names.has(lower)) continue;
    names.add(lower);
    if (source === Source.Text && value === '') continue;
    lines.push({ name, value, source });
  }
  compiled = { lines, names };
  compiledHeaders.set(params, compiled);
  return compiled;
}

/** The `proxy_pass` module. */
export const proxyModule: PassModule<ProxySettings> = {
  name: 'proxy',
  hiddenHeaders: PROXY_HIDDEN_HEADERS,
  settings: (loc: PerLocation) => loc.proxy,
  prepare: prepareProxyRequest,
  createClient(peer: UpstreamPeer, settings: ProxySettings, group: UpstreamConf, log?: UpstreamLog): PassClient {
    const address = peer.address.kind === 'unix' ? { kind: 'unix' as const, path: peer.address.path } : { kind: 'tcp' as const, host: peer.address.host, port: peer.address.port };
    const client = new HttpClient({
      address,
      connectTimeout: settings.connectTimeoutMs,
      sendTimeout: settings.sendTimeoutMs,
      readTimeout: settings.readTimeoutMs,
      maxHeadSize: settings.bufferSize,
      pool: group.keepalive === null ? undefined : { maxIdle: group.keepalive, idleTimeout: group.keepaliveTimeoutMs },
      maxRequestsPerConnection: group.keepaliveRequests,
      maxConnectionAgeMs: group.keepaliveTimeMs,
      ...(log === undefined ? {} : { log }),
    });
    return new ProxyClient(client);
  },
};

/** The PassClient of one peer: the HTTP client, for prepared `http` requests. */
class ProxyClient implements PassClient {
  constructor(private readonly client: HttpClient) {}

  request(prepared: PreparedRequest, body: PassBody, signal: CancelSignal): Promise<PassResponse> {
    if (prepared.kind !== 'http') {
      return Promise.reject(new UpstreamError('ERR_UPSTREAM_INVALID_REQUEST', 'proxy_pass needs an HTTP request', 'sending request', this.client.peer));
    }
    return this.client.request(prepared, body, signal);
  }

  close(): Promise<void> {
    return this.client.close();
  }
}

/** PassModule.prepare for proxy_pass: the request line and header lines. */
export function prepareProxyRequest(ctx: RequestContext, settings: ProxySettings, body: PassBody): PreparedRequest {
  const pass = settings.pass;
  if (pass === null) throw invalid('no proxy_pass in this location');
  let target;
  try {
    target = proxyTarget(ctx, pass);
  } catch (error) {
    if (error instanceof ProxyTargetError) throw invalid(error.message);
    throw error;
  }
  // The values of $proxy_host and $proxy_port for this request (variables.ts reads them here).
  ctx.variables.set('proxy_host', target.hostHeader);
  ctx.variables.set('proxy_port', target.port);
  const requestTarget = proxyRequestTarget(ctx, target, ctx.location);
  // nginx: "zero length URI to proxy", a 500.
  if (requestTarget === '') throw invalid('zero length URI to proxy');
  const variables = ctx.modules.variables;
  const method = settings.method === null ? ctx.method : variables.expand(ctx, settings.method);

  const length = bodyLength(ctx, settings, body);
  const compiled = compileHeaders(settings.setHeaders);
  const headers: string[] = [];
  for (const line of compiled.lines) {
    let value: string;
    switch (line.source) {
      case Source.Text:
        value = line.value;
        break;
      case Source.Template:
        value = variables.expand(ctx, line.value);
        break;
      case Source.BodyLength:
        value = length >= 0 ? String(length) : '';
        break;
      case Source.Chunked:
        value = length === CHUNKED ? 'chunked' : '';
        break;
    }
    if (value === '') continue;
    headers.push(line.source === Source.Template ? variables.expand(ctx, line.name) : line.name, value);
  }
  if (settings.passRequestHeaders) {
    const names = compiled.names;
    for (const [name, value] of ctx.headers.list) {
      if (!names.has(name.toLowerCase())) headers.push(name, value);
    }
  }
  const group = target.upstream === null ? undefined : ctx.config.upstreams.get(target.upstream);
  return {
    kind: 'http',
    method,
    target: requestTarget,
    headers,
    httpVersion: settings.httpVersion,
    keepAlive: settings.httpVersion === '1.1' && group !== undefined && group.keepalive !== null,
  };
}

/** $proxy_internal_body_length: the length sent, NONE, or CHUNKED. */
const NONE = -1;
const CHUNKED = -2;

function bodyLength(ctx: RequestContext, settings: ProxySettings, body: PassBody): number {
  if (!settings.passRequestBody) {
    // nginx still announces the client's body (r->headers_in.content_length_n).
    return ctx.body.present && ctx.body.contentLength >= 0 ? ctx.body.contentLength : NONE;
  }
  switch (body.kind) {
    case 'buffer':
      return body.data.length;
    case 'file':
      return body.size;
    case 'stream':
      return body.length >= 0 ? body.length : CHUNKED;
    case 'none':
      // A client that announced an empty body still gets `Content-Length: 0` sent on.
      return ctx.body.present || ctx.headers.get('content-length') !== undefined ? 0 : NONE;
  }
}

function invalid(why: string): UpstreamError {
  return new UpstreamError('ERR_UPSTREAM_INVALID_REQUEST', why, 'sending request', 'proxy');
}
