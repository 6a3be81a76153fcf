/**
 * The memory scenarios' rounds: instead of load, every side in turn holds N idle keep-alive
 * connections while the resident memory of its whole process tree is read, then lets them go.
 * Alternating sides round by round, as the throughput rounds do, and the median kept.
 */
import { formatKb } from './format.js';
import { holdIdleConnections } from './idle-hold.js';
import { treePssKb, treeRssKb } from './rss.js';
import { median } from './stats.js';
import type { IdleLoad, SideSummary } from './types.js';

/** Time for the server to settle once every connection is held (allocations done, GC run). */
const SETTLE_MS = 2000;
/** RSS readings per hold, the highest kept: memory the server needs even for a moment counts. */
const READINGS = 5;
const READING_INTERVAL_MS = 200;
/** After the reset of every connection, before the next side's round. */
const RELEASE_MS = 1000;

export interface IdleSide {
  name: string;
  port: number;
  path: string;
  pids: number[];
}

export async function measureIdleRounds(
  sides: readonly IdleSide[],
  load: IdleLoad,
  rounds: number,
  signal: AbortSignal,
  say: (line: string) => void,
): Promise<{ sides: SideSummary[]; roundRssKb: number[][] }> {
  const held = sides.map((): number[] => []);
  const failures = sides.map(() => 0);
  for (let round = 1; round <= rounds; round++) {
    for (const [i, side] of sides.entries()) {
      const before = treeRssKb(side.pids);
      const hold = await holdIdleConnections(side.port, side.path, load.connections, signal);
      try {
        await sleep(SETTLE_MS);
        let peak = 0;
        for (let n = 0; n < READINGS; n++) {
          peak = Math.max(peak, treeRssKb(side.pids));
          await sleep(READING_INTERVAL_MS);
        }
        held[i]?.push(peak);
        const pss = treePssKb(side.pids);
        failures[i] = (failures[i] ?? 0) + (load.connections - hold.held);
        say(
          `${side.name}: round ${round}/${rounds}: ${hold.held.toLocaleString('en-US')} connections held, ` +
            `RSS ${formatKb(peak)} (${formatKb(before)} before; PSS ${formatKb(pss)})` +
            (hold.errors.length > 0 ? `; failed: ${hold.errors.join('; ')}` : ''),
        );
      } finally {
        hold.close();
      }
      await sleep(RELEASE_MS);
    }
  }
  const summaries = sides.map((side, i) => ({
    name: side.name,
    rounds: [],
    medianRps: Number.NaN,
    medianP50Ms: Number.NaN,
    medianP99Ms: Number.NaN,
    peakRssKb: median(held[i] ?? []),
    medianCpuUsPerRequest: Number.NaN,
    badStatus: 0,
    socketErrors: failures[i] ?? 0,
  }));
  return { sides: summaries, roundRssKb: held };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
