/**
 * The shape of a directive declaration, after nginx's `ngx_command_t`:
 *
 *     { name, contexts (NGX_HTTP_LOC_CONF|...), args (NGX_CONF_TAKE12...), block, slot, apply }
 *
 * `slot` names the typed field the directive writes (nginx's conf offset + offsetof), its default
 * and how inner blocks inherit it; merging and the reference docs are driven from it. `apply` is
 * nginx's `set` handler: it runs with the arguments already counted and the context checked.
 */
import type { NginxConfigError, NginxConfigErrorCode } from '../errors.js';
import type { Directive } from '../parser.js';
import type {
  EventsSettings,
  FastcgiSettings,
  HttpSettings,
  LocationSettings,
  MainSettings,
  ProxySettings,
  RewriteStep,
  ScgiSettings,
  ServerSettings,
  UpstreamSettings,
  UwsgiSettings,
} from '../types.js';
import type { Builders } from '../builders.js';

/** Where a directive may be written: nginx's NGX_*_CONF bits. */
export const Context = {
  Main: 1 << 0,
  Events: 1 << 1,
  Http: 1 << 2,
  Server: 1 << 3,
  Location: 1 << 4,
  Upstream: 1 << 5,
  /** `if` inside a server (NGX_HTTP_SIF_CONF). */
  ServerIf: 1 << 6,
  /** `if` inside a location (NGX_HTTP_LIF_CONF). */
  LocationIf: 1 << 7,
  /** `limit_except` (NGX_HTTP_LMT_CONF). */
  LimitExcept: 1 << 8,
} as const;
export type ContextBit = (typeof Context)[keyof typeof Context];

/** Every context (`include`'s NGX_ANY_CONF). */
export const ANY_CONTEXT = Object.values(Context).reduce((a, b) => a | b, 0);
/** http, server and location: where most per-location settings may be written. */
export const HTTP_SRV_LOC = Context.Http | Context.Server | Context.Location;
export const HTTP_SRV = Context.Http | Context.Server;

const CONTEXT_NAMES: readonly [number, string][] = [
  [Context.Main, 'main'],
  [Context.Events, 'events'],
  [Context.Http, 'http'],
  [Context.Server, 'server'],
  [Context.Location, 'location'],
  [Context.Upstream, 'upstream'],
  [Context.ServerIf, 'if in server'],
  [Context.LocationIf, 'if in location'],
  [Context.LimitExcept, 'limit_except'],
];

/** The context names, as the nginx reference lists them (`http, server, location`). */
export function contextNames(mask: number): string[] {
  return CONTEXT_NAMES.filter(([bit]) => mask & bit).map(([, name]) => name);
}

/** How many arguments a directive takes: nginx's NGX_CONF_NOARGS, TAKE1..7, FLAG, 1MORE, 2MORE, ANY. */
export type Args =
  | { readonly kind: 'take'; readonly counts: readonly number[] }
  | { readonly kind: 'flag' }
  | { readonly kind: 'more'; readonly min: 1 | 2 }
  | { readonly kind: 'any' };

export const take = (...counts: number[]): Args => ({ kind: 'take', counts });
export const NOARGS = take(0);
export const TAKE1 = take(1);
export const TAKE2 = take(2);
export const TAKE3 = take(3);
export const TAKE12 = take(1, 2);
export const TAKE23 = take(2, 3);
export const TAKE123 = take(1, 2, 3);
export const TAKE1234 = take(1, 2, 3, 4);
/** `on` or `off`: one argument, parsed by the flag setter. */
export const FLAG: Args = { kind: 'flag' };
export const ONE_OR_MORE: Args = { kind: 'more', min: 1 };
export const TWO_OR_MORE: Args = { kind: 'more', min: 2 };
export const ANY_ARGS: Args = { kind: 'any' };

/** nginx allows at most this many arguments to a TAKEn directive (NGX_CONF_MAX_ARGS). */
const MAX_ARGS = 8;

/** nginx's argument count check (`ngx_conf_handler`). */
export function argsAccepted(args: Args, count: number): boolean {
  switch (args.kind) {
    case 'any':
      return true;
    case 'flag':
      return count === 1;
    case 'more':
      return count >= args.min;
    case 'take':
      return count < MAX_ARGS && args.counts.includes(count);
  }
}

/** nginx's notation for an argument spec, for the docs: `TAKE12`, `1MORE`, `FLAG`... */
export function argsNotation(args: Args): string {
  switch (args.kind) {
    case 'any':
      return 'ANY';
    case 'flag':
      return 'FLAG';
    case 'more':
      return `${args.min}MORE`;
    case 'take':
      return args.counts.length === 1 && args.counts[0] === 0 ? 'NOARGS' : `TAKE${args.counts.join('')}`;
  }
}

/** The configuration levels a directive can store into; each is one typed settings object. */
export interface LevelSettings {
  main: MainSettings;
  events: EventsSettings;
  http: HttpSettings;
  srv: ServerSettings;
  loc: LocationSettings;
  proxy: ProxySettings;
  uwsgi: UwsgiSettings;
  fastcgi: FastcgiSettings;
  scgi: ScgiSettings;
  ups: UpstreamSettings;
}
export type Level = keyof LevelSettings;
/** The levels a location carries, one per module (nginx's per-module loc_conf). */
export const LOC_LEVELS = ['loc', 'proxy', 'uwsgi', 'fastcgi', 'scgi'] as const;
export type LocLevel = (typeof LOC_LEVELS)[number];
/** The modules that pass requests upstream. */
export type PassLevel = 'proxy' | 'uwsgi' | 'fastcgi' | 'scgi';

/** A settings object being filled: every field optional and writable (nginx's NGX_CONF_UNSET). */
export type Raw<T> = { -readonly [K in keyof T]?: T[K] };

/** What defaults may depend on: paths are relative to the prefix; the default port depends on root. */
export interface DefaultsEnv {
  /** nginx's prefix (`-p`), ending in `/`. */
  readonly prefix: string;
  /** The directory of the main configuration file, ending in `/`. */
  readonly confPrefix: string;
  /** Whether tsgi runs as root (nginx listens on 80 then, else 8000). */
  readonly isRoot: boolean;
}

/**
 * How a value written at an outer level reaches inner ones (nginx's merge functions):
 * - `inherit`: an inner level that does not write it takes the outer value, else the default.
 * - `none`: never inherited (nginx keeps it on the one location, like `try_files`).
 */
export type MergeRule = 'inherit' | 'none';

/** The typed field a directive writes. */
export interface SlotSpec {
  readonly level: Level;
  readonly field: string;
  /** nginx's default, or a function of the prefix and user. */
  readonly default: unknown;
  readonly merge: MergeRule;
}

/** What a directive's handler can read and write. */
export interface DirectiveContext {
  readonly env: DefaultsEnv;
  /** The context the directive is in (one `Context` bit). */
  readonly context: number;
  /** The settings object of a level at the current position (the current location's, server's...). */
  raw<L extends Level>(level: L): Raw<LevelSettings[L]>;
  /** The structures being built (servers, locations, upstreams...). */
  readonly builders: Builders;
  /** The rewrite script of the current block (a location, server or `if`). */
  rewriteSteps(): RewriteStep[];
  /** nginx's `ngx_conf_full_name(cycle, name, 0)`: a relative path is taken from the prefix. */
  fullPath(name: string): string;
  /** An error at the directive's line (nginx's `ngx_conf_log_error`). */
  error(d: Directive, text: string, code?: NginxConfigErrorCode): NginxConfigError;
  /** nginx's `return "..."` from a handler: `"NAME" directive TEXT`. */
  directiveError(d: Directive, text: string, code?: NginxConfigErrorCode): NginxConfigError;
  /** A `[warn]` at the directive's line; `nginx: false` for the ones nginx does not print. */
  warn(d: Directive, text: string, nginx?: boolean): void;
  /** Applies the directives of a block in a new context; `enter` prepares the new position. */
  evaluateBlock(d: Directive, context: number, enter: (frame: BlockFrame) => void): void;
  /** `include`: applies the files the parser read for `d`, in the current context. */
  evaluateIncluded(d: Directive): void;
  /** The end of `http {}`: merging and the checks nginx makes there (locations, variables, names). */
  finishHttp(d: Directive): void;
  /** Records the variables a value refers to, for the `unknown "x" variable` check. */
  useVariables(d: Directive, value: string): void;
  /** Records one variable by name (an `if ($name)` operand). */
  useVariable(d: Directive, name: string): void;
  /** Declares a variable (`set`, `map`), so that references to it are known. */
  defineVariable(name: string): void;
}

/** The parts of the position a block directive may change when it opens its block. */
export interface BlockFrame {
  setBuilders(builders: Partial<Builders>): void;
  setLevels(levels: Partial<{ [L in Level]: Raw<LevelSettings[L]> }>): void;
  setRewriteSteps(steps: RewriteStep[]): void;
  /** `types {}`, `map {}`: the block's statements are data, handled by this function. */
  setStatementHandler(handler: (d: Directive, cx: DirectiveContext) => void): void;
}

/** One directive declaration. */
export interface DirectiveSpec {
  readonly name: string;
  readonly contexts: number;
  readonly args: Args;
  /** Takes a `{ ... }` block (NGX_CONF_BLOCK). */
  readonly block: boolean;
  /** The typed fields it writes (most directives write one). */
  readonly slots: readonly SlotSpec[];
  readonly apply: (d: Directive, cx: DirectiveContext) => void;
  /** One line for the reference. */
  readonly help: string;
}

/** A typed slot declaration: the directive writes `field` of `level`. */
export interface SlotOptions<V> {
  readonly default: V | ((env: DefaultsEnv) => V);
  /** nginx's rule; `inherit` unless stated. */
  readonly merge?: MergeRule;
  /**
   * The directive may be written several times at one level and each adds to the value (lists
   * such as `add_header`); otherwise a second one is `"x" directive is duplicate`.
   */
  readonly accumulate?: boolean;
  readonly help: string;
}

/** Declares a directive that parses its arguments into one typed field. */
export function slot<L extends Level, K extends keyof LevelSettings[L] & string>(
  name: string,
  contexts: number,
  args: Args,
  level: L,
  field: K,
  parse: (d: Directive, cx: DirectiveContext, previous: LevelSettings[L][K] | undefined) => LevelSettings[L][K],
  options: SlotOptions<LevelSettings[L][K]>,
): DirectiveSpec {
  return {
    name,
    contexts,
    args,
    block: false,
    slots: [{ level, field, default: options.default, merge: options.merge ?? 'inherit' }],
    help: options.help,
    apply(d, cx) {
      const raw = cx.raw(level);
      const previous = raw[field];
      if (previous !== undefined && !options.accumulate) throw cx.directiveError(d, 'is duplicate');
      raw[field] = parse(d, cx, previous);
    },
  };
}

/** Declares a directive with its own handler, which may still name the field it writes. */
export function custom(
  name: string,
  contexts: number,
  args: Args,
  apply: (d: Directive, cx: DirectiveContext) => void,
  options: { help: string; block?: boolean; slots?: readonly SlotSpec[] },
): DirectiveSpec {
  return { name, contexts, args, block: options.block ?? false, apply, help: options.help, slots: options.slots ?? [] };
}

/** The slot metadata of a field written by a custom handler. */
export function fieldOf<L extends Level, K extends keyof LevelSettings[L] & string>(
  level: L,
  field: K,
  defaultValue: LevelSettings[L][K] | ((env: DefaultsEnv) => LevelSettings[L][K]),
  merge: MergeRule = 'inherit',
): SlotSpec {
  return { level, field, default: defaultValue, merge };
}
