/**
 * `limit_conn` (ngx_http_limit_conn_module.c, nginx 1.22): at most NUMBER requests in progress
 * per key. A request counts from the PREACCESS phase until it is over (nginx releases the count
 * when the request's memory pool is freed, i.e. when the response is sent or the request fails;
 * tsgi uses `ctx.onDone`). On HTTP/1.1 that is one per connection at a time, hence the name.
 *
 *   - an empty key is not limited; a key over 255 bytes is logged (error) and not limited;
 *   - the first zone at its limit rejects the request with limit_conn_status (503), logging
 *     `limiting connections by zone "NAME"` at limit_conn_log_level, and the counts already
 *     taken by earlier zones for this request are given back at once;
 *   - `limit_conn_dry_run on`: counted and logged (`limiting connections, dry run, by zone`),
 *     never rejected;
 *   - once per request (an internal redirect does not count again); $limit_conn_status is
 *     PASSED, REJECTED or REJECTED_DRY_RUN.
 */
import type { LimitConnEntry, NginxConfig, PerLocation } from '../config/index.js';
import type { ModuleEnv, PhaseHandler, PhaseResult, RequestContext } from '../request-context.js';
import { LimitConnZoneState, LimitZones } from './zones.js';

/** nginx stores the key length in one byte. */
const MAX_KEY_BYTES = 255;

/** One count taken for a request; released once. */
export interface ConnSlot {
  readonly zone: LimitConnZoneState;
  readonly key: string;
  released: boolean;
}

/** Takes a count for `key` if the zone allows `limit`; null when it is at its limit or full. */
export function acquireConn(zone: LimitConnZoneState, key: string, limit: number): ConnSlot | null {
  const count = zone.counts.get(key);
  if (count === undefined) {
    if (zone.counts.size >= zone.capacity) return null;
    zone.counts.set(key, 1);
  } else {
    if (count >= limit) return null;
    zone.counts.set(key, count + 1);
  }
  return { zone, key, released: false };
}

/** Gives a count back (ngx_http_limit_conn_cleanup): the key leaves the zone at zero. */
export function releaseConn(slot: ConnSlot): void {
  if (slot.released) return;
  slot.released = true;
  const count = (slot.zone.counts.get(slot.key) ?? 1) - 1;
  if (count <= 0) slot.zone.counts.delete(slot.key);
  else slot.zone.counts.set(slot.key, count);
}

export interface LimitConnOptions {
  readonly zones?: LimitZones;
}

/** The PREACCESS handler of limit_conn. */
export class LimitConnHandler implements PhaseHandler {
  readonly name = 'limit_conn';
  private readonly zones: LimitZones;

  constructor(
    private readonly config: NginxConfig,
    private readonly env: ModuleEnv,
    options: LimitConnOptions = {},
  ) {
    this.zones = options.zones ?? new LimitZones();
  }

  private zone(entry: LimitConnEntry): LimitConnZoneState {
    const zone = this.config.http?.limitConnZones.get(entry.zone);
    // The configuration check refuses a limit_conn naming no zone; keep that promise loud.
    if (!zone) throw new Error(`limit_conn zone "${entry.zone}" is not declared`);
    return this.zones.connZone(zone);
  }

  idleFor(loc: PerLocation): boolean {
    return loc.settings.limitConn.length === 0;
  }

  run(ctx: RequestContext): PhaseResult {
    const settings = ctx.loc.settings;
    if (settings.limitConn.length === 0 || ctx.variables.has('limit_conn_status')) return { kind: 'next' };
    const taken: ConnSlot[] = [];
    const giveBack = (): void => taken.forEach(releaseConn);
    for (const entry of settings.limitConn) {
      const zone = this.zone(entry);
      const key = this.env.variables.expand(ctx, zone.zone.key);
      if (key.length === 0) continue;
      if (key.length > MAX_KEY_BYTES) {
        ctx.log('error', `the value of the "${zone.zone.key}" key is more than ${MAX_KEY_BYTES} bytes: "${key}"`);
        continue;
      }
      ctx.variables.set('limit_conn_status', 'PASSED');
      const atLimit = zone.counts.has(key);
      const slot = acquireConn(zone, key, entry.number);
      if (!slot) {
        // A full zone refuses a new key silently; a key at its limit is logged.
        if (atLimit) ctx.log(settings.limitConnLogLevel, `limiting connections${settings.limitConnDryRun ? ', dry run,' : ''} by zone "${zone.name}"`);
        giveBack();
        ctx.variables.set('limit_conn_status', settings.limitConnDryRun ? 'REJECTED_DRY_RUN' : 'REJECTED');
        return settings.limitConnDryRun ? { kind: 'next' } : { kind: 'status', status: settings.limitConnStatus };
      }
      taken.push(slot);
      ctx.onDone(() => releaseConn(slot));
    }
    return { kind: 'next' };
  }
}

/** The limit_conn PREACCESS handler of a configuration generation. */
export function createLimitConn(config: NginxConfig, env: ModuleEnv, options: LimitConnOptions = {}): LimitConnHandler {
  return new LimitConnHandler(config, env, options);
}
