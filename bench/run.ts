/**
 * `npm run bench [scenario...] [options]`: runs the scenarios, prints the table, writes
 * bench/results/latest.md. Progress goes to stderr, the table to stdout.
 * The parts: lib/args (flags), lib/measure (one scenario), lib/load/* (wrk, autocannon),
 * lib/processes (start and end servers), lib/rss (memory), lib/report (tables).
 */
import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseRunOptions, USAGE } from './lib/args.js';
import { chooseLoadGenerator } from './lib/load/generator.js';
import { describeMachine } from './lib/machine.js';
import { measureScenario } from './lib/measure.js';
import { endServersOnExit, ServerProcesses } from './lib/processes.js';
import { renderResultsFile, renderTables, writeResultsFile } from './lib/report.js';
import { REPO_ROOT } from './lib/root.js';
import type { BenchParams, Outcome, Scenario } from './lib/types.js';
import { SCENARIOS } from './scenarios/index.js';

const RESULTS_FILE = join(REPO_ROOT, 'bench/results/latest.md');

async function main(argv: string[]): Promise<number> {
  const options = parseRunOptions(argv);
  if (options.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (options.list) {
    await listScenarios(options.params);
    return 0;
  }
  const selected = selectScenarios(options.scenarios);

  const load = chooseLoadGenerator(options.load, REPO_ROOT);
  const settings = load.settings(options.params.connections);
  const { durationSec, rounds, warmupSec } = options.params;
  progress(
    `load generator: ${load.name} (${settings}); ${rounds} rounds × ${durationSec} s per side, ${warmupSec} s warm-up`,
  );

  const servers = new ServerProcesses();
  const abort = new AbortController();
  endServersOnExit(servers, abort);
  const tmpRoot = await mkdtemp(join(tmpdir(), 'tsgi-bench-'));
  // Also on Ctrl-C, where the signal handler exits before the `finally` below gets its turn.
  process.on('exit', () => rmSync(tmpRoot, { recursive: true, force: true }));
  const outcomes: Outcome[] = [];
  try {
    for (const scenario of selected) {
      const outcome = await measureScenario(scenario, {
        root: REPO_ROOT,
        servers,
        load,
        params: options.params,
        signal: abort.signal,
        tmpRoot,
        progress,
      });
      if (outcome.kind !== 'measured') progress(`[${scenario.name}] ${outcome.kind}: ${outcome.reason}`);
      outcomes.push(outcome);
    }
  } finally {
    await servers.stopAll();
    await rm(tmpRoot, { recursive: true, force: true });
  }

  process.stdout.write(`\n${renderTables(outcomes)}`);
  const file = renderResultsFile(outcomes, describeMachine(load.name, argv), options.params, settings);
  await writeResultsFile(RESULTS_FILE, file);
  progress(`written to ${RESULTS_FILE}`);
  // A target missed is a finding, not a harness failure; a scenario that could not run is.
  return outcomes.some((o) => o.kind === 'failed') ? 1 : 0;
}

function selectScenarios(names: string[]): readonly Scenario[] {
  if (names.length === 0) return SCENARIOS;
  return names.map((name) => {
    const found = SCENARIOS.find((s) => s.name === name);
    if (found === undefined) {
      throw new Error(`unknown scenario "${name}"; known: ${SCENARIOS.map((s) => s.name).join(', ')}`);
    }
    return found;
  });
}

async function listScenarios(params: BenchParams): Promise<void> {
  for (const s of SCENARIOS) {
    const availability = await s.available(params);
    const state = availability === true ? '' : `  [not available yet: ${availability}]`;
    process.stdout.write(`${s.name}\n    ${s.description}\n    target: ${s.target.text}${state}\n`);
  }
}

function progress(line: string): void {
  process.stderr.write(`${line}\n`);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    // Interrupted: the signal handler is already stopping the servers and will exit.
    if (err instanceof Error && err.name === 'AbortError') return;
    process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
