/**
 * ngx_http_upstream_module and the balancers (round robin, least_conn, ip_hash, hash, random,
 * keepalive, zone): `upstream NAME { server ...; }`, and the groups nginx makes on its own for a
 * `*_pass ADDRESS` (`ngx_http_upstream_add` in src/http/ngx_http_upstream.c).
 */
import type { Directive } from '../parser.js';
import { NginxConfigError, NginxConfigErrorCode } from '../errors.js';
import { parseUrl, type ParsedUrl } from '../address.js';
import type { UpstreamBuilder } from '../builders.js';
import type { BalancerConf, UpstreamServer } from '../types.js';
import { Context, NOARGS, ONE_OR_MORE, TAKE1, TAKE12, custom, fieldOf, slot, take, type DirectiveContext, type DirectiveSpec } from './spec.js';
import { arg, atoi, parseSize, parseTime, setMsec, setNum } from './setters.js';

type ServerParameter = 'weight' | 'max_conns' | 'max_fails' | 'fail_timeout' | 'down' | 'backup';
const ALL_PARAMETERS: readonly ServerParameter[] = ['weight', 'max_conns', 'max_fails', 'fail_timeout', 'down', 'backup'];

const PAGE_SIZE = 4096;

/**
 * `ngx_http_upstream_add`: finds the group a name refers to, or makes one. `block` is true for an
 * `upstream` block (nginx's NGX_HTTP_UPSTREAM_CREATE).
 */
export function findOrAddUpstream(
  d: Directive,
  cx: DirectiveContext,
  url: { host: string; port: number; noPort: boolean; parsed: ParsedUrl | null },
  block: boolean,
): UpstreamBuilder {
  const http = cx.builders.http!;
  for (const existing of http.upstreams) {
    if (existing.name.toLowerCase() !== url.host.toLowerCase()) continue;
    if (block && !existing.implicit) throw cx.error(d, `duplicate upstream "${url.host}"`, NginxConfigErrorCode.Duplicate);
    if (!existing.implicit && !url.noPort) throw cx.error(d, `upstream "${url.host}" may not have port ${url.port}`);
    if (block && !existing.noPort) {
      // nginx names the `*_pass` that made the group, not the `upstream` line.
      const origin = { kind: 'file' as const, file: existing.position.file ?? '', line: existing.position.line };
      throw new NginxConfigError(NginxConfigErrorCode.InvalidValue, `upstream "${url.host}" may not have port ${existing.port}`, origin);
    }
    if (existing.port && url.port && existing.port !== url.port) continue;
    if (block) {
      existing.implicit = false;
      existing.port = 0;
      existing.supports = new Set(ALL_PARAMETERS);
    }
    return existing;
  }
  const builder: UpstreamBuilder = {
    name: url.host,
    position: { file: d.file, line: d.line },
    ups: {},
    servers: [],
    implicit: !block,
    port: url.port,
    noPort: url.noPort,
    supports: new Set(ALL_PARAMETERS),
    balancerSet: false,
  };
  const parsed = url.parsed;
  // nginx makes the one server of an address group now; a host name is resolved when http {} ends.
  if (!block && parsed && !parsed.needsResolve && (parsed.port || parsed.address.kind === 'unix')) {
    builder.servers.push({
      name: parsed.address.text,
      address: parsed.address,
      weight: 1,
      maxConns: 0,
      maxFails: 1,
      failTimeoutSec: 10,
      backup: false,
      down: false,
      position: { file: d.file, line: d.line },
    });
  }
  http.upstreams.push(builder);
  return builder;
}

function applyUpstream(d: Directive, cx: DirectiveContext): void {
  const upstream = findOrAddUpstream(d, cx, { host: arg(d), port: 0, noPort: true, parsed: null }, true);
  cx.evaluateBlock(d, Context.Upstream, (frame) => {
    frame.setBuilders({ upstream });
    frame.setLevels({ ups: upstream.ups });
  });
  if (upstream.servers.length === 0) throw cx.error(d, 'no servers are inside upstream');
}

/** `ngx_http_upstream_server`. */
function applyServer(d: Directive, cx: DirectiveContext): void {
  const upstream = cx.builders.upstream!;
  let weight = 1;
  let maxConns = 0;
  let maxFails = 1;
  let failTimeoutSec = 10;
  let backup = false;
  let down = false;
  for (const word of d.args.slice(1)) {
    const notSupported = (parameter: ServerParameter) => {
      if (!upstream.supports.has(parameter)) throw cx.error(d, `balancing method does not support parameter "${word}"`);
    };
    const invalid = () => cx.error(d, `invalid parameter "${word}"`);
    if (word.startsWith('weight=')) {
      notSupported('weight');
      const n = atoi(word.slice(7));
      if (n === null || n === 0) throw invalid();
      weight = n;
    } else if (word.startsWith('max_conns=')) {
      notSupported('max_conns');
      const n = atoi(word.slice(10));
      if (n === null) throw invalid();
      maxConns = n;
    } else if (word.startsWith('max_fails=')) {
      notSupported('max_fails');
      const n = atoi(word.slice(10));
      if (n === null) throw invalid();
      maxFails = n;
    } else if (word.startsWith('fail_timeout=')) {
      notSupported('fail_timeout');
      const t = parseTime(word.slice(13), true);
      if (t === null) throw invalid();
      failTimeoutSec = t;
    } else if (word === 'backup') {
      notSupported('backup');
      backup = true;
    } else if (word === 'down') {
      notSupported('down');
      down = true;
    } else {
      throw invalid();
    }
  }
  const url = arg(d, 0);
  const parsed = parseUrl(url, { defaultPort: 80 });
  if ('err' in parsed) throw cx.error(d, `${parsed.err} in upstream "${url}"`);
  const server: UpstreamServer = {
    name: url,
    address: parsed.address,
    weight,
    maxConns,
    maxFails,
    failTimeoutSec,
    backup,
    down,
    position: { file: d.file, line: d.line },
  };
  upstream.servers.push(server);
}

/** A balancer directive: nginx replaces the previous method (and with it a `keepalive` written before). */
function setBalancer(d: Directive, cx: DirectiveContext, balancer: BalancerConf, supports: readonly ServerParameter[]): void {
  const upstream = cx.builders.upstream!;
  if (upstream.balancerSet || upstream.ups.keepalive !== undefined) {
    cx.warn(d, 'load balancing method redefined');
    if (upstream.ups.keepalive !== undefined) {
      cx.warn(d, `"keepalive" before "${d.name}" is dropped, as nginx drops it; write "keepalive" after the balancing method`, false);
      delete upstream.ups.keepalive;
    }
  }
  upstream.balancerSet = true;
  upstream.supports = new Set(supports);
  upstream.ups.balancer = balancer;
}

const WITHOUT_BACKUP: readonly ServerParameter[] = ['weight', 'max_conns', 'max_fails', 'fail_timeout', 'down'];

function applyHash(d: Directive, cx: DirectiveContext): void {
  const key = arg(d, 0);
  cx.useVariables(d, key);
  const option = d.args[1];
  if (option !== undefined && option !== 'consistent') throw cx.error(d, `invalid parameter "${option}"`);
  setBalancer(d, cx, { method: 'hash', key, consistent: option === 'consistent' }, WITHOUT_BACKUP);
}

function applyRandom(d: Directive, cx: DirectiveContext): void {
  const [first, second] = d.args;
  if (first !== undefined && first !== 'two') throw cx.error(d, `invalid parameter "${first}"`);
  if (second !== undefined && second !== 'least_conn') throw cx.error(d, `invalid parameter "${second}"`);
  setBalancer(d, cx, { method: 'random', two: first === 'two', twoMethod: second === 'least_conn' ? 'least_conn' : null }, WITHOUT_BACKUP);
}

function applyKeepalive(d: Directive, cx: DirectiveContext): void {
  const upstream = cx.builders.upstream!;
  if (upstream.ups.keepalive !== undefined) throw cx.directiveError(d, 'is duplicate', NginxConfigErrorCode.Duplicate);
  const n = atoi(arg(d));
  if (n === null || n === 0) throw cx.error(d, `invalid value "${arg(d)}" in "${d.name}" directive`);
  upstream.ups.keepalive = n;
}

function applyZone(d: Directive, cx: DirectiveContext): void {
  const upstream = cx.builders.upstream!;
  if (upstream.ups.zone !== undefined) throw cx.directiveError(d, 'is duplicate', NginxConfigErrorCode.Duplicate);
  const name = arg(d, 0);
  let size: number | null = null;
  if (d.args.length === 2) {
    size = parseSize(arg(d, 1));
    if (size === null) throw cx.error(d, `invalid zone size "${arg(d, 1)}"`);
    if (size < 8 * PAGE_SIZE) throw cx.error(d, `zone "${name}" is too small`);
  }
  const zones = cx.builders.http!.zones;
  const existing = zones.get(name);
  if (existing && existing.module !== 'upstream') throw cx.error(d, `the shared memory zone "${name}" is already declared for a different use`);
  if (!existing) zones.set(name, { name, module: 'upstream', size: size ?? 0, key: null });
  upstream.ups.zone = { name, size };
}

export const UPSTREAM_DIRECTIVES: readonly DirectiveSpec[] = [
  custom('upstream', Context.Http, TAKE1, applyUpstream, { block: true, help: 'a group of servers to pass requests to' }),
  custom('server', Context.Upstream, ONE_OR_MORE, applyServer, {
    help: 'a member: ADDRESS [weight=N] [max_conns=N] [max_fails=N] [fail_timeout=T] [backup] [down]',
    slots: [fieldOf('ups', 'servers', [])],
  }),
  custom('zone', Context.Upstream, TAKE12, applyZone, { help: 'shared memory for the group state', slots: [fieldOf('ups', 'zone', null)] }),
  custom('keepalive', Context.Upstream, TAKE1, applyKeepalive, {
    help: 'idle connections kept open per worker',
    slots: [fieldOf('ups', 'keepalive', null)],
  }),
  slot('keepalive_requests', Context.Upstream, TAKE1, 'ups', 'keepaliveRequests', setNum, { default: 1000, help: 'requests per kept connection' }),
  slot('keepalive_time', Context.Upstream, TAKE1, 'ups', 'keepaliveTimeMs', setMsec, { default: 3600000, help: 'longest life of a kept connection' }),
  slot('keepalive_timeout', Context.Upstream, TAKE1, 'ups', 'keepaliveTimeoutMs', setMsec, { default: 60000, help: 'idle time of a kept connection' }),
  custom('least_conn', Context.Upstream, NOARGS, (d, cx) => setBalancer(d, cx, { method: 'least_conn' }, ALL_PARAMETERS), {
    help: 'pick the server with the fewest active connections',
    slots: [fieldOf('ups', 'balancer', { method: 'round-robin' })],
  }),
  custom('ip_hash', Context.Upstream, NOARGS, (d, cx) => setBalancer(d, cx, { method: 'ip_hash' }, WITHOUT_BACKUP), {
    help: 'pick the server by the client address',
    slots: [fieldOf('ups', 'balancer', { method: 'round-robin' })],
  }),
  custom('hash', Context.Upstream, TAKE12, applyHash, {
    help: 'pick the server by a key [consistent]',
    slots: [fieldOf('ups', 'balancer', { method: 'round-robin' })],
  }),
  custom('random', Context.Upstream, take(0, 1, 2), applyRandom, {
    help: 'pick a random server [two [least_conn]]',
    slots: [fieldOf('ups', 'balancer', { method: 'round-robin' })],
  }),
];
