/**
 * `--cheaper N`: an adaptive number of workers, with uWSGI's "busyness" algorithm
 * (plugins/cheaper_busyness, by Łukasz Mierzwa), ported decision for decision.
 *
 * `--processes` is the most workers the master runs, `--cheaper` the fewest, `--cheaper-initial`
 * how many start. Every `--cheaper-overload` seconds the master asks the algorithm what to do:
 *
 *   busyness of a worker   the share of the period during which it had a request running
 *   average > max (50%)    spawn up to --cheaper-step workers; if a worker was cheaped less than
 *                          multiplier x overload seconds ago, raise the multiplier by the penalty
 *                          (the next cheap waits longer: the load keeps coming back)
 *   average < min (25%)    once the cheaper timer (overload x multiplier seconds) has run out,
 *                          stop one worker, down to --cheaper
 *   in between             three such cycles in a row restart the cheaper timer; fewer push it back
 *                          by one period, so a short lull does not count as idle time
 *   listen queue > alert   (checked every cycle, between the periods too) spawn an "emergency"
 *                          worker; emergency workers are cheaped on a shorter timer
 *
 * A tsgi worker runs many requests at once, so "busy" is "at least one request in flight", which is
 * what it means for a uWSGI worker with one core. The class is pure: the master feeds it samples
 * and applies its answer, which keeps the arithmetic testable without processes.
 */

export interface CheaperConfig {
  /** Fewest workers (--cheaper). */
  min: number;
  /** Workers at start (--cheaper-initial; default: `min`). */
  initial?: number;
  /** Workers started at once when the average busyness is too high (--cheaper-step; default 1). */
  step?: number;
  /** Seconds of one busyness period (--cheaper-overload; default 3). */
  overload?: number;
  /** Percent below which workers count as idle (--cheaper-busyness-min; default 25). */
  busynessMin?: number;
  /** Percent above which workers count as loaded (--cheaper-busyness-max; default 50). */
  busynessMax?: number;
  /** Idle periods needed before a worker is cheaped (--cheaper-busyness-multiplier; default 10). */
  multiplier?: number;
  /** Added to the multiplier when workers are spawned again soon after a cheap (--cheaper-busyness-penalty; default 2). */
  penalty?: number;
  /** Log every period's numbers (--cheaper-busyness-verbose). */
  verbose?: boolean;
  /** Listen queue length that spawns an emergency worker (--cheaper-busyness-backlog-alert; default 33). */
  backlogAlert?: number;
  /** Emergency workers spawned at once (--cheaper-busyness-backlog-step; default 1). */
  backlogStep?: number;
  /** Multiplier of the timer that cheaps emergency workers (--cheaper-busyness-backlog-multiplier; default 3). */
  backlogMultiplier?: number;
}

/** One running worker as the algorithm sees it. */
export interface BusynessSample {
  /** Identifies the process (its pid): a respawned worker starts counting from zero. */
  key: number;
  /** Microseconds of wall time with a request running, since the process started. */
  busyTime: number;
  /** A request is running now. */
  busy: boolean;
}

/** What the master should do: start `spawn` workers, stop one (`cheap`), or nothing. */
export type CheaperDecision = { spawn: number } | { cheap: true } | null;

/** uWSGI's defaults (cheaper_busyness.c and core/uwsgi.c). */
export const CHEAPER_DEFAULTS = {
  step: 1,
  overload: 3,
  busynessMin: 25,
  busynessMax: 50,
  multiplier: 10,
  penalty: 2,
  backlogAlert: 33,
  backlogStep: 1,
  backlogMultiplier: 3,
} as const;

const MICROS = 1_000_000;

export class BusynessCheaper {
  readonly min: number;
  readonly initial: number;
  private readonly step: number;
  private readonly overload: number;
  private readonly busynessMin: number;
  private readonly busynessMax: number;
  private readonly minMultiplier: number;
  private readonly penalty: number;
  private readonly verbose: boolean;
  private readonly backlogAlert: number;
  private readonly backlogStep: number;
  private readonly backlogMultiplier: number;

  /** busyTime of each process at the start of the period. */
  private lastValues = new Map<number, number>();
  /** Cycles each process was seen busy during the period. */
  private wasBusy = new Map<number, number>();
  /** Start of the current period, µs. */
  private periodStart: number | null = null;
  /** When a worker may be cheaped again, µs. */
  private nextCheap: number | null = null;
  private lastCheaped = 0;
  private multiplier: number;
  private lastAction: 'spawn' | 'cheap' | null = null;
  private toleranceCounter = 0;
  private emergencyWorkers = 0;

  constructor(
    config: CheaperConfig,
    /** Most workers (--processes). */
    private readonly max: number,
    private readonly log: (line: string) => void,
  ) {
    this.min = config.min;
    this.initial = config.initial ?? config.min;
    this.step = config.step ?? CHEAPER_DEFAULTS.step;
    this.overload = config.overload ?? CHEAPER_DEFAULTS.overload;
    this.busynessMin = config.busynessMin ?? CHEAPER_DEFAULTS.busynessMin;
    this.busynessMax = config.busynessMax ?? CHEAPER_DEFAULTS.busynessMax;
    this.minMultiplier = config.multiplier ?? CHEAPER_DEFAULTS.multiplier;
    this.multiplier = this.minMultiplier;
    this.penalty = config.penalty ?? CHEAPER_DEFAULTS.penalty;
    this.verbose = config.verbose ?? false;
    this.backlogAlert = config.backlogAlert ?? CHEAPER_DEFAULTS.backlogAlert;
    this.backlogStep = config.backlogStep ?? CHEAPER_DEFAULTS.backlogStep;
    this.backlogMultiplier = config.backlogMultiplier ?? CHEAPER_DEFAULTS.backlogMultiplier;
    this.log(
      `[busyness] settings: min=${this.busynessMin}%, max=${this.busynessMax}%, overload=${this.overload}, ` +
        `multiplier=${this.multiplier}, respawn penalty=${this.penalty}`,
    );
    this.log(`[busyness] backlog alert is set to ${this.backlogAlert} request(s), step is ${this.backlogStep}`);
  }

  /**
   * One master cycle (about a second): `workers` are the running workers, `backlog` the listen
   * queue length (0 where unknown), `nowMs` the clock, `max` the most workers now (TTIN raises it).
   * Returns what to do.
   */
  check(nowMs: number, workers: readonly BusynessSample[], backlog: number, max = this.max): CheaperDecision {
    const now = nowMs * 1000;
    const period = this.overload * MICROS;
    this.periodStart ??= now;
    if (this.nextCheap === null) this.setNextCheapTime(now);

    const active = workers.length;
    for (const worker of workers) this.wasBusy.set(worker.key, (this.wasBusy.get(worker.key) ?? 0) + (worker.busy ? 1 : 0));
    const canSpawn = Math.max(0, max - active);

    if (now - this.periodStart < period) {
      // Between periods only the listen queue is checked.
      return backlog > this.backlogAlert && canSpawn > 0 ? this.spawnEmergency(now, backlog, canSpawn) : null;
    }
    this.periodStart = now;

    let total = 0;
    const lastValues = new Map<number, number>();
    for (const worker of workers) {
      const previous = this.lastValues.get(worker.key) ?? 0;
      const delta = Math.max(0, worker.busyTime - previous);
      let percent = Math.min(100, Math.floor((delta * 100) / period));
      if (delta === 0 && (this.wasBusy.get(worker.key) ?? 0) > 0) {
        // Busy at every look but busyTime did not move: one request longer than the period.
        percent = 100;
      }
      total += percent;
      lastValues.set(worker.key, worker.busyTime);
      if (this.verbose && active > 1) this.log(`[busyness] worker ${worker.key} ${this.overload}s average busyness is at ${percent}%`);
    }
    this.lastValues = lastValues;
    this.wasBusy = new Map();
    const average = active > 0 ? Math.floor(total / active) : 0;
    if (this.verbose) this.log(`[busyness] ${this.overload}s average busyness of ${active} worker(s) is at ${average}%`);

    if (average > this.busynessMax) {
      this.toleranceCounter = 0;
      const spawn = Math.min(this.step, canSpawn);
      if (spawn === 0) {
        this.log(`[busyness] ${this.overload}s average busyness is at ${average}% but we already started maximum number of workers (${max})`);
        return null;
      }
      this.lastAction = 'spawn';
      if ((now - this.lastCheaped) / this.overload / MICROS <= this.multiplier) {
        this.multiplier += this.penalty;
        this.log(`[busyness] worker(s) respawned too fast, increasing cheaper multiplier to ${this.multiplier} (+${this.penalty})`);
      } else {
        this.decreaseMultiplier();
      }
      this.setNextCheapTime(now);
      this.log(`[busyness] ${this.overload}s average busyness is at ${average}%, will spawn ${spawn} new worker(s)`);
      return { spawn };
    }
    if (backlog > this.backlogAlert && canSpawn > 0) return this.spawnEmergency(now, backlog, canSpawn);
    if (average < this.busynessMin) {
      if (active <= 1) return null;
      this.toleranceCounter = 0;
      if (active <= this.min) return null;
      if (now < this.nextCheap!) {
        if (this.verbose) this.log(`[busyness] need to wait ${Math.ceil((this.nextCheap! - now) / MICROS)} more second(s) to cheap worker`);
        return null;
      }
      if (this.lastAction === 'cheap') this.decreaseMultiplier();
      this.setNextCheapTime(now);
      this.log(`[busyness] ${this.overload}s average busyness is at ${average}%, cheap one of ${active} running workers`);
      this.lastCheaped = now;
      this.lastAction = 'cheap';
      if (this.emergencyWorkers > 0) this.emergencyWorkers--;
      return { cheap: true };
    }
    if (active <= 1) return null;
    // Between min and max: the load is neither gone nor growing.
    if (this.emergencyWorkers > 0) this.emergencyWorkers--;
    this.toleranceCounter++;
    if (this.toleranceCounter >= 3) {
      if (this.verbose) this.log(`[busyness] ${this.overload}s average busyness is at ${average}%, ${this.toleranceCounter} non-idle cycle(s), resetting cheaper timer`);
      this.setNextCheapTime(now);
    } else {
      if (this.verbose) this.log(`[busyness] ${this.overload}s average busyness is at ${average}%, ${this.toleranceCounter} non-idle cycle(s), adjusting cheaper timer`);
      this.nextCheap! += period;
    }
    return null;
  }

  private setNextCheapTime(now: number): void {
    const multiplier = this.emergencyWorkers > 0 ? this.backlogMultiplier : this.multiplier;
    if (this.emergencyWorkers > 0 && this.verbose) {
      this.log(`[busyness] ${this.emergencyWorkers} emergency worker(s) running, using ${this.overload * multiplier} seconds cheaper timer`);
    }
    this.nextCheap = now + this.overload * multiplier * MICROS;
  }

  private decreaseMultiplier(): void {
    if (this.multiplier > this.minMultiplier) {
      this.multiplier--;
      this.log(`[busyness] decreasing cheaper multiplier to ${this.multiplier}`);
    }
  }

  private spawnEmergency(now: number, backlog: number, canSpawn: number): CheaperDecision {
    this.multiplier = this.minMultiplier;
    this.lastAction = 'spawn';
    const spawn = Math.min(this.backlogStep, canSpawn);
    this.emergencyWorkers += spawn;
    this.setNextCheapTime(now);
    this.log(`[busyness] ${backlog} requests in listen queue, spawning ${spawn} emergency worker(s) (${this.emergencyWorkers})!`);
    return { spawn };
  }
}

/** Checks the --cheaper options against --processes as uWSGI does; returns an error message or null. */
export function checkCheaperConfig(config: CheaperConfig, processes: number): string | null {
  if (!Number.isInteger(config.min) || config.min < 1) return `cheaper must be a whole number >= 1, got ${config.min}`;
  if (config.min >= processes) return `invalid cheaper value: must be lower than processes (cheaper ${config.min}, processes ${processes})`;
  const initial = config.initial;
  if (initial !== undefined && (!Number.isInteger(initial) || initial < config.min || initial > processes)) {
    return `cheaper-initial must be between cheaper (${config.min}) and processes (${processes}), got ${initial}`;
  }
  if (config.busynessMin !== undefined && config.busynessMax !== undefined && config.busynessMin >= config.busynessMax) {
    return `cheaper-busyness-min (${config.busynessMin}) must be lower than cheaper-busyness-max (${config.busynessMax})`;
  }
  return null;
}
