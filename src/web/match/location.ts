/**
 * `location` matching in nginx's exact order (ngx_http_core_find_location and
 * ngx_http_core_find_static_location in src/http/ngx_http_core_module.c, the tree built by
 * ngx_http_init_static_location_trees in src/http/ngx_http.c; nginx 1.22).
 *
 * For one level of locations (the server's, or the ones nested in the location found so far):
 *
 *   1. Static lookup over `=` and prefix (`^~` or none) locations, by bytes, case-sensitive:
 *      - a location whose name equals $uri: `=` wins and ends the search (no regex, no nesting);
 *        a prefix one of that name is the longest prefix (step 2);
 *      - else, if a `=` or prefix location is named $uri + "/" and has a *_pass directive: a 301
 *        to that name ("auto redirect"), ending the search, regexes included;
 *      - else the longest prefix location whose name starts $uri.
 *   2. If a prefix P was found: search P's nested locations the same way (1-4). If that ends in an
 *      exact match, an auto redirect or a regex match, that is the answer.
 *   3. Unless P is `^~`: this level's regex locations (`~`, `~*`) in config order; the first that
 *      matches wins, after a search of its own nested locations, and that is the answer.
 *   4. Else the deepest prefix location found in 1-2, or no location at all (the server's own
 *      configuration applies).
 *
 *   config                                         $uri          answer
 *   location = / {}  location / {}                 /             = /
 *   location /a/ {}  location ~ ^/a {}             /a/x          ~ ^/a          (regex beats prefix)
 *   location ^~ /a/ {}  location ~ ^/a {}          /a/x          ^~ /a/         (^~ stops regexes)
 *   location /a/ { location ~ x {} }  location ~ ^/a/ {}
 *                                                  /a/x          ~ x            (nested regex first)
 *   location /i {}  location /images/ {}           /images/1     /images/       (longest prefix)
 *   location /api/ { proxy_pass ...; }             /api?q=1      301 /api/?q=1  (auto redirect)
 *   location ~* \.PNG$ {}                          /a.png        ~* \.PNG$      (ASCII case folding)
 *
 * A nested `^~` only stops the regexes of its own level: the outer level's regexes still run.
 * `@name` locations never match a URI; `findNamed` looks them up for try_files / error_page.
 *
 * Patterns are config text (decoded UTF-8); $uri is a byte string (see bytes.ts, normalize.ts).
 */
import { TsgiError } from '../../errors.js';
import { bytesToText, textToBytes } from './bytes.js';
import { compileRegex, execRegex, NO_CAPTURES, RegexError, type Captures, type CompiledRegex } from './pcre.js';

/** `=` exact, `^~` prefix that stops regexes, `~` / `~*` regex, '' prefix, `@` named. */
export type LocationModifier = '=' | '^~' | '~' | '~*' | '' | '@';

export interface LocationDef<T> {
  readonly modifier: LocationModifier;
  /** The name after the modifier: '/images/', '\.php$', 'fallback' for `location @fallback`. */
  readonly pattern: string;
  readonly children?: readonly LocationDef<T>[];
  /**
   * The location has proxy_pass, fastcgi_pass, uwsgi_pass, scgi_pass, memcached_pass or grpc_pass.
   * With a name ending in '/', that turns on nginx's automatic 301 from the name without the '/'.
   */
  readonly upstreamPass?: boolean;
  /** The caller's payload, handed back on a match. */
  readonly id: T;
}

export interface LocationMatch<T> {
  /** The location that serves the request: one of the defs passed in, by identity. */
  readonly location: LocationDef<T>;
  /**
   * $1..$9 and named captures of the last regex location that matched on the way (named ones
   * accumulate: a nested regex adds to its parent's). Empty when no regex took part.
   */
  readonly captures: Captures;
  /** nginx answers 301 with `autoRedirectTarget(match, args)` instead of running the location. */
  readonly autoRedirect: boolean;
}

export interface LocationMatcher<T> {
  /** The location for a normalised $uri (byte string), or null when none matches. */
  match(uri: string): LocationMatch<T> | null;
  /** A named location by its reference, '@fallback' (as in try_files and error_page). */
  findNamed(name: string): LocationDef<T> | null;
}

/** A location block nginx would refuse at startup; `def` is the offending one. */
export class LocationError extends TsgiError {
  constructor(
    code: 'ERR_LOCATION_NESTING' | 'ERR_LOCATION_DUPLICATE' | 'ERR_LOCATION_MODIFIER' | 'ERR_LOCATION_REGEX',
    message: string,
    readonly def: LocationDef<unknown> | null,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
  }
}

/**
 * The arguments of a `location` directive as nginx reads them (ngx_http_core_location):
 * `location = /x`, `location =/x`, `location ~* \.png$`, `location @name`... Throws
 * LocationError with nginx's message for an unknown modifier.
 */
export function parseLocationArgs(args: readonly string[]): { modifier: LocationModifier; pattern: string } {
  if (args.length === 2) {
    const [modifier, pattern] = args as [string, string];
    if (modifier === '=' || modifier === '^~' || modifier === '~' || modifier === '~*') return { modifier, pattern };
    throw new LocationError('ERR_LOCATION_MODIFIER', `invalid location modifier "${modifier}"`, null);
  }
  if (args.length !== 1) {
    throw new LocationError('ERR_LOCATION_MODIFIER', 'invalid number of arguments in "location" directive', null);
  }
  const name = args[0]!;
  if (name.startsWith('=')) return { modifier: '=', pattern: name.slice(1) };
  if (name.startsWith('^~')) return { modifier: '^~', pattern: name.slice(2) };
  if (name.startsWith('~*')) return { modifier: '~*', pattern: name.slice(2) };
  if (name.startsWith('~')) return { modifier: '~', pattern: name.slice(1) };
  if (name.startsWith('@')) return { modifier: '@', pattern: name.slice(1) };
  return { modifier: '', pattern: name };
}

/** nginx's name for a location (`clcf->name`), as in its messages: '/x', '\.php$', '@fallback'. */
export function locationName(def: Pick<LocationDef<unknown>, 'modifier' | 'pattern'>): string {
  return def.modifier === '@' ? '@' + def.pattern : def.pattern;
}

/**
 * Where nginx's automatic redirect points: the location's name, then '?' and the request's
 * $args when there are any (ngx_http_core_find_config_phase). A path (byte string): nginx makes
 * it absolute (absolute_redirect, server_name_in_redirect, port_in_redirect) when it sends it.
 * null when the match is not an auto redirect.
 */
export function autoRedirectTarget(match: LocationMatch<unknown>, args: string): string | null {
  if (!match.autoRedirect) return null;
  const name = textToBytes(locationName(match.location));
  return args === '' ? name : `${name}?${args}`;
}

// ---------------------------------------------------------------------------------------------

interface CompiledLocation<T> {
  readonly def: LocationDef<T>;
  /** `clcf->name` in bytes. */
  readonly name: string;
  readonly exact: boolean;
  readonly noregex: boolean;
  readonly autoRedirect: boolean;
  readonly regex: CompiledRegex | null;
  /** Set once the children are compiled (they need their parent to check their names). */
  nested: Level<T>;
}

/** The locations of one block: a byte trie for `=` and prefix ones, regexes in config order. */
interface Level<T> {
  readonly root: TrieNode<T>;
  readonly regexes: CompiledLocation<T>[];
}

interface TrieNode<T> {
  readonly next: Map<number, TrieNode<T>>;
  exact?: CompiledLocation<T>;
  inclusive?: CompiledLocation<T>;
}

const SLASH = 0x2f; // '/'

const newTrieNode = <T>(): TrieNode<T> => ({ next: new Map() });

/** Compiles a server's locations. Throws LocationError where nginx would refuse the config. */
export function buildLocationMatcher<T>(defs: readonly LocationDef<T>[]): LocationMatcher<T> {
  const named = new Map<string, LocationDef<T>>();
  const top = compileLevel(defs, null, named);
  return {
    match: (uri) => {
      const ctx: SearchContext<T> = { location: null, captures: NO_CAPTURES };
      const rc = findLocation(top, uri, ctx);
      if (ctx.location === null) return null;
      return { location: ctx.location.def, captures: ctx.captures, autoRedirect: rc === Found.Redirect };
    },
    findNamed: (name) => named.get(textToBytes(name)) ?? null,
  };
}

function compileLevel<T>(
  defs: readonly LocationDef<T>[],
  parent: CompiledLocation<T> | null,
  named: Map<string, LocationDef<T>>,
): Level<T> {
  const level: Level<T> = { root: newTrieNode(), regexes: [] };
  for (const def of defs) {
    const location = compileLocation(def, parent, named);
    if (location.regex !== null) {
      level.regexes.push(location);
    } else if (def.modifier === '@') {
      // nginx keeps the first of two named locations with one name (a stable sort, then a scan).
      if (!named.has(location.name)) named.set(location.name, def);
    } else {
      insert(level.root, location);
    }
  }
  return level;
}

function compileLocation<T>(
  def: LocationDef<T>,
  parent: CompiledLocation<T> | null,
  named: Map<string, LocationDef<T>>,
): CompiledLocation<T> {
  const text = locationName(def);
  const name = textToBytes(text);
  if (parent !== null) {
    const parentText = locationName(parent.def);
    if (parent.exact) throw nestingError(`location "${text}" cannot be inside the exact location "${parentText}"`, def);
    if (parent.def.modifier === '@') throw nestingError(`location "${text}" cannot be inside the named location "${parentText}"`, def);
    if (def.modifier === '@') throw nestingError(`named location "${text}" can be on the server level only`, def);
    // Nested `=` and prefix names must start with the parent's name, even a regex parent's source.
    const isRegex = def.modifier === '~' || def.modifier === '~*';
    if (!isRegex && !name.startsWith(parent.name)) throw nestingError(`location "${text}" is outside location "${parentText}"`, def);
  }
  let regex: CompiledRegex | null = null;
  if (def.modifier === '~' || def.modifier === '~*') {
    try {
      regex = compileRegex(def.pattern, { caseless: def.modifier === '~*' });
    } catch (error) {
      if (!(error instanceof RegexError)) throw error;
      throw new LocationError('ERR_LOCATION_REGEX', error.message, def, { cause: error });
    }
  }
  const location: CompiledLocation<T> = {
    def,
    name,
    exact: def.modifier === '=',
    noregex: def.modifier === '^~',
    autoRedirect: (def.upstreamPass ?? false) && name.charCodeAt(name.length - 1) === SLASH,
    regex,
    nested: { root: newTrieNode(), regexes: [] },
  };
  location.nested = compileLevel(def.children ?? [], location, named);
  return location;
}

function nestingError(message: string, def: LocationDef<unknown>): LocationError {
  return new LocationError('ERR_LOCATION_NESTING', message, def);
}

function insert<T>(root: TrieNode<T>, location: CompiledLocation<T>): void {
  let node = root;
  for (let i = 0; i < location.name.length; i++) {
    const c = location.name.charCodeAt(i);
    let child = node.next.get(c);
    if (child === undefined) {
      child = newTrieNode();
      node.next.set(c, child);
    }
    node = child;
  }
  // `= /a` and `/a` share a tree node in nginx; two of the same kind are refused.
  const slot = location.exact ? 'exact' : 'inclusive';
  if (node[slot] !== undefined) {
    throw new LocationError('ERR_LOCATION_DUPLICATE', `duplicate location "${bytesToText(location.name)}"`, location.def);
  }
  node[slot] = location;
}

/** nginx's return codes of the two find functions. */
enum Found {
  /** NGX_OK: an exact or regex match, final. */
  Final,
  /** NGX_DONE: the auto redirect, final. */
  Redirect,
  /** NGX_AGAIN: a prefix ("inclusive") match; nested locations and regexes may still win. */
  Prefix,
  /** NGX_DECLINED: nothing at this level. */
  None,
}

interface SearchContext<T> {
  /** `r->loc_conf`: the location chosen so far. */
  location: CompiledLocation<T> | null;
  captures: Captures;
}

/** ngx_http_core_find_location over one level. */
function findLocation<T>(level: Level<T>, uri: string, ctx: SearchContext<T>): Found {
  let rc = findStatic(level.root, uri, ctx);
  let noregex = false;
  if (rc === Found.Prefix) {
    noregex = ctx.location!.noregex;
    rc = findLocation(ctx.location!.nested, uri, ctx);
  }
  if (rc === Found.Final || rc === Found.Redirect) return rc;
  if (!noregex) {
    for (const location of level.regexes) {
      const captures = execRegex(location.regex!, uri);
      if (captures === null) continue;
      ctx.location = location;
      const earlier = ctx.captures.named;
      const named = Object.keys(earlier).length === 0 ? captures.named : Object.assign({}, earlier, captures.named);
      ctx.captures = { groups: captures.groups, named };
      // Whatever the nested search finds (even an auto redirect), a regex match is final.
      findLocation(location.nested, uri, ctx);
      return Found.Final;
    }
  }
  return rc;
}

/** ngx_http_core_find_static_location, on a trie instead of nginx's binary tree of prefixes. */
function findStatic<T>(root: TrieNode<T>, uri: string, ctx: SearchContext<T>): Found {
  let node = root;
  let longest: CompiledLocation<T> | undefined;
  for (let depth = 0; ; depth++) {
    if (depth === uri.length) {
      if (node.exact !== undefined) {
        ctx.location = node.exact;
        return Found.Final;
      }
      if (node.inclusive !== undefined) {
        ctx.location = node.inclusive;
        return Found.Prefix;
      }
      const withSlash = node.next.get(SLASH);
      if (withSlash !== undefined && (withSlash.exact?.autoRedirect || withSlash.inclusive?.autoRedirect)) {
        ctx.location = (withSlash.exact ?? withSlash.inclusive)!;
        return Found.Redirect;
      }
      break;
    }
    if (node.inclusive !== undefined) longest = node.inclusive;
    const next = node.next.get(uri.charCodeAt(depth));
    if (next === undefined) break;
    node = next;
  }
  if (longest === undefined) return Found.None;
  ctx.location = longest;
  return Found.Prefix;
}
