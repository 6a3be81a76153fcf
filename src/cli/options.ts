/**
 * Declarative command-line options: one table per command drives parsing, validation, `--help`
 * and the generated docs (gunicorn's config.py / uWSGI's `uwsgi_base_options` idea). Syntax follows
 * uWSGI: `--opt value`, `--opt=value`, `-o value`, repeated options, and booleans given bare.
 *
 * This module is the command-line half. Config files (`--ini`, `--xml`, ...) are read by
 * `src/appserver/config/`, which reuses the table lookup, the value conversion and `ParsedOptions`
 * defined here, so a value means the same thing wherever it was written.
 */
import { TsgiError } from '../errors.js';

export type OptionType = 'string' | 'number' | 'boolean';

/**
 * `supported`: tsgi implements it. `ignored`: accepted so that uWSGI configs load unchanged, but it
 * has no effect in tsgi; `ignoredReason` says why, and `--help` and docs/options.md show it.
 */
export type OptionStatus = 'supported' | 'ignored';

/**
 * What the config loader does with a value besides recording it: the config-file options expand
 * in place (uWSGI's UWSGI_OPT_IMMEDIATE loaders), `set-placeholder` defines a placeholder.
 */
export type OptionAction = 'load-ini' | 'load-xml' | 'load-json' | 'load-yaml' | 'load-by-extension' | 'set-placeholder';

export interface OptionSpec {
  /** The uWSGI spelling, without dashes; also the key in ini/xml/json/yaml files. */
  readonly name: string;
  readonly short?: string;
  readonly aliases?: readonly string[];
  readonly type: OptionType;
  readonly repeatable?: boolean;
  /** The one place a default lives: `ParsedOptions` reads it from here. */
  readonly default?: string | number | boolean;
  readonly choices?: readonly string[];
  readonly metavar?: string;
  readonly help: string;
  /** Defaults to `supported`. */
  readonly status?: OptionStatus;
  /** Required when `status` is `ignored` (checked by `validateTable`). */
  readonly ignoredReason?: string;
  /** Heading under which `--help` and docs/options.md list the option. */
  readonly section?: string;
  readonly action?: OptionAction;
  /** The value when the option is given without one (uWSGI's optional_argument: `--chmod-socket` alone is 666). */
  readonly bareValue?: string;
}

/** Where a value was written: shown in every error about it. */
export type ValueSource =
  | { readonly kind: 'command-line' }
  | { readonly kind: 'file'; readonly file: string; readonly line: number };

export const COMMAND_LINE: ValueSource = { kind: 'command-line' };

/** `command line` or `FILE:LINE`, the way nginx ends its `-t` messages. */
export function describeSource(source: ValueSource): string {
  return source.kind === 'file' ? `${source.file}:${source.line}` : 'command line';
}

/** ` in FILE:LINE` or ` on the command line`, to end a sentence. */
export function whereFrom(source: ValueSource): string {
  return source.kind === 'file' ? ` in ${describeSource(source)}` : ' on the command line';
}

export type OptionValueType = string | number | boolean;

export interface OptionValue {
  readonly value: OptionValueType;
  readonly source: ValueSource;
}

/** A mistake on the command line: unknown option, missing or bad value. Exit status 2. */
export class UsageError extends TsgiError {
  constructor(message: string) {
    super('ERR_USAGE', message);
  }
}

/** The table itself is wrong (a programming error, caught by tests, never by users). */
export class OptionTableError extends TsgiError {
  constructor(message: string) {
    super('ERR_OPTION_TABLE', message);
  }
}

/** Lookup of a table by long name, alias or short letter. */
export class OptionIndex {
  private readonly byLong = new Map<string, OptionSpec>();
  private readonly byShort = new Map<string, OptionSpec>();

  constructor(readonly table: readonly OptionSpec[]) {
    validateTable(table);
    for (const spec of table) {
      for (const name of [spec.name, ...(spec.aliases ?? [])]) this.byLong.set(name, spec);
      if (spec.short) this.byShort.set(spec.short, spec);
    }
  }

  /** By name or alias, without dashes: the key of a config file entry. */
  long(name: string): OptionSpec | undefined {
    return this.byLong.get(name);
  }

  short(letter: string): OptionSpec | undefined {
    return this.byShort.get(letter);
  }

  /** Every long name and alias, for "did you mean" suggestions. */
  names(): string[] {
    return [...this.byLong.keys()];
  }
}

/**
 * Checks what the type system cannot: unique names, aliases and short letters, a reason for every
 * ignored option, defaults and choices that fit the type.
 */
export function validateTable(table: readonly OptionSpec[]): void {
  const seen = new Map<string, string>();
  const claim = (key: string, owner: string): void => {
    const previous = seen.get(key);
    if (previous !== undefined) throw new OptionTableError(`option table: ${key} is claimed by both "${previous}" and "${owner}"`);
    seen.set(key, owner);
  };
  for (const spec of table) {
    for (const name of [spec.name, ...(spec.aliases ?? [])]) claim(`--${name}`, spec.name);
    if (spec.short !== undefined) {
      if (spec.short.length !== 1) throw new OptionTableError(`option table: "${spec.name}" has a short form longer than one letter`);
      claim(`-${spec.short}`, spec.name);
    }
    if (spec.status === 'ignored' && !spec.ignoredReason) {
      throw new OptionTableError(`option table: "${spec.name}" is ignored but gives no reason`);
    }
    if (spec.status !== 'ignored' && spec.ignoredReason !== undefined) {
      throw new OptionTableError(`option table: "${spec.name}" has an ignoredReason but is not ignored`);
    }
    if (spec.default !== undefined && typeof spec.default !== spec.type) {
      throw new OptionTableError(`option table: the default of "${spec.name}" is not a ${spec.type}`);
    }
    if (spec.choices && spec.type !== 'string') throw new OptionTableError(`option table: "${spec.name}" has choices but is not a string`);
  }
}

/** Parsed options: typed reads by name; defaults come from the table, nowhere else. */
export class ParsedOptions {
  private readonly specs = new Map<string, OptionSpec>();

  constructor(
    readonly table: readonly OptionSpec[],
    private readonly values: ReadonlyMap<string, readonly OptionValue[]>,
    readonly positionals: string[],
    /** Placeholders defined with `set-placeholder` or as unknown keys that a `%(name)` uses. */
    readonly placeholders: ReadonlyMap<string, string> = new Map(),
    /**
     * Every value in the order it was given, overridden ones included: what uWSGI's
     * `--show-config` prints, and how a test sees where an included file's options landed.
     */
    readonly given: ReadonlyArray<{ readonly option: string } & OptionValue> = [],
  ) {
    for (const spec of table) this.specs.set(spec.name, spec);
  }

  private spec(name: string): OptionSpec {
    const spec = this.specs.get(name);
    if (!spec) throw new Error(`option table has no "${name}"`);
    return spec;
  }

  private last(name: string): OptionValueType | undefined {
    return this.values.get(name)?.at(-1)?.value ?? this.spec(name).default;
  }

  has(name: string): boolean {
    this.spec(name);
    return this.values.has(name);
  }

  string(name: string): string | undefined {
    const value = this.last(name);
    return value === undefined ? undefined : String(value);
  }

  number(name: string): number | undefined {
    const value = this.last(name);
    return value === undefined ? undefined : Number(value);
  }

  flag(name: string): boolean {
    return this.last(name) === true;
  }

  list(name: string): string[] {
    this.spec(name);
    return (this.values.get(name) ?? []).map((entry) => String(entry.value));
  }

  /** Where the value that `string`/`number`/`flag` return came from; undefined for a default. */
  source(name: string): ValueSource | undefined {
    this.spec(name);
    return this.values.get(name)?.at(-1)?.source;
  }

  /** Where each value of `list(name)` came from, in the same order. */
  sources(name: string): ValueSource[] {
    this.spec(name);
    return (this.values.get(name) ?? []).map((entry) => entry.source);
  }

  /** Options that were given but that tsgi ignores, for the caller to log once at start-up. */
  ignored(): Array<{ spec: OptionSpec; sources: ValueSource[] }> {
    return this.table
      .filter((spec) => spec.status === 'ignored' && this.values.has(spec.name))
      .map((spec) => ({ spec, sources: this.sources(spec.name) }));
  }
}

const TRUE_WORDS = new Set(['true', '1', 'yes', 'on', 'y']);
const FALSE_WORDS = new Set(['false', '0', 'no', 'off', 'n']);

/**
 * Converts one raw value. On failure returns what was expected, so that each caller can say where
 * the value came from in its own error type. An empty value is `true` for a boolean: uWSGI's ini
 * reader turns a bare `master` line into `master =` (core/ini.c) and `uwsgi_opt_true` sets the flag
 * for anything but false/off/no/0. tsgi is stricter than uWSGI only in rejecting words that are
 * neither true nor false (`master = maybe`), which uWSGI would silently read as true.
 */
export function convertValue(spec: OptionSpec, raw: string): { value: OptionValueType } | { expected: string } {
  switch (spec.type) {
    case 'number': {
      const text = raw.trim();
      if (!/^-?\d+(\.\d+)?$/.test(text)) return { expected: 'a number' };
      return { value: Number(text) };
    }
    case 'boolean': {
      const word = raw.trim().toLowerCase();
      if (word === '' || TRUE_WORDS.has(word)) return { value: true };
      if (FALSE_WORDS.has(word)) return { value: false };
      return { expected: 'true or false' };
    }
    case 'string':
      if (raw === '' && spec.bareValue !== undefined) return { value: spec.bareValue };
      if (spec.choices && !spec.choices.includes(raw)) return { expected: `one of ${spec.choices.join(', ')}` };
      return { value: raw };
  }
}

/** `option "processes" expects a number, got "four"` (the caller appends where). */
export function badValueMessage(shown: string, expected: string, raw: string): string {
  // A list of choices has commas of its own, so a semicolon separates it from the value.
  const joiner = expected.startsWith('one of ') ? ';' : ',';
  return `option ${shown} expects ${expected}${joiner} got "${raw}"`;
}

/**
 * Edit distance for "did you mean" suggestions: Levenshtein plus the swap of two neighbours as one
 * edit (optimal string alignment), because "lisetn" is one slip, not two.
 */
export function editDistance(a: string, b: string): number {
  const rows: number[][] = [Array.from({ length: b.length + 1 }, (_, j) => j)];
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(rows[i - 1]![j]! + 1, row[j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, rows[i - 2]![j - 2]! + 1);
      row.push(best);
    }
    rows.push(row);
  }
  return rows[a.length]![b.length]!;
}

/**
 * The closest known name, if it is close enough to be a typo: at most two edits, or a third of
 * the name's length for long names, so "proceses" finds "processes" but "foo" finds nothing.
 * Ties go to the name listed first.
 */
export function closestName(name: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const distance = editDistance(name, candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  const allowed = Math.max(2, Math.floor(name.length / 3));
  return bestDistance <= allowed && bestDistance < name.length ? best : undefined;
}

/** One item of a command line: an option with its raw value, or a positional argument. */
export type ArgvItem =
  | { readonly kind: 'option'; readonly spec: OptionSpec; readonly raw: string; readonly shown: string }
  | { readonly kind: 'positional'; readonly value: string };

/**
 * Splits a command line in uWSGI syntax. Unknown options and missing values are UsageErrors; values
 * are not converted here, because the config loader first expands placeholders in them.
 * `isForeignOption` tells a name that uWSGI has (so not a typo) from one nobody has.
 */
export function scanArgv(index: OptionIndex, argv: readonly string[], isForeignOption?: (name: string) => boolean): ArgvItem[] {
  const items: ArgvItem[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      for (const rest of argv.slice(i + 1)) items.push({ kind: 'positional', value: rest });
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      items.push({ kind: 'positional', value: arg });
      continue;
    }
    const isLong = arg.startsWith('--');
    const equals = isLong ? arg.indexOf('=') : -1;
    // getopt also takes a short option's value attached: `-x site.xml` or `-xsite.xml`.
    const attached = !isLong && arg.length > 2 && index.short(arg[1]!)?.type !== 'boolean' ? arg.slice(2) : undefined;
    const shown = equals >= 0 ? arg.slice(0, equals) : attached !== undefined ? arg.slice(0, 2) : arg;
    const spec = isLong ? index.long(shown.slice(2)) : shown.length === 2 ? index.short(shown.slice(1)) : undefined;
    if (!spec) {
      // A name the original server has is not a typo: say so rather than suggest a neighbour.
      const elsewhere = isLong && isForeignOption?.(shown.slice(2));
      const suggestion = isLong && !elsewhere ? closestName(shown.slice(2), index.names()) : undefined;
      const hint = elsewhere ? ': uWSGI has this option, tsgi does not support it yet' : suggestion ? `; did you mean "--${suggestion}"?` : '';
      throw new UsageError(`unknown option "${shown}"${hint} (see --help)`);
    }
    let raw: string;
    if (equals >= 0) raw = arg.slice(equals + 1);
    else if (attached !== undefined) raw = attached;
    else if (spec.type === 'boolean') raw = 'true';
    else if (spec.bareValue !== undefined) raw = spec.bareValue;
    else {
      const next = argv[i + 1];
      if (next === undefined) throw new UsageError(`option ${shown} needs a value${spec.metavar ? ` (${spec.metavar})` : ''}`);
      raw = next;
      i++;
    }
    items.push({ kind: 'option', spec, raw, shown });
  }
  return items;
}

/** Converts a command-line value, turning a bad one into a UsageError. */
export function convertArgument(spec: OptionSpec, raw: string, shown: string): OptionValueType {
  const converted = convertValue(spec, raw);
  if ('expected' in converted) throw new UsageError(badValueMessage(shown, converted.expected, raw));
  return converted.value;
}

/** Records a value: repeatable options accumulate, the others keep the last one given. */
export function recordValue(values: Map<string, OptionValue[]>, spec: OptionSpec, entry: OptionValue): void {
  const existing = values.get(spec.name);
  if (existing && spec.repeatable) existing.push(entry);
  else values.set(spec.name, [entry]);
}

/**
 * Command line only, without loading config files: for commands that have none, and for tests of
 * the syntax. `tsgi serve` uses `loadServeOptions` (src/appserver/config/load.ts) instead.
 */
export function parseOptions(table: readonly OptionSpec[], argv: readonly string[]): ParsedOptions {
  const values = new Map<string, OptionValue[]>();
  const positionals: string[] = [];
  const given: Array<{ option: string } & OptionValue> = [];
  for (const item of scanArgv(new OptionIndex(table), argv)) {
    if (item.kind === 'positional') {
      positionals.push(item.value);
      continue;
    }
    const entry = { value: convertArgument(item.spec, item.raw, item.shown), source: COMMAND_LINE };
    recordValue(values, item.spec, entry);
    given.push({ option: item.spec.name, ...entry });
  }
  return new ParsedOptions(table, values, positionals, new Map(), given);
}

/** The options of a table grouped by `section`, in the order sections first appear. */
export function groupBySection(table: readonly OptionSpec[], fallback = 'Options'): Array<{ section: string; options: OptionSpec[] }> {
  const groups = new Map<string, OptionSpec[]>();
  for (const spec of table) {
    const section = spec.section ?? fallback;
    const group = groups.get(section);
    if (group) group.push(spec);
    else groups.set(section, [spec]);
  }
  return [...groups].map(([section, options]) => ({ section, options }));
}

/** `-s, --socket, --uwsgi-socket ADDR`: every spelling of an option and its value. */
export function optionSpellings(spec: OptionSpec): string {
  const names = [spec.short ? `-${spec.short}` : null, `--${spec.name}`, ...(spec.aliases ?? []).map((a) => `--${a}`)]
    .filter(Boolean)
    .join(', ');
  return spec.type === 'boolean' ? names : `${names} ${spec.metavar ?? spec.type.toUpperCase()}`;
}

/** `--help` text generated from the table, grouped by section; ignored options say so and why. */
export function formatHelp(usage: string, table: readonly OptionSpec[]): string {
  const groups = groupBySection(table).map(({ section, options }) => ({
    section,
    rows: options.map((spec) => {
      const extras = [
        spec.choices ? `one of: ${spec.choices.join(', ')}` : null,
        spec.default !== undefined && spec.type !== 'boolean' ? `default: ${spec.default}` : null,
        spec.repeatable ? 'repeatable' : null,
      ].filter(Boolean);
      const help = spec.status === 'ignored' ? `IGNORED: ${spec.ignoredReason}` : spec.help + (extras.length ? ` (${extras.join('; ')})` : '');
      return { left: `  ${optionSpellings(spec)}`, right: help };
    }),
  }));
  const all = groups.flatMap((group) => group.rows);
  const width = Math.min(36, Math.max(...all.map((row) => row.left.length)) + 2);
  const render = (row: { left: string; right: string }): string =>
    row.left.length + 2 > width ? `${row.left}\n${' '.repeat(width)}${row.right}` : row.left.padEnd(width) + row.right;
  const blocks = groups.map((group) => `${group.section}:\n${group.rows.map(render).join('\n')}`);
  return `${usage}\n\n${blocks.join('\n\n')}\n`;
}
