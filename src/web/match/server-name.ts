/**
 * Picking the `server` block for a request among those listening on one address, as nginx does
 * (ngx_http_core_server_name, ngx_http_server_names in src/http/ngx_http.c, ngx_hash_add_key /
 * ngx_hash_find_combined in src/core/ngx_hash.c, ngx_http_find_virtual_server; nginx 1.22).
 *
 *   1. exact names ("example.com", and "" for requests without a Host);
 *   2. the longest leading wildcard: "*.example.com" matches www.example.com and a.b.example.com;
 *      ".example.com" matches those and example.com itself;
 *   3. the longest trailing wildcard: "www.example.*" matches www.example.com, www.example.co.uk;
 *   4. regex names ("~^(?<user>.+)\.example\.net$"), in config order; their captures become $1..$9
 *      and $user. A regex is case-insensitive only when it has an upper-case letter (the host is
 *      lower-case anyway);
 *   5. else the address's default server: the one with `listen ... default_server`, else the first.
 *
 *   server_name          Host                  server_name        Host
 *   example.com          EXAMPLE.com:8080 ✓    .example.com       example.com ✓  a.example.com ✓
 *   *.example.com        example.com ✗         www.example.*      www.example ✗
 *   ""                   (no Host, HTTP/1.0) ✓ _                  only the literal host "_"
 *
 * `_` is not special: it is an ordinary name no real host has, so a server named `_` gets requests
 * only as the default server. A server without server_name is named "".
 *
 * Conflicts are warnings, as in nginx: the later of two equal names is ignored ("conflicting
 * server name"). A ".example.com" claims "example.com" among the exact names, so an exact
 * `example.com` after it is the one ignored, and one before it makes the whole ".example.com"
 * ignored. With one server on an address nginx never looks at the names (and does not check the
 * wildcards) unless its regexes capture.
 */
import { hostname as osHostname } from 'node:os';
import { TsgiError } from '../../errors.js';
import { textToBytes } from './bytes.js';
import { asciiLowerCase, validateHost } from './host.js';
import { compileRegex, execRegex, NO_CAPTURES, RegexError, type Captures, type CompiledRegex } from './pcre.js';

export interface ServerDef<T> {
  /** The server_name arguments as written; none means no server_name directive (name ""). */
  readonly names: readonly string[];
  /** `listen ... default_server` on this address. */
  readonly defaultServer?: boolean;
  /** The caller's payload, handed back by `select`. */
  readonly id: T;
}

export type ServerSelection<T> =
  | {
      readonly ok: true;
      readonly server: ServerDef<T>;
      /** Captures of the regex name that matched; empty otherwise. */
      readonly captures: Captures;
      /** The normalised host the choice was made on ('' without one). */
      readonly host: string;
    }
  | { readonly ok: false; readonly status: 400; readonly reason: string };

export interface ServerSelector<T> {
  /**
   * The server for a request. `host` is the host of an absolute-form target if there was one,
   * else the Host header value as sent (port and all), else null. An invalid host gives 400.
   */
  select(host: string | null): ServerSelection<T>;
  readonly defaultServer: ServerDef<T>;
  /** nginx's [warn] lines for this address ("conflicting server name ... ignored"). */
  readonly warnings: readonly string[];
}

export interface ServerSelectorOptions {
  /** The listen address as nginx prints it in messages, e.g. "0.0.0.0:80". */
  readonly address?: string;
  /** What `$hostname` in server_name stands for (default: this machine's name). */
  readonly hostname?: string;
}

/** A server_name nginx refuses, or two default servers on one address. */
export class ServerNameError extends TsgiError {
  constructor(code: 'ERR_SERVER_NAME' | 'ERR_DUPLICATE_DEFAULT_SERVER', message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

interface RegexName<T> {
  readonly regex: CompiledRegex;
  readonly server: ServerDef<T>;
}

/** A leading wildcard on a base name: `*.base` (subdomains) and/or `.base` (also base itself). */
interface HeadWildcard<T> {
  readonly server: ServerDef<T>;
  readonly matchesBase: boolean;
}

const STAR = '*';
const DOT = '.';
const REGEX_MARK = '~';

/** Compiles the servers of one listen address. Throws ServerNameError as nginx would refuse. */
export function buildServerSelector<T>(
  servers: readonly ServerDef<T>[],
  options: ServerSelectorOptions = {},
): ServerSelector<T> {
  if (servers.length === 0) throw new ServerNameError('ERR_SERVER_NAME', 'no server listens on this address');
  const address = options.address ?? '*:80';
  const hostname = asciiLowerCase(options.hostname ?? osHostname());
  const warnings: string[] = [];

  let defaultServer: ServerDef<T> | null = null;
  for (const server of servers) {
    if (!server.defaultServer) continue;
    if (defaultServer !== null) throw new ServerNameError('ERR_DUPLICATE_DEFAULT_SERVER', `a duplicate default server for ${address}`);
    defaultServer = server;
  }
  defaultServer ??= servers[0]!;

  // ngx_http_core_server_name: checks made for every server, whatever else listens with it.
  const parsed = servers.map((server) => parseServerNames(server, hostname, warnings));

  const exact = new Map<string, ServerDef<T>>();
  const head = new Map<string, HeadWildcard<T>>();
  const tail = new Map<string, ServerDef<T>>();
  const regexes: RegexName<T>[] = [];

  // ngx_http_optimize_servers: the names matter only if there is a choice to make, or captures.
  const defaultIndex = servers.indexOf(defaultServer);
  const namesMatter = servers.length > 1 || parsed[defaultIndex]!.lastRegexCaptures;
  if (namesMatter) {
    // Names already claimed among the exact ones, including the base of every ".example.com".
    const claimedExact = new Set<string>();
    parsed.forEach(({ names }, s) => {
      const server = servers[s]!;
      for (const name of names) {
        if (typeof name !== 'string') {
          regexes.push({ regex: name, server });
          continue;
        }
        const added = addName(name, server, { exact, head, tail, claimedExact });
        if (added === 'invalid') throw new ServerNameError('ERR_SERVER_NAME', `invalid server name or wildcard "${name}" on ${address}`);
        if (added === 'conflict') warnings.push(`conflicting server name "${name}" on ${address}, ignored`);
      }
    });
  }

  const select = (raw: string | null): ServerSelection<T> => {
    let host = '';
    if (raw !== null && raw !== '') {
      const valid = validateHost(raw);
      if (valid === null) return { ok: false, status: 400, reason: 'client sent invalid host header' };
      host = valid;
    }
    const chosen = namesMatter ? findServer(host, exact, head, tail, regexes) : null;
    if (chosen === null) return { ok: true, server: defaultServer!, captures: NO_CAPTURES, host };
    return { ok: true, server: chosen.server, captures: chosen.captures, host };
  };
  return { select, defaultServer, warnings };
}

function parseServerNames<T>(
  server: ServerDef<T>,
  hostname: string,
  warnings: string[],
): { names: Array<string | CompiledRegex>; lastRegexCaptures: boolean } {
  const names: Array<string | CompiledRegex> = [];
  let lastRegexCaptures = false;
  if (server.names.length === 0) return { names: [''], lastRegexCaptures };
  for (const written of server.names) {
    if ((written.startsWith(STAR) && (written.length < 3 || written[1] !== DOT)) || (written.startsWith(DOT) && written.length < 2)) {
      throw new ServerNameError('ERR_SERVER_NAME', `server name "${written}" is invalid`);
    }
    if (written.includes('/')) warnings.push(`server name "${written}" has suspicious symbols`);
    if (!written.startsWith(REGEX_MARK)) {
      const name = asciiLowerCase(written) === '$hostname' ? hostname : written;
      names.push(asciiLowerCase(textToBytes(name)));
      continue;
    }
    const pattern = written.slice(1);
    if (pattern === '') throw new ServerNameError('ERR_SERVER_NAME', `empty regex in server name "${written}"`);
    try {
      // nginx: PCRE2_CASELESS only if the pattern has an upper-case letter.
      const regex = compileRegex(pattern, { caseless: /[A-Z]/.test(pattern) });
      names.push(regex);
      lastRegexCaptures = regex.captureCount > 0;
    } catch (error) {
      if (!(error instanceof RegexError)) throw error;
      throw new ServerNameError('ERR_SERVER_NAME', error.message, { cause: error });
    }
  }
  return { names, lastRegexCaptures };
}

interface NameTables<T> {
  readonly exact: Map<string, ServerDef<T>>;
  readonly head: Map<string, HeadWildcard<T>>;
  readonly tail: Map<string, ServerDef<T>>;
  readonly claimedExact: Set<string>;
}

/** ngx_hash_add_key(..., NGX_HASH_WILDCARD_KEY): 'added', 'conflict' (NGX_BUSY) or 'invalid'. */
function addName<T>(name: string, server: ServerDef<T>, tables: NameTables<T>): 'added' | 'conflict' | 'invalid' {
  const stars = name.split(STAR).length - 1;
  if (stars > 1 || name.includes('..') || name.includes('\0')) return 'invalid';

  if (name.length > 1 && name.startsWith(DOT)) {
    // ".example.com": first claims "example.com" among the exact names (kept even when the
    // wildcard part then conflicts, as in nginx), then the wildcard.
    const base = name.slice(1);
    if (tables.claimedExact.has(base)) return 'conflict';
    tables.claimedExact.add(base);
    if (tables.head.has(base)) return 'conflict';
    tables.head.set(base, { server, matchesBase: true });
    return 'added';
  }
  if (name.length > 2 && name.startsWith('*.')) {
    const base = name.slice(2);
    if (tables.head.has(base)) return 'conflict';
    tables.head.set(base, { server, matchesBase: false });
    return 'added';
  }
  if (name.length > 2 && name.endsWith('.*')) {
    const prefix = name.slice(0, -2);
    if (tables.tail.has(prefix)) return 'conflict';
    tables.tail.set(prefix, server);
    return 'added';
  }
  if (stars > 0) return 'invalid';
  if (tables.claimedExact.has(name)) return 'conflict';
  tables.claimedExact.add(name);
  tables.exact.set(name, server);
  return 'added';
}

/** ngx_http_find_virtual_server: null means "the default server". */
function findServer<T>(
  host: string,
  exact: Map<string, ServerDef<T>>,
  head: Map<string, HeadWildcard<T>>,
  tail: Map<string, ServerDef<T>>,
  regexes: readonly RegexName<T>[],
): { server: ServerDef<T>; captures: Captures } | null {
  const found = exact.get(host);
  if (found !== undefined) return { server: found, captures: NO_CAPTURES };
  if (host === '') return null; // wildcards and regexes need a host (ngx_hash_find_combined)

  // Leading wildcards, longest base first: the host itself (".example.com" form only), then each
  // suffix after a dot. A host starting with '.' counts as having an empty first label.
  const whole = head.get(host);
  if (whole !== undefined && whole.matchesBase) return { server: whole.server, captures: NO_CAPTURES };
  for (let dot = host.indexOf(DOT); dot >= 0; dot = host.indexOf(DOT, dot + 1)) {
    const wildcard = head.get(host.slice(dot + 1));
    if (wildcard !== undefined) return { server: wildcard.server, captures: NO_CAPTURES };
  }

  // Trailing wildcards, longest prefix first: "www.example.*" needs "www.example." and a label.
  for (let dot = host.lastIndexOf(DOT); dot > 0; dot = host.lastIndexOf(DOT, dot - 1)) {
    const server = tail.get(host.slice(0, dot));
    if (server !== undefined) return { server, captures: NO_CAPTURES };
  }

  for (const { regex, server } of regexes) {
    const captures = execRegex(regex, host);
    if (captures !== null) return { server, captures };
  }
  return null;
}
