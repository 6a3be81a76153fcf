/**
 * Who may ask, and how often: ngx_http_access_module (`allow`, `deny`), ngx_http_auth_basic_module,
 * ngx_http_limit_req_module, ngx_http_limit_conn_module, ngx_http_realip_module.
 */
import type { Directive } from '../parser.js';
import { NginxConfigErrorCode } from '../errors.js';
import { parseCidr } from '../address.js';
import type { SharedZone } from '../builders.js';
import type { AccessRule, LimitConnEntry, LimitReqEntry } from '../types.js';
import { Context, FLAG, HTTP_SRV_LOC, TAKE1, TAKE123, TAKE2, TAKE3, custom, fieldOf, slot, type DirectiveContext, type DirectiveSpec } from './spec.js';
import { arg, atoi, parseSize, setEnum, setFlag, setNumBetween, addStr } from './setters.js';

/** nginx's `ngx_pagesize`: limit zones must hold at least 8 pages. */
const PAGE_SIZE = 4096;

function addRule(d: Directive, cx: DirectiveContext, previous: readonly AccessRule[] | undefined): AccessRule[] {
  const address = arg(d);
  const action = d.name === 'allow' ? 'allow' : 'deny';
  let cidr: AccessRule['cidr'] = null;
  if (address !== 'all' && address !== 'unix:') {
    const parsed = parseCidr(address);
    if (!parsed) throw cx.error(d, `invalid parameter "${address}"`);
    if (parsed.hostBitsSet) cx.warn(d, `low address bits of ${address} are meaningless`);
    cidr = { ipVersion: parsed.ipVersion, address: parsed.address, prefixLength: parsed.prefixLength };
  }
  return [...(previous ?? []), { action, address, cidr }];
}

/** `ngx_shared_memory_add`: one namespace of zone names across modules. */
function sharedZone(d: Directive, cx: DirectiveContext, name: string, size: number, module: string): SharedZone {
  const zones = cx.builders.http!.zones;
  const existing = zones.get(name);
  if (!existing) {
    const zone: SharedZone = { name, module, size, key: null };
    zones.set(name, zone);
    return zone;
  }
  if (existing.module !== module) throw cx.error(d, `the shared memory zone "${name}" is already declared for a different use`);
  if (existing.size === 0) existing.size = size;
  if (size && size !== existing.size) {
    throw cx.error(d, `the size ${size} of shared memory zone "${name}" conflicts with already declared size ${existing.size}`);
  }
  return existing;
}

/** `zone=NAME:SIZE` of limit_req_zone and limit_conn_zone. */
function zoneParameter(d: Directive, cx: DirectiveContext, word: string): { name: string; size: number } {
  const value = word.slice('zone='.length);
  const colon = value.indexOf(':');
  if (colon === -1) throw cx.error(d, `invalid zone size "${word}"`);
  const size = parseSize(value.slice(colon + 1));
  if (size === null) throw cx.error(d, `invalid zone size "${word}"`);
  if (size < 8 * PAGE_SIZE) throw cx.error(d, `zone "${word}" is too small`);
  return { name: value.slice(0, colon), size };
}

function applyLimitReqZone(d: Directive, cx: DirectiveContext): void {
  const key = arg(d, 0);
  cx.useVariables(d, key);
  let zone: { name: string; size: number } | null = null;
  let ratePerSecond = 1;
  for (const word of d.args.slice(1)) {
    if (word.startsWith('zone=')) {
      zone = zoneParameter(d, cx, word);
      continue;
    }
    if (word.startsWith('rate=')) {
      let text = word.slice('rate='.length);
      let scale = 1;
      if (text.endsWith('r/s')) text = text.slice(0, -3);
      else if (text.endsWith('r/m')) {
        text = text.slice(0, -3);
        scale = 60;
      }
      const rate = atoi(text);
      if (rate === null || rate <= 0) throw cx.error(d, `invalid rate "${word}"`);
      ratePerSecond = rate / scale;
      continue;
    }
    throw cx.error(d, `invalid parameter "${word}"`);
  }
  if (!zone) throw cx.error(d, `"${d.name}" must have "zone" parameter`);
  const shared = sharedZone(d, cx, zone.name, zone.size, 'limit_req');
  if (shared.key !== null) throw cx.error(d, `${d.name} "${zone.name}" is already bound to key "${shared.key}"`);
  shared.key = key;
  const raw = cx.raw('http');
  raw.limitReqZones = new Map(raw.limitReqZones ?? []).set(zone.name, {
    name: zone.name,
    key,
    size: zone.size,
    ratePerSecond,
    position: { file: d.file, line: d.line },
  });
}

function addLimitReq(d: Directive, cx: DirectiveContext, previous: readonly LimitReqEntry[] | undefined): LimitReqEntry[] {
  let zone: string | null = null;
  let burst = 0;
  let delay: number | 'nodelay' = 0;
  for (const word of d.args) {
    if (word.startsWith('zone=')) {
      zone = word.slice('zone='.length);
      sharedZone(d, cx, zone, 0, 'limit_req');
      continue;
    }
    if (word.startsWith('burst=')) {
      const n = atoi(word.slice('burst='.length));
      if (n === null || n <= 0) throw cx.error(d, `invalid burst value "${word}"`);
      burst = n;
      continue;
    }
    if (word.startsWith('delay=')) {
      const n = atoi(word.slice('delay='.length));
      if (n === null || n <= 0) throw cx.error(d, `invalid delay value "${word}"`);
      delay = n;
      continue;
    }
    if (word === 'nodelay') {
      delay = 'nodelay';
      continue;
    }
    throw cx.error(d, `invalid parameter "${word}"`);
  }
  if (zone === null) throw cx.error(d, `"${d.name}" must have "zone" parameter`);
  if ((previous ?? []).some((entry) => entry.zone === zone)) throw cx.directiveError(d, 'is duplicate', NginxConfigErrorCode.Duplicate);
  return [...(previous ?? []), { zone, burst, delay }];
}

function applyLimitConnZone(d: Directive, cx: DirectiveContext): void {
  const key = arg(d, 0);
  cx.useVariables(d, key);
  let zone: { name: string; size: number } | null = null;
  for (const word of d.args.slice(1)) {
    if (word.startsWith('zone=')) {
      zone = zoneParameter(d, cx, word);
      continue;
    }
    throw cx.error(d, `invalid parameter "${word}"`);
  }
  if (!zone) throw cx.error(d, `"${d.name}" must have "zone" parameter`);
  const shared = sharedZone(d, cx, zone.name, zone.size, 'limit_conn');
  if (shared.key !== null) throw cx.error(d, `${d.name} "${zone.name}" is already bound to key "${shared.key}"`);
  shared.key = key;
  const raw = cx.raw('http');
  raw.limitConnZones = new Map(raw.limitConnZones ?? []).set(zone.name, {
    name: zone.name,
    key,
    size: zone.size,
    position: { file: d.file, line: d.line },
  });
}

function addLimitConn(d: Directive, cx: DirectiveContext, previous: readonly LimitConnEntry[] | undefined): LimitConnEntry[] {
  const zone = arg(d, 0);
  sharedZone(d, cx, zone, 0, 'limit_conn');
  if ((previous ?? []).some((entry) => entry.zone === zone)) throw cx.directiveError(d, 'is duplicate', NginxConfigErrorCode.Duplicate);
  const n = atoi(arg(d, 1));
  if (n === null || n <= 0) throw cx.error(d, `invalid number of connections "${arg(d, 1)}"`);
  if (n > 65535) throw cx.error(d, 'connection limit must be less 65536');
  return [...(previous ?? []), { zone, number: n }];
}

/** `auth_basic off | REALM` (a template). */
function setRealm(d: Directive, cx: DirectiveContext): string | null {
  const value = arg(d);
  if (value === 'off') return null;
  cx.useVariables(d, value);
  return value;
}

function addRealIpFrom(d: Directive, cx: DirectiveContext, previous: readonly string[] | undefined): string[] {
  const value = arg(d);
  if (value !== 'unix:') {
    const cidr = parseCidr(value);
    if (cidr?.hostBitsSet) cx.warn(d, `low address bits of ${value} are meaningless`);
  }
  return addStr(d, cx, previous);
}

const LOG_LEVELS = ['info', 'notice', 'warn', 'error'] as const;
const ACCESS = HTTP_SRV_LOC | Context.LimitExcept;

export const ACCESS_DIRECTIVES: readonly DirectiveSpec[] = [
  slot('allow', ACCESS, TAKE1, 'loc', 'access', addRule, { default: [], accumulate: true, help: 'allow an address, network or all' }),
  slot('deny', ACCESS, TAKE1, 'loc', 'access', addRule, { default: [], accumulate: true, help: 'deny an address, network or all' }),
  slot('auth_basic', ACCESS, TAKE1, 'loc', 'authBasic', setRealm, { default: null, help: 'HTTP Basic authentication realm, or off' }),
  slot('auth_basic_user_file', ACCESS, TAKE1, 'loc', 'authBasicUserFile', (d, cx) => {
    cx.useVariables(d, arg(d));
    return arg(d);
  }, { default: null, help: 'htpasswd file' }),
  custom('limit_req_zone', Context.Http, TAKE3, applyLimitReqZone, {
    help: 'a request rate zone: KEY zone=NAME:SIZE rate=Nr/s',
    slots: [fieldOf('http', 'limitReqZones', new Map())],
  }),
  slot('limit_req', HTTP_SRV_LOC, TAKE123, 'loc', 'limitReq', addLimitReq, {
    default: [],
    accumulate: true,
    help: 'limit the request rate: zone=NAME [burst=N] [nodelay|delay=N]',
  }),
  slot('limit_req_status', HTTP_SRV_LOC, TAKE1, 'loc', 'limitReqStatus', setNumBetween(400, 599), { default: 503, help: 'status of rejected requests' }),
  slot('limit_req_log_level', HTTP_SRV_LOC, TAKE1, 'loc', 'limitReqLogLevel', setEnum(LOG_LEVELS), { default: 'error', help: 'log level of rejections' }),
  slot('limit_req_dry_run', HTTP_SRV_LOC, FLAG, 'loc', 'limitReqDryRun', setFlag, { default: false, help: 'count but do not reject' }),
  custom('limit_conn_zone', Context.Http, TAKE2, applyLimitConnZone, {
    help: 'a connection count zone: KEY zone=NAME:SIZE',
    slots: [fieldOf('http', 'limitConnZones', new Map())],
  }),
  slot('limit_conn', HTTP_SRV_LOC, TAKE2, 'loc', 'limitConn', addLimitConn, { default: [], accumulate: true, help: 'limit connections: ZONE NUMBER' }),
  slot('limit_conn_status', HTTP_SRV_LOC, TAKE1, 'loc', 'limitConnStatus', setNumBetween(400, 599), { default: 503, help: 'status of rejected requests' }),
  slot('limit_conn_log_level', HTTP_SRV_LOC, TAKE1, 'loc', 'limitConnLogLevel', setEnum(LOG_LEVELS), { default: 'error', help: 'log level of rejections' }),
  slot('limit_conn_dry_run', HTTP_SRV_LOC, FLAG, 'loc', 'limitConnDryRun', setFlag, { default: false, help: 'count but do not reject' }),
  slot('set_real_ip_from', HTTP_SRV_LOC, TAKE1, 'loc', 'realIpFrom', addRealIpFrom, {
    default: [],
    accumulate: true,
    help: 'trusted proxy addresses',
  }),
  slot('real_ip_header', HTTP_SRV_LOC, TAKE1, 'loc', 'realIpHeader', (d) => arg(d), { default: 'X-Real-IP', help: 'header with the client address' }),
  slot('real_ip_recursive', HTTP_SRV_LOC, FLAG, 'loc', 'realIpRecursive', setFlag, { default: false, help: 'skip trusted addresses recursively' }),
];
