/**
 * Command-line parsing for `npm run bench [scenario...] [options]`.
 * The defaults are the conditions the project's reference figures were taken under
 * (wrk -t1 -c32 on a 2-core machine), so runs stay comparable with them.
 */
import { parseArgs } from 'node:util';
import type { BenchParams } from './types.js';

export const DEFAULT_PARAMS: Readonly<BenchParams> = Object.freeze({
  durationSec: 5,
  rounds: 3,
  warmupSec: 2,
  connections: 32,
  processes: 1,
});

export type LoadChoice = 'auto' | 'wrk' | 'autocannon';

export interface RunOptions {
  scenarios: string[];
  list: boolean;
  help: boolean;
  load: LoadChoice;
  params: BenchParams;
}

export const USAGE = `usage: npm run bench -- [scenario...] [options]

Runs the named scenarios (all when none is named) and writes bench/results/latest.md.

options:
  --list              list the scenarios and whether each can run here
  --duration S        seconds per measured round        (default ${DEFAULT_PARAMS.durationSec})
  --rounds N          measured rounds per side          (default ${DEFAULT_PARAMS.rounds})
  --warmup S          warm-up seconds per side          (default ${DEFAULT_PARAMS.warmupSec})
  --connections C     open connections                  (default ${DEFAULT_PARAMS.connections})
  --processes N       backend processes per side, for scenarios whose backends
                      can run several (default ${DEFAULT_PARAMS.processes}); the others show
                      "not available yet" when N > 1
  --load wrk|autocannon|auto
                      load generator (default auto: wrk if installed, else autocannon)
  -h, --help          this text
`;

export function parseRunOptions(argv: string[]): RunOptions {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      list: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
      duration: { type: 'string' },
      rounds: { type: 'string' },
      warmup: { type: 'string' },
      connections: { type: 'string' },
      processes: { type: 'string' },
      load: { type: 'string', default: 'auto' },
    },
  });
  return {
    scenarios: positionals,
    list: values.list,
    help: values.help,
    load: parseLoad(values.load),
    params: {
      // wrk takes whole seconds only, so fractions are refused rather than silently rounded.
      durationSec: positiveInt('--duration', values.duration, DEFAULT_PARAMS.durationSec),
      rounds: positiveInt('--rounds', values.rounds, DEFAULT_PARAMS.rounds),
      warmupSec: nonNegativeInt('--warmup', values.warmup, DEFAULT_PARAMS.warmupSec),
      connections: positiveInt('--connections', values.connections, DEFAULT_PARAMS.connections),
      processes: positiveInt('--processes', values.processes, DEFAULT_PARAMS.processes),
    },
  };
}

function parseLoad(value: string): LoadChoice {
  if (value === 'auto' || value === 'wrk' || value === 'autocannon') return value;
  throw new Error(`--load: expected wrk, autocannon or auto, got "${value}"`);
}

function positiveInt(flag: string, text: string | undefined, fallback: number): number {
  const n = nonNegativeInt(flag, text, fallback);
  if (n === 0) throw new Error(`${flag}: expected a positive integer, got "${text}"`);
  return n;
}

function nonNegativeInt(flag: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text)) throw new Error(`${flag}: expected a whole number, got "${text}"`);
  return Number(text);
}
