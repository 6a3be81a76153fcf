/**
 * The structures filled while directives are applied, before merging turns them into the typed
 * configuration of `types.ts`. One builder per block nginx creates a configuration for: http,
 * server, location (and the anonymous ones of `if` and `limit_except`), upstream.
 */
import type { Directive } from './parser.js';
import type { Raw } from './directives/spec.js';
import type {
  EventsSettings,
  FastcgiSettings,
  HttpSettings,
  ListenConf,
  LocationModifier,
  LocationSettings,
  MainSettings,
  PassTarget,
  PerLocation,
  ProxySettings,
  RewriteStep,
  ScgiSettings,
  ServerNameConf,
  ServerSettings,
  SourcePosition,
  UpstreamServer,
  UpstreamSettings,
  UwsgiSettings,
} from './types.js';

/** The per-module location settings of one level, as written. */
export interface LocLevels {
  loc: Raw<LocationSettings>;
  proxy: Raw<ProxySettings>;
  uwsgi: Raw<UwsgiSettings>;
  fastcgi: Raw<FastcgiSettings>;
  scgi: Raw<ScgiSettings>;
}

export function newLocLevels(): LocLevels {
  return { loc: {}, proxy: {}, uwsgi: {}, fastcgi: {}, scgi: {} };
}

/** An `if` block: its statements, and in a location the settings it overrides. */
export interface IfBuilder {
  readonly directive: Directive;
  readonly levels: LocLevels | null;
  /** The object the `if` step points to; its `loc` is filled when merging. */
  readonly conf: { steps: RewriteStep[]; loc: PerLocation | null };
}

/** `limit_except METHODS { ... }`. */
export interface LimitExceptBuilder {
  readonly directive: Directive;
  readonly methods: string[];
  readonly levels: LocLevels;
}

export interface LocationBuilder {
  readonly directive: Directive;
  readonly modifier: LocationModifier;
  readonly name: string;
  readonly caseless: boolean;
  readonly levels: LocLevels;
  readonly steps: RewriteStep[];
  readonly locations: LocationBuilder[];
  readonly ifs: IfBuilder[];
  limitExcept: LimitExceptBuilder | null;
  readonly parent: LocationBuilder | null;
}

export interface ServerBuilder {
  readonly directive: Directive;
  readonly srv: Raw<ServerSettings>;
  readonly levels: LocLevels;
  readonly steps: RewriteStep[];
  readonly listen: ListenConf[];
  readonly serverNames: ServerNameConf[];
  readonly locations: LocationBuilder[];
  readonly ifs: IfBuilder[];
}

export interface UpstreamBuilder {
  readonly name: string;
  readonly position: SourcePosition;
  readonly ups: Raw<UpstreamSettings>;
  readonly servers: UpstreamServer[];
  /** Made for a `*_pass` address, not by an `upstream` block. */
  implicit: boolean;
  /** The port of an implicit group (nginx keeps groups apart by host and port). */
  port: number;
  noPort: boolean;
  /** Server parameters the balancing method supports (nginx's NGX_HTTP_UPSTREAM_* flags). */
  supports: Set<'weight' | 'max_conns' | 'max_fails' | 'fail_timeout' | 'down' | 'backup'>;
  balancerSet: boolean;
}

/** One listening address with the servers on it, for nginx's duplicate checks. */
export interface ListenAddress {
  readonly key: string;
  /** nginx's text for it; a later `listen` with options replaces it, as nginx copies the options. */
  text: string;
  readonly servers: ServerBuilder[];
  defaultServer: ServerBuilder | null;
  optionsSet: boolean;
}

/** A `*_pass` target whose group name is settled when `http {}` ends. */
export type MutablePassTarget = { -readonly [K in keyof PassTarget]: PassTarget[K] };

/** A shared memory zone: declared with a size by one directive, used by others. */
export interface SharedZone {
  readonly name: string;
  /** The module owning it (`limit_req`, `limit_conn`, `upstream`, `proxy_cache`...). */
  readonly module: string;
  /** 0 until a directive declares the size. */
  size: number;
  /** The key of a limit zone, once declared. */
  key: string | null;
}

export interface HttpBuilder {
  readonly directive: Directive;
  readonly http: Raw<HttpSettings>;
  readonly srv: Raw<ServerSettings>;
  readonly levels: LocLevels;
  readonly servers: ServerBuilder[];
  readonly upstreams: UpstreamBuilder[];
  /** Listening addresses by `family:port` then address, in nginx's order. */
  readonly ports: Map<string, ListenAddress[]>;
  /** Every `*_pass` to an address or group, to check the groups once all are read. */
  readonly passTargets: { readonly directive: Directive; readonly group: UpstreamBuilder; readonly target: MutablePassTarget }[];
  /** Shared memory zones by name (nginx's one namespace for limit_req, limit_conn, upstream, cache). */
  readonly zones: Map<string, SharedZone>;
  /** Variables referenced, in first-reference order, and those defined by `set` or `map`. */
  readonly usedVariables: Map<string, Directive>;
  readonly definedVariables: Set<string>;
}

export function newHttpBuilder(directive: Directive): HttpBuilder {
  return {
    directive,
    http: {},
    srv: {},
    levels: newLocLevels(),
    servers: [],
    upstreams: [],
    ports: new Map(),
    zones: new Map(),
    passTargets: [],
    usedVariables: new Map(),
    definedVariables: new Set(),
  };
}

/** All the builders, as seen from the current position. */
export interface Builders {
  readonly main: Raw<MainSettings>;
  events: Raw<EventsSettings> | null;
  http: HttpBuilder | null;
  server: ServerBuilder | null;
  location: LocationBuilder | null;
  upstream: UpstreamBuilder | null;
  ifBlock: IfBuilder | null;
}
