/**
 * `tsgi serve`: the application server (the uWSGI role). One process when nothing asks for more;
 * a master with workers (src/appserver/master.ts) as soon as an option needs one.
 */
import { SERVE_OPTIONS, type AppKind } from '../appserver/options.js';
import { parseStaticMapping, type AppComposition } from '../appserver/app-composition.js';
import { Logger } from '../appserver/log.js';
import { parseAddress } from '../appserver/address.js';
import { loadServeOptions } from '../appserver/config/load.js';
import { MasterStartError, reloadFromPidfile, startMaster, stopFromPidfile } from '../appserver/master.js';
import { cheaperConfig, openLogOutput, requestLogSettings, singleProcessRequestLog, startMasterMonitoring } from '../appserver/monitoring.js';
import { EXIT_FAILED_APP } from '../process/exit-codes.js';
import { formatBound, type SocketSpec } from '../appserver/sockets.js';
import { pythonSockets, socketList } from './socket-list.js';
import { UWSGI_MAX_BLOCK_SIZE } from '../protocols/uwsgi.js';
import { DEFAULT_PYTHON, virtualenvInterpreter, type PythonWorkerConfig } from '../appserver/python-worker.js';
import { resolve as resolvePath } from 'node:path';
import { COMMAND_LINE, formatHelp, UsageError, whereFrom, type ParsedOptions } from './options.js';

const USAGE = 'Usage: tsgi serve --http-socket ADDR --app FILE[:EXPORT] [options]';

/** Every socket option, in the order the table lists them. */
/** --mount, --manage-script-name and --static-map, checked. */
function appComposition(options: ParsedOptions): AppComposition {
  const mounts: Array<[string, string]> = options.list('mount').map((text) => {
    const equals = text.indexOf('=');
    if (equals < 0 || !text.startsWith('/') || equals === text.length - 1) {
      throw new UsageError(`option --mount expects /PREFIX=FILE, got "${text}"${where(options, 'mount')}`);
    }
    return [text.slice(0, equals), text.slice(equals + 1)];
  });
  const staticMaps = options.list('static-map').map((text) => {
    const mapping = parseStaticMapping(text);
    if (mapping === null) throw new UsageError(`option --static-map expects /PREFIX=DIR, got "${text}"${where(options, 'static-map')}`);
    return mapping;
  });
  return { mounts, manageScriptName: options.flag('manage-script-name'), staticMaps };
}

function describeApps(appSpec: string | undefined, composition: AppComposition): string {
  return [appSpec, ...composition.mounts.map(([prefix, spec]) => `${prefix}=${spec}`)].filter(Boolean).join(', ') || 'no app (full dynamic mode)';
}

/** Options read from the reports JS workers send after each request, which Python workers do not send yet. */
/** Options that need a master; any of them given means master mode, as `--master` does. */
const MASTER_OPTIONS = ['http', 'master', 'threads', 'lazy-apps', 'harakiri', 'max-requests', 'max-worker-lifetime', 'reload-on-rss', 'pidfile', 'stats', 'cheaper', 'touch-reload'] as const;

/**
 * --wsgi-file / --module and their options, as the Python workers take them; null for a JS app.
 * The interpreter is /usr/bin/python3, or DIR/bin/python with --virtualenv DIR.
 */
function pythonConfig(options: ParsedOptions, composition: AppComposition): PythonWorkerConfig | null {
  const file = options.string('wsgi-file');
  const module = options.string('module');
  const pythonMounts = composition.mounts.filter(([, spec]) => isPythonMount(spec));
  if (file === undefined && module === undefined && pythonMounts.length === 0 && !pythonWithoutApp(options)) return null;
  if (file !== undefined && module !== undefined) {
    throw new UsageError(`give one of --wsgi-file and --module, not both${where(options, 'module')}`);
  }
  const what = file !== undefined ? '--wsgi-file' : module !== undefined ? '--module' : pythonMounts.length > 0 ? `--mount ${pythonMounts[0]!.join('=')}` : '--pythonpath';
  if (options.string('app') !== undefined) throw new UsageError(`--app (a JS app) and ${what} (a Python app) cannot be combined`);
  const jsMount = composition.mounts.find(([, spec]) => !isPythonMount(spec));
  if (jsMount !== undefined) {
    throw new UsageError(`--mount ${jsMount.join('=')} is not a Python app (FILE.py, FILE.wsgi or MODULE:CALLABLE) and the Python workers cannot serve it${where(options, 'mount')}`);
  }
  const args = file !== undefined ? ['--wsgi-file', file] : module !== undefined ? ['--module', module] : [];
  args.push('--callable', options.string('callable')!);
  for (const dir of options.list('pythonpath')) args.push('--pythonpath', dir);
  // The worker loads the mounts and serves the static maps itself, as uWSGI's workers do.
  for (const [prefix, spec] of composition.mounts) args.push('--mount', `${prefix}=${spec}`);
  if (composition.manageScriptName) args.push('--manage-script-name');
  for (const { prefix, dir } of composition.staticMaps) args.push('--static-map', `${prefix}=${dir}`);
  const autoreload = options.number('py-autoreload');
  if (autoreload !== undefined && autoreload > 0) {
    if (!Number.isInteger(autoreload)) throw new UsageError(`option --py-autoreload expects whole seconds, got ${autoreload}${where(options, 'py-autoreload')}`);
    args.push('--py-autoreload', String(autoreload));
    for (const name of options.list('py-auto-reload-ignore')) args.push('--py-auto-reload-ignore', name);
  }
  const venv = options.string('virtualenv');
  if (venv === undefined) return { interpreter: DEFAULT_PYTHON, args };
  return { interpreter: virtualenvInterpreter(resolvePath(venv)), args, interpreterSource: `--virtualenv ${venv}${where(options, 'virtualenv')}` };
}

/**
 * Python options but no app (seed 004's xml: pythonpath, no module): uWSGI starts its workers in
 * "full dynamic mode", answering 500 (or exits with --need-app), and so does tsgi.
 */
function pythonWithoutApp(options: ParsedOptions): boolean {
  return options.string('app') === undefined && options.list('mount').length === 0 && (options.has('pythonpath') || options.has('virtualenv'));
}

/**
 * uWSGI's python plugin mounts a file ending in .py or .wsgi, or MODULE:CALLABLE; a JS mount is
 * FILE[:EXPORT] with a JS or TS extension.
 */
function isPythonMount(spec: string): boolean {
  if (/\.(py|wsgi)$/.test(spec)) return true;
  const colon = spec.lastIndexOf(':');
  return colon > 0 && !/\.[cm]?[jt]sx?$/.test(spec.slice(0, colon)) && !spec.slice(0, colon).includes('/');
}

function where(options: ParsedOptions, name: string): string {
  return whereFrom(options.source(name) ?? COMMAND_LINE);
}

/** A positive number option, or undefined when absent. */
function positive(options: ParsedOptions, name: string, integer = true): number | undefined {
  if (!options.has(name)) return undefined;
  const value = options.number(name)!;
  if (!(value > 0) || (integer && !Number.isInteger(value))) {
    throw new UsageError(`option --${name} expects a positive ${integer ? 'integer' : 'number'}, got ${value}${where(options, name)}`);
  }
  return value;
}

function parseEnv(options: ParsedOptions): Record<string, string> {
  const env: Record<string, string> = {};
  for (const entry of options.list('env')) {
    const equals = entry.indexOf('=');
    if (equals <= 0) throw new UsageError(`option --env expects KEY=VALUE, got "${entry}"${where(options, 'env')}`);
    env[entry.slice(0, equals)] = entry.slice(equals + 1);
  }
  return env;
}

export async function runServe(argv: readonly string[]): Promise<number> {
  const options = loadServeOptions(argv, process.env, process.cwd());
  if (options.flag('help')) {
    process.stdout.write(formatHelp(USAGE, SERVE_OPTIONS));
    return 0;
  }
  let log = new Logger();
  // uWSGI's --reload / --stop: signal a running master and leave.
  const reloadPidfile = options.string('reload');
  if (reloadPidfile !== undefined) {
    log.info(`sent a graceful reload (HUP) to master ${reloadFromPidfile(reloadPidfile)}`);
    return 0;
  }
  const stopPidfile = options.string('stop');
  if (stopPidfile !== undefined) {
    log.info(`stopped master ${stopFromPidfile(stopPidfile)} (INT)`);
    return 0;
  }
  // --logto / --daemonize: from here on the log goes to the file.
  const output = openLogOutput(options);
  if (output.daemonPid !== null) {
    log.info(`running in the background (pid ${output.daemonPid}), logging to ${options.string('daemonize')}`);
    return 0;
  }
  log = output.log;
  if (options.flag('vhost')) {
    throw new UsageError(`option --vhost (virtual hosting mode) is not supported by tsgi${where(options, 'vhost')}: use --mount /PREFIX=FILE`);
  }
  const logDate = options.string('log-date');
  if (logDate !== undefined && !['false', '0', 'no', 'off'].includes(logDate.toLowerCase())) {
    log.dateLines(['true', '1', 'yes', 'on', ''].includes(logDate.toLowerCase()) ? undefined : logDate);
  }
  const requestLog = { ...requestLogSettings(options), ...(output.file === null ? {} : { file: output.file.path }) };

  if (options.positionals.length > 0) throw new UsageError(`unexpected argument "${options.positionals[0]}"`);
  const composition = appComposition(options);
  const python = pythonConfig(options, composition);
  const appSpec = python === null ? options.string('app') : (options.string('wsgi-file') ?? options.string('module'));
  if (!appSpec && composition.mounts.length === 0 && python === null) throw new UsageError('no application given: use --app FILE[:EXPORT], --wsgi-file FILE, --module MOD or --mount /PREFIX=FILE');
  let sockets = socketList(options, log); // a typo in an address fails here, before the app loads
  let routerAddresses = options.list('http');
  let routerSockets: SocketSpec[] = [];
  if (python !== null) {
    // Python workers accept uwsgi on one socket; the router serves every other one (docs/python.md).
    const placed = pythonSockets(sockets, routerAddresses);
    for (const socket of [...sockets.filter((s) => s.protocol !== 'uwsgi'), ...sockets.filter((s) => s.protocol === 'uwsgi').slice(1)]) {
      log.info(
        socket.protocol === 'http'
          ? `--http-socket ${socket.address} with a Python app: the HTTP router accepts on it and forwards to the Python workers over uwsgi (as --http)`
          : `${socket.protocol} socket ${socket.address} with a Python app: the router accepts on it and relays each request to the Python workers over uwsgi`,
      );
    }
    [sockets, routerAddresses, routerSockets] = [placed.workers, placed.routerHttp, placed.routerOther];
  }
  if (sockets.length === 0 && routerAddresses.length === 0 && routerSockets.length === 0) {
    throw new UsageError('no socket to serve on: use --http, --http-socket, --socket, --fastcgi-socket or --scgi-socket ADDR');
  }
  for (const address of routerAddresses) parseAddress(address);
  const bufferSize = options.number('buffer-size')!;
  if (!Number.isInteger(bufferSize) || bufferSize < 1 || bufferSize > UWSGI_MAX_BLOCK_SIZE) {
    throw new UsageError(`option --buffer-size expects 1 to ${UWSGI_MAX_BLOCK_SIZE}, got ${bufferSize}${where(options, 'buffer-size')}`);
  }
  const chmod = options.string('chmod-socket');
  if (chmod !== undefined && !/^[0-7]{3,4}$/.test(chmod)) {
    throw new UsageError(`option --chmod-socket expects an octal mode like 660, got "${chmod}"${where(options, 'chmod-socket')}`);
  }
  const processes = positive(options, 'processes') ?? 1;
  const env = parseEnv(options);
  const chdir = options.string('chdir');
  const appKind = options.string('app-kind') as AppKind | undefined;
  if (python === null && options.has('py-autoreload')) {
    log.info(`option "py-autoreload"${where(options, 'py-autoreload')} watches Python modules and has no effect with a JS app: use --touch-reload FILE`);
  }
  for (const { spec, sources } of options.ignored()) {
    log.info(`option "${spec.name}"${whereFrom(sources[0] ?? COMMAND_LINE)} is accepted and ignored: ${spec.ignoredReason}`);
  }

  const common = {
    listen: options.number('listen'),
    keepAliveTimeout: options.number('http-keepalive'),
    bufferSize,
    chmodSocket: chmod === undefined ? undefined : Number.parseInt(chmod, 8),
  };

  // Python apps always run in worker processes under a master.
  if (python !== null || processes > 1 || MASTER_OPTIONS.some((name) => options.has(name) && (name !== 'master' || options.flag('master')))) {
    const master = await startMaster({
      requestLog,
      cheaper: cheaperConfig(options, log),
      needApp: options.flag('need-app'),
      python: python ?? undefined,
      onReopenLogs: output.file === null ? undefined : () => output.file!.reopen(),
      app: appSpec ?? '',
      composition,
      appKind,
      sockets,
      router:
        routerAddresses.length + routerSockets.length === 0
          ? undefined
          : { addresses: routerAddresses, sockets: routerSockets, timeout: positive(options, 'http-timeout', false), keepAlive: options.number('http-keepalive') },
      processes,
      threads: positive(options, 'threads'),
      lazyApps: options.flag('lazy-apps'),
      harakiri: positive(options, 'harakiri', false),
      maxRequests: positive(options, 'max-requests'),
      maxWorkerLifetime: positive(options, 'max-worker-lifetime', false),
      reloadOnRss: positive(options, 'reload-on-rss', false),
      reloadMercy: positive(options, 'worker-reload-mercy', false),
      dieOnTerm: options.flag('die-on-term'),
      pidfile: options.string('pidfile'),
      env,
      chdir,
      log,
      ...common,
    }).catch((error: unknown) => {
      // --need-app's exit status 22 has to reach the shell; other start failures are usage-like (1).
      if (error instanceof MasterStartError && error.exitCode === EXIT_FAILED_APP) return error;
      throw error;
    });
    if (master instanceof MasterStartError) {
      log.error(master.message);
      return master.exitCode;
    }
    await startMasterMonitoring(master, options, log);
    master.addresses.forEach((address, i) => {
      log.info(`serving ${describeApps(appSpec, composition)} with ${processes} worker(s) on ${formatBound(address, sockets[i]!.protocol)} (master pid ${master.pid})`);
    });
    master.routerAddresses.forEach((address, i) => {
      const protocol = master.routerProtocols[i] ?? 'http';
      log.info(`serving ${describeApps(appSpec, composition)} with ${processes} worker(s) behind the ${protocol === 'http' ? 'http router' : 'router'} on ${formatBound(address, protocol)} (master pid ${master.pid})`);
    });
    return master.closed;
  }

  // One process: the app runs here, as with uWSGI without --master and one process.
  Object.assign(process.env, env);
  if (chdir !== undefined) process.chdir(chdir);
  // Loaded here, not at the top: a master never runs the app, and these modules (tsx, the
  // adapters, static files) would only grow its memory.
  const { buildApp } = await import('../appserver/compose-app.js');
  const { serve } = await import('../appserver/serve.js');
  const built = await buildApp(appSpec, appKind, composition).catch((error: unknown) => {
    if (!options.flag('need-app')) throw error;
    log.error('the application could not be loaded', error);
    log.line('*** no app loaded. GAME OVER ***');
    return null;
  });
  if (built === null) return EXIT_FAILED_APP;
  if (output.file !== null) process.on('SIGUSR1', () => output.file!.reopen());
  const server = await serve(singleProcessRequestLog(built.app, requestLog, log), { sockets, log, backlog: common.listen, ...common });
  server.addresses.forEach((address, i) => {
    log.info(`serving ${built.description} on ${formatBound(address, sockets[i]!.protocol)}`);
  });
  await new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals): void => {
      log.info(`${signal} received, finishing in-flight requests`);
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      void server.close().then(resolve);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  return 0;
}
