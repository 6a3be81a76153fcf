/**
 * The state of `limit_req_zone` and `limit_conn_zone` zones (nginx keeps it in shared memory).
 *
 * nginx shares a zone between all its workers, so `rate=10r/s` is 10 requests a second for a key
 * whatever worker takes them. tsgi keeps a zone per worker process, in memory, with no IPC on the
 * request path: a decision is a few map operations, as in nginx. The consequence, documented for
 * users: with `worker_processes N`, each worker enforces the limits on what it receives, so a
 * client spreading connections over several workers can reach up to N times the rate, or N times
 * the connections (one keep-alive connection always stays on one worker). With one worker (nginx's
 * default, and tsgi's) the limits are exact. A master-held store would be exact for every worker
 * count at the price of a round trip per request; the zone classes below are the seam where it
 * would plug in.
 *
 * Sizes: nginx's documentation counts about 16 thousand states per megabyte; a zone keeps at most
 * `size / 64` keys, and makes room as nginx does (limit_req: least recently used states that have
 * fully drained first, then the oldest by force; limit_conn: a key leaves when its count drops
 * to zero, and a full zone refuses new keys).
 *
 * Reloads: nginx keeps a zone's state across a reload when its key is unchanged. `LimitZones`
 * does the same when the next configuration generation is built with the previous one's store.
 */
import type { LimitConnZone, LimitReqZone } from '../config/index.js';

/** Bytes of zone memory one state takes (nginx's documented figure). */
export const ZONE_BYTES_PER_STATE = 64;
/** nginx works with rates in requests per 1000 seconds ("milli-requests" per second). */
export const MILLI = 1000;

/** One key's leaky bucket (ngx_http_limit_req_node_t). */
export interface LimitReqNode {
  /** Requests in the bucket beyond the one being served, times 1000. */
  excess: number;
  /** When `excess` was computed, ms (monotonic). */
  last: number;
  /** Requests holding the node between lookup and accounting (protects it from expiry). */
  count: number;
}

/** The buckets of one limit_req zone; a Map keeps them in LRU order (oldest first). */
export class LimitReqZoneState {
  /** Requests per second times 1000, rounded down as nginx computes `rate * 1000 / scale`. */
  readonly rate: number;
  readonly capacity: number;

  constructor(
    readonly zone: LimitReqZone,
    readonly nodes: Map<string, LimitReqNode> = new Map(),
  ) {
    // `ratePerSecond` is r/s or (r/m)/60; the small epsilon undoes the float division before the
    // integer rounding nginx does (30r/m is exactly 500, not 499).
    this.rate = Math.floor(zone.ratePerSecond * MILLI + 1e-6);
    this.capacity = Math.max(1, Math.floor(zone.size / ZONE_BYTES_PER_STATE));
  }

  get name(): string {
    return this.zone.name;
  }

  /** Moves a node to the most recently used end. */
  touch(key: string, node: LimitReqNode): void {
    this.nodes.delete(key);
    this.nodes.set(key, node);
  }

  /**
   * ngx_http_limit_req_expire: `force` deletes the least recently used state whatever it holds,
   * then (as without force) up to two more that are idle for a minute and fully drained. Stops at
   * a state a request holds.
   */
  expire(now: number, force: boolean): void {
    let n = force ? 0 : 1;
    while (n < 3) {
      const first = this.nodes.entries().next();
      if (first.done) return;
      const [key, node] = first.value;
      if (node.count) return;
      if (n++ !== 0) {
        const ms = Math.abs(now - node.last);
        if (ms < 60_000) return;
        if (node.excess - Math.floor((this.rate * ms) / MILLI) > 0) return;
      }
      this.nodes.delete(key);
    }
  }
}

/** The counts of one limit_conn zone. */
export class LimitConnZoneState {
  readonly capacity: number;

  constructor(
    readonly zone: LimitConnZone,
    readonly counts: Map<string, number> = new Map(),
  ) {
    this.capacity = Math.max(1, Math.floor(zone.size / ZONE_BYTES_PER_STATE));
  }

  get name(): string {
    return this.zone.name;
  }
}

/**
 * Every zone of a worker, by name. Pass the previous generation's store to the next one so
 * reloads keep the buckets and counts of zones whose key did not change.
 */
export class LimitZones {
  private readonly req = new Map<string, LimitReqZoneState>();
  private readonly conn = new Map<string, LimitConnZoneState>();

  reqZone(zone: LimitReqZone): LimitReqZoneState {
    const previous = this.req.get(zone.name);
    if (previous && previous.zone === zone) return previous;
    const state = new LimitReqZoneState(zone, previous && previous.zone.key === zone.key ? previous.nodes : new Map());
    this.req.set(zone.name, state);
    return state;
  }

  connZone(zone: LimitConnZone): LimitConnZoneState {
    const previous = this.conn.get(zone.name);
    if (previous && previous.zone === zone) return previous;
    const state = new LimitConnZoneState(zone, previous && previous.zone.key === zone.key ? previous.counts : new Map());
    this.conn.set(zone.name, state);
    return state;
  }
}
