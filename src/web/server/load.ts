/**
 * What the command line decides and every process of `tsgi web` shares: how the configuration
 * is found and loaded (-c, -p, -g), where errors are logged (-e, error_log), and the name the
 * server gives itself.
 *
 * Defaults, as nginx built from source (with Debian's choice of stderr for the error log):
 *   -p  the current directory
 *   -c  conf/nginx.conf under the prefix
 *   -e  stderr; used when the configuration has no `error_log` of its own
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadNginxConfig, type ErrorLogEntry, type NginxConfig } from '../config/index.js';

export interface WebCommand {
  /** `-c` as given, or null for the default. */
  readonly configFile: string | null;
  /** `-p` as given, or null. */
  readonly prefix: string | null;
  /** `-g` directives, or null. */
  readonly globals: string | null;
  /** `-e` as given, or null. */
  readonly errorLog: string | null;
}

/** The version of the tsgi package (from its package.json, found from this file up). */
export function tsgiVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'package.json');
    if (existsSync(candidate)) {
      const manifest: unknown = JSON.parse(readFileSync(candidate, 'utf8'));
      if (typeof manifest === 'object' && manifest !== null && Reflect.get(manifest, 'name') === 'tsgi') {
        const version = Reflect.get(manifest, 'version');
        if (typeof version === 'string') return version;
      }
    }
    const parent = dirname(dir);
    if (parent === dir) return '0.0.0';
    dir = parent;
  }
}

/** The Server header and the error pages' signature (nginx's NGINX_VER). */
export const SERVER_VERSION = `tsgi/${tsgiVersion()}`;

/** The default prefix: the current directory, with its slash (nginx prints prefixes with one). */
export function defaultPrefix(): string {
  return resolve('.') + '/';
}

/** The configuration file `-c` names, or the default `PREFIX/conf/nginx.conf`. */
export function configPath(command: WebCommand): string {
  if (command.configFile !== null) return command.configFile;
  return join(command.prefix ?? defaultPrefix(), 'conf/nginx.conf');
}

/** Loads the configuration as the command line says. Throws NginxConfigError. */
export function loadWebConfig(command: WebCommand): NginxConfig {
  return loadNginxConfig(configPath(command), {
    prefix: command.prefix ?? (command.configFile === null ? defaultPrefix() : undefined),
    globals: command.globals ?? undefined,
  });
}

/** Where `-e` sends the log: `stderr`, or a path taken from the prefix. */
export function errorLogTarget(command: WebCommand, prefix: string): string {
  const value = command.errorLog ?? 'stderr';
  if (value === 'stderr') return value;
  return value.startsWith('/') ? value : join(prefix, value);
}

/**
 * The error logs in force: the configuration's `error_log`s, or `-e` when it has none. The
 * loader fills in nginx's default (PREFIX/logs/error.log at `error`) when the file names none,
 * so that entry alone is read as "none".
 */
export function errorLogEntries(config: NginxConfig, command: WebCommand): ErrorLogEntry[] {
  const entries = config.main.errorLog;
  const isDefault = entries.length === 1 && entries[0]!.target === config.prefix + 'logs/error.log' && entries[0]!.level === 'error';
  if (!isDefault) return [...entries];
  return [{ target: errorLogTarget(command, config.prefix), level: 'error' }];
}
