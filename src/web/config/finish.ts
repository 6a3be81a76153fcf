/**
 * What nginx does when it reaches the `}` of `http {}` (`ngx_http_block` in src/http/ngx_http.c),
 * in its order: merge server and location settings (checking the values that depend on each
 * other), check the implicit upstream groups, find duplicate locations, check that every variable
 * used exists, and sort out server names per address. The result is the typed `HttpConf`.
 */
import { NginxConfigError, NginxConfigErrorCode, makeWarning, type ConfigOrigin, type ConfigWarning } from './errors.js';
import type { Directive } from './parser.js';
import type { DefaultsEnv, PassLevel } from './directives.js';
import type { HttpBuilder, LocationBuilder, ServerBuilder, UpstreamBuilder } from './builders.js';
import { mergeLevel, mergeLocation } from './merge.js';
import type { HttpConf, LimitExceptConf, LocationConf, PassSettings, PerLocation, ServerConf, UpstreamConf } from './types.js';
import { isBuiltinVariable } from './variables.js';

/** The name an upstream group is found by in `HttpConf.upstreams` and `PassTarget.upstream`. */
export function upstreamKey(group: UpstreamBuilder): string {
  if (!group.implicit) return group.name;
  const only = group.servers.length === 1 ? group.servers[0] : undefined;
  return only ? only.address.text : `${group.name}:${group.port}`;
}

/** The merged locations of one level, depth first, as nginx merges them. */
interface Merged {
  readonly perLocation: PerLocation[];
}

function mergeLocations(list: readonly LocationBuilder[], parent: PerLocation, env: DefaultsEnv, merged: Merged): LocationConf[] {
  return list.map((builder) => {
    const own = mergeLocation(builder.levels, parent, env);
    merged.perLocation.push(own);
    for (const ifBlock of builder.ifs) {
      if (!ifBlock.levels) continue;
      const ifLoc = mergeLocation(ifBlock.levels, own, env);
      merged.perLocation.push(ifLoc);
      ifBlock.conf.loc = ifLoc;
    }
    let limitExcept: LimitExceptConf | null = null;
    if (builder.limitExcept) {
      const loc = mergeLocation(builder.limitExcept.levels, own, env);
      merged.perLocation.push(loc);
      limitExcept = { methods: builder.limitExcept.methods, loc };
    }
    const nested = mergeLocations(builder.locations, own, env, merged);
    return {
      ...own,
      settings: { ...own.settings, rewrite: builder.steps },
      modifier: builder.modifier,
      name: builder.name,
      caseless: builder.caseless,
      locations: nested,
      limitExcept,
      // *_pass is never inherited, so a pass here was written in this location.
      autoRedirect: builder.name.endsWith('/') && [own.proxy.pass, own.uwsgi.pass, own.fastcgi.pass, own.scgi.pass].some((pass) => pass !== null),
      position: { file: builder.directive.file, line: builder.directive.line },
    };
  });
}

/** ngx_http_proxy_merge_loc_conf and friends: buffer sizes that must agree with each other. */
function passBuffersError(prefix: PassLevel, s: PassSettings): string | null {
  if (s.buffers.number < 2) return `there must be at least 2 "${prefix}_buffers"`;
  const size = Math.max(s.bufferSize, s.buffers.size);
  const busy = s.busyBuffersSize ?? 2 * size;
  const one = `the maximum of the value of "${prefix}_buffer_size" and one of the "${prefix}_buffers"`;
  if (busy < size) return `"${prefix}_busy_buffers_size" must be equal to or greater than ${one}`;
  if (busy > (s.buffers.number - 1) * s.buffers.size) return `"${prefix}_busy_buffers_size" must be less than the size of all "${prefix}_buffers" minus one buffer`;
  const write = s.tempFileWriteSize ?? 2 * size;
  if (write < size) return `"${prefix}_temp_file_write_size" must be equal to or greater than ${one}`;
  const maxTemp = s.maxTempFileSize ?? 1024 * 1024 * 1024;
  if (maxTemp !== 0 && maxTemp < size) {
    return `"${prefix}_max_temp_file_size" must be equal to zero to disable temporary files usage or must be equal to or greater than ${one}`;
  }
  return null;
}

// ---- duplicate locations (ngx_http_init_locations + ngx_http_join_exact_locations) ----------------

const encoder = new TextEncoder();

/** strcmp on the UTF-8 bytes. */
function compareNames(a: string, b: string): number {
  return Buffer.compare(encoder.encode(a), encoder.encode(b));
}

function isRegex(l: LocationBuilder): boolean {
  return l.modifier === '~' || l.modifier === '~*';
}

/** `ngx_http_cmp_locations`: static ones by name (exact first), then regexes in order, then named ones by name. */
function compareLocations(a: LocationBuilder, b: LocationBuilder): number {
  const named = (l: LocationBuilder) => l.modifier === '@';
  if (named(a) !== named(b)) return named(a) ? 1 : -1;
  if (named(a)) return compareNames(a.name, b.name);
  if (isRegex(a) !== isRegex(b)) return isRegex(a) ? 1 : -1;
  if (isRegex(a)) return 0;
  const byName = compareNames(a.name, b.name);
  if (byName === 0 && a.modifier !== '=' && b.modifier === '=') return 1;
  if (byName === 0 && a.modifier === '=' && b.modifier !== '=') return -1;
  return byName;
}

function duplicateLocation(list: readonly LocationBuilder[]): NginxConfigError | null {
  // Array.prototype.sort is stable, like nginx's insertion sort.
  const sorted = [...list].sort(compareLocations);
  const statics = sorted.filter((l) => !isRegex(l) && l.modifier !== '@');
  for (const location of statics) {
    const found = duplicateLocation(location.locations);
    if (found) return found;
  }
  let current: { name: string; exact: boolean; inclusive: boolean } | null = null;
  for (const location of statics) {
    const exact = location.modifier === '=';
    if (current && current.name === location.name) {
      if ((current.exact && exact) || (current.inclusive && !exact)) {
        const d = location.directive;
        const origin: ConfigOrigin = { kind: 'file', file: d.file ?? '', line: d.line };
        return new NginxConfigError(NginxConfigErrorCode.Duplicate, `duplicate location "${location.name}"`, origin);
      }
      current.exact ||= exact;
      current.inclusive ||= !exact;
      continue;
    }
    current = { name: location.name, exact, inclusive: !exact };
  }
  return null;
}

// ---- server names per address (ngx_http_server_names) ------------------------------------------

/** A regex with capture groups (nginx's `cscf->captures`). */
function hasCaptures(pattern: string): boolean {
  return /(^|[^\\])\((?!\?)|\(\?P?<[A-Za-z_]|\(\?'[A-Za-z_]/.test(pattern);
}

function checkServerNames(http: HttpBuilder, warnings: ConfigWarning[]): void {
  for (const addresses of http.ports.values()) {
    // nginx sorts an address list with wildcards last and `bind` ones first; the sort is stable.
    for (const address of addresses) {
      // nginx only builds the names of an address shared by servers, or whose default server
      // has a regex name with captures; a lone server's names are never checked.
      const primary = address.defaultServer ?? address.servers[0]!;
      const captures = primary.serverNames.some((n) => n.kind === 'regex' && hasCaptures(n.name));
      if (address.servers.length < 2 && !captures) continue;
      const keys = new Set<string>();
      for (const server of address.servers) {
        const names = server.serverNames.length > 0 ? server.serverNames : [{ name: '', kind: 'exact' as const }];
        for (const name of names) {
          if (name.kind === 'regex') continue;
          if (name.kind === 'exact' && name.name.includes('*')) {
            const text = `invalid server name or wildcard "${name.name}" on ${address.text}`;
            throw new NginxConfigError(NginxConfigErrorCode.InvalidValue, text, { kind: 'none' });
          }
          const added = name.kind === 'dot' ? [name.name.slice(1), `*${name.name}`] : [name.name];
          if (added.some((key) => keys.has(key))) {
            warnings.push(makeWarning(`conflicting server name "${name.name}" on ${address.text}, ignored`, { kind: 'none' }, true));
            continue;
          }
          for (const key of added) keys.add(key);
        }
      }
    }
  }
}

/** Everything nginx does at the end of `http {}`; throws the first error nginx would print. */
export function finishHttp(http: HttpBuilder, d: Directive, env: DefaultsEnv, warnings: ConfigWarning[]): HttpConf {
  const atEnd: ConfigOrigin = { kind: 'file', file: d.file ?? '', line: d.endLine ?? d.line };

  // ngx_http_core_module: server settings.
  const httpServer = mergeLevel('srv', http.srv, null, env);
  const serverSettings = http.servers.map((server) => mergeLevel('srv', server.srv, httpServer, env));
  for (const settings of serverSettings) {
    if (settings.largeClientHeaderBuffers.size < settings.connectionPoolSize) {
      const text = 'the "large_client_header_buffers" size must be equal to or greater than "connection_pool_size"';
      throw new NginxConfigError(NginxConfigErrorCode.InvalidValue, text, atEnd);
    }
  }

  // ngx_http_upstream_init_round_robin (every balancer starts from it): a group needs a server
  // that is not a backup.
  for (const group of http.upstreams) {
    if (group.implicit || group.servers.length === 0 || group.servers.some((server) => !server.backup)) continue;
    const origin: ConfigOrigin = { kind: 'file', file: group.position.file ?? '', line: group.position.line };
    throw new NginxConfigError(NginxConfigErrorCode.InvalidValue, `no servers in upstream "${group.name}"`, origin);
  }
  // ngx_http_upstream_module: a group made by `*_pass ADDRESS` needs a port (or a UNIX path).
  for (const group of http.upstreams) {
    if (!group.implicit || group.servers.length > 0) continue;
    const origin: ConfigOrigin = { kind: 'file', file: group.position.file ?? '', line: group.position.line };
    if (!group.port) throw new NginxConfigError(NginxConfigErrorCode.InvalidValue, `no port in upstream "${group.name}"`, origin);
    // A host name: nginx resolves it here; tsgi keeps the name and resolves it when connecting.
    group.servers.push({
      name: `${group.name}:${group.port}`,
      address: { kind: 'tcp', host: group.name, port: group.port, ipVersion: 0, text: `${group.name}:${group.port}` },
      weight: 1,
      maxConns: 0,
      maxFails: 1,
      failTimeoutSec: 10,
      backup: false,
      down: false,
      position: group.position,
    });
  }
  for (const record of http.passTargets) record.target.upstream = upstreamKey(record.group);

  // Location settings, merged depth first.
  const merged: Merged = { perLocation: [] };
  const httpLoc = mergeLocation(http.levels, null, env);
  const servers: ServerConf[] = http.servers.map((server: ServerBuilder, i) => {
    const loc = mergeLocation(server.levels, httpLoc, env);
    merged.perLocation.push(loc);
    const locations = mergeLocations(server.locations, loc, env, merged);
    return {
      listen: server.listen,
      serverNames: server.serverNames.length > 0 ? server.serverNames : [{ name: '', kind: 'exact' }],
      settings: serverSettings[i]!,
      loc: { ...loc, settings: { ...loc.settings, rewrite: server.steps } },
      locations,
      position: { file: server.directive.file, line: server.directive.line },
    };
  });
  for (const prefix of ['proxy', 'fastcgi', 'uwsgi', 'scgi'] as const) {
    for (const loc of merged.perLocation) {
      const text = passBuffersError(prefix, loc[prefix]);
      if (text) throw new NginxConfigError(NginxConfigErrorCode.InvalidValue, text, atEnd);
    }
  }

  // ngx_http_init_locations, per server.
  for (const server of http.servers) {
    const found = duplicateLocation(server.locations);
    if (found) throw found;
  }

  // ngx_http_variables_init_vars.
  for (const name of http.usedVariables.keys()) {
    if (!isBuiltinVariable(name) && !http.definedVariables.has(name)) {
      throw new NginxConfigError(NginxConfigErrorCode.InvalidValue, `unknown "${name}" variable`, { kind: 'none' });
    }
  }

  // ngx_http_optimize_servers.
  checkServerNames(http, warnings);

  const upstreams = new Map<string, UpstreamConf>();
  for (const group of http.upstreams) {
    const settings = mergeLevel('ups', { ...group.ups, servers: group.servers }, null, env);
    upstreams.set(upstreamKey(group), { ...settings, name: upstreamKey(group), implicit: group.implicit, position: group.position });
  }
  return {
    ...mergeLevel('http', http.http, null, env),
    server: httpServer,
    loc: httpLoc,
    servers,
    upstreams,
    position: { file: d.file, line: d.line },
  };
}
