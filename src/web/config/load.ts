/**
 * Reading nginx.conf into the typed configuration (`loadNginxConfig`), and `tsgi web -t`
 * (`checkConfig`), with nginx's lines:
 *
 *     the configuration file /etc/tsgi/nginx.conf syntax is ok
 *     configuration file /etc/tsgi/nginx.conf test is successful
 *
 * or `[emerg] MESSAGE in FILE:LINE` and `configuration file F test failed` (exit status 1). The CLI
 * prints each line after its `tsgi: ` prefix.
 *
 * Paths, as in nginx: a relative main file is taken from the prefix (`-p`) when one is given (from
 * the current directory otherwise); the prefix defaults to the main file's directory; relative
 * `include`s are taken from the main file's directory (nginx's conf prefix), then from the `conf/`
 * directory tsgi ships (mime.types, uwsgi_params, fastcgi_params, fastcgi.conf, scgi_params);
 * other relative paths (root, logs, pid, temp dirs) are taken from the prefix.
 */
import { existsSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { availableParallelism } from 'node:os';
import { NginxConfigError, NginxConfigErrorCode, makeWarning, type ConfigWarning } from './errors.js';
import { Evaluation } from './build.js';
import { mergeLevel } from './merge.js';
import { parseConfigFile, parseConfigText, type ParseOptions } from './parser.js';
import type { DefaultsEnv } from './directives.js';
import type { NginxConfig } from './types.js';

export interface LoadOptions {
  /** nginx's `-p`: where relative paths (root, logs, pid) are taken from. Default: the main file's directory. */
  readonly prefix?: string;
  /** nginx's `-g`: directives applied in the main context before the file (`'daemon off; pid /tmp/x.pid;'`). */
  readonly globals?: string;
  /** Directories tried for a relative include missing beside the config. Default: tsgi's shipped `conf/`. */
  readonly fallbackDirs?: readonly string[];
  /** Whether to behave as when run by root (`user` checks, implicit `listen 80` vs `8000`). Default: the real uid. */
  readonly isRoot?: boolean;
}

/** The `conf/` directory shipped with tsgi (found from the source tree or from `dist/`). */
export function shippedConfDir(): string | null {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const candidate of [resolve(here, '../../../conf'), resolve(here, '../../../../conf')]) {
    if (existsSync(resolve(candidate, 'mime.types'))) return candidate + '/';
  }
  return null;
}

function withSlash(dir: string): string {
  return dir.endsWith('/') ? dir : dir + '/';
}

interface Resolved {
  readonly file: string;
  readonly env: DefaultsEnv;
  readonly parse: ParseOptions;
}

function resolvePaths(file: string, options: LoadOptions): Resolved {
  // nginx glues a relative -c to the prefix without normalizing, and prints it that way.
  const full = isAbsolute(file) ? file : options.prefix ? withSlash(options.prefix) + file : resolve(file);
  const confPrefix = withSlash(dirname(full));
  const prefix = options.prefix ? withSlash(resolve(options.prefix)) : confPrefix;
  const shipped = shippedConfDir();
  const fallbackDirs = options.fallbackDirs ?? (shipped ? [shipped] : []);
  const isRoot = options.isRoot ?? process.getuid?.() === 0;
  return { file: full, env: { prefix, confPrefix, isRoot }, parse: { confPrefix, fallbackDirs } };
}

/** The result of reading and applying the configuration, before the checks nginx makes afterwards. */
interface Applied {
  readonly evaluation: Evaluation;
  readonly files: readonly string[];
  /** The error that stopped reading (the warnings before it are in the evaluation). */
  readonly error: NginxConfigError | null;
}

function apply(resolved: Resolved, options: LoadOptions, text?: string): Applied {
  const params = options.globals ? parseConfigText(options.globals, { kind: 'command-line' }, resolved.parse).root : null;
  const parsed = text === undefined ? parseConfigFile(resolved.file, resolved.parse) : parseConfigText(text, { kind: 'file', file: resolved.file }, resolved.parse);
  const evaluation = new Evaluation(resolved.env);
  try {
    evaluation.run(parsed.root, params);
  } catch (error) {
    if (error instanceof NginxConfigError) return { evaluation, files: parsed.files, error };
    throw error;
  }
  return { evaluation, files: parsed.files, error: null };
}

/**
 * The checks nginx makes after "syntax is ok" (the modules' init_conf, shared memory), in its
 * order: what they warn about, and the first error.
 */
function postChecks(evaluation: Evaluation): { warnings: ConfigWarning[]; error: NginxConfigError | null } {
  const warnings: ConfigWarning[] = [];
  const main = evaluation.builders.main;
  const masks = main.workerCpuAffinity ?? [];
  const workers = main.workerProcesses === 'auto' ? availableParallelism() : (main.workerProcesses ?? 1);
  if (masks.length > 1 && masks.length !== workers) {
    const text =
      'the number of "worker_processes" is not equal to the number of "worker_cpu_affinity" masks, using last mask for remaining worker processes';
    warnings.push(makeWarning(text, { kind: 'none' }, true));
  }
  if (!evaluation.builders.events) {
    return { warnings, error: new NginxConfigError(NginxConfigErrorCode.Missing, 'no "events" section in configuration', { kind: 'none' }) };
  }
  for (const zone of evaluation.builders.http?.zones.values() ?? []) {
    if (zone.size === 0 && zone.module !== 'upstream') {
      return { warnings, error: new NginxConfigError(NginxConfigErrorCode.Missing, `zero size shared memory zone "${zone.name}"`, { kind: 'none' }) };
    }
  }
  return { warnings, error: null };
}

function assemble(resolved: Resolved, applied: Applied, later: readonly ConfigWarning[]): NginxConfig {
  const { evaluation } = applied;
  const env = resolved.env;
  const main = { ...mergeLevel('main', evaluation.builders.main, null, env), events: mergeLevel('events', evaluation.builders.events ?? {}, null, env) };
  const http = evaluation.http;
  return {
    main,
    http,
    servers: http?.servers ?? [],
    upstreams: http?.upstreams ?? new Map(),
    warnings: [...evaluation.warnings, ...later],
    files: applied.files,
    file: resolved.file,
    prefix: env.prefix,
    confPrefix: env.confPrefix,
  };
}

/**
 * Reads an nginx configuration file (and its includes) into the typed configuration.
 * Throws the `NginxConfigError` nginx would stop on.
 */
export function loadNginxConfig(file: string, options: LoadOptions = {}): NginxConfig {
  const resolved = resolvePaths(file, options);
  const applied = apply(resolved, options);
  if (applied.error) throw applied.error;
  return assemble(resolved, applied, afterReading(applied));
}

/** Applies the post checks for the loaders: their warnings join the others, an error is thrown. */
function afterReading(applied: Applied): readonly ConfigWarning[] {
  const { warnings, error } = postChecks(applied.evaluation);
  if (error) throw error;
  return warnings;
}

/**
 * Like `loadNginxConfig`, for configuration text held in memory; `file` names it in messages and
 * places it (relative includes are taken from its directory).
 */
export function loadNginxConfigText(text: string, file: string, options: LoadOptions = {}): NginxConfig {
  const resolved = resolvePaths(file, options);
  const applied = apply(resolved, options, text);
  if (applied.error) throw applied.error;
  return assemble(resolved, applied, afterReading(applied));
}

/** What `tsgi web -t` prints and returns. */
export interface CheckResult {
  readonly ok: boolean;
  /** 0 on success, 1 on failure, as nginx -t. */
  readonly exitCode: 0 | 1;
  /** The lines to print, each after the program's `tsgi: ` prefix. */
  readonly lines: readonly string[];
  readonly error: NginxConfigError | null;
  readonly warnings: readonly ConfigWarning[];
  readonly config: NginxConfig | null;
}

/** `-t`: checks the configuration and words the outcome as nginx does. */
export function checkConfig(file: string, options: LoadOptions = {}): CheckResult {
  const resolved = resolvePaths(file, options);
  const lines: string[] = [];
  const warn = (warnings: readonly ConfigWarning[]) => lines.push(...warnings.map((w) => `[warn] ${w.message}`));
  const fail = (error: NginxConfigError, warnings: readonly ConfigWarning[]): CheckResult => {
    lines.push(`[${error.level}] ${error.message}`, `configuration file ${resolved.file} test failed`);
    return { ok: false, exitCode: 1, lines, error, warnings, config: null };
  };
  const applied = apply(resolved, options);
  const warnings = applied.evaluation.warnings;
  warn(warnings);
  if (applied.error) return fail(applied.error, warnings);
  lines.push(`the configuration file ${resolved.file} syntax is ok`);
  const post = postChecks(applied.evaluation);
  warn(post.warnings);
  const all = [...warnings, ...post.warnings];
  if (post.error) return fail(post.error, all);
  lines.push(`configuration file ${resolved.file} test is successful`);
  return { ok: true, exitCode: 0, lines, error: null, warnings: all, config: assemble(resolved, applied, post.warnings) };
}
