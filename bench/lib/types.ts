/**
 * The vocabulary of the bench harness: what a scenario declares (sides, processes, readiness,
 * target) and what a measurement produces (rounds, side summaries, outcomes).
 *
 *   scenario app-http-hello
 *     side "tsgi"  → process tsgi serve ...     load http://127.0.0.1:PORT/
 *     side "node"  → process hello-node.mjs     load http://127.0.0.1:PORT/
 *     target: tsgi ≥ 0.85 × node (median req/s)
 */

/** How the harness knows a started process is ready to be measured. */
export type ReadyCheck =
  /** Any HTTP response to `GET path` counts, whatever its status: the server answers. */
  | { kind: 'http'; port: number; path: string }
  /** The port accepts a TCP connection (backends that do not speak HTTP: uwsgi, FastCGI). */
  | { kind: 'tcp'; port: number }
  /** The UNIX socket at `path` accepts a connection (a backend listening on a socket file). */
  | { kind: 'unix'; path: string };

/** One server process to start. The harness puts it in its own process group. */
export interface ProcessSpec {
  /** Names the process in progress lines and errors: "tsgi", "nginx", "uwsgi backend". */
  label: string;
  command: string;
  args: string[];
  /** Added to the harness's environment. */
  env?: Record<string, string>;
  /** Relative to the repository root; the root itself when absent. */
  cwd?: string;
  ready: ReadyCheck;
}

/** What a side gets to build its command lines and config files from. */
export interface SideContext {
  /** Free loopback ports found for this side; `ports[0]` is the one the load generator hits. */
  ports: number[];
  /** A private temporary directory for config files, pid files, logs; removed afterwards. */
  tmpDir: string;
  /** Absolute path of the repository root. */
  root: string;
  /** How many backend processes (app-server workers) each side runs: `--processes`, default 1. */
  processes: number;
}

/** One contender in a scenario: the processes to start and the URL path to load. */
export interface Side {
  /** Short name shown in the table: "tsgi", "node", "nginx". */
  name: string;
  /** How many free ports to find for this side (default 1). */
  ports?: number;
  /** Writes config files into `ctx.tmpDir` before anything starts. */
  prepare?(ctx: SideContext): Promise<void>;
  /** Started in order, each waited for before the next (backend first, then its front). */
  processes(ctx: SideContext): ProcessSpec[];
  /** The URL path requested on `http://127.0.0.1:${ports[0]}`. */
  path: string;
}

/**
 * The goal: the first side's median req/s divided by the `peer` side's is at least `ratio`.
 * `ratio: null` makes the scenario a reference: the ratio is measured and shown, nothing is met.
 */
export interface Target {
  ratio: number | null;
  /** The name of the side compared with; the first side is always the one under test. */
  peer: string;
  /** The goal in words, shown beside the measured ratio: "tsgi ≥ 0.85× node". */
  text: string;
}

/**
 * A memory scenario's load: every side in turn holds `connections` idle keep-alive connections
 * (one small request each, then nothing) while its process tree's RSS is read.
 */
export interface IdleLoad {
  connections: number;
  /** The target: the first side's RSS with the connections held stays below this. */
  maxRssKb: number;
}

export interface Scenario {
  name: string;
  description: string;
  target: Target;
  /**
   * Set for a memory scenario: its rounds hold idle connections instead of running the load
   * generator; `peakRssKb` of each side is then its median RSS with them held, the ratio is
   * RSS over RSS, and the target is met when the first side stays under `idle.maxRssKb`.
   */
  idle?: IdleLoad;
  /** `sides[0]` is the side under test (tsgi); the others are peers. */
  sides: Side[];
  /**
   * `true`, or why the scenario cannot run here (a missing binary, an unbuilt tsgi feature, or a
   * parameter such as `processes` that this scenario or the build cannot honour yet).
   */
  available(params: BenchParams): Promise<true | string>;
}

/** What one load-generator run measured. Latencies in milliseconds. */
export interface RoundResult {
  requestsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  /** Responses the load generator counted as bad status (wrk: >= 400; autocannon: not 2xx). */
  badStatus: number;
  /** Connect, read, write errors and timeouts. */
  socketErrors: number;
}

/** One side's figures over all its measured rounds. */
export interface SideSummary {
  name: string;
  rounds: RoundResult[];
  medianRps: number;
  medianP50Ms: number;
  medianP99Ms: number;
  /** Largest sum of VmRSS over the side's process trees, sampled every 200 ms; 0 if never sampled. */
  peakRssKb: number;
  /**
   * CPU time (user + system) of the side's process trees (every process it started: nginx and the
   * backend alike) during each of its measured rounds, over that round's requests: the median, in
   * microseconds per request. NaN where /proc is not there.
   */
  medianCpuUsPerRequest: number;
  badStatus: number;
  socketErrors: number;
}

export type Outcome =
  | {
      kind: 'measured';
      scenario: Scenario;
      sides: SideSummary[];
      /** Median req/s of the first side over the peer's: the figure the target is checked against. */
      ratio: number;
      /** The same ratio round by round (round i of the first side over round i of the peer): its
       * spread shows how much the machine's noise moved the comparison during the run. */
      roundRatios: number[];
      /** The peer's CPU per request over the first side's (above 1: the first side spends less). */
      cpuRatio: number;
      /** `null` for a reference scenario (no target ratio). */
      met: boolean | null;
    }
  | { kind: 'unavailable'; scenario: Scenario; reason: string }
  | { kind: 'failed'; scenario: Scenario; reason: string };

/** The knobs a run uses; the defaults live in `args.ts` only. */
export interface BenchParams {
  durationSec: number;
  rounds: number;
  warmupSec: number;
  connections: number;
  /** Backend processes per side (`SideContext.processes`). */
  processes: number;
}
