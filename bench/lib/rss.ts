/**
 * Resident memory of a server and everything it forked, read from /proc (Linux only).
 *
 * A server's memory is the sum over its process tree: an app server's master plus its workers,
 * nginx's master plus its workers. The tree is rebuilt at every sample from each process's parent
 * pid, so workers forked or respawned during a round are counted. (/proc/PID/task/TID/children
 * would be cheaper but needs CONFIG_PROC_CHILDREN, which not every kernel has.)
 */
import { readdirSync, readFileSync } from 'node:fs';

export const SAMPLE_INTERVAL_MS = 200;

/** Sum of VmRSS in kB over `roots` and all their descendants; 0 when /proc is not there. */
export function treeRssKb(roots: readonly number[]): number {
  const children = childrenByParent();
  const seen = new Set<number>();
  const stack = [...roots];
  let total = 0;
  while (stack.length > 0) {
    const pid = stack.pop();
    if (pid === undefined || seen.has(pid)) continue;
    seen.add(pid);
    total += vmRssKb(pid);
    stack.push(...(children.get(pid) ?? []));
  }
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

function childrenByParent(): Map<number, number[]> {
  const map = new Map<number, number[]>();
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return map;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const ppid = parentPid(entry);
    if (ppid === undefined) continue;
    const list = map.get(ppid);
    if (list === undefined) map.set(ppid, [Number(entry)]);
    else list.push(Number(entry));
  }
  return map;
}

/**
 * The 4th field of /proc/PID/stat. The 2nd field (the command name, in parentheses) may itself
 * contain spaces and parentheses, so fields are counted from the last `)`.
 */
function parentPid(pid: string): number | undefined {
  const stat = readProc(`/proc/${pid}/stat`);
  if (stat === undefined) return undefined;
  const afterComm = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // afterComm[0] is the state, afterComm[1] the parent pid.
  const ppid = Number(afterComm[1]);
  return Number.isInteger(ppid) ? ppid : undefined;
}

/** 0 for a process that is gone or has no user memory (a zombie, a kernel thread). */
function vmRssKb(pid: number): number {
  const status = readProc(`/proc/${pid}/status`);
  const match = status?.match(/^VmRSS:\s+(\d+)\s+kB$/m);
  return match ? Number(match[1]) : 0;
}

/** Processes come and go between listing /proc and reading it: a vanished one reads as absent. */
function readProc(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}
