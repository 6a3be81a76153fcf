/**
 * Resident memory of a server and everything it forked, read from /proc (Linux only).
 *
 * A server's memory is the sum over its process tree (`proctree.ts`): an app server's master plus
 * its workers, nginx's master plus its workers.
 */
import { processTree, readProc } from './proctree.js';

export const SAMPLE_INTERVAL_MS = 200;

/** Sum of VmRSS in kB over `roots` and all their descendants; 0 when /proc is not there. */
export function treeRssKb(roots: readonly number[]): number {
  let total = 0;
  for (const pid of processTree(roots)) total += vmRssKb(pid);
  return total;
}

/**
 * Samples each group of roots every 200 ms and keeps the peak per group, from `start()` to `stop()`.
 *   const s = new RssSampler(new Map([['tsgi', [1234]], ['node', [1250]]]));
 *   s.start(); ... s.stop(); s.peakKb('tsgi')  // 48212
 */
export class RssSampler {
  readonly #roots: ReadonlyMap<string, readonly number[]>;
  readonly #peak = new Map<string, number>();
  #timer: NodeJS.Timeout | undefined;

  constructor(roots: ReadonlyMap<string, readonly number[]>) {
    this.#roots = roots;
  }

  start(): void {
    this.#sample();
    this.#timer = setInterval(() => this.#sample(), SAMPLE_INTERVAL_MS);
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#sample();
  }

  peakKb(name: string): number {
    return this.#peak.get(name) ?? 0;
  }

  #sample(): void {
    for (const [name, roots] of this.#roots) {
      const kb = treeRssKb(roots);
      if (kb > (this.#peak.get(name) ?? 0)) this.#peak.set(name, kb);
    }
  }
}

/**
 * Sum of Pss in kB over the tree: pages shared between its processes (the node or nginx binary
 * mapped by master and workers) counted once in all, not once per process as VmRSS counts them.
 */
export function treePssKb(roots: readonly number[]): number {
  let total = 0;
  for (const pid of processTree(roots)) {
    const match = readProc(`/proc/${pid}/smaps_rollup`)?.match(/^Pss:\s+(\d+)\s+kB$/m);
    total += match ? Number(match[1]) : 0;
  }
  return total;
}

/** 0 for a process that is gone or has no user memory (a zombie, a kernel thread). */
function vmRssKb(pid: number): number {
  const status = readProc(`/proc/${pid}/status`);
  const match = status?.match(/^VmRSS:\s+(\d+)\s+kB$/m);
  return match ? Number(match[1]) : 0;
}
