/**
 * Loading `tsgi serve`'s options the way uWSGI loads its own: the command line and any number of
 * config files, in one ordered list of `key = value` entries ("top-bottom and expand asap", from
 * uWSGI's "How uWSGI parses config files").
 *
 * 1. The command line is read left to right. `--ini FILE[:SECTION]`, `--xml`/`-x`, `--json`,
 *    `--yaml` and `--include` read their file at once, so its options take the flag's place in
 *    the list (uWSGI runs these loaders as UWSGI_OPT_IMMEDIATE options from `add_exported_option`,
 *    core/config.c). A config file may load others (`ini = other.ini`), expanded in place too.
 * 2. Positional arguments ending in .ini, .xml, .json, .yaml or .yml are loaded after all the
 *    options, as uWSGI does: getopt moves them to the end of argv (`uwsgi_commandline_config`).
 * 3. Magic variables (`%d`, `%n`...) were expanded as each file was read (magic.ts); now `$(ENV)`,
 *    `@(file)` and `%(name)` are expanded over the whole list (placeholders.ts).
 * 4. Every entry is checked and converted. A later value of a single-valued option replaces an
 *    earlier one; repeatable options keep every value in order.
 *
 * Relative paths, of config files and of `@(file)`, are relative to the working directory, not to
 * the file that names them: that is uWSGI's rule (it passes them to open() unchanged), and why its
 * configs write `ini = %dbase.ini`.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  COMMAND_LINE,
  OptionIndex,
  ParsedOptions,
  UsageError,
  badValueMessage,
  closestName,
  convertValue,
  recordValue,
  scanArgv,
  whereFrom,
  type OptionAction,
  type OptionSpec,
  type OptionValue,
  type ValueSource,
} from '../../cli/options.js';
import { SERVE_OPTIONS } from '../options.js';
import {
  BadOptionValueError,
  ConfigIncludeLoopError,
  ConfigReadError,
  ConfigSectionError,
  ConfigSyntaxError,
  PlaceholderError,
  UnknownOptionError,
} from './errors.js';
import { formatOfPath, sectionLabel, type ConfigFormat, type FileEntry } from './format.js';
import { parseIni } from './ini.js';
import { parseJsonConfig } from './json.js';
import { currentHost, expandMagic, magicTable, type ConfigFileFacts, type HostFacts } from './magic.js';
import { environmentValue, evaluateReference, expandTokens } from './placeholders.js';
import { UWSGI_OPTION_NAMES } from './uwsgi-names.js';
import { parseXmlConfig } from './xml.js';
import { parseYamlConfig } from './yaml.js';

export interface LoadContext {
  readonly env: NodeJS.ProcessEnv;
  /** Relative config paths and `@(file)` resolve against this, and `%v` is it. */
  readonly cwd: string;
  /** Reads a config file or an `@(file)`; tests pass an in-memory one. */
  readonly readFile?: (absolutePath: string) => string;
  /** Facts behind %h %k %u %U %g %G %t %T %V; tests pass fixed ones. */
  readonly host?: HostFacts;
}

/** One `key = value`, from the command line or a file, before conversion. */
interface Entry {
  /** As written: an option name, an alias, or a placeholder name. */
  readonly key: string;
  value: string;
  readonly source: ValueSource;
  /** The option, when the key names one. */
  readonly spec?: OptionSpec;
  /** How to name the option in an error: `--workers` on the command line, `"workers"` in a file. */
  readonly shown: string;
  /** Defined with `set-placeholder`: a value for `%(name)`, not an option. */
  readonly placeholder?: boolean;
}

/** Each reader returns null when the file lacks the section asked for. */
const READERS: Record<ConfigFormat, (text: string, file: string, section?: string) => FileEntry[] | null> = {
  ini: parseIni,
  xml: parseXmlConfig,
  json: parseJsonConfig,
  yaml: parseYamlConfig,
};

/** How each format names a section in "no such section" errors. */
const SECTION_LABELS: Record<ConfigFormat, string> = {
  ini: '[NAME] section',
  xml: '<NAME> element',
  json: '"NAME" object',
  yaml: 'NAME: mapping',
};

/** A readable reason for a failed read: "no such file" beats "ENOENT". */
function readFailure(error: unknown): string {
  const code = error instanceof Error && 'code' in error ? String(error.code) : undefined;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES') return 'permission denied';
  if (code === 'EISDIR') return 'it is a directory';
  return error instanceof Error ? error.message : String(error);
}

const FORMAT_OF_ACTION: Partial<Record<OptionAction, ConfigFormat>> = {
  'load-ini': 'ini',
  'load-xml': 'xml',
  'load-json': 'json',
  'load-yaml': 'yaml',
};

/** tsgi's version for %V: package.json is three levels up from src/, four from dist/src/. */
function readVersion(): string {
  for (const relative of ['../../../package.json', '../../../../package.json']) {
    try {
      const manifest = JSON.parse(readFileSync(new URL(relative, import.meta.url), 'utf8')) as { name?: unknown; version?: unknown };
      if (manifest.name === 'tsgi' && typeof manifest.version === 'string') return manifest.version;
    } catch {
      // Not at this level; try the next. %V is cosmetic, so it never fails a load.
    }
  }
  return 'unknown';
}

/** One run of the loader: the entry list being assembled, and the files being read. */
class ConfigLoad {
  private readonly entries: Entry[] = [];
  /** Files being read, outermost first, for loop detection: `absolute path:section`. */
  private readonly stack: Array<{ id: string; shown: string; source: ValueSource }> = [];
  /** uWSGI's `ini = :section` reads a section of the last ini file loaded (core/ini.c `last_file`). */
  private lastIni: string | undefined;
  private firstFile: ConfigFileFacts | undefined;
  /** Names used by `%(name)`: unknown keys among them are placeholders, not typos. */
  private readonly referenced = new Set<string>();
  private readonly readFile: (absolutePath: string) => string;
  private hostFacts: HostFacts | undefined;

  constructor(
    private readonly index: OptionIndex,
    private readonly context: LoadContext,
  ) {
    this.readFile = context.readFile ?? ((path) => readFileSync(path, 'utf8'));
    this.hostFacts = context.host;
  }

  private get host(): HostFacts {
    this.hostFacts ??= currentHost(readVersion());
    return this.hostFacts;
  }

  run(argv: readonly string[]): ParsedOptions {
    const positionals: string[] = [];
    const configFiles: string[] = [];
    for (const item of scanArgv(this.index, argv, (name) => UWSGI_OPTION_NAMES.has(name))) {
      if (item.kind === 'positional') (formatOfPath(item.value) ? configFiles : positionals).push(item.value);
      else this.add(item.spec.name, item.raw, COMMAND_LINE, item.shown, item.spec);
    }
    for (const file of configFiles) this.load('auto', file, COMMAND_LINE);
    this.expandAll();
    return this.collect(positionals);
  }

  /** Adds one entry; config-file options load their file now, in place. */
  private add(key: string, value: string, source: ValueSource, shown: string, known?: OptionSpec): void {
    const spec = known ?? this.index.long(key);
    this.entries.push({ key, value, source, spec, shown });
    if (spec?.action === 'set-placeholder') this.setPlaceholder(value, source, shown);
    else if (spec?.action) this.load(FORMAT_OF_ACTION[spec.action] ?? 'auto', this.expandNow(value, source), source);
  }

  /** `set-placeholder = name=value` (uWSGI's `uwsgi_opt_set_placeholder`, core/uwsgi.c). */
  private setPlaceholder(definition: string, source: ValueSource, shown: string): void {
    const equals = definition.indexOf('=');
    if (equals <= 0) throw new PlaceholderError(`option ${shown} expects NAME=VALUE, got "${definition}"${whereFrom(source)}`, source);
    const name = definition.slice(0, equals).trim();
    if (this.index.long(name)) {
      throw new PlaceholderError(`"${name}" is an option, so it cannot be a placeholder${whereFrom(source)}; set the option itself`, source);
    }
    this.entries.push({ key: name, value: definition.slice(equals + 1).trim(), source, shown: `"${name}"`, placeholder: true });
  }

  /**
   * Reads one config file and adds its entries where the loading option stands. `target` is
   * `path[:section]`; for ini, `:section` alone means the last ini file loaded.
   */
  private load(format: ConfigFormat | 'auto', target: string, source: ValueSource): void {
    const colon = target.lastIndexOf(':');
    let path = colon >= 0 ? target.slice(0, colon) : target;
    const asked = colon >= 0 ? target.slice(colon + 1) : undefined;
    let section = asked === '' ? undefined : asked;
    if (format === 'xml' && asked === '') section = '';
    if (path === '') {
      if (format !== 'ini' || this.lastIni === undefined) {
        throw new ConfigSyntaxError(`no config file before ":${asked ?? ''}" in "${target}"${whereFrom(source)}`, source);
      }
      path = this.lastIni;
    }
    const kind = format === 'auto' ? formatOfPath(path) : format;
    if (!kind) {
      throw new ConfigSyntaxError(
        `cannot tell the format of config file "${path}"${whereFrom(source)}: name it .ini, .xml, .json, .yaml or .yml, or use --ini, --xml, --json or --yaml`,
        source,
      );
    }
    const absolute = resolve(this.context.cwd, path);
    const id = `${absolute}:${section ?? ''}`;
    const shown = section === undefined ? path : `${path}:${section}`;
    const looping = this.stack.findIndex((frame) => frame.id === id);
    if (looping >= 0) {
      const chain = [...this.stack.slice(looping).map((frame) => frame.shown), shown];
      throw new ConfigIncludeLoopError(`config files include each other in a loop: ${chain.join(' -> ')} (the last include is${whereFrom(source)})`, source, chain);
    }
    let text: string;
    try {
      text = this.readFile(absolute);
    } catch (error) {
      const full = absolute === path ? '' : `: ${absolute}`;
      throw new ConfigReadError(`cannot read config file "${path}" (${readFailure(error)}${full})${whereFrom(source)}`, source, error);
    }
    const fileEntries = READERS[kind](text, path, section);
    if (!fileEntries) {
      const label = kind === 'xml' && section !== undefined ? `<uwsgi id="${section}"> or <tsgi id="${section}"> element` : sectionLabel(SECTION_LABELS[kind], section);
      throw new ConfigSectionError(`no ${label} in config file "${path}"${whereFrom(source)}`, source);
    }
    if (kind === 'ini') this.lastIni = path;
    const facts: ConfigFileFacts = { given: path, absolute, section: section ?? 'uwsgi' };
    this.firstFile ??= facts;
    const table = magicTable(facts, this.firstFile, this.context.cwd, this.host);
    this.stack.push({ id, shown, source });
    for (const entry of fileEntries) {
      const where: ValueSource = { kind: 'file', file: path, line: entry.line };
      this.add(entry.key, expandMagic(entry.value, table, where, whereFrom(where)), where, `"${entry.key}"`);
    }
    this.stack.pop();
  }

  /** The first value given for a name (uWSGI's `uwsgi_get_exported_opt`), by name or alias. */
  private lookup(name: string, upTo = this.entries.length): string | undefined {
    this.referenced.add(name);
    const spec = this.index.long(name);
    for (const entry of this.entries.slice(0, upTo)) {
      if (entry.key === name || (spec !== undefined && entry.spec === spec)) return entry.value;
    }
    return undefined;
  }

  private runaway(source: ValueSource): (token: string) => Error {
    return (token) => new PlaceholderError(`placeholder ${token} never stops expanding (does it refer to itself?)${whereFrom(source)}`, source);
  }

  private expandEnvironment(value: string, source: ValueSource): string {
    return expandTokens(value, '$', (name) => environmentValue(name, this.context.env), this.runaway(source));
  }

  private expandFiles(value: string, source: ValueSource): string {
    return expandTokens(
      value,
      '@',
      (path) => {
        try {
          // Without its final newline, as uwsgi_simple_file_read (core/utils.c) returns it.
          return this.readFile(resolve(this.context.cwd, path)).replace(/\r?\n$/, '');
        } catch (error) {
          throw new ConfigReadError(`cannot read @(${path}) (${readFailure(error)})${whereFrom(source)}`, source, error);
        }
      },
      this.runaway(source),
    );
  }

  private expandReferences(value: string, source: ValueSource, upTo?: number): string {
    return expandTokens(value, '%', (expression) => evaluateReference(expression, (name) => this.lookup(name, upTo)), this.runaway(source));
  }

  /**
   * The path of a config file to load now. uWSGI loads it before any placeholder pass, so only
   * magic variables work there; tsgi also expands `$(ENV)`, `@(file)` and `%(name)` against the
   * entries read so far, because `ini = %(base)/app.ini` is what people try first.
   */
  private expandNow(value: string, source: ValueSource): string {
    const upTo = this.entries.length;
    return this.expandReferences(this.expandFiles(this.expandEnvironment(value, source), source), source, upTo);
  }

  private expandAll(): void {
    for (const entry of this.entries) entry.value = this.expandEnvironment(entry.value, entry.source);
    for (const entry of this.entries) entry.value = this.expandFiles(entry.value, entry.source);
    for (const entry of this.entries) entry.value = this.expandReferences(entry.value, entry.source);
  }

  private unknown(entry: Entry): UnknownOptionError {
    // A real uWSGI option is not a typo: say so rather than suggest a neighbour.
    const suggestion = UWSGI_OPTION_NAMES.has(entry.key) ? undefined : closestName(entry.key, this.index.names());
    const hint = UWSGI_OPTION_NAMES.has(entry.key)
      ? `: uWSGI has this option, tsgi does not support it yet`
      : suggestion
        ? `; did you mean "${suggestion}"?`
        : `; if it is a placeholder, use it as %(${entry.key}) or define it with set-placeholder = ${entry.key}=VALUE`;
    return new UnknownOptionError(`unknown option "${entry.key}"${whereFrom(entry.source)}${hint}`, entry.key, entry.source, suggestion);
  }

  private collect(positionals: string[]): ParsedOptions {
    const values = new Map<string, OptionValue[]>();
    const placeholders = new Map<string, string>();
    const given: Array<{ option: string } & OptionValue> = [];
    for (const entry of this.entries) {
      if (entry.placeholder || (!entry.spec && this.referenced.has(entry.key))) {
        // uWSGI allows any unknown key in a file as a placeholder; tsgi only those a %(name) uses,
        // so that a misspelt option is an error instead of a silent no-op.
        if (!placeholders.has(entry.key)) placeholders.set(entry.key, entry.value);
        continue;
      }
      if (!entry.spec) throw this.unknown(entry);
      const converted = convertValue(entry.spec, entry.value);
      if ('expected' in converted) {
        const message = badValueMessage(entry.shown, converted.expected, entry.value);
        if (entry.source.kind === 'command-line') throw new UsageError(message);
        throw new BadOptionValueError(`${message}${whereFrom(entry.source)}`, entry.key, entry.source);
      }
      const value = { value: converted.value, source: entry.source };
      recordValue(values, entry.spec, value);
      given.push({ option: entry.spec.name, ...value });
    }
    return new ParsedOptions(this.index.table, values, positionals, placeholders, given);
  }
}

/** Loads options for any table: the command line plus every config file it names. */
export function loadOptions(table: readonly OptionSpec[], argv: readonly string[], context: LoadContext): ParsedOptions {
  return new ConfigLoad(new OptionIndex(table), context).run(argv);
}

/** `tsgi serve`'s options: uWSGI's command line and config files, with `SERVE_OPTIONS`. */
export function loadServeOptions(argv: readonly string[], env: NodeJS.ProcessEnv, cwd: string): ParsedOptions {
  return loadOptions(SERVE_OPTIONS, argv, { env, cwd });
}
