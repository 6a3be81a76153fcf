/**
 * The modules that pass requests upstream: ngx_http_proxy_module, ngx_http_uwsgi_module,
 * ngx_http_fastcgi_module, ngx_http_scgi_module. nginx declares the same upstream settings in each
 * (`ngx_http_upstream_conf_t`: timeouts, buffers, next_upstream...), under the module's prefix;
 * `passDirectives(prefix)` declares them once here, and each module adds its own (`proxy_set_header`,
 * `uwsgi_param`, `fastcgi_split_path_info`...).
 */
import type { Directive } from '../parser.js';
import { NginxConfigErrorCode } from '../errors.js';
import { parseIPv4, parseIPv6, parseUrl } from '../address.js';
import type { PassParam, PassSettings, PassTarget } from '../types.js';
import { checkRegex } from './http-core.js';
import { findOrAddUpstream } from './upstream.js';
import type { MutablePassTarget } from '../builders.js';
import {
  Context,
  FLAG,
  HTTP_SRV_LOC,
  ONE_OR_MORE,
  TAKE1,
  TAKE12,
  TAKE123,
  TAKE1234,
  TAKE2,
  TAKE23,
  TWO_OR_MORE,
  custom,
  fieldOf,
  slot,
  type Args,
  type DefaultsEnv,
  type DirectiveContext,
  type DirectiveSpec,
  type MergeRule,
  type PassLevel,
  type Raw,
} from './spec.js';
import {
  addArgs,
  addStr,
  arg,
  setBitmask,
  setBufs,
  setEnum,
  setFlag,
  setMsec,
  setNum,
  setPath,
  setSize,
} from './setters.js';

/** A field common to the four modules. */
function passSlot<K extends keyof PassSettings & string>(
  name: string,
  contexts: number,
  args: Args,
  level: PassLevel,
  field: K,
  parse: (d: Directive, cx: DirectiveContext, previous: PassSettings[K] | undefined) => PassSettings[K],
  options: { default: PassSettings[K] | ((env: DefaultsEnv) => PassSettings[K]); accumulate?: boolean; merge?: MergeRule; help: string },
): DirectiveSpec {
  return {
    name,
    contexts,
    args,
    block: false,
    slots: [{ level, field, default: options.default, merge: options.merge ?? 'inherit' }],
    help: options.help,
    apply(d, cx) {
      const raw: Raw<PassSettings> = cx.raw(level);
      const previous = raw[field];
      if (previous !== undefined && !options.accumulate) throw cx.directiveError(d, 'is duplicate', NginxConfigErrorCode.Duplicate);
      raw[field] = parse(d, cx, previous);
    },
  };
}

/** nginx's `*_next_upstream` keywords. */
const NEXT_UPSTREAM = [
  'error',
  'timeout',
  'invalid_header',
  'http_500',
  'http_502',
  'http_503',
  'http_504',
  'http_403',
  'http_404',
  'http_429',
  'non_idempotent',
  'off',
] as const;

const IGNORE_HEADERS = [
  'X-Accel-Redirect',
  'X-Accel-Expires',
  'X-Accel-Limit-Rate',
  'X-Accel-Buffering',
  'X-Accel-Charset',
  'Expires',
  'Cache-Control',
  'Set-Cookie',
  'Vary',
] as const;

/** `ngx_http_upstream_bind_set_slot`: `off`, or an address [transparent]. */
function parseBind(d: Directive, cx: DirectiveContext): PassSettings['bind'] {
  const address = arg(d, 0);
  if (d.args.length === 1 && address === 'off') return null;
  if (address.includes('$')) {
    cx.useVariables(d, address);
  } else {
    const host = address.startsWith('[') ? address.slice(1, address.indexOf(']')) : address.replace(/:[0-9]+$/, '');
    if (!parseIPv4(host) && !parseIPv6(host)) throw cx.error(d, `invalid address "${address}"`);
  }
  const option = d.args[1];
  if (option !== undefined && option !== 'transparent') throw cx.error(d, `invalid parameter "${option}"`);
  return { address, transparent: option === 'transparent' };
}

/** `ngx_conf_set_access_slot`: `user:rw group:r all:r`. */
function parseAccess(d: Directive, cx: DirectiveContext): string[] {
  for (const word of d.args) {
    if (!/^(user|group|all):(rw|r)$/.test(word)) throw cx.error(d, `invalid value "${word}"`);
  }
  return [...d.args];
}

/** `*_store on | off | TEMPLATE`. */
function parseStore(d: Directive, cx: DirectiveContext): string | null {
  const value = arg(d);
  if (value === 'off') return null;
  cx.useVariables(d, value);
  return value;
}

/** `*_cache off | ZONE`. */
function parseCache(d: Directive, cx: DirectiveContext): string | null {
  const value = arg(d);
  if (value === 'off') return null;
  cx.useVariables(d, value);
  return value;
}

/** `ngx_http_upstream_param_set_slot`: `KEY VALUE [if_not_empty]`, each directive adds one. */
export function addParam(d: Directive, cx: DirectiveContext, previous: readonly PassParam[] | undefined): PassParam[] {
  const [key, value, flag] = [arg(d, 0), arg(d, 1), d.args[2]];
  if (flag !== undefined && flag !== 'if_not_empty') throw cx.error(d, `invalid parameter "${flag}"`);
  cx.useVariables(d, key);
  cx.useVariables(d, value);
  return [...(previous ?? []), { key, value, ifNotEmpty: flag === 'if_not_empty' }];
}

/**
 * `*_pass`: an upstream group name or address (with the scheme proxy_pass requires), or a
 * template resolved per request. An address makes an implicit group, as in nginx.
 */
function applyPass(level: PassLevel) {
  return (d: Directive, cx: DirectiveContext): void => {
    const raw: Raw<PassSettings> = cx.raw(level);
    if (raw.pass) throw cx.directiveError(d, 'is duplicate', NginxConfigErrorCode.Duplicate);
    const url = arg(d);
    if (url.includes('$')) {
      cx.useVariables(d, url);
      raw.pass = { url, scheme: defaultScheme(level), upstream: null, address: null, uri: null, hasVariables: true };
      return;
    }
    let rest = url;
    let scheme: PassTarget['scheme'] = defaultScheme(level);
    let defaultPort = 0;
    if (level === 'proxy') {
      if (url.slice(0, 7).toLowerCase() === 'http://') {
        rest = url.slice(7);
        scheme = 'http';
        defaultPort = 80;
      } else if (url.slice(0, 8).toLowerCase() === 'https://') {
        rest = url.slice(8);
        scheme = 'https';
        defaultPort = 443;
      } else {
        throw cx.error(d, 'invalid URL prefix', NginxConfigErrorCode.InvalidValue);
      }
    } else if (level === 'uwsgi') {
      if (url.slice(0, 9).toLowerCase() === 'suwsgi://') {
        rest = url.slice(9);
        scheme = 'suwsgi';
      } else if (url.slice(0, 8).toLowerCase() === 'uwsgi://') {
        rest = url.slice(8);
      }
    }
    const parsed = parseUrl(rest, { uriPart: level === 'proxy', defaultPort });
    if ('err' in parsed) throw cx.error(d, `${parsed.err} in upstream "${rest}"`, NginxConfigErrorCode.InvalidValue);
    const location = cx.context === Context.Location ? cx.builders.location : null;
    const uri = parsed.uri !== null && parsed.uri.length > 0 ? parsed.uri : null;
    if (level === 'proxy' && uri !== null) {
      const anonymous = cx.context !== Context.Location || !location || location.modifier === '@' || location.modifier === '~' || location.modifier === '~*';
      if (anonymous) {
        throw cx.error(
          d,
          '"proxy_pass" cannot have URI part in location given by regular expression, or inside named location, ' +
            'or inside "if" statement, or inside "limit_except" block',
        );
      }
    }
    const group = findOrAddUpstream(d, cx, { host: parsed.host, port: parsed.port, noPort: parsed.noPort, parsed }, false);
    const target: MutablePassTarget = {
      url,
      scheme,
      upstream: group.name,
      address: parsed.needsResolve ? null : parsed.address,
      uri,
      hasVariables: false,
    };
    raw.pass = target;
    // The group's final name is known when `http {}` ends (an `upstream` block may claim it later).
    cx.builders.http!.passTargets.push({ directive: d, group, target });
  };
}

function defaultScheme(level: PassLevel): PassTarget['scheme'] {
  return level === 'proxy' ? 'http' : level;
}

/** The settings every passing module has, under its prefix. */
function passDirectives(level: PassLevel, passContexts: number): DirectiveSpec[] {
  const p = level;
  const all = HTTP_SRV_LOC;
  return [
    custom(`${p}_pass`, passContexts, TAKE1, applyPass(level), {
      help: `pass the request to a ${level === 'proxy' ? 'HTTP' : level} server or upstream group`,
      slots: [fieldOf(level, 'pass', null, 'none')],
    }),
    passSlot(`${p}_bind`, all, TAKE12, level, 'bind', parseBind, { default: null, help: 'local address of upstream connections' }),
    passSlot(`${p}_socket_keepalive`, all, FLAG, level, 'socketKeepalive', setFlag, { default: false, help: 'SO_KEEPALIVE on upstream connections' }),
    passSlot(`${p}_connect_timeout`, all, TAKE1, level, 'connectTimeoutMs', setMsec, { default: 60000, help: 'time to connect (504 after)' }),
    passSlot(`${p}_send_timeout`, all, TAKE1, level, 'sendTimeoutMs', setMsec, { default: 60000, help: 'time between two writes' }),
    passSlot(`${p}_read_timeout`, all, TAKE1, level, 'readTimeoutMs', setMsec, { default: 60000, help: 'time between two reads (504 after)' }),
    passSlot(`${p}_buffering`, all, FLAG, level, 'buffering', setFlag, { default: true, help: 'buffer the response' }),
    passSlot(`${p}_request_buffering`, all, FLAG, level, 'requestBuffering', setFlag, { default: true, help: 'read the whole request body first' }),
    passSlot(`${p}_buffer_size`, all, TAKE1, level, 'bufferSize', setSize, { default: 4096, help: 'buffer for the response header' }),
    passSlot(`${p}_buffers`, all, TAKE2, level, 'buffers', setBufs, { default: { number: 8, size: 4096 }, help: 'buffers for the response' }),
    passSlot(`${p}_busy_buffers_size`, all, TAKE1, level, 'busyBuffersSize', setSize, { default: null, help: 'buffers busy sending to the client' }),
    passSlot(`${p}_temp_path`, all, TAKE1234, level, 'tempPath', setPath, {
      default: (env) => ({ path: `${env.prefix}${p}_temp`, levels: [] }),
      help: 'directory for buffered responses',
    }),
    passSlot(`${p}_max_temp_file_size`, all, TAKE1, level, 'maxTempFileSize', setSize, { default: null, help: 'largest temp file (0: none)' }),
    passSlot(`${p}_temp_file_write_size`, all, TAKE1, level, 'tempFileWriteSize', setSize, { default: null, help: 'temp file write size' }),
    passSlot(`${p}_next_upstream`, all, ONE_OR_MORE, level, 'nextUpstream', setBitmask(NEXT_UPSTREAM), {
      default: ['error', 'timeout'],
      accumulate: true,
      help: 'when to try the next server',
    }),
    passSlot(`${p}_next_upstream_tries`, all, TAKE1, level, 'nextUpstreamTries', setNum, { default: 0, help: 'servers tried at most (0: all)' }),
    passSlot(`${p}_next_upstream_timeout`, all, TAKE1, level, 'nextUpstreamTimeoutMs', setMsec, { default: 0, help: 'time for retries (0: none)' }),
    passSlot(`${p}_pass_header`, all, TAKE1, level, 'passHeaders', addStr, { default: [], accumulate: true, help: 'upstream header passed on anyway' }),
    passSlot(`${p}_hide_header`, all, TAKE1, level, 'hideHeaders', addStr, { default: [], accumulate: true, help: 'upstream header not passed on' }),
    passSlot(`${p}_ignore_headers`, all, ONE_OR_MORE, level, 'ignoreHeaders', setBitmask(IGNORE_HEADERS), {
      default: [],
      accumulate: true,
      help: 'upstream headers not acted on',
    }),
    passSlot(`${p}_intercept_errors`, all, FLAG, level, 'interceptErrors', setFlag, { default: false, help: 'error_page for upstream errors' }),
    passSlot(`${p}_pass_request_headers`, all, FLAG, level, 'passRequestHeaders', setFlag, { default: true, help: 'pass the request headers' }),
    passSlot(`${p}_pass_request_body`, all, FLAG, level, 'passRequestBody', setFlag, { default: true, help: 'pass the request body' }),
    passSlot(`${p}_ignore_client_abort`, all, FLAG, level, 'ignoreClientAbort', setFlag, { default: false, help: 'finish when the client leaves' }),
    passSlot(`${p}_limit_rate`, all, TAKE1, level, 'limitRate', setSize, { default: 0, help: 'read rate limit (0: none)' }),
    passSlot(`${p}_force_ranges`, all, FLAG, level, 'forceRanges', setFlag, { default: false, help: 'byte ranges on any response' }),
    passSlot(`${p}_store`, all, TAKE1, level, 'store', parseStore, { default: null, help: 'save responses to disk' }),
    passSlot(`${p}_store_access`, all, TAKE123, level, 'storeAccess', parseAccess, { default: ['user:rw'], help: 'permissions of stored files' }),
    passSlot(`${p}_cache`, all, TAKE1, level, 'cache', parseCache, { default: null, help: 'cache zone (stored, not used yet)' }),
    passSlot(`${p}_cache_key`, all, TAKE1, level, 'cacheKey', (d, cx) => {
      cx.useVariables(d, arg(d));
      return arg(d);
    }, { default: null, help: 'cache key' }),
    passSlot(`${p}_cache_valid`, all, ONE_OR_MORE, level, 'cacheValid', addArgs, { default: [], accumulate: true, help: 'cache times by status' }),
    slot(`${p}_cache_path`, Context.Http, TWO_OR_MORE, 'http', 'cachePaths', (d, cx, previous) => [
      ...(previous ?? []),
      { module: level, path: cx.fullPath(arg(d)), params: d.args.slice(1) },
    ], { default: [], accumulate: true, help: 'cache directory and zone (stored, not used yet)' }),
  ];
}

/** `proxy_redirect default | off | REPLACED REPLACEMENT`: `off` excludes any other at the level. */
function addRedirect(d: Directive, cx: DirectiveContext, previous: readonly (readonly string[])[] | undefined): string[][] {
  const isOff = (list: readonly (readonly string[])[] | undefined) => list?.length === 1 && list[0]![0] === 'off';
  if (isOff(previous)) throw cx.directiveError(d, 'is duplicate', NginxConfigErrorCode.Duplicate);
  const first = arg(d, 0);
  if (d.args.length === 1) {
    if (first === 'off') {
      if (previous?.length) throw cx.directiveError(d, 'is duplicate', NginxConfigErrorCode.Duplicate);
      return [['off']];
    }
    if (first !== 'default') throw cx.error(d, `invalid parameter "${first}"`);
    // `default` means "the proxy_pass URL", so it needs the proxy_pass already read.
    const pass = cx.raw('proxy').pass;
    if (pass?.hasVariables) throw cx.error(d, '"proxy_redirect default" cannot be used with "proxy_pass" directive with variables');
    if (!pass) throw cx.error(d, '"proxy_redirect default" should be placed after the "proxy_pass" directive');
  }
  for (const value of d.args) cx.useVariables(d, value);
  return [...(previous ?? []).map((r) => [...r]), [...d.args]];
}

const LOC_AND_IF = Context.Location | Context.LocationIf;

export const PASS_DIRECTIVES: readonly DirectiveSpec[] = [
  ...passDirectives('proxy', LOC_AND_IF | Context.LimitExcept),
  slot('proxy_set_header', HTTP_SRV_LOC, TAKE2, 'proxy', 'setHeaders', addParam, {
    default: [],
    accumulate: true,
    help: 'request header sent upstream (inherited only where none is set)',
  }),
  slot('proxy_http_version', HTTP_SRV_LOC, TAKE1, 'proxy', 'httpVersion', setEnum(['1.0', '1.1']), { default: '1.0', help: 'HTTP version to upstreams' }),
  slot('proxy_redirect', HTTP_SRV_LOC, TAKE12, 'proxy', 'redirect', addRedirect, {
    default: [['default']],
    accumulate: true,
    help: 'rewrite Location and Refresh headers',
  }),
  slot('proxy_set_body', HTTP_SRV_LOC, TAKE1, 'proxy', 'setBody', (d, cx) => {
    cx.useVariables(d, arg(d));
    return arg(d);
  }, { default: null, help: 'request body sent upstream' }),
  slot('proxy_method', HTTP_SRV_LOC, TAKE1, 'proxy', 'method', (d, cx) => {
    cx.useVariables(d, arg(d));
    return arg(d);
  }, { default: null, help: 'request method sent upstream' }),
  slot('proxy_cookie_domain', HTTP_SRV_LOC, TAKE12, 'proxy', 'cookieDomain', addArgs, { default: [], accumulate: true, help: 'rewrite Set-Cookie domains' }),
  slot('proxy_cookie_path', HTTP_SRV_LOC, TAKE12, 'proxy', 'cookiePath', addArgs, { default: [], accumulate: true, help: 'rewrite Set-Cookie paths' }),
  slot('proxy_headers_hash_max_size', HTTP_SRV_LOC, TAKE1, 'proxy', 'headersHashMaxSize', setNum, { default: 512, help: 'headers hash size' }),
  slot('proxy_headers_hash_bucket_size', HTTP_SRV_LOC, TAKE1, 'proxy', 'headersHashBucketSize', setNum, { default: 64, help: 'headers hash bucket size' }),
  slot('proxy_send_lowat', HTTP_SRV_LOC, TAKE1, 'proxy', 'sendLowat', setSize, { default: 0, help: 'SO_SNDLOWAT upstream' }),
  ...passDirectives('uwsgi', LOC_AND_IF),
  slot('uwsgi_param', HTTP_SRV_LOC, TAKE23, 'uwsgi', 'params', addParam, {
    default: [],
    accumulate: true,
    help: 'uwsgi variable sent (inherited only where none is set)',
  }),
  slot('uwsgi_modifier1', HTTP_SRV_LOC, TAKE1, 'uwsgi', 'modifier1', setNum, { default: 0, help: 'packet modifier1 (0: WSGI)' }),
  slot('uwsgi_modifier2', HTTP_SRV_LOC, TAKE1, 'uwsgi', 'modifier2', setNum, { default: 0, help: 'packet modifier2' }),
  slot('uwsgi_string', HTTP_SRV_LOC, TAKE1, 'uwsgi', 'string', (d) => arg(d), { default: null, help: 'string appended to the packet' }),
  ...passDirectives('fastcgi', LOC_AND_IF),
  slot('fastcgi_param', HTTP_SRV_LOC, TAKE23, 'fastcgi', 'params', addParam, {
    default: [],
    accumulate: true,
    help: 'FastCGI parameter sent (inherited only where none is set)',
  }),
  slot('fastcgi_index', HTTP_SRV_LOC, TAKE1, 'fastcgi', 'index', (d) => arg(d), { default: null, help: 'file name appended to a URI ending in /' }),
  slot('fastcgi_split_path_info', HTTP_SRV_LOC, TAKE1, 'fastcgi', 'splitPathInfo', (d, cx) => {
    checkRegex(d, cx, arg(d), false);
    return arg(d);
  }, { default: null, help: 'regex splitting $fastcgi_script_name and $fastcgi_path_info' }),
  slot('fastcgi_keep_conn', HTTP_SRV_LOC, FLAG, 'fastcgi', 'keepConn', setFlag, { default: false, help: 'keep FastCGI connections open' }),
  slot('fastcgi_catch_stderr', HTTP_SRV_LOC, TAKE1, 'fastcgi', 'catchStderr', addStr, { default: [], accumulate: true, help: 'stderr text meaning failure' }),
  slot('fastcgi_send_lowat', HTTP_SRV_LOC, TAKE1, 'fastcgi', 'sendLowat', setSize, { default: 0, help: 'SO_SNDLOWAT upstream' }),
  ...passDirectives('scgi', LOC_AND_IF),
  slot('scgi_param', HTTP_SRV_LOC, TAKE23, 'scgi', 'params', addParam, {
    default: [],
    accumulate: true,
    help: 'SCGI header sent (inherited only where none is set)',
  }),
];
