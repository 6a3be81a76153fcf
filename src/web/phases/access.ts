/**
 * The ACCESS phase's `allow` / `deny` (ngx_http_access_module.c): the rules of the location in
 * force are checked in order and the first that matches the client address decides; no match
 * allows. A denial is logged ("access forbidden by rule") and answered 403.
 *
 *   allow 192.168.1.0/24;  allow 2001:db8::/32;  deny all;     clients of the two nets only
 *   deny 10.0.0.1;  allow all;                                  everyone but one address
 *   allow unix:;  deny all;                                     only clients of UNIX sockets
 *
 * An IPv4 client seen on an IPv6 socket (`::ffff:10.0.0.1`) is matched against the IPv4 rules,
 * as nginx does. `satisfy any` only matters with a second access module (auth_basic, not in
 * tsgi yet): with allow/deny alone both settings behave the same.
 */
import { BlockList, isIPv4 } from 'node:net';
import type { AccessRule } from '../config/index.js';
import type { PhaseResult, RequestContext } from '../request-context.js';

interface CompiledRule {
  readonly allow: boolean;
  /** null: `all`; 'unix': `unix:`; else the net. */
  readonly net: BlockList | 'unix' | null;
  readonly family: 'ipv4' | 'ipv6' | null;
}

const compiled = new WeakMap<readonly AccessRule[], readonly CompiledRule[]>();

function compile(rules: readonly AccessRule[]): readonly CompiledRule[] {
  let list = compiled.get(rules);
  if (list !== undefined) return list;
  list = rules.map((rule): CompiledRule => {
    const allow = rule.action === 'allow';
    if (rule.cidr === null) return { allow, net: rule.address === 'unix:' ? 'unix' : null, family: null };
    const family = rule.cidr.ipVersion === 4 ? 'ipv4' : 'ipv6';
    const net = new BlockList();
    net.addSubnet(rule.cidr.address, rule.cidr.prefixLength, family);
    return { allow, net, family };
  });
  compiled.set(rules, list);
  return list;
}

const MAPPED_PREFIX = '::ffff:';

/** The address and family a client is matched as. */
function clientAddress(remote: string): { address: string; family: 'ipv4' | 'ipv6' | 'unix' } {
  if (remote === 'unix:') return { address: remote, family: 'unix' };
  if (remote.toLowerCase().startsWith(MAPPED_PREFIX) && isIPv4(remote.slice(MAPPED_PREFIX.length))) {
    return { address: remote.slice(MAPPED_PREFIX.length), family: 'ipv4' };
  }
  return { address: remote, family: isIPv4(remote) ? 'ipv4' : 'ipv6' };
}

/** Whether `rules` let the client in: true, or the rule that denied it. */
export function accessAllowed(rules: readonly AccessRule[], remoteAddr: string): boolean {
  const client = clientAddress(remoteAddr);
  for (const rule of compile(rules)) {
    if (rule.net === null) return rule.allow;
    if (rule.net === 'unix') {
      if (client.family === 'unix') return rule.allow;
      continue;
    }
    if (client.family !== rule.family) continue;
    if (rule.net.check(client.address, rule.family)) return rule.allow;
  }
  return true;
}

/** The ACCESS phase handler for allow/deny. */
export function accessPhase(ctx: RequestContext): PhaseResult {
  const rules = ctx.loc.settings.access;
  if (rules.length === 0 || accessAllowed(rules, ctx.connection.remoteAddr)) return { kind: 'next' };
  ctx.log('error', 'access forbidden by rule');
  return { kind: 'status', status: 403 };
}
