/**
 * Where `proxy_pass` sends a request and with which request-target: nginx's URI rules
 * (ngx_http_proxy_create_request, ngx_http_proxy_set_vars, ngx_http_proxy_eval in
 * src/http/modules/ngx_http_proxy_module.c, nginx 1.22).
 *
 *   proxy_pass http://b;            the client's target as it sent it (r->unparsed_uri), or
 *                                   `$uri?$args` once a rewrite, an internal redirect or
 *                                   `set $args` changed the URI (r->valid_unparsed_uri is off)
 *   proxy_pass http://b/new/;       in `location /old/`: the part of the normalised `$uri`
 *                                   after the location's name is put after `/new/`, then
 *                                   `?$args`; after `rewrite ... break` the URI part is ignored
 *                                   and the rewritten `$uri?$args` is sent whole
 *   proxy_pass http://$h:8080$u;    variables: a URI part in the result is sent as it is (no
 *                                   args added); without one, as `proxy_pass http://b;`
 *
 * When `$uri` is used (not the client's target) and the client's target held `%` escapes or the
 * request was redirected internally, `$uri` is escaped again with nginx's NGX_ESCAPE_URI table.
 *
 * `$proxy_host` is the host of the URL, with `:port` unless it is the scheme's default port;
 * `localhost` for a UNIX socket. `$proxy_port` is the port ('80' when none was written; '' for a
 * UNIX socket).
 */
import { parseUrl } from '../config/address.js';
import type { LocationConf, PassTarget, PeerAddress } from '../config/index.js';
import type { RequestContext } from '../request-context.js';

/** A `proxy_pass` target for one request. */
export interface ProxyTarget {
  /** `$proxy_host`: the default Host header. */
  readonly hostHeader: string;
  /** `$proxy_port`. */
  readonly port: string;
  /** The URI part ('' when none). */
  readonly uri: string;
  /** An upstream group name or the group nginx made for the address (static targets), or the
   *  host of a target with variables: pass.ts looks it up among the groups, else uses `address`. */
  readonly upstream: string | null;
  /** The address, when the URL names one (an IP literal or a UNIX socket). */
  readonly address: PeerAddress | null;
  /** The URL came from variables. */
  readonly dynamic: boolean;
}

/** Why a target with variables could not be used: nginx answers 500. */
export class ProxyTargetError extends Error {}

const HTTP = 'http://';
const HTTPS = 'https://';
const HTTP_PORT = 80;

/** Static targets parsed once per configuration object. */
const staticTargets = new WeakMap<PassTarget, ProxyTarget>();

/** The target for this request. Throws ProxyTargetError for a variable URL nginx would refuse. */
export function proxyTarget(ctx: RequestContext, pass: PassTarget): ProxyTarget {
  if (!pass.hasVariables) {
    let target = staticTargets.get(pass);
    if (target === undefined) {
      target = parseTarget(pass.url, false) ?? { hostHeader: '', port: '', uri: pass.uri ?? '', upstream: pass.upstream, address: pass.address, dynamic: false };
      // The group name is the configuration's (an `upstream` block may have claimed the host).
      target = { ...target, upstream: pass.upstream, address: pass.address ?? target.address };
      staticTargets.set(pass, target);
    }
    return target;
  }
  const url = ctx.modules.variables.expand(ctx, pass.url);
  const target = parseTarget(url, true);
  if (target === null) throw new ProxyTargetError(`invalid URL prefix in "${url}"`);
  return target;
}

/** `ngx_http_proxy_eval` / `ngx_http_proxy_pass`: scheme, host[:port], URI part. */
function parseTarget(url: string, dynamic: boolean): ProxyTarget | null {
  const lower = url.slice(0, 8).toLowerCase();
  let rest: string;
  let defaultPort: number;
  if (lower.startsWith(HTTP)) {
    rest = url.slice(HTTP.length);
    defaultPort = HTTP_PORT;
  } else if (lower.startsWith(HTTPS)) {
    // tsgi has no TLS client: refused per request rather than sending plain HTTP to port 443.
    throw new ProxyTargetError(`https upstreams are not supported: "${url}"`);
  } else {
    return null;
  }
  const parsed = parseUrl(rest, { uriPart: true, defaultPort });
  if ('err' in parsed) {
    if (dynamic) throw new ProxyTargetError(`${parsed.err} in upstream "${rest}"`);
    return null;
  }
  const uri = parsed.uri ?? '';
  if (parsed.address.kind === 'unix') {
    return { hostHeader: 'localhost', port: '', uri, upstream: null, address: parsed.address, dynamic };
  }
  const hostHeader = parsed.noPort || parsed.port === defaultPort ? parsed.host : `${parsed.host}:${parsed.port}`;
  return {
    hostHeader,
    port: String(parsed.port),
    uri,
    upstream: parsed.needsResolve || parsed.noPort ? parsed.host : null,
    address: parsed.needsResolve ? null : parsed.address,
    dynamic,
  };
}

/**
 * The request-target sent upstream. `location` is the location whose `proxy_pass` is in force
 * (nginx's plcf->location is the name of the location the directive is written in).
 */
export function proxyRequestTarget(ctx: RequestContext, target: ProxyTarget, location: LocationConf | null): string {
  if (target.dynamic && target.uri !== '') return target.uri;
  if (target.uri === '' && ctx.validUnparsedUri !== false) return ctx.head.requestUri;
  const validLocation = ctx.validLocation !== false;
  const locationLength = validLocation && target.uri !== '' && location !== null ? location.name.length : 0;
  const rest = ctx.uri.length > locationLength ? ctx.uri.slice(locationLength) : '';
  const escaped = quotedUri(ctx) || ctx.internal ? escapeUri(rest) : rest;
  const prefix = validLocation ? target.uri : '';
  return ctx.args === '' ? prefix + escaped : `${prefix}${escaped}?${ctx.args}`;
}

/** nginx's r->quoted_uri: the client's path held a `%` escape. */
function quotedUri(ctx: RequestContext): boolean {
  const target = ctx.head.requestUri;
  const query = target.indexOf('?');
  const percent = target.indexOf('%');
  return percent >= 0 && (query < 0 || percent < query);
}

/** ngx_escape_uri's NGX_ESCAPE_URI set: CTLs, SP, `"`, `#`, `%`, `<`, `>`, `?`, `\`, `^`, `` ` ``,
 *  `{`, `|`, `}`, DEL and every byte >= 0x80. */
const ESCAPED = new Uint8Array(256);
for (let c = 0; c <= 0x20; c++) ESCAPED[c] = 1;
for (let c = 0x7f; c <= 0xff; c++) ESCAPED[c] = 1;
for (const ch of '"#%<>?\\^`{|}') ESCAPED[ch.charCodeAt(0)] = 1;
const HEX = '0123456789ABCDEF';

/** `uri` (a byte string) with the NGX_ESCAPE_URI bytes as %XX. */
export function escapeUri(uri: string): string {
  let out = '';
  let from = 0;
  for (let i = 0; i < uri.length; i++) {
    const c = uri.charCodeAt(i) & 0xff;
    if (ESCAPED[c] === 0) continue;
    out += uri.slice(from, i) + '%' + HEX[c >> 4] + HEX[c & 0xf];
    from = i + 1;
  }
  return from === 0 ? uri : out + uri.slice(from);
}
