/**
 * `least_conn`: ngx_http_upstream_least_conn_module.c. The peer with the fewest connections
 * relative to its weight (conns/weight compared by cross-multiplying, as nginx); several such
 * peers share by smooth weighted round-robin. Connections are this worker's only, as nginx
 * without `zone`.
 */
import { available, take, weigh, type PeerState } from './peers.js';
import { getRoundRobinPeer, toBackup, type RoundRobinData } from './round-robin.js';

export function getLeastConnPeer(rrp: RoundRobinData, now: number): PeerState | null {
  if (rrp.tier.single) return getRoundRobinPeer(rrp, now);
  const peers = rrp.tier.peers;
  let best: PeerState | null = null;
  let many = false;
  for (const peer of peers) {
    if (rrp.isTried(peer.index) || !available(peer, now)) continue;
    if (best === null || peer.conns * best.weight < best.conns * peer.weight) {
      best = peer;
      many = false;
    } else if (peer.conns * best.weight === best.conns * peer.weight) {
      many = true;
    }
  }
  if (best === null) return toBackup(rrp, now, getLeastConnPeer);
  let total = 0;
  if (many) {
    // From the first of the least loaded on: nginx's loop starts at best, so it is weighed too.
    const first: PeerState = best;
    for (let i = first.index; i < peers.length; i += 1) {
      const peer = peers[i]!;
      if (rrp.isTried(peer.index) || peer.conns * first.weight !== first.conns * peer.weight || !available(peer, now)) continue;
      total += weigh(peer);
      if (peer.currentWeight > best.currentWeight) best = peer;
    }
  }
  best.currentWeight -= total;
  rrp.markTried(best.index);
  return take(best, now);
}
