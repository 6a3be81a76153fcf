/**
 * When to respawn a worker that died unexpectedly. Two guards, one from each model:
 *
 * - PM2's crash-loop protection (`God.js`: min_uptime, exp_backoff_restart_delay): a worker that
 *   dies sooner than `minUptimeMs` after it started is crashing, not dying; each consecutive crash
 *   of the same worker doubles the wait before the next attempt, up to `backoffMaxMs`. A worker
 *   that lived longer resets its streak and comes back at once (a `kill -9` of a healthy worker is
 *   answered within the second).
 * - uWSGI's fork-bomb guard (`core/master.c`): when more than `burst` respawns each follow the
 *   previous one within `windowMs`, the master pauses respawning for `forkbombDelayMs` and logs
 *   "worker respawning too fast !!! i have to sleep a bit (2 seconds)...". uWSGI sleeps the whole
 *   master; here only the respawn waits, so signals and the other workers are still served.
 *
 * Deliberate recycling (max-requests, reload, scale-down) never goes through this policy.
 */

export interface RespawnPolicyOptions {
  /** A worker that dies sooner than this after it was spawned counts as a crash (PM2's min_uptime). */
  minUptimeMs: number;
  /** Wait before respawning after the first crash of a streak; doubled for each further crash. */
  backoffBaseMs: number;
  /** Upper bound of the crash-streak backoff. */
  backoffMaxMs: number;
  /** Respawns allowed in a row, each within `windowMs` of the previous, before the fork-bomb pause (uWSGI: the number of processes). */
  burst: number;
  /** uWSGI's master check interval: respawns closer together than this count as "in a row". */
  windowMs: number;
  /** The fork-bomb pause (uWSGI's --forkbomb-delay; 0 disables it). */
  forkbombDelayMs: number;
}

export const DEFAULT_RESPAWN_POLICY: RespawnPolicyOptions = {
  minUptimeMs: 1000,
  backoffBaseMs: 100,
  backoffMaxMs: 8000,
  burst: 1,
  windowMs: 1000,
  forkbombDelayMs: 2000,
};

/** Why a respawn waits: a crash streak of this worker, or too many respawns across workers. */
export type RespawnDelayReason = 'crash-loop' | 'too-fast';

export type RespawnDecision =
  | { delayMs: 0; reason: null; crashes: number }
  | { delayMs: number; reason: RespawnDelayReason; crashes: number };

export class RespawnPolicy {
  private readonly options: RespawnPolicyOptions;
  /** Consecutive early deaths per worker id. */
  private readonly streaks = new Map<number, number>();
  private lastRespawnAt = Number.NEGATIVE_INFINITY;
  /** Respawns in a row, each within `windowMs` of the previous (uWSGI's last_respawn_rate). */
  private rapidRespawns = 0;

  constructor(options: Partial<RespawnPolicyOptions> = {}) {
    this.options = { ...DEFAULT_RESPAWN_POLICY, ...options };
  }

  /** Worker `id` died unexpectedly after living `uptimeMs`: how long to wait before respawning it. */
  decide(id: number, uptimeMs: number, now: number): RespawnDecision {
    const { minUptimeMs, backoffBaseMs, backoffMaxMs, burst, windowMs, forkbombDelayMs } = this.options;
    const crashes = uptimeMs < minUptimeMs ? (this.streaks.get(id) ?? 0) + 1 : 0;
    this.streaks.set(id, crashes);
    const backoff = crashes === 0 ? 0 : Math.min(backoffBaseMs * 2 ** (crashes - 1), backoffMaxMs);

    let forkbomb = 0;
    if (now - this.lastRespawnAt <= windowMs) {
      this.rapidRespawns++;
      if (this.rapidRespawns > burst && forkbombDelayMs > 0) {
        forkbomb = forkbombDelayMs;
        this.rapidRespawns = 0;
      }
    } else {
      this.rapidRespawns = 0;
    }
    const delayMs = Math.max(backoff, forkbomb);
    // The respawn happens after the delay: that is when the next one is measured from.
    this.lastRespawnAt = now + delayMs;
    if (delayMs === 0) return { delayMs: 0, reason: null, crashes };
    return { delayMs, reason: forkbomb >= backoff ? 'too-fast' : 'crash-loop', crashes };
  }

  /** Worker `id` is gone for good (scaled down): its streak no longer matters. */
  forget(id: number): void {
    this.streaks.delete(id);
  }
}

/** uWSGI's line, with the delay rounded up to whole seconds as uWSGI prints it. */
export function respawnTooFastMessage(delayMs: number): string {
  return `worker respawning too fast !!! i have to sleep a bit (${Math.ceil(delayMs / 1000)} seconds)...`;
}
