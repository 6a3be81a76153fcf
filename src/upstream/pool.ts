/**
 * Idle keep-alive connections to one peer, nginx's `keepalive` cache
 * (ngx_http_upstream_keepalive_module.c):
 *
 *  - a connection enters only when its request ended cleanly (the client decides that);
 *  - at most `maxIdle` wait; putting one more closes the one idle the longest (nginx evicts the
 *    last of its queue);
 *  - each closes after `idleTimeout` unused (nginx `keepalive_timeout`, 60 s);
 *  - the most recently used is taken first (LIFO): the warm connection serves, the surplus ages
 *    out, so the pool shrinks back after a burst;
 *  - a connection the peer closes while idle leaves at once (`remove`, called by its owner).
 */

export interface PoolOptions {
  /** Idle connections kept, 1 or more (nginx `keepalive N`; nginx has no default, 16 here). */
  maxIdle: number;
  /** Milliseconds an idle connection is kept (nginx `keepalive_timeout`, 60 s). */
  idleTimeout: number;
}

export const DEFAULT_POOL_OPTIONS: Readonly<PoolOptions> = Object.freeze({ maxIdle: 16, idleTimeout: 60_000 });

/** What the pool needs of a connection: a way to close it. */
export interface Poolable {
  close(): void;
}

interface Entry<T> {
  item: T;
  timer: NodeJS.Timeout;
}

export class IdlePool<T extends Poolable> {
  readonly options: PoolOptions;
  /** Oldest first; taken from the end. */
  private readonly idle: Entry<T>[] = [];

  constructor(options: Partial<PoolOptions> = {}) {
    const resolved = { ...DEFAULT_POOL_OPTIONS, ...options };
    if (!Number.isSafeInteger(resolved.maxIdle) || resolved.maxIdle < 1) {
      throw new RangeError(`maxIdle must be a positive integer, got ${String(resolved.maxIdle)}`);
    }
    if (!(resolved.idleTimeout > 0) || !Number.isFinite(resolved.idleTimeout)) {
      throw new RangeError(`idleTimeout must be a positive number of milliseconds, got ${String(resolved.idleTimeout)}`);
    }
    this.options = resolved;
  }

  get size(): number {
    return this.idle.length;
  }

  /** The most recently used idle connection, or undefined. */
  take(): T | undefined {
    const entry = this.idle.pop();
    if (entry === undefined) return undefined;
    clearTimeout(entry.timer);
    return entry.item;
  }

  put(item: T): void {
    const timer = setTimeout(() => {
      if (this.remove(item)) item.close();
    }, this.options.idleTimeout);
    // An idle connection's timer must not keep the process alive either.
    timer.unref();
    this.idle.push({ item, timer });
    if (this.idle.length > this.options.maxIdle) {
      const oldest = this.idle.shift();
      if (oldest !== undefined) {
        clearTimeout(oldest.timer);
        oldest.item.close();
      }
    }
  }

  /** Forgets `item` without closing it; false if it was not idle here. */
  remove(item: T): boolean {
    const at = this.idle.findIndex((entry) => entry.item === item);
    if (at < 0) return false;
    clearTimeout(this.idle[at].timer);
    this.idle.splice(at, 1);
    return true;
  }

  /** Closes every idle connection. */
  closeAll(): void {
    for (const entry of this.idle.splice(0)) {
      clearTimeout(entry.timer);
      entry.item.close();
    }
  }
}
