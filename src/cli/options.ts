/**
 * Declarative command-line options: one table per command drives parsing, validation and `--help`
 * (gunicorn's config.py / uWSGI's option table idea). Syntax follows uWSGI: `--opt value`,
 * `--opt=value`, `-o value`, repeated options, and booleans given bare.
 */
import { TsgiError } from '../errors.js';

export type OptionType = 'string' | 'number' | 'boolean';

export interface OptionSpec {
  readonly name: string;
  readonly short?: string;
  readonly aliases?: readonly string[];
  readonly type: OptionType;
  readonly repeatable?: boolean;
  readonly default?: string | number | boolean;
  readonly choices?: readonly string[];
  readonly metavar?: string;
  readonly help: string;
}

export class UsageError extends TsgiError {
  constructor(message: string) {
    super('ERR_USAGE', message);
  }
}

/** Parsed options: typed reads by name; defaults come from the table, nowhere else. */
export class ParsedOptions {
  constructor(
    private readonly table: readonly OptionSpec[],
    private readonly values: Map<string, Array<string | number | boolean>>,
    readonly positionals: string[],
  ) {}

  private spec(name: string): OptionSpec {
    const spec = this.table.find((option) => option.name === name);
    if (!spec) throw new Error(`option table has no "${name}"`);
    return spec;
  }

  has(name: string): boolean {
    return this.values.has(name);
  }

  string(name: string): string | undefined {
    const value = this.values.get(name)?.at(-1) ?? this.spec(name).default;
    return value === undefined ? undefined : String(value);
  }

  number(name: string): number | undefined {
    const value = this.values.get(name)?.at(-1) ?? this.spec(name).default;
    return value === undefined ? undefined : Number(value);
  }

  flag(name: string): boolean {
    const value = this.values.get(name)?.at(-1) ?? this.spec(name).default;
    return value === true;
  }

  list(name: string): string[] {
    return (this.values.get(name) ?? []).map(String);
  }
}

const TRUE_WORDS = new Set(['true', '1', 'yes', 'on', 'y']);
const FALSE_WORDS = new Set(['false', '0', 'no', 'off', 'n']);

function convert(spec: OptionSpec, raw: string, shown: string): string | number | boolean {
  switch (spec.type) {
    case 'number': {
      if (!/^-?\d+(\.\d+)?$/.test(raw)) throw new UsageError(`option ${shown} expects a number, got "${raw}"`);
      return Number(raw);
    }
    case 'boolean': {
      const word = raw.toLowerCase();
      if (TRUE_WORDS.has(word)) return true;
      if (FALSE_WORDS.has(word)) return false;
      throw new UsageError(`option ${shown} expects true or false, got "${raw}"`);
    }
    case 'string':
      if (spec.choices && !spec.choices.includes(raw)) {
        throw new UsageError(`option ${shown} expects one of ${spec.choices.join(', ')}; got "${raw}"`);
      }
      return raw;
  }
}

export function parseOptions(table: readonly OptionSpec[], argv: readonly string[]): ParsedOptions {
  const byName = new Map<string, OptionSpec>();
  for (const spec of table) {
    byName.set(`--${spec.name}`, spec);
    for (const alias of spec.aliases ?? []) byName.set(`--${alias}`, spec);
    if (spec.short) byName.set(`-${spec.short}`, spec);
  }
  const values = new Map<string, Array<string | number | boolean>>();
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      positionals.push(arg);
      continue;
    }
    const equals = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const shown = equals >= 0 ? arg.slice(0, equals) : arg;
    const spec = byName.get(shown);
    if (!spec) throw new UsageError(`unknown option "${shown}" (see --help)`);
    let raw: string;
    if (equals >= 0) raw = arg.slice(equals + 1);
    else if (spec.type === 'boolean') raw = 'true';
    else {
      const next = argv[i + 1];
      if (next === undefined) throw new UsageError(`option ${shown} needs a value${spec.metavar ? ` (${spec.metavar})` : ''}`);
      raw = next;
      i++;
    }
    const value = convert(spec, raw, shown);
    const existing = values.get(spec.name);
    if (existing && spec.repeatable) existing.push(value);
    else values.set(spec.name, [value]);
  }
  return new ParsedOptions(table, values, positionals);
}

/** `--help` text generated from the table. */
export function formatHelp(usage: string, table: readonly OptionSpec[]): string {
  const rows = table.map((spec) => {
    const names = [spec.short ? `-${spec.short}` : null, `--${spec.name}`, ...(spec.aliases ?? []).map((a) => `--${a}`)]
      .filter(Boolean)
      .join(', ');
    const metavar = spec.type === 'boolean' ? '' : ` ${spec.metavar ?? spec.type.toUpperCase()}`;
    const extras = [
      spec.choices ? `one of: ${spec.choices.join(', ')}` : null,
      spec.default !== undefined && spec.type !== 'boolean' ? `default: ${spec.default}` : null,
      spec.repeatable ? 'repeatable' : null,
    ].filter(Boolean);
    return { left: `  ${names}${metavar}`, right: spec.help + (extras.length ? ` (${extras.join('; ')})` : '') };
  });
  const width = Math.min(36, Math.max(...rows.map((row) => row.left.length)) + 2);
  const lines = rows.map((row) =>
    row.left.length + 2 > width ? `${row.left}\n${' '.repeat(width)}${row.right}` : row.left.padEnd(width) + row.right,
  );
  return `${usage}\n\nOptions:\n${lines.join('\n')}\n`;
}
