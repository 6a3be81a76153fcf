/**
 * The main context and `events {}` (ngx_core_module, ngx_errlog_module, ngx_events_module,
 * ngx_event_core_module), and `include` (ngx_conf_module), with nginx's defaults.
 */
import { readFileSync } from 'node:fs';
import type { Directive } from '../parser.js';
import { NginxConfigErrorCode } from '../errors.js';
import { LOG_LEVELS, type ErrorLogEntry, type LogLevel, type UserSetting } from '../types.js';
import {
  ANY_CONTEXT,
  Context,
  FLAG,
  NOARGS,
  ONE_OR_MORE,
  TAKE1,
  TAKE12,
  TAKE23,
  custom,
  fieldOf,
  slot,
  type DirectiveContext,
  type DirectiveSpec,
} from './spec.js';
import { addStr, arg, atoi, parseSize, setEnum, setFlag, setMsec, setNum, setOffset } from './setters.js';

/** nginx's debug log categories, accepted after a level in `error_log`. */
const DEBUG_LEVELS = ['debug_core', 'debug_alloc', 'debug_mutex', 'debug_event', 'debug_http', 'debug_mail', 'debug_stream'];

/** `ngx_log_set_log` + `ngx_log_set_levels`: `error_log FILE [LEVEL]`. */
export function parseErrorLog(d: Directive, cx: DirectiveContext, previous: readonly ErrorLogEntry[] | undefined): ErrorLogEntry[] {
  const file = arg(d);
  let target: string;
  if (file === 'stderr' || file.startsWith('syslog:')) {
    target = file;
  } else if (file.startsWith('memory:')) {
    const size = parseSize(file.slice('memory:'.length));
    // nginx keeps at least 8 pages for the in-memory debug log.
    if (size === null || size < 8 * 4096) throw cx.error(d, `invalid buffer size "${file.slice('memory:'.length)}"`);
    target = file;
  } else {
    target = cx.fullPath(file);
  }
  let level: LogLevel | null = null;
  let debugCategories = false;
  for (const word of d.args.slice(1)) {
    const named = LOG_LEVELS.find((l) => l === word);
    if (named) {
      if (level !== null || debugCategories) throw cx.error(d, `duplicate log level "${word}"`);
      level = named;
      continue;
    }
    if (DEBUG_LEVELS.includes(word)) {
      // nginx ORs categories into the level bits: they cannot follow a plain level.
      if (level !== null) throw cx.error(d, `invalid log level "${word}"`);
      debugCategories = true;
      continue;
    }
    throw cx.error(d, `invalid log level "${word}"`);
  }
  if (debugCategories) level = 'debug';
  return [...(previous ?? []), { target, level: level ?? 'error' }];
}

/** `ngx_set_worker_processes`: a count or `auto` (exact spelling). */
function parseWorkerProcesses(d: Directive, cx: DirectiveContext): number | 'auto' {
  const value = arg(d);
  if (value === 'auto') return 'auto';
  const n = atoi(value);
  if (n === null) throw cx.directiveError(d, 'invalid value');
  return n;
}

/** Reads `name:...` lines of /etc/passwd or /etc/group. */
function databaseHas(file: string, name: string): boolean {
  try {
    return readFileSync(file, 'utf8')
      .split('\n')
      .some((line) => line.split(':')[0] === name);
  } catch {
    return false;
  }
}

/** `ngx_set_user`: the user (and group, by default the user's name) must exist. */
function parseUser(d: Directive, cx: DirectiveContext): UserSetting | null {
  if (!cx.env.isRoot) {
    cx.warn(d, 'the "user" directive makes sense only if the master process runs with super-user privileges, ignored');
    return null;
  }
  const user = arg(d, 0);
  const group = d.args[1] ?? user;
  if (!databaseHas('/etc/passwd', user)) throw cx.error(d, `getpwnam("${user}") failed`, NginxConfigErrorCode.InvalidValue);
  if (!databaseHas('/etc/group', group)) throw cx.error(d, `getgrnam("${group}") failed`, NginxConfigErrorCode.InvalidValue);
  return { user, group };
}

/** `ngx_set_priority`: -20..20, with an optional sign. */
function parsePriority(d: Directive, cx: DirectiveContext): number {
  const value = arg(d);
  const minus = value.startsWith('-');
  const digits = value.startsWith('-') || value.startsWith('+') ? value.slice(1) : value;
  const n = atoi(digits);
  if (n === null) throw cx.directiveError(d, 'invalid number');
  return minus ? -n : n;
}

/** `ngx_set_cpu_affinity`: `[auto] MASK...`, masks of 0 and 1 (blanks allowed). */
function parseCpuAffinity(d: Directive, cx: DirectiveContext): string[] {
  const masks = d.args[0] === 'auto' ? d.args.slice(1) : d.args;
  if (d.args[0] === 'auto' && d.args.length > 2) {
    throw cx.error(d, `invalid number of arguments in "${d.name}" directive`, NginxConfigErrorCode.Arguments);
  }
  for (const mask of masks) {
    const bad = [...mask].find((ch) => ch !== ' ' && ch !== '0' && ch !== '1');
    if (bad !== undefined) throw cx.error(d, `invalid character "${bad}" in "worker_cpu_affinity"`);
  }
  return [...d.args];
}

/** `ngx_thread_pool`: `NAME threads=N [max_queue=N]`. */
function parseThreadPool(
  d: Directive,
  cx: DirectiveContext,
  previous: readonly { name: string; threads: number; maxQueue: number }[] | undefined,
): { name: string; threads: number; maxQueue: number }[] {
  const name = arg(d, 0);
  let threads: number | null = null;
  let maxQueue = 65536;
  for (const word of d.args.slice(1)) {
    if (word.startsWith('threads=')) {
      const n = atoi(word.slice('threads='.length));
      if (n === null || n === 0) throw cx.error(d, `invalid threads value "${word}"`);
      threads = n;
      continue;
    }
    if (word.startsWith('max_queue=')) {
      const n = atoi(word.slice('max_queue='.length));
      if (n === null || n === 0) throw cx.error(d, `invalid max_queue value "${word}"`);
      maxQueue = n;
      continue;
    }
  }
  if (threads === null) throw cx.error(d, `"${d.name}" must have "threads" parameter`);
  return [...(previous ?? []), { name, threads, maxQueue }];
}

function applyEvents(d: Directive, cx: DirectiveContext): void {
  if (cx.builders.events) throw cx.directiveError(d, 'is duplicate', NginxConfigErrorCode.Duplicate);
  const events = {};
  cx.builders.events = events;
  cx.evaluateBlock(d, Context.Events, (frame) => frame.setLevels({ events }));
}

export const CORE_DIRECTIVES: readonly DirectiveSpec[] = [
  custom('include', ANY_CONTEXT, TAKE1, (d, cx) => cx.evaluateIncluded(d), {
    help: 'read another file (or every file a pattern matches) here',
  }),
  slot('daemon', Context.Main, FLAG, 'main', 'daemon', setFlag, { default: true, help: 'run in the background' }),
  slot('master_process', Context.Main, FLAG, 'main', 'masterProcess', setFlag, { default: true, help: 'run a master process' }),
  slot('timer_resolution', Context.Main, TAKE1, 'main', 'timerResolutionMs', setMsec, { default: 0, help: 'clock update interval' }),
  slot('pid', Context.Main, TAKE1, 'main', 'pid', (d, cx) => cx.fullPath(arg(d)), {
    default: (env) => env.prefix + 'logs/nginx.pid',
    help: 'the file the master writes its pid to',
  }),
  slot('lock_file', Context.Main, TAKE1, 'main', 'lockFile', (d, cx) => cx.fullPath(arg(d)), {
    default: (env) => env.prefix + 'logs/nginx.lock',
    help: 'accepted for compatibility',
  }),
  slot('worker_processes', Context.Main, TAKE1, 'main', 'workerProcesses', parseWorkerProcesses, {
    default: 1,
    help: 'number of worker processes, or auto for one per CPU',
  }),
  slot('debug_points', Context.Main, TAKE1, 'main', 'debugPoints', setEnum(['stop', 'abort']), { default: null, help: 'debugging aid' }),
  custom(
    'user',
    Context.Main,
    TAKE12,
    (d, cx) => {
      const raw = cx.raw('main');
      // nginx only remembers the user when it runs as root, so only then is a second one a duplicate.
      if (raw.user) throw cx.directiveError(d, 'is duplicate', NginxConfigErrorCode.Duplicate);
      raw.user = parseUser(d, cx);
    },
    { help: 'user and group of the workers', slots: [fieldOf('main', 'user', null)] },
  ),
  slot('worker_priority', Context.Main, TAKE1, 'main', 'workerPriority', parsePriority, { default: 0, help: 'nice value of the workers' }),
  slot('worker_cpu_affinity', Context.Main, ONE_OR_MORE, 'main', 'workerCpuAffinity', parseCpuAffinity, { default: [], help: 'CPU masks of the workers' }),
  slot('worker_rlimit_nofile', Context.Main, TAKE1, 'main', 'workerRlimitNofile', setNum, { default: null, help: 'open file limit of the workers' }),
  slot('worker_rlimit_core', Context.Main, TAKE1, 'main', 'workerRlimitCore', setOffset, { default: null, help: 'core file size limit of the workers' }),
  slot('worker_shutdown_timeout', Context.Main, TAKE1, 'main', 'workerShutdownTimeoutMs', setMsec, {
    default: null,
    help: 'graceful shutdown time limit of a worker',
  }),
  slot('working_directory', Context.Main, TAKE1, 'main', 'workingDirectory', (d) => arg(d), { default: null, help: 'current directory of the workers' }),
  slot('env', Context.Main, TAKE1, 'main', 'env', addStr, { default: [], accumulate: true, help: 'environment variable kept or set for the workers' }),
  slot(
    'load_module',
    Context.Main,
    TAKE1,
    'main',
    'loadModules',
    (d, cx, previous) => {
      // nginx loads modules before it reads any module's block.
      if (cx.builders.events || cx.builders.http) throw cx.directiveError(d, 'is specified too late');
      cx.warn(d, `tsgi has no dynamic modules, "load_module ${arg(d)}" ignored`, false);
      return addStr(d, cx, previous);
    },
    { default: [], accumulate: true, help: 'accepted and ignored: tsgi has no dynamic modules' },
  ),
  slot('pcre_jit', Context.Main, FLAG, 'main', 'pcreJit', setFlag, { default: false, help: 'accepted for compatibility' }),
  slot('thread_pool', Context.Main, TAKE23, 'main', 'threadPools', parseThreadPool, { default: [], accumulate: true, help: 'a named thread pool' }),
  slot('error_log', Context.Main, ONE_OR_MORE, 'main', 'errorLog', parseErrorLog, {
    default: (env): ErrorLogEntry[] => [{ target: env.prefix + 'logs/error.log', level: 'error' }],
    accumulate: true,
    help: 'where errors are logged, and from which level',
  }),
  custom('events', Context.Main, NOARGS, applyEvents, { block: true, help: 'connection processing settings' }),
  slot('worker_connections', Context.Events, TAKE1, 'events', 'workerConnections', (d, cx) => {
    // ngx_event_connections words this one itself.
    const n = atoi(arg(d));
    if (n === null) throw cx.error(d, `invalid number "${arg(d)}"`);
    return n;
  }, {
    default: 512,
    help: 'simultaneous connections per worker',
  }),
  slot('use', Context.Events, TAKE1, 'events', 'use', (d, cx) => {
    // The event modules a Linux nginx has.
    const method = ['epoll', 'poll', 'select'].find((m) => m === arg(d));
    if (!method) throw cx.error(d, `invalid event type "${arg(d)}"`);
    return method;
  }, {
    default: null,
    help: 'the event method (accepted; Node.js picks its own)',
  }),
  slot('multi_accept', Context.Events, FLAG, 'events', 'multiAccept', setFlag, { default: false, help: 'accept all new connections at once' }),
  slot('accept_mutex', Context.Events, FLAG, 'events', 'acceptMutex', setFlag, { default: false, help: 'workers take turns accepting' }),
  slot('accept_mutex_delay', Context.Events, TAKE1, 'events', 'acceptMutexDelayMs', setMsec, { default: 500, help: 'accept mutex retry delay' }),
  slot('debug_connection', Context.Events, TAKE1, 'events', 'debugConnection', addStr, {
    default: [],
    accumulate: true,
    help: 'debug log for these client addresses',
  }),
  slot('worker_aio_requests', Context.Events, TAKE1, 'events', 'workerAioRequests', setNum, { default: 32, help: 'accepted for compatibility' }),
];
