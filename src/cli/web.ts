/**
 * `tsgi web`: the web server (the nginx role), with nginx's command line.
 *
 *   tsgi web [-?hvVtTq] [-s signal] [-p prefix] [-e filename] [-c filename] [-g directives]
 *
 * The options, their messages and exit statuses are nginx 1.22's (src/core/nginx.c:
 * ngx_get_options, ngx_show_version_info; src/core/ngx_cycle.c: ngx_signal_process), with
 * "tsgi" where nginx says "nginx". Flags combine (`-tq`), and a value may be glued to its flag
 * (`-c/etc/x.conf`) or follow it.
 *
 *   -t       "the configuration file F syntax is ok" / "configuration file F test is successful",
 *            or "[emerg] ... in F:L" and "configuration file F test failed" (exit 1)
 *   -T       as -t, then every configuration file read, each after "# configuration file F:"
 *   -q       no "syntax is ok" / "test is successful" (errors and warnings still print)
 *   -s SIG   stop (TERM), quit (QUIT), reopen (USR1), reload (HUP) to the master named by the
 *            configuration's pid file
 *
 * Messages that nginx writes through its error log (the [emerg] of -t, "signal process
 * started") take the log's layout on stderr, or go to the -e file with a "tsgi: [emerg] ..."
 * copy on stderr, as nginx does.
 */
import { fork } from 'node:child_process';
import { closeSync, readFileSync, writeSync } from 'node:fs';
import { TsgiError } from '../errors.js';
import { checkConfig, NginxConfigError, type LogLevel, type NginxConfig } from '../web/config/index.js';
import { childExecArgv } from '../process/spawn.js';
import { readPidfile, removePidfile, writePidfile } from '../process/pidfile.js';
import { EXIT_FAILURE, EXIT_OK, signalNumber } from '../process/exit-codes.js';
import { formatErrorLine, openLogFile } from '../web/log/index.js';
import { configPath, defaultPrefix, errorLogEntries, errorLogTarget, loadWebConfig, SERVER_VERSION, type WebCommand } from '../web/server/load.js';
import { WebMaster, describeStartError } from '../web/server/master.js';
import { createWebModules } from '../web/server/modules.js';
import { WorkerServer } from '../web/server/worker-server.js';

const SIGNALS: Readonly<Record<string, NodeJS.Signals>> = { stop: 'SIGTERM', quit: 'SIGQUIT', reopen: 'SIGUSR1', reload: 'SIGHUP' };
/** Set in the environment of the process a daemonizing `tsgi web` starts. */
const DAEMON_ENV = 'TSGI_WEB_DAEMON';

export interface WebArgs extends WebCommand {
  readonly help: boolean;
  readonly version: boolean;
  readonly configure: boolean;
  readonly test: boolean;
  readonly dump: boolean;
  readonly quiet: boolean;
  readonly signal: string | null;
}

/** A command-line mistake, worded as nginx words it (nginx exits 1 for these, not 2). */
export class WebUsageError extends TsgiError {
  constructor(message: string) {
    super('ERR_WEB_USAGE', message);
  }
}

/** The flags that take a value, the field it sets, and nginx's word for it when it is missing. */
const VALUE_FLAGS = {
  s: { field: 'signal', what: 'parameter' },
  p: { field: 'prefix', what: 'directory name' },
  e: { field: 'errorLog', what: 'file name' },
  c: { field: 'configFile', what: 'file name' },
  g: { field: 'globals', what: 'parameter' },
} as const;

/** The flags without a value, and what each turns on. */
const SWITCHES: Readonly<Record<string, readonly ('help' | 'version' | 'configure' | 'test' | 'dump' | 'quiet')[]>> = {
  '?': ['version', 'help'],
  h: ['version', 'help'],
  v: ['version'],
  V: ['version', 'configure'],
  t: ['test'],
  T: ['test', 'dump'],
  q: ['quiet'],
};

/** ngx_get_options. */
export function parseWebArgs(argv: readonly string[]): WebArgs {
  const switches = { help: false, version: false, configure: false, test: false, dump: false, quiet: false };
  const values: Record<(typeof VALUE_FLAGS)[keyof typeof VALUE_FLAGS]['field'], string | null> = {
    signal: null,
    prefix: null,
    errorLog: null,
    configFile: null,
    globals: null,
  };
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i]!;
    if (!word.startsWith('-')) throw new WebUsageError(`invalid option: "${word}"`);
    let p = 1;
    while (p < word.length) {
      const flag = word[p++]!;
      const turnsOn = SWITCHES[flag];
      if (turnsOn !== undefined) {
        for (const name of turnsOn) switches[name] = true;
        continue;
      }
      if (!(flag in VALUE_FLAGS)) throw new WebUsageError(`invalid option: "${flag}"`);
      const spec = VALUE_FLAGS[flag as keyof typeof VALUE_FLAGS];
      // The value is the rest of this word (-c/etc/x.conf) or the next word; it ends the word.
      let value: string | undefined = word.slice(p);
      p = word.length;
      if (value === '') value = argv[++i];
      if (value === undefined) throw new WebUsageError(`option "-${flag}" requires ${spec.what}`);
      if (flag === 's' && !(value in SIGNALS)) throw new WebUsageError(`invalid option: "-s ${value}"`);
      values[spec.field] = value;
    }
  }
  return { ...switches, ...values };
}

function usage(): string {
  return `Usage: tsgi web [-?hvVtTq] [-s signal] [-p prefix]
                [-e filename] [-c filename] [-g directives]

Options:
  -?,-h         : this help
  -v            : show version and exit
  -V            : show version and configure options then exit
  -t            : test configuration and exit
  -T            : test configuration, dump it and exit
  -q            : suppress non-error messages during configuration testing
  -s signal     : send signal to a master process: stop, quit, reopen, reload
  -p prefix     : set prefix path (default: the current directory)
  -e filename   : set error log file (default: stderr)
  -c filename   : set configuration file (default: conf/nginx.conf)
  -g directives : set global directives out of configuration file

`;
}

function configureLine(): string {
  return [
    `--prefix=${defaultPrefix()}`,
    '--conf-path=conf/nginx.conf',
    '--error-log-path=stderr',
    '--pid-path=logs/nginx.pid',
    '--with-http_stub_status_module',
    '--with-http_gzip_static_module',
  ].join(' ');
}

/** Startup messages: the -e log's layout, with a `tsgi: [level]` copy on stderr when -e is a file. */
class StartupLog {
  private readonly target: string;

  constructor(command: WebCommand) {
    this.target = errorLogTarget(command, command.prefix ?? defaultPrefix());
  }

  write(level: LogLevel, message: string): void {
    const line = formatErrorLine({ timeMs: Date.now(), level, pid: process.pid, message }) + '\n';
    if (this.target === 'stderr') {
      process.stderr.write(Buffer.from(line, 'latin1'));
      return;
    }
    try {
      const fd = openLogFile(this.target);
      writeSync(fd, Buffer.from(line, 'latin1'));
      closeSync(fd);
    } catch {
      // nginx goes on with stderr when it cannot open its log.
    }
    process.stderr.write(`tsgi: [${level}] ${message}\n`);
  }
}

const say = (line: string): void => void process.stderr.write(`tsgi: ${line}\n`);

/** -t and -T. */
function testConfig(args: WebArgs, log: StartupLog): number {
  const file = configPath(args);
  const result = checkConfig(file, {
    prefix: args.prefix ?? (args.configFile === null ? defaultPrefix() : undefined),
    globals: args.globals ?? undefined,
  });
  for (const line of result.lines) {
    const logged = /^\[(emerg|warn|alert|crit|error|notice|info)\] (.*)$/s.exec(line);
    if (logged) log.write(logged[1] as LogLevel, logged[2]!);
    // -q silences these two only; "test failed" always prints.
    else if (!(args.quiet && (line.startsWith('the configuration file ') || line.endsWith(' test is successful')))) say(line);
  }
  if (result.ok && args.dump && result.config !== null) {
    for (const path of result.config.files) {
      process.stdout.write(`# configuration file ${path}:\n${readFileSync(path, 'latin1')}\n`);
    }
  }
  return result.exitCode;
}

/** The configuration, or null after logging nginx's [emerg] for it. */
function loadOrLog(args: WebArgs, log: StartupLog): NginxConfig | null {
  try {
    return loadWebConfig(args);
  } catch (error) {
    log.write('emerg', describeStartError(error));
    return null;
  }
}

/** -s: ngx_signal_process. */
function signalMaster(args: WebArgs, log: StartupLog): number {
  const config = loadOrLog(args, log);
  if (config === null) return EXIT_FAILURE;
  log.write('notice', 'signal process started');
  const file = config.main.pid;
  let pid: number;
  try {
    pid = readPidfile(file);
  } catch (error) {
    const cause = error instanceof Error ? error.cause : undefined;
    const code = typeof cause === 'object' && cause !== null ? Reflect.get(cause, 'code') : undefined;
    if (code === 'ENOENT') log.write('error', `open() "${file}" failed (2: No such file or directory)`);
    else {
      let text = '';
      try {
        text = readFileSync(file, 'latin1').trim();
      } catch {
        // Unreadable: the message below still names the file.
      }
      log.write('error', `invalid PID number "${text}" in "${file}"`);
    }
    return EXIT_FAILURE;
  }
  const signal = SIGNALS[args.signal!]!;
  try {
    process.kill(pid, signal);
  } catch (error) {
    const code = typeof error === 'object' && error !== null ? Reflect.get(error, 'code') : undefined;
    const reason = code === 'ESRCH' ? '3: No such process' : code === 'EPERM' ? '1: Operation not permitted' : String(code);
    log.write('alert', `kill(${pid}, ${signalNumber(signal)}) failed (${reason})`);
    return EXIT_FAILURE;
  }
  return EXIT_OK;
}

/**
 * `daemon on`: start this command again detached from the terminal and return once it accepts
 * (or has failed), as nginx returns after its master is up. The child tells over IPC. As
 * nginx's daemon, it keeps no terminal: stdin and stdout are /dev/null, and stderr is the error
 * log when that is a file (nginx's ngx_log_redirect_stderr), the terminal only when the log is
 * stderr itself.
 */
function daemonize(config: NginxConfig, args: WebArgs): Promise<number> {
  const entry = process.argv[1]!;
  const target = errorLogEntries(config, args)[0]?.target ?? 'stderr';
  let stderr: number | 'inherit' = 'inherit';
  if (target.startsWith('/')) {
    try {
      stderr = openLogFile(target);
    } catch {
      // The child reports the failure to open it, through the channel below.
    }
  }
  const child = fork(entry, process.argv.slice(2), {
    detached: true,
    stdio: ['ignore', 'ignore', stderr, 'ipc'],
    env: { ...process.env, [DAEMON_ENV]: '1' },
    execArgv: childExecArgv(entry),
  });
  if (typeof stderr === 'number') closeSync(stderr);
  return new Promise((resolve) => {
    child.on('message', (message: unknown) => {
      if (message === 'ready') {
        child.disconnect();
        child.unref();
        resolve(EXIT_OK);
      } else if (stderr !== 'inherit' && typeof message === 'object' && message !== null && typeof Reflect.get(message, 'failed') === 'string') {
        // The child's own line went to the log file: the terminal gets nginx's short copy.
        say(`[emerg] ${String(Reflect.get(message, 'failed'))}`);
      }
    });
    child.on('exit', (code) => resolve(code ?? EXIT_FAILURE));
  });
}

/** `master_process off`: this process binds and serves (nginx's single-process mode). */
async function runSingle(args: WebArgs, config: NginxConfig): Promise<number> {
  const server = new WorkerServer({
    config,
    modules: (worker) => createWebModules(config, { worker, errorLogEntries: errorLogEntries(config, args) }),
    serverVersion: SERVER_VERSION,
    slot: 0,
  });
  await server.listen();
  writePidfile(config.main.pid);
  process.send?.('ready');
  await new Promise<void>((resolve) => {
    const quit = (): void => void server.gracefulStop().then(resolve);
    const term = (): void => {
      server.fastStop();
      resolve();
    };
    process.once('SIGQUIT', quit);
    process.once('SIGTERM', term);
    process.once('SIGINT', term);
    process.on('SIGUSR1', () => server.reopenLogs());
  });
  removePidfile(config.main.pid);
  await server.close();
  process.exit(EXIT_OK);
}

export async function runWeb(argv: readonly string[]): Promise<number> {
  let args: WebArgs;
  try {
    args = parseWebArgs(argv);
  } catch (error) {
    if (!(error instanceof WebUsageError)) throw error;
    say(error.message);
    return EXIT_FAILURE;
  }
  if (args.version) {
    process.stderr.write(`tsgi version: ${SERVER_VERSION}\n`);
    if (args.help) process.stderr.write(usage());
    if (args.configure) process.stderr.write(`built with Node.js ${process.version}\nconfigure arguments: ${configureLine()}\n`);
    if (!args.test) return EXIT_OK;
  }
  const log = new StartupLog(args);
  if (args.test) return testConfig(args, log);
  if (args.signal !== null) return signalMaster(args, log);

  const config = loadOrLog(args, log);
  if (config === null) return EXIT_FAILURE;
  for (const warning of config.warnings) log.write('warn', warning.message);
  const daemonChild = process.env[DAEMON_ENV] === '1';
  if (config.main.daemon && config.main.masterProcess && !daemonChild) return daemonize(config, args);
  try {
    if (!config.main.masterProcess) return await runSingle(args, config);
    const master = await WebMaster.start({ command: args, config, onReady: () => process.send?.('ready') });
    if (daemonChild && process.connected) process.disconnect();
    // The master is done when run() returns; nothing it started may keep the process alive.
    process.exit(await master.run());
  } catch (error) {
    const message = error instanceof NginxConfigError ? error.message : describeStartError(error);
    log.write('emerg', message);
    if (daemonChild) process.send?.({ failed: message });
    return EXIT_FAILURE;
  }
}
