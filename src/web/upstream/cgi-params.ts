/**
 * The CGI variables the uwsgi, FastCGI and SCGI modules send, as nginx's `*_create_request`
 * builds them (ngx_http_uwsgi_module.c, ngx_http_fastcgi_module.c, ngx_http_scgi_module.c):
 *
 *   1. the `*_param`s in force, in order, each value expanded for this request; an
 *      `if_not_empty` one is left out when it expands to '';
 *   2. with `*_pass_request_headers on`, every request header line as HTTP_NAME (upper case,
 *      `-` as `_`), except those a `*_param HTTP_NAME` names: the param wins even when
 *      `if_not_empty` left it out, since nginx decides that from the configuration.
 *
 * The inheritance of `*_param` (a level that sets none takes its parent's list whole) is the
 * configuration's (src/web/config/merge.ts: accumulated at one level, inherited as one value).
 */
import type { PassParam } from '../config/index.js';
import type { RequestContext } from '../request-context.js';

const HTTP_PREFIX = 'HTTP_';
const LOWER_A = 0x61;
const LOWER_Z = 0x7a;
const DASH = 0x2d;

/** `X-Forwarded-For` → `HTTP_X_FORWARDED_FOR`, nginx's byte loop (other bytes are kept). */
export function cgiHeaderName(name: string): string {
  let out = HTTP_PREFIX;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c >= LOWER_A && c <= LOWER_Z) out += String.fromCharCode(c - 0x20);
    else if (c === DASH) out += '_';
    else out += name[i];
  }
  return out;
}

/** The header names (as HTTP_ vars) a param list overrides; computed once per list. */
const overriddenCache = new WeakMap<readonly PassParam[], ReadonlySet<string>>();

function overridden(params: readonly PassParam[]): ReadonlySet<string> {
  let set = overriddenCache.get(params);
  if (set === undefined) {
    const names = new Set<string>();
    // nginx compares case-insensitively (a hash of the lower-cased name).
    for (const param of params) {
      const key = param.key.toUpperCase();
      if (key.length > HTTP_PREFIX.length && key.startsWith(HTTP_PREFIX)) names.add(key);
    }
    set = names;
    overriddenCache.set(params, set);
  }
  return set;
}

export interface CgiVarsOptions {
  readonly params: readonly PassParam[];
  readonly passRequestHeaders: boolean;
  /** SCGI allows a name once: repeated headers are joined (`, `; `; ` for Cookie), as nginx >= 1.23
   *  does for every module. uwsgi and FastCGI get each line, as nginx 1.22 sends them. */
  readonly mergeRepeatedHeaders: boolean;
}

/** Flat [name, value, ...] for the request. */
export function buildCgiVars(ctx: RequestContext, options: CgiVarsOptions): string[] {
  const vars: string[] = [];
  const variables = ctx.modules.variables;
  for (const param of options.params) {
    const value = param.value.includes('$') ? variables.expand(ctx, param.value) : param.value;
    if (param.ifNotEmpty && value === '') continue;
    vars.push(param.key, value);
  }
  if (!options.passRequestHeaders) return vars;
  const skip = overridden(options.params);
  if (!options.mergeRepeatedHeaders) {
    for (const [name, value] of ctx.headers.list) {
      const key = cgiHeaderName(name);
      if (!skip.has(key)) vars.push(key, value);
    }
    return vars;
  }
  const merged = new Map<string, string>();
  for (const [name, value] of ctx.headers.list) {
    const key = cgiHeaderName(name);
    if (skip.has(key)) continue;
    const before = merged.get(key);
    merged.set(key, before === undefined ? value : `${before}${key === 'HTTP_COOKIE' ? '; ' : ', '}${value}`);
  }
  for (const [key, value] of merged) vars.push(key, value);
  return vars;
}
