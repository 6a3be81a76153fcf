/**
 * A configuration made ready to serve: which sockets to bind, which servers answer on each, and
 * each server's location matcher (nginx's ngx_http_optimize_servers and
 * ngx_http_init_static_location_trees, done once per configuration).
 *
 * Binding follows nginx: on a port where some server listens on the wildcard address
 * (`listen 80`), only the wildcard is bound, and a connection whose local address is one that
 * another server names explicitly (`listen 127.0.0.1:80`) is served by that address's servers.
 * UNIX sockets are bound one by one.
 *
 *   listen 80;  listen 127.0.0.1:80;  listen unix:/run/web.sock;
 *   binds 0.0.0.0:80 and /run/web.sock; a connection to 127.0.0.1:80 picks among the servers
 *   of 127.0.0.1:80, one to 10.0.0.5:80 among those of *:80.
 */
import { hostname } from 'node:os';
import type { ListenConf, LocationConf, NginxConfig, ServerConf } from '../config/index.js';
import { buildLocationMatcher, buildServerSelector, type LocationDef, type LocationMatcher, type ServerSelector } from '../match/index.js';

/** The servers of one listen address. */
export interface AddressGroup {
  /** nginx's text for the address: `127.0.0.1:8080`, `0.0.0.0:80`, `unix:/run/x.sock`. */
  readonly text: string;
  /** The listen carrying the socket options (backlog...). */
  readonly listen: ListenConf;
  readonly selector: ServerSelector<ServerConf>;
  /** The server requests go to before (or without) a Host: merge_slashes and the header buffers come from it. */
  readonly defaultServer: ServerConf;
}

/** One socket to bind. */
export interface BindTarget {
  /** `host:port` or a UNIX path, as the process module binds it. */
  readonly address: string;
  readonly text: string;
  readonly backlog: number;
  /** The group for connections whose local address has no group of its own. */
  readonly group: AddressGroup;
  /** For a wildcard: the groups of explicit addresses on the same port, by local IP. */
  readonly byLocalAddress: ReadonlyMap<string, AddressGroup>;
}

export class Site {
  readonly targets: readonly BindTarget[];
  private readonly matchers = new Map<ServerConf, LocationMatcher<LocationConf>>();

  constructor(readonly config: NginxConfig) {
    for (const server of config.servers) this.matchers.set(server, buildLocationMatcher(locationDefs(server.locations)));
    this.targets = bindTargets(config.servers);
  }

  matcher(server: ServerConf): LocationMatcher<LocationConf> {
    return this.matchers.get(server)!;
  }

  /** The group that serves a connection accepted on `target` with this local address. */
  groupFor(target: BindTarget, localAddress: string | undefined): AddressGroup {
    if (localAddress === undefined || target.byLocalAddress.size === 0) return target.group;
    const plain = localAddress.startsWith('::ffff:') ? localAddress.slice(7) : localAddress;
    return target.byLocalAddress.get(plain) ?? target.group;
  }
}

function hasPass(location: LocationConf): boolean {
  return [location.proxy.pass, location.uwsgi.pass, location.fastcgi.pass, location.scgi.pass].some((pass) => pass !== null);
}

function locationDefs(locations: readonly LocationConf[]): LocationDef<LocationConf>[] {
  return locations.map((location) => ({
    modifier: location.modifier,
    pattern: location.modifier === '@' ? location.name.slice(1) : location.name,
    children: locationDefs(location.locations),
    upstreamPass: hasPass(location),
    id: location,
  }));
}

/** server_name as written: the selector wants the `~` of a regex back. */
function writtenNames(server: ServerConf): string[] {
  return server.serverNames.map((name) => (name.kind === 'regex' ? `~${name.name}` : name.name));
}

interface PendingGroup {
  text: string;
  listen: ListenConf;
  servers: { server: ServerConf; defaultServer: boolean }[];
}

function familyPort(listen: ListenConf): string {
  return listen.address.kind === 'unix' ? `unix:${listen.address.path}` : `${listen.address.ipVersion === 6 ? 6 : 4}:${listen.address.port}`;
}

function bindAddress(listen: ListenConf): string {
  if (listen.address.kind === 'unix') return listen.address.path;
  const host = listen.address.host;
  return host.includes(':') ? `[${host}]:${listen.address.port}` : `${host}:${listen.address.port}`;
}

function makeGroup(pending: PendingGroup): AddressGroup {
  const selector = buildServerSelector(
    pending.servers.map(({ server, defaultServer }) => ({ names: writtenNames(server), defaultServer, id: server })),
    { address: pending.text, hostname: hostname() },
  );
  return { text: pending.text, listen: pending.listen, selector, defaultServer: selector.defaultServer.id };
}

function bindTargets(servers: readonly ServerConf[]): BindTarget[] {
  // Addresses in the order nginx meets them, each with its servers in config order.
  const groups = new Map<string, PendingGroup>();
  for (const server of servers) {
    for (const listen of server.listen) {
      let group = groups.get(listen.text);
      if (group === undefined) {
        group = { text: listen.text, listen, servers: [] };
        groups.set(listen.text, group);
      }
      // The listen with socket options (backlog...) is the one the socket is made from.
      if (!listen.implicit && listen.backlog !== group.listen.backlog) group.listen = listen;
      group.servers.push({ server, defaultServer: listen.defaultServer });
    }
  }
  const byPort = new Map<string, PendingGroup[]>();
  for (const group of groups.values()) {
    const key = familyPort(group.listen);
    byPort.set(key, [...(byPort.get(key) ?? []), group]);
  }
  const targets: BindTarget[] = [];
  for (const list of byPort.values()) {
    const wildcard = list.find((group) => group.listen.wildcard);
    if (wildcard === undefined) {
      for (const group of list) targets.push(target(group, new Map()));
      continue;
    }
    const byLocal = new Map<string, AddressGroup>();
    for (const group of list) {
      if (group === wildcard) continue;
      if (group.listen.bind) {
        targets.push(target(group, new Map()));
        continue;
      }
      if (group.listen.address.kind === 'tcp') byLocal.set(group.listen.address.host, makeGroup(group));
    }
    targets.push(target(wildcard, byLocal));
  }
  return targets;
}

function target(group: PendingGroup, byLocalAddress: Map<string, AddressGroup>): BindTarget {
  return { address: bindAddress(group.listen), text: group.text, backlog: group.listen.backlog, group: makeGroup(group), byLocalAddress };
}
