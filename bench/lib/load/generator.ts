/**
 * The load generator seam: wrk when it is installed (a C program on its own core, the reference
 * figures in the brief were taken with it), autocannon otherwise (always there: a devDependency).
 */
import { spawnSync } from 'node:child_process';
import type { LoadChoice } from '../args.js';
import type { RoundResult } from '../types.js';
import { autocannonGenerator } from './autocannon.js';
import { wrkGenerator } from './wrk.js';

export interface LoadRun {
  url: string;
  durationSec: number;
  connections: number;
  /** Aborted when the harness is interrupted: the run ends at once and rejects. */
  signal: AbortSignal;
}

export interface LoadGenerator {
  /** Name and version: "wrk debian/4.1.0-3+b2", "autocannon 8.0.0". */
  name: string;
  /** The run's settings in the generator's own terms: "-t1 -c32". */
  settings(connections: number): string;
  run(load: LoadRun): Promise<RoundResult>;
}

export function chooseLoadGenerator(choice: LoadChoice, root: string): LoadGenerator {
  if (choice === 'autocannon') return autocannonGenerator(root);
  if (wrkInstalled()) return wrkGenerator();
  if (choice === 'wrk') throw new Error('--load wrk: wrk is not installed (`which wrk` failed)');
  return autocannonGenerator(root);
}

function wrkInstalled(): boolean {
  return spawnSync('which', ['wrk'], { stdio: 'ignore' }).status === 0;
}
