/**
 * `limit_req` (ngx_http_limit_req_module.c, nginx 1.22): a leaky bucket per key, in integer
 * milli-requests and milliseconds exactly as nginx computes it.
 *
 * For each request and zone, with `rate` in requests/s times 1000 and `ms` since the key's last
 * accounted request:
 *
 *     excess = max(0, excess_before - rate * ms / 1000 + 1000)
 *
 *   excess > burst*1000                 rejected: 503 (limit_req_status), "limiting requests"
 *   excess <= delay*1000                passed at once (delay: 0 by default, all with nodelay)
 *   otherwise                           delayed (excess - delay*1000) * 1000 / rate ms,
 *                                       "delaying request" one log level lower
 *
 * A first request for a key leaves excess 0, so `rate=1r/s` without burst lets one request a
 * second through and rejects the next until 1000 ms have passed. With several `limit_req`s, the
 * request is rejected by the first zone that rejects it (the others are not charged), and
 * otherwise delayed by the longest delay among them. The decision is made once per request
 * (internal redirects do not count again), and $limit_req_status tells which way it went:
 * PASSED, DELAYED, REJECTED, DELAYED_DRY_RUN, REJECTED_DRY_RUN.
 *
 * The clock is monotonic (performance.now() on a wall-clock origin, as nginx's ngx_current_msec);
 * tests pass their own.
 */
import { performance } from 'node:perf_hooks';
import type { LimitReqEntry, LogLevel, NginxConfig, PerLocation } from '../config/index.js';
import type { ModuleEnv, PhaseHandler, PhaseResult, RequestContext } from '../request-context.js';
import { LimitZones, LimitReqZoneState, MILLI, type LimitReqNode } from './zones.js';

/** nginx keeps keys up to 65535 bytes (the node stores the length in 16 bits). */
const MAX_KEY_BYTES = 65535;
/** `nodelay`: a delay threshold no excess reaches (NGX_MAX_INT_T_VALUE / 1000 requests). */
const NODELAY = Math.floor(Number.MAX_SAFE_INTEGER / MILLI);

/** One `limit_req` resolved against its zone. */
export interface LimitReqRule {
  readonly zone: LimitReqZoneState;
  /** `burst`, in requests. */
  readonly burst: number;
  /** Requests within the burst served without delay (`delay=`), or `nodelay`. */
  readonly delay: number | 'nodelay';
}

/** What the limits decide for one request. Excess values are in milli-requests. */
export type LimitReqDecision =
  /** No limit applied (no rules, or every key was empty): nothing was counted. */
  | { readonly kind: 'declined' }
  | { readonly kind: 'pass' }
  | { readonly kind: 'delay'; readonly ms: number; readonly excess: number; readonly zone: string }
  | { readonly kind: 'reject'; readonly excess: number; readonly zone: string }
  /** The zone is full even after making room: nginx answers limit_req_status without "limiting". */
  | { readonly kind: 'no-memory'; readonly zone: string };

type LookupResult = 'ok' | 'again' | 'busy' | 'error';

function elapsed(now: number, last: number): number {
  const ms = now - last;
  // A clock that went back a little counts as no time; far back as one ms (nginx's guard).
  if (ms < -60_000) return 1;
  return ms < 0 ? 0 : ms;
}

function drained(node: LimitReqNode, rate: number, ms: number): number {
  return Math.max(0, node.excess - Math.floor((rate * ms) / MILLI) + MILLI);
}

/** ngx_http_limit_req_lookup. `held` receives the node when it is not accounted yet. */
function lookup(
  rule: LimitReqRule,
  key: string,
  account: boolean,
  now: number,
  held: (node: LimitReqNode) => void,
): { rc: LookupResult; excess: number } {
  const zone = rule.zone;
  const node = zone.nodes.get(key);
  if (node) {
    zone.touch(key, node);
    const ms = elapsed(now, node.last);
    const excess = drained(node, zone.rate, ms);
    if (excess > rule.burst * MILLI) return { rc: 'busy', excess };
    if (account) {
      node.excess = excess;
      if (ms) node.last = now;
      return { rc: 'ok', excess };
    }
    node.count += 1;
    held(node);
    return { rc: 'again', excess };
  }
  zone.expire(now, false);
  if (zone.nodes.size >= zone.capacity) {
    zone.expire(now, true);
    if (zone.nodes.size >= zone.capacity) return { rc: 'error', excess: 0 };
  }
  // A node not accounted yet gets last = 0, so that accounting it finds it empty.
  const fresh: LimitReqNode = { excess: 0, last: account ? now : 0, count: account ? 0 : 1 };
  zone.nodes.set(key, fresh);
  if (!account) held(fresh);
  return { rc: account ? 'ok' : 'again', excess: 0 };
}

function delayThreshold(rule: LimitReqRule): number {
  return (rule.delay === 'nodelay' ? NODELAY : rule.delay) * MILLI;
}

/**
 * The decision for one request (ngx_http_limit_req_handler without the logging): `keyOf(i)`
 * gives the key of rule i ('' skips the rule), asked in order and only as far as needed.
 */
export function decideLimitReq(rules: readonly LimitReqRule[], keyOf: (index: number) => string, now: number): LimitReqDecision {
  const held: (LimitReqNode | null)[] = rules.map(() => null);
  let rc: LookupResult | 'declined' = 'declined';
  let excess = 0;
  let n = 0;
  let limit = 0;
  for (; n < rules.length; n += 1) {
    limit = n;
    const key = keyOf(n);
    if (key.length === 0) continue;
    const index = n;
    const result = lookup(rules[n]!, key, n === rules.length - 1, now, (node) => (held[index] = node));
    rc = result.rc;
    excess = result.excess;
    if (rc !== 'again') break;
  }
  if (rc === 'declined') return { kind: 'declined' };
  if (rc === 'busy' || rc === 'error') {
    // ngx_http_limit_req_unlock: the zones before this one are not charged.
    for (let i = 0; i < n; i += 1) if (held[i]) held[i]!.count -= 1;
    const zone = rules[limit]!.zone.name;
    return rc === 'busy' ? { kind: 'reject', excess, zone } : { kind: 'no-memory', zone };
  }
  if (rc === 'again') excess = 0;
  // ngx_http_limit_req_account: charge the zones that were only looked up, keep the longest delay.
  const first = rules[limit]!;
  let maxDelay = excess <= delayThreshold(first) ? 0 : Math.floor(((excess - delayThreshold(first)) * MILLI) / first.zone.rate);
  while (n-- > 0) {
    const node = held[n];
    if (!node) continue;
    const rule = rules[n]!;
    const ms = elapsed(now, node.last);
    const charged = drained(node, rule.zone.rate, ms);
    if (ms) node.last = now;
    node.excess = charged;
    node.count -= 1;
    if (charged <= delayThreshold(rule)) continue;
    const delay = Math.floor(((charged - delayThreshold(rule)) * MILLI) / rule.zone.rate);
    if (delay > maxDelay) {
      maxDelay = delay;
      excess = charged;
      limit = n;
    }
  }
  if (maxDelay === 0) return { kind: 'pass' };
  return { kind: 'delay', ms: maxDelay, excess, zone: rules[limit]!.zone.name };
}

/** "1.500": an excess in milli-requests as nginx prints it. */
export function formatExcess(excess: number): string {
  return `${Math.floor(excess / MILLI)}.${String(excess % MILLI).padStart(3, '0')}`;
}

/** limit_req logs delays one level below rejections (info stays info). */
export function delayLogLevel(level: LogLevel): LogLevel {
  const lower: Partial<Record<LogLevel, LogLevel>> = { emerg: 'alert', alert: 'crit', crit: 'error', error: 'warn', warn: 'notice', notice: 'info' };
  return lower[level] ?? 'info';
}

export interface LimitReqOptions {
  /** Monotonic ms. */
  readonly now?: () => number;
  /** Waits `ms` (setTimeout); tests resolve it themselves. */
  readonly sleep?: (ms: number) => Promise<void>;
  /** The zone store, to keep state across reloads (see zones.ts). */
  readonly zones?: LimitZones;
}

const monotonicNow = (): number => Math.floor(performance.timeOrigin + performance.now());
const realSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The outcome for the pipeline: what to do and how long to wait first. */
export type LimitReqOutcome = { readonly kind: 'next'; readonly delayMs: number } | { readonly kind: 'status'; readonly status: number };

/** The PREACCESS handler of limit_req. */
export class LimitReqHandler implements PhaseHandler {
  readonly name = 'limit_req';
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly zones: LimitZones;
  private readonly rules = new WeakMap<readonly LimitReqEntry[], LimitReqRule[]>();

  constructor(
    private readonly config: NginxConfig,
    private readonly env: ModuleEnv,
    options: LimitReqOptions = {},
  ) {
    this.now = options.now ?? monotonicNow;
    this.sleep = options.sleep ?? realSleep;
    this.zones = options.zones ?? new LimitZones();
  }

  private resolve(entries: readonly LimitReqEntry[]): LimitReqRule[] {
    let rules = this.rules.get(entries);
    if (!rules) {
      rules = entries.map((entry) => {
        const zone = this.config.http?.limitReqZones.get(entry.zone);
        // The configuration check refuses a limit_req naming no zone; keep that promise loud.
        if (!zone) throw new Error(`limit_req zone "${entry.zone}" is not declared`);
        return { zone: this.zones.reqZone(zone), burst: entry.burst, delay: entry.delay };
      });
      this.rules.set(entries, rules);
    }
    return rules;
  }

  /** Decides, logs and records $limit_req_status; the caller applies the outcome. */
  decide(ctx: RequestContext): LimitReqOutcome {
    const settings = ctx.loc.settings;
    // Once per request: an internal redirect to another location does not count again.
    if (settings.limitReq.length === 0 || ctx.variables.has('limit_req_status')) return { kind: 'next', delayMs: 0 };
    const rules = this.resolve(settings.limitReq);
    const keyOf = (i: number): string => {
      const zone = rules[i]!.zone.zone;
      const key = this.env.variables.expand(ctx, zone.key);
      if (key.length > MAX_KEY_BYTES) {
        ctx.log('error', `the value of the "${zone.key}" key is more than ${MAX_KEY_BYTES} bytes: "${key}"`);
        return '';
      }
      return key;
    };
    const decision = decideLimitReq(rules, keyOf, this.now());
    const dryRun = settings.limitReqDryRun;
    switch (decision.kind) {
      case 'declined':
        return { kind: 'next', delayMs: 0 };
      case 'pass':
        ctx.variables.set('limit_req_status', 'PASSED');
        return { kind: 'next', delayMs: 0 };
      case 'reject':
      case 'no-memory':
        if (decision.kind === 'reject') {
          ctx.log(
            settings.limitReqLogLevel,
            `limiting requests${dryRun ? ', dry run' : ''}, excess: ${formatExcess(decision.excess)} by zone "${decision.zone}"`,
          );
        } else {
          this.env.errorLog.log('alert', `could not allocate node in limit_req zone "${decision.zone}"`);
        }
        ctx.variables.set('limit_req_status', dryRun ? 'REJECTED_DRY_RUN' : 'REJECTED');
        return dryRun ? { kind: 'next', delayMs: 0 } : { kind: 'status', status: settings.limitReqStatus };
      case 'delay':
        ctx.log(
          delayLogLevel(settings.limitReqLogLevel),
          `delaying request${dryRun ? ', dry run' : ''}, excess: ${formatExcess(decision.excess)}, by zone "${decision.zone}"`,
        );
        ctx.variables.set('limit_req_status', dryRun ? 'DELAYED_DRY_RUN' : 'DELAYED');
        return { kind: 'next', delayMs: dryRun ? 0 : decision.ms };
    }
  }

  idleFor(loc: PerLocation): boolean {
    return loc.settings.limitReq.length === 0;
  }

  async run(ctx: RequestContext): Promise<PhaseResult> {
    const outcome = this.decide(ctx);
    if (outcome.kind === 'status') return outcome;
    if (outcome.delayMs > 0) await this.sleep(outcome.delayMs);
    return { kind: 'next' };
  }
}

/** The limit_req PREACCESS handler of a configuration generation. */
export function createLimitReq(config: NginxConfig, env: ModuleEnv, options: LimitReqOptions = {}): LimitReqHandler {
  return new LimitReqHandler(config, env, options);
}
