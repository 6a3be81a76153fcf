/**
 * Smooth weighted round-robin: ngx_http_upstream_round_robin.c (nginx 1.22). Also the base the
 * other methods stand on, as in nginx: they share its per-request data (the tier in use, the
 * tried set, the current peer), fall back to its get after 20 unlucky hash tries, and all
 * release peers through its free.
 */
import { available, take, weigh, type PeerState, type PeerTier } from './peers.js';

/** ngx_http_upstream_rr_peer_data_t: what one request has been through. */
export class RoundRobinData {
  /** The primary tier, then the backup tier once the primaries gave nothing. */
  tier: PeerTier;
  private readonly tried: boolean[] = [];

  constructor(readonly primary: PeerTier) {
    this.tier = primary;
  }

  isTried(index: number): boolean {
    return this.tried[index] === true;
  }

  markTried(index: number): void {
    this.tried[index] = true;
  }

  /** The tried set is reused for the backup tier, cleared first (indexes restart at 0). */
  switchTo(next: PeerTier): void {
    this.tier = next;
    this.tried.length = 0;
  }
}

/** ngx_http_upstream_get_round_robin_peer. */
export function getRoundRobinPeer(rrp: RoundRobinData, now: number): PeerState | null {
  const tier = rrp.tier;
  if (tier.single) {
    const peer = tier.peers[0]!;
    if (!peer.down && !(peer.maxConns > 0 && peer.conns >= peer.maxConns)) {
      peer.conns += 1;
      return peer;
    }
  } else {
    const peer = getPeer(rrp, now);
    if (peer) return take(peer, now);
  }
  return toBackup(rrp, now, getRoundRobinPeer);
}

/** The `failed:` label shared by round-robin and least_conn: try the backup tier once. */
export function toBackup(rrp: RoundRobinData, now: number, get: (rrp: RoundRobinData, now: number) => PeerState | null): PeerState | null {
  const next = rrp.tier.next;
  if (!next) return null;
  rrp.switchTo(next);
  return get(rrp, now);
}

/** ngx_http_upstream_get_peer: the highest current_weight wins and pays back the total. */
function getPeer(rrp: RoundRobinData, now: number): PeerState | null {
  let best: PeerState | null = null;
  let total = 0;
  for (const peer of rrp.tier.peers) {
    if (rrp.isTried(peer.index) || !available(peer, now)) continue;
    total += weigh(peer);
    if (best === null || peer.currentWeight > best.currentWeight) best = peer;
  }
  if (best === null) return null;
  rrp.markTried(best.index);
  best.currentWeight -= total;
  return best;
}

/**
 * ngx_http_upstream_free_round_robin_peer. A failure counts toward max_fails and halves the
 * peer's say in the rotation (effective_weight -= weight / max_fails); anything else, once the
 * peer was picked after a quiet fail_timeout (accessed < checked), clears its failures.
 * Returns true when a failure reached max_fails (nginx then warns "upstream server temporarily
 * disabled").
 */
export function freeRoundRobinPeer(primary: PeerTier, peer: PeerState, failed: boolean, now: number): boolean {
  let disabled = false;
  if (primary.single) {
    peer.conns -= 1;
    return disabled;
  }
  if (failed) {
    peer.fails += 1;
    peer.accessed = now;
    peer.checked = now;
    if (peer.maxFails > 0) {
      peer.effectiveWeight -= Math.trunc(peer.weight / peer.maxFails);
      disabled = peer.fails >= peer.maxFails;
    }
    if (peer.effectiveWeight < 0) peer.effectiveWeight = 0;
  } else if (peer.accessed < peer.checked) {
    peer.fails = 0;
  }
  peer.conns -= 1;
  return disabled;
}
