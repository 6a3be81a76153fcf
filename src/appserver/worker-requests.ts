/**
 * What a worker of `tsgi serve` keeps about its requests, as a TSGI middleware around the
 * application (so it works the same for every protocol): the counters the master asks for, the
 * harakiri board, and the --threads limit.
 *
 * --threads N for a JS app: N requests run at once. When the Nth starts, the worker calls
 * `onSaturation(true)` and closes its copies of the listening sockets, so new connections wait in
 * the kernel's listen queue where another worker can take them (uWSGI's behaviour: a busy worker
 * does not accept). A request that arrives meanwhile on a connection the worker already has (HTTP
 * keep-alive, pipelining) waits here, in arrival order, for a running request to finish.
 *
 * A request ends when the server calls its body's `close()` (PEP 3333 guarantees the call, and the
 * TSGI handler makes it however the response ends), or when the application throws or returns an
 * array without `close()`: an array is complete the moment it is returned, and not wrapping it
 * keeps the hello-world path free of allocations.
 */
import type { App, Body, Environ, StartResponse } from '../gateway/types.js';
import type { HarakiriBoard } from './watchdog.js';

export interface RequestTrackerOptions {
  /** Requests run at once (--threads); null for no limit. */
  threads: number | null;
  /** Where running requests are written down for the harakiri watchdog; null without harakiri. */
  board: HarakiriBoard | null;
  /** The limit was reached (true) or a slot freed again (false). */
  onSaturation?: (saturated: boolean) => void;
  /** Called after each finished request with the total so far (max-requests is checked there). */
  onFinished?: (requests: number) => void;
}

/** One of uWSGI's "cores" of a worker: a --threads slot, or the whole worker without --threads. */
export interface CoreCounters {
  requests: number;
  inRequest: boolean;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && 'then' in value && typeof value.then === 'function';
}

export class RequestTracker {
  /** Requests finished since the worker started. */
  requests = 0;
  /** Requests running now (waiting ones excluded). */
  inFlight = 0;
  private readonly waiting: Array<() => void> = [];
  private windowMicros = 0;
  private windowCount = 0;
  /** Microseconds spent in requests since the worker started, summed over requests (uWSGI's running_time). */
  private runningMicros = 0;
  /** Microseconds of wall time during which at least one request ran (what --cheaper calls busy). */
  private busyMicros = 0;
  private busySince = 0;
  /** Requests finished per core; a core is a --threads slot, or the whole worker without --threads. */
  private readonly coreRequests: number[];
  private readonly coreBusy: Uint8Array;
  /** Free --threads slots, taken from the end so the lowest ids stay the busiest (as uWSGI's cores). */
  private readonly freeCores: number[];
  /**
   * The core of the request being called right now: set just before the application is called,
   * so a middleware inside the tracker (the request log) reads it synchronously on entry.
   */
  currentCore = 0;

  constructor(private readonly options: RequestTrackerOptions) {
    const cores = options.threads ?? 1;
    this.coreRequests = new Array<number>(cores).fill(0);
    this.coreBusy = new Uint8Array(cores);
    this.freeCores = Array.from({ length: cores }, (_, index) => cores - 1 - index);
  }

  /** Microseconds spent in requests, summed over requests (uWSGI's running_time). */
  get runningTime(): number {
    return Math.round(this.runningMicros);
  }

  /** Microseconds of wall time with at least one request running, up to now. */
  get busyTime(): number {
    const running = this.inFlight > 0 ? performance.now() - this.busySince : 0;
    return Math.round(this.busyMicros + running * 1000);
  }

  /** Per-core counters for the stats server. */
  cores(): CoreCounters[] {
    // Without --threads the one core is the event loop, busy whenever any request runs.
    if (this.options.threads === null) return [{ requests: this.coreRequests[0]!, inRequest: this.inFlight > 0 }];
    return this.coreRequests.map((requests, index) => ({ requests, inRequest: this.coreBusy[index] === 1 }));
  }

  /** Requests waiting for a slot of --threads. */
  get queued(): number {
    return this.waiting.length;
  }

  get saturated(): boolean {
    return this.options.threads !== null && this.inFlight >= this.options.threads;
  }

  /** Mean response time in microseconds of the requests finished since the last call (uWSGI's avg_rt). */
  takeAverageMicros(): number {
    const average = this.windowCount === 0 ? 0 : Math.round(this.windowMicros / this.windowCount);
    this.windowMicros = 0;
    this.windowCount = 0;
    return average;
  }

  wrap(app: App): App {
    return (environ, startResponse) => {
      if (this.saturated) {
        return new Promise<void>((resolve) => this.waiting.push(resolve)).then(() => this.run(app, environ, startResponse));
      }
      if (this.inFlight++ === 0) this.busySince = performance.now();
      if (this.saturated) this.options.onSaturation?.(true);
      return this.run(app, environ, startResponse);
    };
  }

  /** Runs one request that holds a slot; the slot is given back by `finish`. */
  private run(app: App, environ: Environ, startResponse: StartResponse): Body | Promise<Body> {
    const started = performance.now();
    const core = this.options.threads === null ? 0 : (this.freeCores.pop() ?? 0);
    this.coreBusy[core] = 1;
    this.currentCore = core;
    const board = this.options.board;
    const slot = board === null ? -1 : board.begin(`${environ.REQUEST_METHOD} ${String(environ.REQUEST_URI ?? environ.PATH_INFO)}`);
    let finished = false;
    const finish = (): void => {
      if (finished) return;
      finished = true;
      this.finish(started, slot, core);
    };
    let result: Body | Promise<Body>;
    board?.running(slot);
    try {
      result = app(environ, startResponse);
    } catch (error) {
      finish();
      throw error;
    } finally {
      board?.running(-1);
    }
    if (isThenable(result)) {
      return Promise.resolve(result).then(
        (body) => watchBody(body, finish),
        (error: unknown) => {
          finish();
          throw error;
        },
      );
    }
    return watchBody(result, finish);
  }

  private finish(started: number, slot: number, core: number): void {
    this.options.board?.end(slot);
    this.requests++;
    const now = performance.now();
    const micros = (now - started) * 1000;
    this.windowMicros += micros;
    this.runningMicros += micros;
    this.windowCount++;
    this.coreRequests[core]!++;
    if (this.options.threads !== null) {
      this.coreBusy[core] = 0;
      this.freeCores.push(core);
    }
    const next = this.waiting.shift();
    if (next !== undefined) {
      // The slot goes straight to the oldest waiting request: inFlight does not change.
      next();
    } else {
      const wasSaturated = this.saturated;
      if (--this.inFlight === 0) this.busyMicros += (now - this.busySince) * 1000;
      if (wasSaturated) this.options.onSaturation?.(false);
    }
    this.options.onFinished?.(this.requests);
  }
}

/**
 * Returns the body with `close()` observed. An array without close() is complete already; any
 * other body is wrapped in a Proxy whose `close` runs the original one and then `finish`: the
 * body keeps its identity for `instanceof` and `Array.isArray`, and its own properties.
 */
function watchBody(body: Body, finish: () => void): Body {
  if (typeof body !== 'object' || body === null) {
    // Not a body at all: the handler reports it and will not call close().
    finish();
    return body;
  }
  const original: unknown = Reflect.get(body, 'close');
  if (Array.isArray(body) && typeof original !== 'function') {
    finish();
    return body;
  }
  const close = (): void | Promise<void> => {
    let outcome: unknown;
    try {
      outcome = typeof original === 'function' ? Reflect.apply(original, body, []) : undefined;
    } catch (error) {
      finish();
      throw error;
    }
    if (isThenable(outcome)) return Promise.resolve(outcome).then(finish, (error: unknown) => {
      finish();
      throw error;
    });
    finish();
    return undefined;
  };
  return new Proxy(body, {
    get(target, property) {
      if (property === 'close') return close;
      const value: unknown = Reflect.get(target, property, target);
      // Methods run against the real object: private fields and internal slots need it as `this`.
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
