/**
 * CPU time spent by a server and everything it forked (user + system, from /proc/PID/stat; Linux
 * only), for the CPU-per-request figure. On a shared machine req/s moves with whatever else runs;
 * the CPU a side spends per request moves much less, so it backs up a ratio taken in a noisy run.
 */
import { spawnSync } from 'node:child_process';
import { processTree, statFields } from './proctree.js';

/** Clock ticks per second of /proc's times (`getconf CLK_TCK`; 100 on every common Linux). */
const CLK_TCK = clockTicks();

/**
 * CPU seconds used so far by the live processes of the tree under `roots`; 0 without /proc. The
 * time of processes that exited in between is not counted (a respawned worker restarts at 0).
 */
export function treeCpuSeconds(roots: readonly number[]): number {
  let ticks = 0;
  for (const pid of processTree(roots)) {
    const fields = statFields(pid);
    // Fields 14 (utime) and 15 (stime); fields[0] is field 3.
    if (fields !== undefined) ticks += Number(fields[11]) + Number(fields[12]);
  }
  return ticks / CLK_TCK;
}

function clockTicks(): number {
  const out = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  const n = Number(out.stdout?.trim());
  return Number.isInteger(n) && n > 0 ? n : 100;
}
