/**
 * The per-worker state of a group's servers, as ngx_http_upstream_init_round_robin lays it out:
 * a tier of primary servers and, when some are marked `backup`, a second tier the balancers fall
 * back to (nginx's `peers->next`). Every algorithm shares these records, so failures counted by
 * one request are seen by the next whichever method picks.
 *
 * Times are whole seconds, as nginx's ngx_time(): `fail_timeout=10s` means "until the clock's
 * second is more than 10 past", which the tests reproduce with an injected clock.
 */
import type { UpstreamConf, UpstreamServer } from '../../config/index.js';
import type { UpstreamPeer } from '../types.js';

/** ngx_http_upstream_rr_peer_t. */
export interface PeerState {
  readonly peer: UpstreamPeer;
  /** Position in its tier: the bit in the request's tried set. */
  readonly index: number;
  readonly weight: number;
  /** Drops by weight/max_fails on each failure, climbs back by 1 each time the peer is considered. */
  effectiveWeight: number;
  /** The smooth weighted round-robin counter. */
  currentWeight: number;
  /** Requests between next() and done(): max_conns and least_conn read it. */
  conns: number;
  readonly maxConns: number;
  fails: number;
  readonly maxFails: number;
  readonly failTimeout: number;
  /** When the last failure happened. */
  accessed: number;
  /** When the peer was last tried after a quiet fail_timeout (or last failed). */
  checked: number;
  readonly down: boolean;
  /** The address as written in `server`, which consistent hashing hashes and matches on. */
  readonly server: string;
}

/** ngx_http_upstream_rr_peers_t: one tier. */
export interface PeerTier {
  readonly peers: readonly PeerState[];
  /** Sum of the weights, down servers included (the hash methods take it modulo). */
  readonly totalWeight: number;
  /** One primary and no backup: no failure accounting at all, as nginx. */
  readonly single: boolean;
  readonly next: PeerTier | null;
}

export function buildTiers(conf: UpstreamConf): PeerTier {
  const primaries = conf.servers.filter((s) => !s.backup);
  const backups = conf.servers.filter((s) => s.backup);
  const backup = backups.length > 0 ? tier(backups, false, null) : null;
  return tier(primaries, primaries.length === 1 && backup === null, backup);
}

function tier(servers: readonly UpstreamServer[], single: boolean, next: PeerTier | null): PeerTier {
  const peers = servers.map((server, index): PeerState => ({
    peer: { name: server.address.text, address: server.address, server, backup: server.backup },
    index,
    weight: server.weight,
    effectiveWeight: server.weight,
    currentWeight: 0,
    conns: 0,
    maxConns: server.maxConns,
    fails: 0,
    maxFails: server.maxFails,
    failTimeout: server.failTimeoutSec,
    accessed: 0,
    checked: 0,
    down: server.down,
    server: server.name,
  }));
  return { peers, totalWeight: peers.reduce((sum, p) => sum + p.weight, 0), single, next };
}

/** max_fails reached within the last fail_timeout: skipped until it has passed. */
export function failedRecently(peer: PeerState, now: number): boolean {
  return peer.maxFails > 0 && peer.fails >= peer.maxFails && now - peer.checked <= peer.failTimeout;
}

/** The checks every algorithm makes before considering a peer (tried aside). */
export function available(peer: PeerState, now: number): boolean {
  return !peer.down && !failedRecently(peer, now) && !(peer.maxConns > 0 && peer.conns >= peer.maxConns);
}

/** The bookkeeping every get does once it has chosen: count the connection, open the probe window. */
export function take(peer: PeerState, now: number): PeerState {
  peer.conns += 1;
  if (now - peer.checked > peer.failTimeout) peer.checked = now;
  return peer;
}

/** The index of the peer whose weight range holds `value % totalWeight` (the hash methods' pick). */
export function byWeightRange(tier: PeerTier, value: number): number {
  let w = value % tier.totalWeight;
  let p = 0;
  while (w >= tier.peers[p]!.weight) {
    w -= tier.peers[p]!.weight;
    p += 1;
  }
  return p;
}

/** One smooth round-robin step for a candidate: returns what it adds to the round's total. */
export function weigh(peer: PeerState): number {
  const added = peer.effectiveWeight;
  peer.currentWeight += added;
  if (peer.effectiveWeight < peer.weight) peer.effectiveWeight += 1;
  return added;
}
