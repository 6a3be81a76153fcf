/**
 * Which group a request goes to (ngx_http_upstream_init_request): the group the configuration
 * named, or for a `*_pass` with variables, the expanded value looked up as an `upstream` block's
 * name and otherwise taken as an address, which nginx turns into a group of one server for this
 * request (ngx_http_upstream_create_round_robin_peer). nginx needs a `resolver` for a host name
 * there; tsgi lets the connection resolve it.
 */
import type { PassTarget, PeerAddress, UpstreamServer } from '../config/index.js';
import { parseUrl } from '../config/address.js';
import type { UpstreamGroup } from './types.js';
import { createUpstreamGroup } from './balancer/index.js';

export type ResolvedTarget = { readonly group: UpstreamGroup } | { readonly error: string };

const SCHEMES = /^(?:https?|s?uwsgi):\/\//i;

/** Finds the group for `url` (already expanded). */
export function resolveTarget(target: PassTarget, expanded: string, groups: ReadonlyMap<string, UpstreamGroup>): ResolvedTarget {
  if (!target.hasVariables) {
    const group = target.upstream === null ? undefined : groups.get(target.upstream);
    return group === undefined ? { error: `no upstream "${target.url}"` } : { group };
  }
  const rest = expanded.replace(SCHEMES, '');
  const slash = rest.indexOf('/', rest.startsWith('unix:') ? rest.length : 0);
  const host = slash < 0 ? rest : rest.slice(0, slash);
  for (const group of groups.values()) {
    // Only `upstream` blocks are found by name, as nginx matches `uscf->host` of explicit groups.
    if (!group.conf.implicit && group.conf.name.toLowerCase() === host.toLowerCase()) return { group };
  }
  const parsed = parseUrl(host, { uriPart: false, defaultPort: target.scheme === 'http' ? 80 : 0 });
  if ('err' in parsed) return { error: `${parsed.err} in upstream "${host}"` };
  if (parsed.address.kind === 'tcp' && parsed.port === 0) return { error: `no port in upstream "${host}"` };
  const address: PeerAddress = parsed.needsResolve
    ? { kind: 'tcp', host: parsed.host, port: parsed.port, ipVersion: 0, text: `${parsed.host}:${parsed.port}` }
    : parsed.address;
  return { group: singleServerGroup(address) };
}

/** A group of one server (no failure accounting, as nginx's for one address). */
function singleServerGroup(address: PeerAddress): UpstreamGroup {
  const position = { file: null, line: 0 };
  const server: UpstreamServer = { name: address.text, address, weight: 1, maxConns: 0, maxFails: 1, failTimeoutSec: 10, backup: false, down: false, position };
  return createUpstreamGroup({
    name: address.text,
    implicit: true,
    position,
    servers: [server],
    balancer: { method: 'round-robin' },
    keepalive: null,
    keepaliveRequests: 1000,
    keepaliveTimeMs: 3_600_000,
    keepaliveTimeoutMs: 60_000,
    zone: null,
  });
}
