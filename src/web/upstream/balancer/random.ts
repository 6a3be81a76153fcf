/**
 * `random [two [least_conn]]`: ngx_http_upstream_random_module.c. A server drawn with
 * probability proportional to its weight; with `two`, two distinct usable draws and the one with
 * fewer connections per weight (the second on a tie). `least_conn` is the only method `two`
 * takes, so it changes nothing. 20 unusable draws leave the choice to round-robin. The draws
 * cannot match nginx's (glibc random()), only their distribution.
 */
import { available, take, type PeerState, type PeerTier } from './peers.js';
import { getRoundRobinPeer, type RoundRobinData } from './round-robin.js';

export class RandomData {
  tries = 0;
  constructor(readonly random: () => number) {}
}

/** ngx_http_upstream_peek_random_peer: the peer whose weight range holds a draw in [0, total). */
function peek(tier: PeerTier, rp: RandomData): number {
  const x = Math.min(Math.floor(rp.random() * tier.totalWeight), tier.totalWeight - 1);
  let start = 0;
  let p = 0;
  for (; p < tier.peers.length - 1; p += 1) {
    start += tier.peers[p]!.weight;
    if (x < start) break;
  }
  return p;
}

export function getRandomPeer(rrp: RoundRobinData, rp: RandomData, now: number): PeerState | null {
  const tier = rrp.tier;
  if (rp.tries > 20 || tier.peers.length < 2) return getRoundRobinPeer(rrp, now);
  for (;;) {
    const peer = tier.peers[peek(tier, rp)]!;
    if (!rrp.isTried(peer.index) && available(peer, now)) {
      rrp.markTried(peer.index);
      return take(peer, now);
    }
    if (++rp.tries > 20) return getRoundRobinPeer(rrp, now);
  }
}

export function getRandom2Peer(rrp: RoundRobinData, rp: RandomData, now: number): PeerState | null {
  const tier = rrp.tier;
  if (rp.tries > 20 || tier.peers.length < 2) return getRoundRobinPeer(rrp, now);
  let prev: PeerState | null = null;
  for (;;) {
    const peer = tier.peers[peek(tier, rp)]!;
    if (peer !== prev && !rrp.isTried(peer.index) && available(peer, now)) {
      if (prev) {
        const chosen = peer.conns * prev.weight > prev.conns * peer.weight ? prev : peer;
        rrp.markTried(chosen.index);
        return take(chosen, now);
      }
      prev = peer;
    }
    if (++rp.tries > 20) return getRoundRobinPeer(rrp, now);
  }
}
