/**
 * uWSGI's magic variables: `%` and one character, replaced in values read from a config file with
 * facts about that file (so one file can say "the socket next to me" as `%d/app.sock`). uWSGI
 * substitutes them as soon as a file is read (`magic_sub` in core/utils.c, table filled by
 * `config_magic_table_fill` in core/uwsgi.c), so `%d` always means the file the text is in, even
 * in a file included from another. tsgi does the same, per value rather than on the raw file text,
 * which keeps line numbers exact.
 *
 * Two differences from uWSGI: an unknown `%z` is an error (uWSGI silently deletes it), and
 * `%V` is tsgi's version. `%(` is left alone here: `%(name)` is a placeholder, expanded once all
 * files are read (placeholders.ts).
 */
import { availableParallelism, hostname, userInfo } from 'node:os';
import { basename, dirname, extname } from 'node:path';
import { PlaceholderError } from './errors.js';
import type { ValueSource } from '../../cli/options.js';

/** Facts about the machine and process, injectable so tests do not depend on the host. */
export interface HostFacts {
  readonly hostname: string;
  readonly cpus: number;
  readonly uid: number;
  readonly gid: number;
  readonly user: string;
  /** When loading started, in milliseconds since the epoch (uWSGI's %t and %T). */
  readonly startedAt: number;
  readonly version: string;
}

export function currentHost(version: string): HostFacts {
  const uid = process.getuid?.() ?? 0;
  let user = String(uid);
  try {
    user = userInfo().username;
  } catch {
    // No passwd entry (common in containers): uWSGI's %U falls back to the uid too.
  }
  return { hostname: hostname(), cpus: availableParallelism(), uid, gid: process.getgid?.() ?? 0, user, startedAt: Date.now(), version };
}

/** A config file as the magic variables see it. */
export interface ConfigFileFacts {
  /** The path as written (on the command line or in the including file), without `:section`. */
  readonly given: string;
  readonly absolute: string;
  /** The section read, for %x (`file.ini:section`). */
  readonly section: string;
}

function fileVariables(file: ConfigFileFacts): Record<string, string> {
  const directory = dirname(file.absolute);
  const name = basename(file.absolute);
  const extension = extname(name);
  const variables: Record<string, string> = {
    o: file.given,
    p: file.absolute,
    s: name,
    // With the trailing slash, as uWSGI's %d has it: `ini = %dbase.ini` is the common idiom.
    d: directory.endsWith('/') ? directory : `${directory}/`,
    e: extension.slice(1),
    n: extension ? name.slice(0, -extension.length) : name,
    c: basename(directory),
    x: `${file.given}:${file.section}`,
  };
  // %0..%9: the components of the directory path, as config_magic_table_fill splits %d on "/".
  directory
    .split('/')
    .filter(Boolean)
    .slice(0, 10)
    .forEach((component, i) => (variables[String(i)] = component));
  return variables;
}

/**
 * The table for one file. Lower-case letters describe the file itself; the upper-case ones
 * (%O %P %S %D %E %N %C %X) the first config file loaded, which uWSGI calls the first
 * non-template file (tsgi has no templates, `inherit`, so that is the first file read).
 */
export function magicTable(file: ConfigFileFacts, first: ConfigFileFacts, cwd: string, host: HostFacts): ReadonlyMap<string, string> {
  const own = fileVariables(file);
  const firstFile = fileVariables(first);
  const table = new Map<string, string>(Object.entries(own));
  for (const letter of 'opsdenx') table.set(letter.toUpperCase(), firstFile[letter]!);
  table.set('C', firstFile.c!);
  table.set('v', cwd);
  table.set('h', host.hostname);
  table.set('V', host.version);
  table.set('k', String(host.cpus));
  table.set('t', String(Math.floor(host.startedAt / 1000)));
  table.set('T', String(host.startedAt * 1000));
  table.set('u', String(host.uid));
  table.set('U', host.user);
  table.set('g', String(host.gid));
  // Group names need /etc/group, which Node cannot read portably; uWSGI falls back to the gid too.
  table.set('G', String(host.gid));
  table.set('[', '\u001b');
  table.set('%', '%');
  return table;
}

/** Replaces every `%X` in a value; `%(` starts a placeholder and is kept for later. */
export function expandMagic(value: string, table: ReadonlyMap<string, string>, source: ValueSource, where: string): string {
  if (!value.includes('%')) return value;
  let out = '';
  for (let i = 0; i < value.length; i++) {
    const char = value[i]!;
    if (char !== '%') {
      out += char;
      continue;
    }
    const next = value[i + 1];
    if (next === '(') {
      out += '%';
      continue;
    }
    const replacement = next === undefined ? undefined : table.get(next);
    if (replacement === undefined) {
      const shown = next === undefined ? '%' : `%${next}`;
      throw new PlaceholderError(`unknown magic variable "${shown}" in "${value}"${where}; write %% for a literal %`, source);
    }
    out += replacement;
    i++;
  }
  return out;
}
