/**
 * Slow, literal reference implementations for the property tests and the conformance tables.
 *
 * `referenceLocationMatcher` is a line-by-line port of nginx 1.22's own data structure: the
 * locations sorted by ngx_http_cmp_locations, joined by ngx_http_join_exact_locations, split into
 * lists by ngx_http_create_locations_list, built into the binary tree of
 * ngx_http_create_locations_tree, and searched by ngx_http_core_find_static_location and
 * ngx_http_core_find_location. tsgi's matcher uses a trie and its own reading of the rules; if the
 * two ever disagree, one of them misreads nginx.
 *
 * `referenceServerSelector` is the nginx.org "Server names" page read literally (exact name, then
 * the longest matching leading wildcard, the longest trailing wildcard, the first regex, else the
 * default), with linear scans, for name sets without conflicts.
 */
import { textToBytes } from '../../../src/web/match/bytes.js';
import { validateHost } from '../../../src/web/match/host.js';
import type { LocationDef, LocationMatch } from '../../../src/web/match/location.js';
import { compileRegex, execRegex, NO_CAPTURES, type Captures, type CompiledRegex } from '../../../src/web/match/pcre.js';
import type { ServerDef } from '../../../src/web/match/server-name.js';

// ---------------------------------------------------------------------------------------------
// Locations: nginx's tree

interface RefLocation<T> {
  def: LocationDef<T>;
  name: string;
  exactMatch: boolean;
  noregex: boolean;
  autoRedirect: boolean;
  regex: CompiledRegex | null;
  named: boolean;
  staticLocations: TreeNode<T> | null;
  regexLocations: RefLocation<T>[];
}

/** ngx_http_location_queue_t */
interface QueueItem<T> {
  exact: RefLocation<T> | null;
  inclusive: RefLocation<T> | null;
  name: string;
  list: QueueItem<T>[];
}

/** ngx_http_location_tree_node_t */
interface TreeNode<T> {
  left: TreeNode<T> | null;
  right: TreeNode<T> | null;
  tree: TreeNode<T> | null;
  exact: RefLocation<T> | null;
  inclusive: RefLocation<T> | null;
  autoRedirect: boolean;
  name: string;
}

const SLASH_CODE = '/'.charCodeAt(0);

/** ngx_filename_cmp on Linux: bytes, '/' sorts lowest, a string ends with a NUL. */
function filenameCmp(s1: string, s2: string, n: number): number {
  for (let i = 0; i < n; i++) {
    let c1 = i < s1.length ? s1.charCodeAt(i) : 0;
    let c2 = i < s2.length ? s2.charCodeAt(i) : 0;
    if (c1 === c2) {
      if (c1 === 0) return 0;
      continue;
    }
    if (c1 === 0 || c2 === 0) return c1 - c2;
    c1 = c1 === SLASH_CODE ? 0 : c1;
    c2 = c2 === SLASH_CODE ? 0 : c2;
    return c1 - c2;
  }
  return 0;
}

function initLocations<T>(
  defs: readonly LocationDef<T>[],
  named: Map<string, LocationDef<T>>,
): { tree: TreeNode<T> | null; regexes: RefLocation<T>[] } {
  const items: QueueItem<T>[] = [];
  const regexes: RefLocation<T>[] = [];
  const staticLocs: RefLocation<T>[] = [];
  for (const def of defs) {
    const text = def.modifier === '@' ? '@' + def.pattern : def.pattern;
    const isRegex = def.modifier === '~' || def.modifier === '~*';
    const loc: RefLocation<T> = {
      def,
      name: textToBytes(text),
      exactMatch: def.modifier === '=',
      noregex: def.modifier === '^~',
      autoRedirect: (def.upstreamPass ?? false) && text.endsWith('/'),
      regex: isRegex ? compileRegex(def.pattern, { caseless: def.modifier === '~*' }) : null,
      named: def.modifier === '@',
      staticLocations: null,
      regexLocations: [],
    };
    const nested = initLocations(def.children ?? [], named);
    loc.staticLocations = nested.tree;
    loc.regexLocations = nested.regexes;
    // ngx_http_init_locations: regex and named locations leave the queue (sorted to its end).
    if (isRegex) regexes.push(loc);
    else if (loc.named) {
      if (!named.has(loc.name)) named.set(loc.name, def);
    } else staticLocs.push(loc);
  }
  for (const loc of staticLocs) {
    items.push({ exact: loc.exactMatch ? loc : null, inclusive: loc.exactMatch ? null : loc, name: loc.name, list: [] });
  }
  // ngx_queue_sort with ngx_http_cmp_locations. The comparison is not symmetric (an inclusive
  // location "after" an exact one of the same name, but not the other way round), so the
  // insertion sort is ported as it is rather than handed to Array.prototype.sort.
  const cmp = (a: QueueItem<T>, b: QueueItem<T>): number => {
    const first = (a.exact ?? a.inclusive)!;
    const second = (b.exact ?? b.inclusive)!;
    const rc = filenameCmp(first.name, second.name, Math.min(first.name.length, second.name.length) + 1);
    if (rc === 0 && !first.exactMatch && second.exactMatch) return 1;
    return rc;
  };
  for (let k = 1; k < items.length; k++) {
    const q = items[k]!;
    let prev = k - 1;
    while (prev >= 0 && cmp(items[prev]!, q) > 0) prev--;
    items.splice(k, 1);
    items.splice(prev + 1, 0, q);
  }
  // ngx_http_join_exact_locations
  for (let k = 0; k + 1 < items.length; ) {
    const lq = items[k]!;
    const lx = items[k + 1]!;
    if (lq.name.length === lx.name.length && filenameCmp(lq.name, lx.name, lx.name.length) === 0) {
      if ((lq.exact && lx.exact) || (lq.inclusive && lx.inclusive)) throw new Error(`duplicate location "${lx.name}"`);
      lq.inclusive = lx.inclusive;
      items.splice(k + 1, 1);
      continue;
    }
    k++;
  }
  const listed = createLocationsList(items);
  return { tree: createLocationsTree(listed, 0), regexes };
}

/** ngx_http_create_locations_list: each inclusive location takes the ones that start with it. */
function createLocationsList<T>(locations: QueueItem<T>[]): QueueItem<T>[] {
  const out: QueueItem<T>[] = [];
  let k = 0;
  while (k < locations.length) {
    const lq = locations[k]!;
    out.push(lq);
    if (lq.inclusive === null) {
      k++;
      continue;
    }
    let x = k + 1;
    while (x < locations.length) {
      const lx = locations[x]!;
      if (lq.name.length > lx.name.length || filenameCmp(lq.name, lx.name, lq.name.length) !== 0) break;
      x++;
    }
    lq.list = createLocationsList(locations.slice(k + 1, x));
    k = x;
  }
  return out;
}

/** ngx_http_create_locations_tree, with ngx_queue_middle's choice of root. */
function createLocationsTree<T>(locations: QueueItem<T>[], prefix: number): TreeNode<T> | null {
  if (locations.length === 0) return null;
  const middle = Math.floor(locations.length / 2);
  const lq = locations[middle]!;
  const len = lq.name.length - prefix;
  return {
    exact: lq.exact,
    inclusive: lq.inclusive,
    autoRedirect: (lq.exact?.autoRedirect ?? false) || (lq.inclusive?.autoRedirect ?? false),
    name: lq.name.slice(prefix),
    left: createLocationsTree(locations.slice(0, middle), prefix),
    right: createLocationsTree(locations.slice(middle + 1), prefix),
    tree: createLocationsTree(lq.list, prefix + len),
  };
}

const NGX_OK = 0;
const NGX_DONE = -4;
const NGX_AGAIN = -2;
const NGX_DECLINED = -5;

interface Request<T> {
  uri: string;
  locConf: RefLocation<T> | null;
  captures: Captures;
  /** The server level: its locations. */
  server: { staticLocations: TreeNode<T> | null; regexLocations: RefLocation<T>[]; noregex: false };
}

function findStaticLocation<T>(r: Request<T>, start: TreeNode<T> | null): number {
  let node = start;
  let uri = r.uri;
  let len = uri.length;
  let rv = NGX_DECLINED;
  for (;;) {
    if (node === null) return rv;
    const n = len <= node.name.length ? len : node.name.length;
    const rc = filenameCmp(uri, node.name, n);
    if (rc !== 0) {
      node = rc < 0 ? node.left : node.right;
      continue;
    }
    if (len > node.name.length) {
      if (node.inclusive !== null) {
        r.locConf = node.inclusive;
        rv = NGX_AGAIN;
        node = node.tree;
        uri = uri.slice(n);
        len -= n;
        continue;
      }
      node = node.right;
      continue;
    }
    if (len === node.name.length) {
      if (node.exact !== null) {
        r.locConf = node.exact;
        return NGX_OK;
      }
      r.locConf = node.inclusive;
      return NGX_AGAIN;
    }
    if (len + 1 === node.name.length && node.autoRedirect) {
      r.locConf = node.exact ?? node.inclusive;
      rv = NGX_DONE;
    }
    node = node.left;
  }
}

function findLocation<T>(r: Request<T>): number {
  const pclcf = r.locConf ?? r.server;
  let noregex = false;
  let rc = findStaticLocation(r, pclcf.staticLocations);
  if (rc === NGX_AGAIN) {
    noregex = r.locConf!.noregex;
    rc = findLocation(r);
  }
  if (rc === NGX_OK || rc === NGX_DONE) return rc;
  if (!noregex) {
    for (const clcf of pclcf.regexLocations) {
      const captures = execRegex(clcf.regex!, r.uri);
      if (captures === null) continue;
      r.locConf = clcf;
      r.captures = { groups: captures.groups, named: { ...r.captures.named, ...captures.named } };
      findLocation(r);
      return NGX_OK;
    }
  }
  return rc;
}

export interface ReferenceLocationMatcher<T> {
  match(uri: string): LocationMatch<T> | null;
  findNamed(name: string): LocationDef<T> | null;
}

export function referenceLocationMatcher<T>(defs: readonly LocationDef<T>[]): ReferenceLocationMatcher<T> {
  const named = new Map<string, LocationDef<T>>();
  const top = initLocations(defs, named);
  const server = { staticLocations: top.tree, regexLocations: top.regexes, noregex: false as const };
  return {
    match(uri) {
      const r: Request<T> = { uri, locConf: null, captures: NO_CAPTURES, server };
      const rc = findLocation(r);
      if (r.locConf === null) return null;
      return { location: r.locConf.def, captures: r.captures, autoRedirect: rc === NGX_DONE };
    },
    findNamed: (name) => named.get(textToBytes(name)) ?? null,
  };
}

// ---------------------------------------------------------------------------------------------
// Server names: the documentation, read literally

export function referenceServerSelector<T>(
  servers: readonly ServerDef<T>[],
): (host: string | null) => { server: ServerDef<T>; captures: Captures } | 'bad-request' {
  const defaultServer = servers.find((s) => s.defaultServer) ?? servers[0]!;
  const all = servers.flatMap((server) => (server.names.length === 0 ? [''] : server.names).map((name) => ({ name, server })));
  const plain = all.filter(({ name }) => !name.startsWith('~')).map(({ name, server }) => ({ name: name.toLowerCase(), server }));
  const regexes = all
    .filter(({ name }) => name.startsWith('~'))
    .map(({ name, server }) => ({ regex: compileRegex(name.slice(1), { caseless: /[A-Z]/.test(name) }), server }));
  return (raw) => {
    const host = raw === null || raw === '' ? '' : validateHost(raw);
    if (host === null) return 'bad-request';
    const found = (server: ServerDef<T>, captures: Captures = NO_CAPTURES): { server: ServerDef<T>; captures: Captures } => ({
      server,
      captures,
    });
    // "exact name"
    for (const { name, server } of plain) if (!name.includes('*') && !name.startsWith('.') && name === host) return found(server);
    if (host === '') return found(defaultServer);
    // "longest wildcard name starting with an asterisk", where ".x" means "x" and "*.x"
    let best: { length: number; server: ServerDef<T> } | null = null;
    for (const { name, server } of plain) {
      let base: string;
      let matches: boolean;
      if (name.startsWith('*.')) {
        base = name.slice(2);
        matches = host.endsWith('.' + base);
      } else if (name.startsWith('.')) {
        base = name.slice(1);
        matches = host === base || host.endsWith('.' + base);
      } else continue;
      if (matches && (best === null || base.length > best.length)) best = { length: base.length, server };
    }
    if (best !== null) return found(best.server);
    // "longest wildcard name ending with an asterisk"
    for (const { name, server } of plain) {
      if (!name.endsWith('.*')) continue;
      const prefix = name.slice(0, -1); // keeps the dot
      if (host.startsWith(prefix) && host.length > prefix.length && (best === null || prefix.length > best.length)) {
        best = { length: prefix.length, server };
      }
    }
    if (best !== null) return found(best.server);
    // "first matching regular expression (in order of appearance in a configuration file)"
    for (const { regex, server } of regexes) {
      const captures = execRegex(regex, host);
      if (captures !== null) return found(server, captures);
    }
    return found(defaultServer);
  };
}
