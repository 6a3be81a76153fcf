/**
 * `hash KEY consistent`: ngx_http_upstream_hash_module.c, the ketama half. Each server puts
 * 160 points per unit of weight on a ring: crc32(HOST \0 PORT PREV), PREV being the previous
 * point's 4 bytes in little-endian order (nginx's x86 layout; 0 for the first), HOST and PORT
 * split from the address as written (`unix:` paths have no port; a name without a port is all
 * host). A request starts at the first point >= crc32(KEY) and walks the ring; at each point the
 * servers written with that address are weighed by smooth round-robin.
 */
import { CRC32_INIT, crc32, crc32Final, crc32Update } from './crc32.js';
import { keyBytes, type HashData } from './hash.js';
import { available, take, weigh, type PeerState, type PeerTier } from './peers.js';
import { getRoundRobinPeer, type RoundRobinData } from './round-robin.js';

export interface RingPoint {
  readonly hash: number;
  readonly server: string;
}

/** ngx_http_upstream_init_chash: the sorted ring, duplicates of a hash value kept once. */
export function buildRing(tier: PeerTier): readonly RingPoint[] {
  const points: RingPoint[] = [];
  const prev = Buffer.alloc(4);
  for (const peer of tier.peers) {
    const [host, port] = splitServer(peer.server);
    let base = crc32Update(CRC32_INIT, keyBytes(host));
    base = crc32Update(base, new Uint8Array(1));
    base = crc32Update(base, keyBytes(port));
    prev.writeUInt32LE(0);
    for (let j = 0; j < peer.weight * 160; j += 1) {
      const hash = crc32Final(crc32Update(base, prev));
      points.push({ hash, server: peer.server });
      prev.writeUInt32LE(hash);
    }
  }
  // ngx_qsort is the libc qsort: equal hashes may land in any order, and the dedup below keeps
  // the first. A collision between two servers' points is a 1 in 2^32 event per pair.
  points.sort((a, b) => a.hash - b.hash);
  const ring: RingPoint[] = [];
  for (const point of points) if (ring.length === 0 || ring[ring.length - 1]!.hash !== point.hash) ring.push(point);
  return ring;
}

function splitServer(server: string): [string, string] {
  if (server.length >= 5 && server.slice(0, 5).toLowerCase() === 'unix:') return [server.slice(5), ''];
  for (let j = 0; j < server.length; j += 1) {
    const c = server[server.length - j - 1]!;
    if (c === ':') return [server.slice(0, server.length - j - 1), server.slice(server.length - j)];
    if (c < '0' || c > '9') break;
  }
  return [server, ''];
}

/** ngx_http_upstream_find_chash_point: the first point >= hash (== length past the end). */
export function findPoint(ring: readonly RingPoint[], hash: number): number {
  let i = 0;
  let j = ring.length;
  while (i < j) {
    const k = (i + j) >>> 1;
    if (hash > ring[k]!.hash) i = k + 1;
    else if (hash < ring[k]!.hash) j = k;
    else return k;
  }
  return i;
}

/** ngx_http_upstream_init_chash_peer's part: where on the ring this request starts. */
export function startOnRing(ring: readonly RingPoint[], hp: HashData): void {
  hp.hash = findPoint(ring, crc32(hp.key));
}

export function getConsistentHashPeer(rrp: RoundRobinData, hp: HashData, ring: readonly RingPoint[], now: number): PeerState | null {
  const tier = rrp.tier;
  if (hp.tries > 20 || tier.single || hp.key.length === 0) return getRoundRobinPeer(rrp, now);
  for (;;) {
    const server = ring[hp.hash % ring.length]!.server;
    let best: PeerState | null = null;
    let total = 0;
    for (const peer of tier.peers) {
      if (rrp.isTried(peer.index) || !available(peer, now) || peer.server !== server) continue;
      total += weigh(peer);
      if (best === null || peer.currentWeight > best.currentWeight) best = peer;
    }
    if (best) {
      best.currentWeight -= total;
      rrp.markTried(best.index);
      return take(best, now);
    }
    hp.hash += 1;
    hp.tries += 1;
    if (hp.tries > 20) return getRoundRobinPeer(rrp, now);
  }
}
