/**
 * THE directive table of `tsgi web`: every directive it reads, with where it may appear, how many
 * arguments it takes, the typed field it fills, its default and how inner blocks inherit it, like
 * nginx's `ngx_command_t` arrays. Parsing, `-t` errors, merging and the reference docs all come
 * from here. Each module's declarations live in `directives/<module>.ts`.
 */
import { ACCESS_DIRECTIVES } from './directives/access.js';
import { CORE_DIRECTIVES } from './directives/core.js';
import { HTTP_CORE_DIRECTIVES } from './directives/http-core.js';
import { LOG_DIRECTIVES } from './directives/log.js';
import { MAP_DIRECTIVES } from './directives/map.js';
import { PASS_DIRECTIVES } from './directives/pass.js';
import { REWRITE_DIRECTIVES } from './directives/rewrite.js';
import { SSL_DIRECTIVES } from './directives/ssl.js';
import { STATIC_DIRECTIVES } from './directives/static.js';
import { UPSTREAM_DIRECTIVES } from './directives/upstream.js';
import { argsNotation, contextNames, type DefaultsEnv, type DirectiveSpec, type Level, type SlotSpec } from './directives/spec.js';

export * from './directives/spec.js';

/** Every directive, in module order (nginx looks a name up module by module, in this order). */
export const DIRECTIVES: readonly DirectiveSpec[] = [
  ...CORE_DIRECTIVES,
  ...HTTP_CORE_DIRECTIVES,
  ...STATIC_DIRECTIVES,
  ...REWRITE_DIRECTIVES,
  ...ACCESS_DIRECTIVES,
  ...LOG_DIRECTIVES,
  ...MAP_DIRECTIVES,
  ...SSL_DIRECTIVES,
  ...UPSTREAM_DIRECTIVES,
  ...PASS_DIRECTIVES,
];

/** The declarations of each name (a few names exist in two contexts: `server`, `error_log`, `keepalive_timeout`...). */
export const DIRECTIVES_BY_NAME: ReadonlyMap<string, readonly DirectiveSpec[]> = (() => {
  const map = new Map<string, DirectiveSpec[]>();
  for (const spec of DIRECTIVES) {
    const list = map.get(spec.name) ?? [];
    list.push(spec);
    map.set(spec.name, list);
  }
  return map;
})();

/** The fields of each level with their default and merge rule, one entry per field. */
export const SLOTS_BY_LEVEL: ReadonlyMap<Level, readonly SlotSpec[]> = (() => {
  const map = new Map<Level, SlotSpec[]>();
  for (const spec of DIRECTIVES) {
    for (const slot of spec.slots) {
      const list = map.get(slot.level) ?? [];
      if (!list.some((s) => s.field === slot.field)) list.push(slot);
      map.set(slot.level, list);
    }
  }
  return map;
})();

/** How a default reads in the reference: paths under `PREFIX/`, lists and maps compact. */
function defaultText(slot: SlotSpec): string {
  const env: DefaultsEnv = { prefix: 'PREFIX/', confPrefix: 'CONF/', isRoot: false };
  const value = typeof slot.default === 'function' ? slot.default(env) : slot.default;
  if (value instanceof Map) return value.size === 0 ? '-' : [...value.keys()].join(' ');
  if (value === null) return '-';
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/**
 * The directive reference as Markdown, one row per declaration, generated from the table (the
 * nginx docs' Syntax / Default / Context, for `docs/` and `tsgi web --help-directives`).
 */
export function directiveReference(): string {
  const rows = DIRECTIVES.map((spec) => {
    const defaults = spec.slots.map(defaultText).join('; ') || '-';
    const args = argsNotation(spec.args) + (spec.block ? ' {...}' : '');
    return `| \`${spec.name}\` | ${args} | ${defaults.replace(/\|/g, '\\|')} | ${contextNames(spec.contexts).join(', ')} | ${spec.help} |`;
  });
  return ['| directive | arguments | default | context | what it does |', '|---|---|---|---|---|', ...rows].join('\n') + '\n';
}
