/** The master's configuration checked and turned into settings, with the defaults and timings in one place. */
import { NO_COMPOSITION, type AppComposition } from './app-composition.js';
import type { AppKind } from './options.js';
import { EXIT_FAILED_APP, EXIT_FAILURE } from '../process/exit-codes.js';
import { checkCheaperConfig, type CheaperConfig } from './cheaper.js';
import type { RequestLogSettings } from './worker-protocol.js';
import { checkInterpreter, pythonEnv, type PythonWorkerConfig } from './python-worker.js';
import type { MasterConfig } from './master-types.js';
import { MasterStartError } from './master-types.js';

/** uWSGI's --worker-reload-mercy default. */
export const DEFAULT_MERCY_SECONDS = 60;
/** uWSGI's --listen default. */
export const DEFAULT_BACKLOG = 100;
/** How often workers report their counters; also their heartbeat. */
export const REPORT_INTERVAL_MS = 1000;
/** The loop wakes at least this often to check deadlines (uWSGI's master checks once a second). */
export const TICK_MS = 1000;
/** After SIGINT, a worker has this long before SIGKILL (uWSGI's kill_them_all gives 5 s without a mercy). */
export const IMMEDIATE_MERCY_MS = 3000;
/** A worker that has not loaded the application after this long is killed (and respawned with backoff). */
export const BOOT_TIMEOUT_MS = 60_000;
/** The harakiri backstop fires this long after the watchdog should have. */
export const HARAKIRI_BACKSTOP_MARGIN_MS = 3000;
/** How long the master waits for a dead worker's last notes (harakiri) before handling its exit. */
export const NOTES_WAIT_MS = 200;

/** The config with defaults applied and units converted, as the master uses it. */
export interface Settings {
  app: string;
  appKind: AppKind | undefined;
  composition: AppComposition;
  processes: number;
  threads: number | null;
  lazyApps: boolean;
  harakiriMs: number | null;
  maxRequests: number | null;
  maxLifetimeMs: number | null;
  reloadOnRssBytes: number | null;
  mercyMs: number;
  dieOnTerm: boolean;
  pidfile: string | null;
  env: NodeJS.ProcessEnv;
  cwd: string | undefined;
  backlog: number;
  vacuum: boolean;
  keepAliveTimeout: number | undefined;
  headerTimeout: number | undefined;
  bufferSize: number | undefined;
  requestLog: RequestLogSettings | undefined;
  cheaper: CheaperConfig | null;
  /** Workers at start: `processes`, or --cheaper-initial. */
  initialWorkers: number;
  needApp: boolean;
  /** Python workers instead of JS workers (config.python). */
  python: PythonWorkerConfig | null;
}

function positive(name: string, value: number | undefined, integer: boolean): number | null {
  if (value === undefined || value === 0) return null;
  if (!Number.isFinite(value) || value < 0 || (integer && !Number.isInteger(value))) {
    throw new MasterStartError(`${name} must be a ${integer ? 'whole ' : ''}number >= 0, got ${value}`);
  }
  return value;
}

export function settingsOf(config: MasterConfig): Settings {
  // Python workers may start with no app at all: uWSGI's "full dynamic mode" (they answer 500).
  if (typeof config.app !== 'string' || (config.app === '' && (config.composition?.mounts.length ?? 0) === 0 && config.python === undefined)) {
    throw new MasterStartError('no application given (config.app or a mount)');
  }
  if (!Array.isArray(config.sockets) || (config.sockets.length === 0 && config.router === undefined)) {
    throw new MasterStartError('no socket to serve on (config.sockets or config.router)');
  }
  const processes = positive('processes', config.processes, true) ?? 1;
  const harakiri = positive('harakiri', config.harakiri, false);
  const lifetime = positive('maxWorkerLifetime', config.maxWorkerLifetime, false);
  const rss = positive('reloadOnRss', config.reloadOnRss, false);
  if (config.python !== undefined) checkPythonConfig(config);
  return {
    app: config.app,
    appKind: config.appKind,
    composition: config.composition ?? NO_COMPOSITION,
    processes,
    threads: positive('threads', config.threads, true),
    lazyApps: config.lazyApps ?? false,
    harakiriMs: harakiri === null ? null : harakiri * 1000,
    maxRequests: positive('maxRequests', config.maxRequests, true),
    maxLifetimeMs: lifetime === null ? null : lifetime * 1000,
    reloadOnRssBytes: rss === null ? null : rss * 1024 * 1024,
    mercyMs: (positive('reloadMercy', config.reloadMercy, false) ?? DEFAULT_MERCY_SECONDS) * 1000,
    dieOnTerm: config.dieOnTerm ?? true,
    pidfile: config.pidfile ?? null,
    env: config.python === undefined ? { ...process.env, ...config.env } : pythonEnv(process.env, config.env),
    cwd: config.chdir,
    backlog: positive('listen', config.listen, true) ?? DEFAULT_BACKLOG,
    vacuum: config.vacuum ?? true,
    keepAliveTimeout: config.keepAliveTimeout,
    headerTimeout: config.headerTimeout,
    bufferSize: config.bufferSize,
    requestLog: config.requestLog,
    cheaper: cheaperOf(config.cheaper, processes),
    initialWorkers: config.cheaper === undefined ? processes : (config.cheaper.initial ?? config.cheaper.min),
    needApp: config.needApp ?? false,
    python: config.python ?? null,
  };
}

/**
 * Python workers accept uwsgi on exactly one socket (a --socket, or the router's private one), and
 * the interpreter must exist. Any other socket belongs to the router (`router.sockets`), which
 * relays its requests to the workers; `tsgi serve` sorts the sockets that way (src/cli/python-sockets.ts).
 */
function checkPythonConfig(config: MasterConfig): void {
  const python = config.python!;
  const other = config.sockets.filter((socket) => socket.protocol !== 'uwsgi');
  if (other.length > 0) {
    throw new MasterStartError(
      `Python workers speak only uwsgi: a ${other[0]!.protocol} socket (${other[0]!.address}) belongs in router.sockets (the router relays it to the workers)`,
    );
  }
  if (config.sockets.length > 1) {
    throw new MasterStartError('Python workers accept on one uwsgi socket: further sockets belong in router.sockets (the router relays them to the workers)');
  }
  if (config.sockets.length === 0 && config.router === undefined) throw new MasterStartError('no socket for the Python workers');
  const problem = checkInterpreter(python.interpreter, config.env?.PATH ?? process.env.PATH);
  if (problem !== null) {
    const source = python.interpreterSource === undefined ? '' : ` (from ${python.interpreterSource})`;
    throw new MasterStartError(`cannot run the Python workers: the interpreter ${problem}${source}`, undefined, config.needApp ? EXIT_FAILED_APP : EXIT_FAILURE);
  }
}

function cheaperOf(cheaper: CheaperConfig | undefined, processes: number): CheaperConfig | null {
  if (cheaper === undefined) return null;
  const problem = checkCheaperConfig(cheaper, processes);
  if (problem !== null) throw new MasterStartError(problem);
  return cheaper;
}
