/**
 * The fast path for the most common request of a static site: a plain GET or HEAD of a small
 * file the open-file cache holds, in a location where nothing but the static module has a say.
 *
 * Such a request, sent through the phases, always ends the same way: the static module returns
 * the 200 it prepared for the file (serve.ts), the header filters leave it as it is, and the
 * connection serializes the same head. Everything that decides the answer is known before the
 * request comes, so this module remembers:
 *
 *   (Host, request-target) → route (per address group): the server, the location and the file
 *                            path, when the server and location settings make the pipeline a
 *                            no-op for a plain GET (no script, limit, access rule, try_files,
 *                            gzip, add_header, handler, variable root...; checked once)
 *   prepared 200           → the answer's bytes (shared by the routes to the file): head and
 *                            body in one buffer for small files, rebuilt when the Date second
 *                            changes (keep-alive and close, GET and HEAD, each on first use)
 *
 * A route answers only while serve.ts's prepared response is current (the cache entry is fresh,
 * the file unchanged, the expires second the same): a stale entry, a changed file, conditionals,
 * Range, a body, an unusual method or target all take the full pipeline, which revalidates and
 * prepares again. Routes belong to one configuration generation (one set of WorkerServices).
 * The connection keeps keep-alive, timers, counters and the access log exactly as for the
 * pipeline's answer (connection.ts, serveFast).
 */
import type { LocationConf, PerLocation, ServerConf } from '../config/index.js';
import type { RequestHead } from '../../protocols/http1.js';
import { parseRequestTarget } from '../match/index.js';
import { extenOf, plainFilePath, preparedAnswer, type Prepared, type StaticConf } from '../static/index.js';
import { knownFixedStaticConf } from '../phases/static-content.js';
import type { HeaderPair, WebModules } from '../request-context.js';
import { statusLine } from './status-line.js';
import type { AddressGroup } from './site.js';
import type { WorkerServices } from './connection.js';

/** Routes kept per address group; a client sending ever new targets empties the map, no more. */
const MAX_ROUTES = 1024;
/**
 * Bodies up to this size go out in the same buffer as the head (a copy a second, not a request);
 * larger ones right after it (still one writev). Bounds the copies to twice the small files'.
 */
const MAX_JOINED_BODY = 16 * 1024;

/** What a (Host, request-target) resolves to, for a request the fast path may answer. */
export interface FastRoute {
  readonly server: ServerConf;
  readonly requestHost: string;
  readonly requestUri: string;
  readonly uri: string;
  readonly args: string;
  readonly exten: string;
  readonly location: LocationConf | null;
  readonly loc: PerLocation;
  /** The static configuration and the file's path, once the pipeline made the configuration. */
  conf: StaticConf | null;
  path: string | null;
  answer: FastAnswer | null;
}

/** The bytes on the wire for one variant of the answer. */
export interface Wire {
  /** The head, and the body too unless `body` is set. */
  readonly data: Buffer;
  /** A body too large to copy next to the head, sent right after it. */
  readonly body: Buffer | null;
  readonly headLength: number;
  readonly bodyLength: number;
}

/** One prepared 200 serialized as connection.ts's write() would. */
export class FastAnswer {
  private date = '';
  /** [GET keep-alive, GET close, HEAD keep-alive, HEAD close] for `date`. */
  private readonly wires: (Wire | null)[] = [null, null, null, null];

  constructor(
    readonly prepared: Prepared,
    /** The headers as the header filters leave them ($sent_http_*). */
    readonly sentHeaders: readonly HeaderPair[],
    private readonly body: Buffer,
    /** Status line, Server and "Date: ". */
    private readonly before: string,
    /** After the date: Content-Type, Content-Length, Last-Modified. */
    private readonly middle: string,
    private readonly keepAlive: string,
    private readonly close: string,
    /** The other headers and the empty line. */
    private readonly after: string,
  ) {}

  wire(headOnly: boolean, keepAlive: boolean, date: string): Wire {
    if (date !== this.date) {
      this.date = date;
      this.wires.fill(null);
    }
    const index = (headOnly ? 2 : 0) + (keepAlive ? 0 : 1);
    let wire = this.wires[index];
    if (wire === null || wire === undefined) {
      wire = this.build(headOnly, keepAlive, date);
      this.wires[index] = wire;
    }
    return wire;
  }

  private build(headOnly: boolean, keepAlive: boolean, date: string): Wire {
    const head = Buffer.from(this.before + date + this.middle + (keepAlive ? this.keepAlive : this.close) + this.after, 'latin1');
    if (headOnly) return { data: head, body: null, headLength: head.length, bodyLength: 0 };
    const body = this.body;
    if (body.length > MAX_JOINED_BODY) return { data: head, body, headLength: head.length, bodyLength: body.length };
    return { data: Buffer.concat([head, body], head.length + body.length), body: null, headLength: head.length, bodyLength: body.length };
  }
}

/** A request the fast path answers: its route, with the answer current now. */
export interface FastHit {
  readonly route: FastRoute;
  readonly answer: FastAnswer;
}

const services = new WeakMap<WorkerServices, FastStatic>();

/** The fast path of one configuration generation. */
export function fastStaticFor(worker: WorkerServices): FastStatic {
  let fast = services.get(worker);
  if (fast === undefined) {
    fast = new FastStatic(worker);
    services.set(worker, fast);
  }
  return fast;
}

export class FastStatic {
  private readonly routes = new WeakMap<AddressGroup, Map<string, FastRoute | null>>();
  /**
   * The answers by prepared 200 (null: not one the fast path can send); a prepared 200 belongs
   * to one static configuration, so to one location's settings. Gone with the cache entry.
   */
  private readonly answers = new WeakMap<Prepared, FastAnswer | null>();
  /** Per location settings: whether the phases leave a plain static GET alone. */
  private readonly quiet = new WeakMap<PerLocation, boolean>();

  constructor(private readonly worker: WorkerServices) {}

  /** The answer for `head` if the fast path may give it now, else null (take the pipeline). */
  lookup(group: AddressGroup, head: RequestHead): FastHit | null {
    if (!plainRequest(head)) return null;
    let routes = this.routes.get(group);
    if (routes === undefined) {
      routes = new Map();
      this.routes.set(group, routes);
    }
    // A Host cannot hold a space: the key is unambiguous.
    const key = `${head.host} ${head.target}`;
    let route = routes.get(key);
    if (route === undefined) {
      route = this.route(group, head);
      if (routes.size >= MAX_ROUTES) routes.clear();
      routes.set(key, route);
    }
    if (route === null) return null;
    const answer = this.answer(route);
    return answer === null ? null : { route, answer };
  }

  private answer(route: FastRoute): FastAnswer | null {
    if (route.conf === null) {
      // The pipeline makes the location's static configuration on its first request.
      route.conf = knownFixedStaticConf(route.location, route.loc);
      if (route.conf === null) return null;
      route.path = plainFilePath(route.conf, route.uri);
    }
    if (route.path === null) return null;
    const files = this.worker.files;
    const prepared = preparedAnswer(files, route.conf, route.path, route.exten, files.now());
    if (prepared === null) return null;
    if (route.answer !== null && route.answer.prepared === prepared) return route.answer;
    // Shared by every target that reads the file (`/a.html?x=1`, `?x=2`...): one copy of its bytes.
    let answer = this.answers.get(prepared);
    if (answer === undefined) {
      answer = serialize(prepared, route.loc, this.worker.serverVersion);
      this.answers.set(prepared, answer);
    }
    route.answer = answer;
    return answer;
  }

  /** How the request would go through the phases; null unless they would all pass it on as it is. */
  private route(group: AddressGroup, head: RequestHead): FastRoute | null {
    const parsed = parseRequestTarget(head.target, { mergeSlashes: group.defaultServer.settings.mergeSlashes });
    if (!parsed.ok || parsed.target.host !== null) return null;
    const selection = group.selector.select(head.host === '' ? null : head.host);
    if (!selection.ok || selection.captures.groups.length > 0) return null;
    const server = selection.server.id;
    // SERVER_REWRITE.
    if (server.loc.settings.rewrite.length > 0) return null;
    // FIND_CONFIG.
    const uri = parsed.target.uri;
    const match = this.worker.site.matcher(server).match(uri);
    if (match !== null && (match.captures.groups.length > 0 || match.autoRedirect || match.location.id.limitExcept !== null)) return null;
    const location = match === null ? null : match.location.id;
    const loc = location ?? server.loc;
    if (!this.quietFor(location, loc)) return null;
    return {
      server,
      requestHost: selection.host,
      requestUri: parsed.target.requestUri,
      uri,
      args: parsed.target.args,
      exten: extenOf(uri),
      location,
      loc,
      conf: null,
      path: null,
      answer: null,
    };
  }

  private quietFor(location: LocationConf | null, loc: PerLocation): boolean {
    let quiet = this.quiet.get(loc);
    if (quiet === undefined) {
      quiet = phasesIdle(this.worker.modules, location, loc);
      this.quiet.set(loc, quiet);
    }
    return quiet;
  }
}

/**
 * True when, for a GET without conditionals under these settings, every phase and filter passes
 * the static module's 200 through unchanged: the settings pipeline.ts and output.ts consult.
 */
function phasesIdle(modules: WebModules, location: LocationConf | null, loc: PerLocation): boolean {
  const s = loc.settings;
  if (s.internal || s.access.length > 0 || s.addHeaders.length > 0 || s.gzipStatic !== 'off' || s.tryFiles !== null) return false;
  if (location !== null && s.rewrite.length > 0) return false;
  if (!modules.preaccess.every((handler) => handler.idleFor?.(loc) === true)) return false;
  if (!modules.filters.every((filter) => filter.idleFor?.(loc) === true)) return false;
  return !modules.content.some((handler) => handler.claims(location, loc));
}

/** Request headers that make the static answer depend on the request (conditionals, ranges). */
const VARYING = new Set(['if-modified-since', 'if-unmodified-since', 'if-match', 'if-none-match', 'range', 'if-range']);
const VARYING_LENGTHS = new Set([...VARYING].map((name) => name.length));

function plainRequest(head: RequestHead): boolean {
  if (head.method !== 'GET' && head.method !== 'HEAD') return false;
  if (head.chunked || head.contentLength > 0 || head.expectContinue || head.upgrade) return false;
  // Origin-form only: the absolute form names its own host.
  if (head.target.charCodeAt(0) !== 0x2f) return false;
  const headers = head.headers;
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!;
    if (VARYING_LENGTHS.has(name.length) && VARYING.has(name.toLowerCase())) return false;
  }
  return true;
}

/** Headers write() places itself or drops: a prepared 200 has none of them; if it had, no fast path. */
const PLACED = new Set(['location', 'connection', 'transfer-encoding', 'keep-alive', 'server', 'date']);
/** output.ts moves the range filter's headers after the others. */
const RANGE_HEADERS = new Set(['accept-ranges', 'content-range']);

/** The prepared 200 after the header filters, in write()'s header order. */
function serialize(prepared: Prepared, loc: PerLocation, serverVersion: string): FastAnswer | null {
  const get = prepared.get;
  if (get.kind !== 'response' || get.status !== 200 || get.body.kind !== 'buffer') return null;
  const headers = [...get.headers.filter(([name]) => !RANGE_HEADERS.has(name.toLowerCase())), ...get.headers.filter(([name]) => RANGE_HEADERS.has(name.toLowerCase()))];
  let contentType: string | undefined;
  let contentLength: string | undefined;
  let lastModified: string | undefined;
  let after = '';
  for (const [name, value] of headers) {
    const lower = name.toLowerCase();
    if (PLACED.has(lower)) return null;
    if (lower === 'content-type') contentType = value;
    else if (lower === 'content-length') contentLength = value;
    else if (lower === 'last-modified') lastModified = value;
    else after += `${name}: ${value}\r\n`;
  }
  if (contentLength === undefined) return null;
  const s = loc.settings;
  const before = statusLine(200) + (s.serverTokens === 'off' ? 'Server: tsgi\r\n' : `Server: ${serverVersion}\r\n`) + 'Date: ';
  let middle = '\r\n';
  if (contentType !== undefined) middle += `Content-Type: ${contentType}\r\n`;
  middle += `Content-Length: ${contentLength}\r\n`;
  if (lastModified !== undefined) middle += `Last-Modified: ${lastModified}\r\n`;
  const keepAlive = 'Connection: keep-alive\r\n' + (s.keepaliveHeaderSec !== null ? `Keep-Alive: timeout=${s.keepaliveHeaderSec}\r\n` : '');
  return new FastAnswer(prepared, headers, get.body.data, before, middle, keepAlive, 'Connection: close\r\n', after + '\r\n');
}
