/**
 * One scenario from start to end: start every side's processes, wait until each answers, warm
 * each up, measure in alternating rounds (A B A B ...) while sampling memory, stop everything.
 *
 * Alternating rather than all of A then all of B: the machine is shared, and whatever else runs
 * on it (a build, a test suite) then disturbs both sides alike instead of one side's whole series.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { formatRps } from './format.js';
import type { LoadGenerator } from './load/generator.js';
import { freePorts, LOOPBACK } from './ports.js';
import type { ServerProcesses, StartedProcess } from './processes.js';
import { logTail, waitReady } from './ready.js';
import { treeCpuSeconds } from './cpu.js';
import { RssSampler } from './rss.js';
import { median } from './stats.js';
import { measureIdleRounds } from './idle.js';
import type { BenchParams, IdleLoad, Outcome, RoundResult, Scenario, Side, SideSummary } from './types.js';

/** How long to wait for a server's exit to be noticed after the load generator failed. */
const EXIT_NOTICE_MS = 500;

export interface MeasureDeps {
  root: string;
  servers: ServerProcesses;
  load: LoadGenerator;
  params: BenchParams;
  /** Aborted on Ctrl-C: the scenario ends without an outcome. */
  signal: AbortSignal;
  /** Where each scenario gets its temporary directory. */
  tmpRoot: string;
  progress(line: string): void;
}

interface RunningSide {
  side: Side;
  url: string;
  processes: StartedProcess[];
}

export async function measureScenario(scenario: Scenario, deps: MeasureDeps): Promise<Outcome> {
  const availability = await scenario.available(deps.params);
  if (availability !== true) return { kind: 'unavailable', scenario, reason: availability };
  const peerIndex = scenario.sides.findIndex((s) => s.name === scenario.target.peer);
  if (peerIndex <= 0) {
    return { kind: 'failed', scenario, reason: `target.peer "${scenario.target.peer}" names no peer side` };
  }

  const say = (line: string): void => deps.progress(`[${scenario.name}] ${line}`);
  const tmpDir = await mkdtemp(join(deps.tmpRoot, `${scenario.name}-`));
  const running: RunningSide[] = [];
  try {
    for (const side of scenario.sides) await startSide(side, tmpDir, deps, say, running);
    if (scenario.idle !== undefined) return await measureIdle(scenario, scenario.idle, running, peerIndex, deps, say);
    for (const r of running) await warmUp(r, deps, say);
    const summaries = await measureRounds(running, deps, say);
    const subject = summaries[0];
    const peer = summaries[peerIndex];
    if (subject === undefined || peer === undefined) throw new Error('a side produced no summary');
    const ratio = subject.medianRps / peer.medianRps;
    const roundRatios = subject.rounds.map((r, i) => r.requestsPerSec / (peer.rounds[i]?.requestsPerSec ?? Number.NaN));
    // A server that answers errors quickly must not meet a throughput target.
    const goal = scenario.target.ratio;
    const met = goal === null ? null : ratio >= goal && subject.badStatus === 0;
    const cpuRatio = peer.medianCpuUsPerRequest / subject.medianCpuUsPerRequest;
    return { kind: 'measured', scenario, sides: summaries, ratio, roundRatios, cpuRatio, met };
  } catch (err) {
    if (deps.signal.aborted) throw err;
    return { kind: 'failed', scenario, reason: err instanceof Error ? err.message : String(err) };
  } finally {
    // Fronts before their backends: the reverse of the start order.
    const started = running.flatMap((r) => r.processes).reverse();
    for (const p of started) await deps.servers.stop(p);
    await rm(tmpDir, { recursive: true, force: true });
  }
}

async function startSide(
  side: Side,
  scenarioTmp: string,
  deps: MeasureDeps,
  say: (line: string) => void,
  running: RunningSide[],
): Promise<void> {
  const ports = await freePorts(side.ports ?? 1);
  const tmpDir = join(scenarioTmp, side.name);
  await mkdir(tmpDir);
  const ctx = { ports, tmpDir, root: deps.root, processes: deps.params.processes };
  await side.prepare?.(ctx);
  const r: RunningSide = { side, url: `http://${LOOPBACK}:${ports[0]}${side.path}`, processes: [] };
  // Listed before anything starts, so that a backend already running is stopped if its front fails.
  running.push(r);
  for (const spec of side.processes(ctx)) {
    say(`${side.name}: starting ${spec.label}: ${[spec.command, ...spec.args].join(' ')}`);
    const proc = await deps.servers.start(spec, deps.root, join(tmpDir, `${spec.label.replace(/\W+/g, '_')}.log`));
    r.processes.push(proc);
    await waitReady(proc);
  }
  say(`${side.name}: ready at ${r.url}`);
}

async function measureIdle(
  scenario: Scenario,
  idle: IdleLoad,
  running: readonly RunningSide[],
  peerIndex: number,
  deps: MeasureDeps,
  say: (line: string) => void,
): Promise<Outcome> {
  const sides = running.map((r) => ({ name: r.side.name, port: Number(new URL(r.url).port), path: r.side.path, pids: r.processes.map((p) => p.pid) }));
  const { sides: summaries, roundRssKb } = await measureIdleRounds(sides, idle, deps.params.rounds, deps.signal, say);
  for (const r of running) assertAlive(r);
  const subject = summaries[0];
  const peer = summaries[peerIndex];
  if (subject === undefined || peer === undefined) throw new Error('a side produced no summary');
  const ratio = subject.peakRssKb / peer.peakRssKb;
  const roundRatios = (roundRssKb[0] ?? []).map((kb, i) => kb / (roundRssKb[peerIndex]?.[i] ?? Number.NaN));
  // Memory is only comparable when every connection was really held.
  const met = subject.peakRssKb < idle.maxRssKb && subject.socketErrors === 0;
  return { kind: 'measured', scenario, sides: summaries, ratio, roundRatios, cpuRatio: Number.NaN, met };
}

async function warmUp(r: RunningSide, deps: MeasureDeps, say: (line: string) => void): Promise<void> {
  if (deps.params.warmupSec === 0) return;
  say(`${r.side.name}: warm-up ${deps.params.warmupSec} s`);
  const result = await loadSide(r, deps, deps.params.warmupSec);
  say(`${r.side.name}: warm-up ${formatRps(result.requestsPerSec)} req/s`);
}

async function measureRounds(
  running: RunningSide[],
  deps: MeasureDeps,
  say: (line: string) => void,
): Promise<SideSummary[]> {
  const { rounds, durationSec } = deps.params;
  const results = running.map((): RoundResult[] => []);
  const cpuPerRequest = running.map((): number[] => []);
  const sampler = new RssSampler(new Map(running.map((r) => [r.side.name, r.processes.map((p) => p.pid)])));
  sampler.start();
  try {
    for (let round = 1; round <= rounds; round++) {
      for (const [i, r] of running.entries()) {
        const pids = r.processes.map((p) => p.pid);
        const cpuBefore = treeCpuSeconds(pids);
        const result = await loadSide(r, deps, durationSec);
        // wrk's req/s is its request count over its measured time, which is durationSec.
        const requests = result.requestsPerSec * durationSec;
        cpuPerRequest[i]?.push(requests > 0 ? ((treeCpuSeconds(pids) - cpuBefore) * 1e6) / requests : Number.NaN);
        results[i]?.push(result);
        const errors = result.badStatus + result.socketErrors;
        say(
          `${r.side.name}: round ${round}/${rounds}: ${formatRps(result.requestsPerSec)} req/s` +
            (errors > 0 ? ` (${result.badStatus} bad status, ${result.socketErrors} socket errors)` : ''),
        );
      }
    }
  } finally {
    sampler.stop();
  }
  return running.map((r, i) =>
    summarize(r.side.name, results[i] ?? [], sampler.peakKb(r.side.name), cpuPerRequest[i] ?? []),
  );
}

function summarize(name: string, rounds: RoundResult[], peakRssKb: number, cpuUsPerRequest: number[]): SideSummary {
  return {
    name,
    rounds,
    medianRps: median(rounds.map((r) => r.requestsPerSec)),
    medianP50Ms: median(rounds.map((r) => r.p50Ms)),
    medianP99Ms: median(rounds.map((r) => r.p99Ms)),
    peakRssKb,
    // No /proc: every reading is 0, which says nothing rather than "free".
    medianCpuUsPerRequest: cpuUsPerRequest.every((us) => us > 0) ? median(cpuUsPerRequest) : Number.NaN,
    badStatus: rounds.reduce((sum, r) => sum + r.badStatus, 0),
    socketErrors: rounds.reduce((sum, r) => sum + r.socketErrors, 0),
  };
}

/**
 * One load-generator run against a side. A server that died makes every later figure meaningless,
 * so its death ends the scenario, reported as such rather than as the load generator's
 * "connection refused".
 */
async function loadSide(r: RunningSide, deps: MeasureDeps, durationSec: number): Promise<RoundResult> {
  const run = { url: r.url, durationSec, connections: deps.params.connections, signal: deps.signal };
  try {
    const result = await deps.load.run(run);
    assertAlive(r);
    return result;
  } catch (err) {
    if (deps.signal.aborted) throw err;
    // The load generator can notice a dead server before the harness hears of its exit.
    await Promise.race([...r.processes.map((p) => p.exited), sleep(EXIT_NOTICE_MS)]);
    assertAlive(r);
    throw err;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function assertAlive(r: RunningSide): void {
  for (const p of r.processes) {
    if (p.exit === null) continue;
    const how = p.exit.signal !== null ? `signal ${p.exit.signal}` : `code ${p.exit.code}`;
    throw new Error(`${r.side.name}: ${p.spec.label} exited with ${how}${logTail(p.logPath)}`);
  }
}
