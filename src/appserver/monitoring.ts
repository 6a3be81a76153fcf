/**
 * The monitoring options of `tsgi serve`, turned into what the master, the workers and the command
 * need: where the log goes (--logto, --daemonize, USR1 reopening), how requests are logged
 * (--log-format, --disable-logging, --memory-report, --log-4xx...), the adaptive worker count
 * (--cheaper...), and the helpers that run beside a master (--stats, --touch-reload).
 * `src/cli/serve.ts` calls these; each one reads its options from the table's parsed values.
 */
import { COMMAND_LINE, UsageError, whereFrom, type ParsedOptions } from '../cli/options.js';
import type { App } from '../gateway/types.js';
import type { CheaperConfig } from './cheaper.js';
import { daemonize, isDaemonChild } from './daemonize.js';
import { LogFile } from './log-file.js';
import { Logger } from './log.js';
import type { MasterHandle } from './master.js';
import { LineBatch, logsAnything, RequestLogger } from './request-log.js';
import { masterStatsDocument, startStatsServer, type StatsServerHandle } from './stats/server.js';
import { TouchReload } from './touch-reload.js';
import type { RequestLogSettings } from './worker-protocol.js';

function where(options: ParsedOptions, name: string): string {
  return whereFrom(options.source(name) ?? COMMAND_LINE);
}

/** A whole number >= `min`, or undefined when the option is absent. */
function wholeNumber(options: ParsedOptions, name: string, min: number): number | undefined {
  if (!options.has(name)) return undefined;
  const value = options.number(name)!;
  if (!Number.isInteger(value) || value < min) {
    throw new UsageError(`option --${name} expects a whole number of at least ${min}, got ${value}${where(options, name)}`);
  }
  return value;
}

/** Where the server log goes. */
export interface LogOutput {
  log: Logger;
  /** The --logto / --daemonize file, reopened by SIGUSR1; null for stderr. */
  file: LogFile | null;
  /** Set when this process has just started the background copy and should exit (--daemonize). */
  daemonPid: number | null;
}

/**
 * --logto FILE: log to FILE in the foreground. --daemonize FILE: the first run starts the
 * background copy and reports its pid; the copy logs to FILE.
 */
export function openLogOutput(options: ParsedOptions): LogOutput {
  const daemonFile = options.string('daemonize');
  if (daemonFile !== undefined && !isDaemonChild()) {
    return { log: new Logger(), file: null, daemonPid: daemonize(daemonFile) };
  }
  const path = daemonFile ?? options.string('logto');
  if (path === undefined) return { log: new Logger(), file: null, daemonPid: null };
  let file: LogFile;
  try {
    file = new LogFile(path);
  } catch (error) {
    const name = daemonFile !== undefined ? 'daemonize' : 'logto';
    throw new UsageError(`option --${name} cannot open "${path}"${where(options, name)}: ${error instanceof Error ? error.message : String(error)}`);
  }
  return { log: new Logger(file), file, daemonPid: null };
}

/** The request log settings of the workers (always present: --disable-logging turns lines off, not the settings). */
export function requestLogSettings(options: ParsedOptions): RequestLogSettings {
  const slow = wholeNumber(options, 'log-slow', 0);
  const big = wholeNumber(options, 'log-big', 0);
  return {
    format: options.string('log-format') ?? 'default',
    enabled: !options.flag('disable-logging'),
    memoryReport: options.flag('memory-report'),
    micros: options.flag('log-micros'),
    log4xx: options.flag('log-4xx'),
    log5xx: options.flag('log-5xx'),
    logZero: options.flag('log-zero'),
    ...(slow === undefined ? {} : { logSlowMs: slow }),
    ...(big === undefined ? {} : { logBigBytes: big }),
  };
}

/** --cheaper and its companions, or undefined without --cheaper. */
export function cheaperConfig(options: ParsedOptions, log: Logger): CheaperConfig | undefined {
  const min = wholeNumber(options, 'cheaper', 0);
  if (min === undefined || min === 0) return undefined;
  const algo = options.string('cheaper-algo');
  if (algo !== undefined && algo !== 'busyness') {
    log.info(`cheaper-algo "${algo}"${where(options, 'cheaper-algo')} is not implemented: using busyness`);
  }
  return {
    min,
    initial: wholeNumber(options, 'cheaper-initial', 1),
    step: wholeNumber(options, 'cheaper-step', 1),
    overload: wholeNumber(options, 'cheaper-overload', 1),
    busynessMin: wholeNumber(options, 'cheaper-busyness-min', 0),
    busynessMax: wholeNumber(options, 'cheaper-busyness-max', 1),
    multiplier: wholeNumber(options, 'cheaper-busyness-multiplier', 1),
    penalty: wholeNumber(options, 'cheaper-busyness-penalty', 0),
    verbose: options.flag('cheaper-busyness-verbose'),
    backlogAlert: wholeNumber(options, 'cheaper-busyness-backlog-alert', 1),
    backlogStep: wholeNumber(options, 'cheaper-busyness-backlog-step', 1),
    backlogMultiplier: wholeNumber(options, 'cheaper-busyness-backlog-multiplier', 1),
  };
}

/** The stats server and the touch-reload watcher of a running master; both stop with it. */
export async function startMasterMonitoring(master: MasterHandle, options: ParsedOptions, log: Logger): Promise<void> {
  let stats: StatsServerHandle | null = null;
  const statsAddress = options.string('stats');
  if (statsAddress !== undefined) {
    const chdir = options.string('chdir');
    try {
      stats = await startStatsServer({
        address: statsAddress,
        http: options.flag('stats-http'),
        minified: options.flag('stats-minified'),
        document: () => masterStatsDocument(master, { chdir }),
      });
    } catch (error) {
      // A stats address that cannot be bound ends the master, as a socket that cannot be bound does.
      await master.stop(false);
      throw error;
    }
    log.line(`*** Stats server enabled on ${stats.address} ***`);
  }
  const touchFiles = options.list('touch-reload');
  let touch: TouchReload | null = null;
  if (touchFiles.length > 0) {
    touch = new TouchReload(touchFiles, (file) => {
      log.line(`*** ${file} has been touched... grace them all !!! ***`);
      master.reload().catch((error: unknown) => log.error('touch-reload', error));
    });
    touch.start();
  }
  void master.closed.then(() => {
    touch?.stop();
    void stats?.close();
  });
}

/**
 * The request log of a server without a master (one process, as uWSGI without --master): the
 * same logger a worker uses, writing into the server log. Returns the app to serve.
 */
export function singleProcessRequestLog(app: App, settings: RequestLogSettings, log: Logger): App {
  if (!logsAnything(settings)) return app;
  const lines = new LineBatch((text) => log.line(text));
  const logger = new RequestLogger({ settings, workerId: 1, otherRequests: () => 0, currentCore: () => 0, write: (line) => lines.push(line) });
  process.once('beforeExit', () => lines.flush());
  return logger.wrap(app);
}
