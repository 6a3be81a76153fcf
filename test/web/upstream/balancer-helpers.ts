/**
 * Balancer groups made from nginx.conf text (the parser's real output), a settable clock, and a
 * driver that runs requests through a group the way pass.ts does.
 */
import { loadNginxConfigText } from '../../../src/web/config/index.js';
import { createUpstreamGroups, type BalancerOptions } from '../../../src/web/upstream/balancer/index.js';
import type { SelectionInput, UpstreamGroup, UpstreamPeer } from '../../../src/web/upstream/types.js';

/** `http` is the inside of `http {}`. */
export function groupsFrom(http: string, options: BalancerOptions = {}): Map<string, UpstreamGroup> {
  const text = `events {}\nhttp {\n${http}\n}\n`;
  return createUpstreamGroups(loadNginxConfigText(text, '/nonexistent-tsgi-balancer/nginx.conf', { prefix: '/nonexistent-tsgi-balancer' }), options);
}

export function groupFrom(http: string, name: string, options: BalancerOptions = {}): UpstreamGroup {
  const group = groupsFrom(http, options).get(name);
  if (!group) throw new Error(`no upstream ${name}`);
  return group;
}

export class Clock {
  ms = 1_000_000_000;
  readonly now = (): number => this.ms;
  advance(seconds: number): void {
    this.ms += seconds * 1000;
  }
}

const NO_INPUT: SelectionInput = { remoteAddr: '127.0.0.1', hashKey: '' };

/** Port (or path) of a peer, the shortest name the tests compare. */
export const label = (peer: UpstreamPeer): string => (peer.address.kind === 'tcp' ? String(peer.address.port) : peer.address.path);

/**
 * One request: tries peers until one answers. `fails(peer)` says which peers are broken.
 * Returns the labels tried, the last one answering ('' when none did: a 502).
 */
export function request(group: UpstreamGroup, fails: (label: string) => boolean = () => false, input: SelectionInput = NO_INPUT): { tried: string[]; answered: string } {
  const pick = group.begin(input);
  const tried: string[] = [];
  for (let attempt = 0; attempt < pick.tries; attempt += 1) {
    const peer = pick.next();
    if (!peer) break;
    tried.push(label(peer));
    if (fails(label(peer))) {
      pick.done(peer, 'failed');
      continue;
    }
    pick.done(peer, 'ok');
    return { tried, answered: label(peer) };
  }
  return { tried, answered: '' };
}

/** The answering peer of `n` sequential requests. */
export function sequence(group: UpstreamGroup, n: number, input: (i: number) => SelectionInput = () => NO_INPUT): string[] {
  return Array.from({ length: n }, (_, i) => request(group, () => false, input(i)).answered);
}
