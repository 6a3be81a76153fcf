/**
 * The messages between the master and a worker of `tsgi serve`, over the worker's IPC channel.
 * Both directions are closed unions with a `type` tag; `parseWorkerMessage` / `parseMasterMessage`
 * check what arrives, so a message from a mismatched tsgi version is reported instead of trusted.
 */
import type { AppComposition } from './app-composition.js';
import { APP_KINDS, type AppKind } from './options.js';
import { SOCKET_PROTOCOLS, type BoundAddress, type SocketProtocol } from './sockets.js';

/**
 * How long a draining worker keeps idle connections open for a request already on its way, when
 * another worker takes over the socket (reload, recycling, SIGHUP to a worker).
 */
export const DRAIN_IDLE_GRACE_MS = 2000;

/** Everything a worker needs to know, sent once right after it is forked. */
export interface WorkerInit {
  /** uWSGI's worker id: 1..processes. A respawned or replacement worker keeps the id. */
  id: number;
  /** Bumped by every reload: tells old workers from new ones in logs. */
  generation: number;
  app: string;
  appKind?: AppKind;
  /** --mount, --manage-script-name, --static-map. */
  composition: AppComposition;
  /** Socket `index` in `socket` messages refers to this list. */
  sockets: Array<{ protocol: SocketProtocol; bound: BoundAddress }>;
  /** Listen queue length used when the worker calls listen() on a shared socket (uWSGI's --listen). */
  backlog: number;
  /** Requests the worker runs at once; null for no limit. */
  threads: number | null;
  /** Seconds a request may run before the worker is killed; null for none. */
  harakiri: number | null;
  /** Requests after which the worker asks to be recycled; null for none. */
  maxRequests: number | null;
  /** RSS in bytes above which the worker asks to be recycled; null for none. */
  reloadOnRss: number | null;
  /** How often the worker reports its counters (and so proves it is alive). */
  reportIntervalMs: number;
  /** How long a worker that drains on its own (SIGTERM, SIGHUP, master gone) lets requests finish. */
  mercyMs: number;
  /** Value of `tsgi.multiprocess`. */
  multiprocess: boolean;
  keepAliveTimeout?: number;
  headerTimeout?: number;
  bufferSize?: number;
  /** How the worker logs its requests (src/appserver/request-log.ts); absent: no request log. */
  requestLog?: RequestLogSettings;
}

/** The request log of the workers, as `--log-format`, `--disable-logging` and `--memory-report` set it. */
export interface RequestLogSettings {
  /** `default` (uWSGI's line), `json`, or a uWSGI log-format template with `%(var)` placeholders. */
  format: string;
  /** Log no request (uWSGI's --disable-logging). The --memory-report line needs a request line to ride on. */
  enabled: boolean;
  /** Prefix each line with the worker's memory use (uWSGI's --memory-report). */
  memoryReport: boolean;
  /** Response times in microseconds instead of milliseconds (uWSGI's --log-micros). */
  micros?: boolean;
  /**
   * The --logto / --daemonize file: the worker appends its request lines to it directly instead of
   * passing them through the master, which would cost the master a read and a write per batch.
   */
  file?: string;
  /** Log these even when `enabled` is false (uWSGI's --log-4xx, --log-5xx, --log-slow MS, --log-zero, --log-big BYTES). */
  log4xx?: boolean;
  log5xx?: boolean;
  logSlowMs?: number;
  logZero?: boolean;
  logBigBytes?: number;
}

/** Counters a worker reports, batched every `reportIntervalMs` (never one message per request). */
export interface WorkerReport {
  /** Requests finished since the worker started. */
  requests: number;
  /** Application errors (exceptions raised or responses failed) since the worker started. */
  exceptions: number;
  /** Requests running now. */
  inFlight: number;
  /** Requests waiting for a free slot of --threads. */
  queued: number;
  /** Mean response time of the requests finished in the last interval, in microseconds (uWSGI's avg_rt). */
  avgRt: number;
  /** Bytes written to clients since the worker started. */
  tx: number;
  /** Resident set size in bytes. */
  rss: number;
  /** The worker is accepting connections (false while at its --threads limit or draining). */
  accepting: boolean;
  /** Virtual memory size in bytes (uWSGI's vsz; 0 where /proc is missing). */
  vsz: number;
  /** Microseconds spent in requests, summed over requests (uWSGI's running_time). */
  runningTime: number;
  /** Microseconds of wall time with at least one request running (the busyness --cheaper measures). */
  busyTime: number;
  /** uWSGI's cores: one per --threads slot, or one for the whole worker. */
  cores: Array<{ requests: number; inRequest: boolean }>;
  /** Seconds the application took to load (uWSGI's apps[].startup_time). */
  startupTime: number;
}

/** Why a worker asks to be replaced. */
export type WorkerRetireReason = 'max-requests' | 'reload-on-rss';

export type WorkerMessage =
  /** The app is loaded and the worker accepts on every socket. */
  | { type: 'ready'; report: WorkerReport }
  /** The app could not be loaded; the worker exits with EXIT_FAILED_APP right after. */
  | { type: 'boot-failed'; message: string }
  | { type: 'report'; report: WorkerReport }
  /** The worker reached a recycling limit: the master starts a replacement, then drains this one. */
  | { type: 'retire'; reason: WorkerRetireReason; detail: string }
  /** At the --threads limit the worker closed its copies of the sockets; it wants them back. */
  | { type: 'want-sockets' };

/** Requests finished by every worker of the master so far (the second number of `req: N/M` in the request log). */
export interface Totals {
  requests: number;
}

export type MasterMessage =
  | { type: 'init'; init: WorkerInit }
  /** Carries a socket handle (the IPC message's second argument). */
  | { type: 'socket'; index: number }
  /**
   * Stop accepting, finish the requests in flight (up to `graceMs`), exit. Idle connections stay
   * open `idleGraceMs` for a request their client may be sending (see DrainOptions in serve.ts).
   */
  | { type: 'drain'; graceMs: number; idleGraceMs: number; reason: string }
  /** The master's answer to a report, when the worker logs requests. */
  | { type: 'totals'; totals: Totals }
  /** SIGUSR1 reached the master: reopen the request log file (after a rotation). */
  | { type: 'reopen-logs' };

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

function isReport(value: unknown): value is WorkerReport {
  return (
    isObject(value) &&
    typeof value.requests === 'number' &&
    typeof value.exceptions === 'number' &&
    typeof value.inFlight === 'number' &&
    typeof value.queued === 'number' &&
    typeof value.avgRt === 'number' &&
    typeof value.tx === 'number' &&
    typeof value.rss === 'number' &&
    typeof value.accepting === 'boolean' &&
    typeof value.vsz === 'number' &&
    typeof value.runningTime === 'number' &&
    typeof value.busyTime === 'number' &&
    Array.isArray(value.cores) &&
    value.cores.every((core) => isObject(core) && typeof core.requests === 'number' && typeof core.inRequest === 'boolean') &&
    typeof value.startupTime === 'number'
  );
}

function isRequestLogSettings(value: unknown): value is RequestLogSettings {
  const optional = (key: string, type: 'boolean' | 'number'): boolean => !isObject(value) || value[key] === undefined || typeof value[key] === type;
  return (
    isObject(value) &&
    typeof value.format === 'string' &&
    typeof value.enabled === 'boolean' &&
    typeof value.memoryReport === 'boolean' &&
    optional('micros', 'boolean') &&
    (value.file === undefined || typeof value.file === 'string') &&
    optional('log4xx', 'boolean') &&
    optional('log5xx', 'boolean') &&
    optional('logSlowMs', 'number') &&
    optional('logZero', 'boolean') &&
    optional('logBigBytes', 'number')
  );
}

const isNumberOrNull = (value: unknown): value is number | null => value === null || typeof value === 'number';
const isOptionalNumber = (value: unknown): value is number | undefined => value === undefined || typeof value === 'number';

function isSocketEntry(value: unknown): value is WorkerInit['sockets'][number] {
  if (!isObject(value) || !SOCKET_PROTOCOLS.some((protocol) => protocol === value.protocol) || !isObject(value.bound)) return false;
  const bound = value.bound;
  return typeof bound.path === 'string' || (typeof bound.host === 'string' && typeof bound.port === 'number');
}

function isWorkerInit(value: unknown): value is WorkerInit {
  return (
    isObject(value) &&
    typeof value.id === 'number' &&
    typeof value.generation === 'number' &&
    typeof value.app === 'string' &&
    isObject(value.composition) &&
    Array.isArray(value.composition.mounts) &&
    Array.isArray(value.composition.staticMaps) &&
    (value.appKind === undefined || APP_KINDS.some((kind) => kind === value.appKind)) &&
    Array.isArray(value.sockets) &&
    value.sockets.every(isSocketEntry) &&
    typeof value.backlog === 'number' &&
    isNumberOrNull(value.threads) &&
    isNumberOrNull(value.harakiri) &&
    isNumberOrNull(value.maxRequests) &&
    isNumberOrNull(value.reloadOnRss) &&
    typeof value.reportIntervalMs === 'number' &&
    typeof value.mercyMs === 'number' &&
    typeof value.multiprocess === 'boolean' &&
    isOptionalNumber(value.keepAliveTimeout) &&
    isOptionalNumber(value.headerTimeout) &&
    isOptionalNumber(value.bufferSize) &&
    (value.requestLog === undefined || isRequestLogSettings(value.requestLog))
  );
}

/** A worker's message as the master receives it, or null when it is not one. */
export function parseWorkerMessage(value: unknown): WorkerMessage | null {
  if (!isObject(value)) return null;
  switch (value.type) {
    case 'ready':
    case 'report':
      return isReport(value.report) ? { type: value.type, report: value.report } : null;
    case 'boot-failed':
      return typeof value.message === 'string' ? { type: 'boot-failed', message: value.message } : null;
    case 'retire':
      return (value.reason === 'max-requests' || value.reason === 'reload-on-rss') && typeof value.detail === 'string'
        ? { type: 'retire', reason: value.reason, detail: value.detail }
        : null;
    case 'want-sockets':
      return { type: 'want-sockets' };
    default:
      return null;
  }
}

/** The master's message as a worker receives it, or null when it is not one. */
export function parseMasterMessage(value: unknown): MasterMessage | null {
  if (!isObject(value)) return null;
  switch (value.type) {
    case 'init':
      return isWorkerInit(value.init) ? { type: 'init', init: value.init } : null;
    case 'socket':
      return typeof value.index === 'number' ? { type: 'socket', index: value.index } : null;
    case 'drain':
      return typeof value.graceMs === 'number' && typeof value.idleGraceMs === 'number' && typeof value.reason === 'string'
        ? { type: 'drain', graceMs: value.graceMs, idleGraceMs: value.idleGraceMs, reason: value.reason }
        : null;
    case 'reopen-logs':
      return { type: 'reopen-logs' };
    case 'totals':
      return isObject(value.totals) && typeof value.totals.requests === 'number' ? { type: 'totals', totals: { requests: value.totals.requests } } : null;
    default:
      return null;
  }
}
