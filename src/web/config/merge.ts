/**
 * Inheritance, as nginx's merge functions do it: a value not written at a level comes from the
 * enclosing level, else from the default; a few settings are never inherited (`MergeRule`
 * `none`). The fields, defaults and rules come from the directive table (`SLOTS_BY_LEVEL`), so
 * there is no second list of defaults here.
 */
import { SLOTS_BY_LEVEL, type DefaultsEnv, type Level, type LevelSettings, type Raw } from './directives.js';
import type { LocLevels } from './builders.js';
import type { PerLocation } from './types.js';

function defaultOf(value: unknown, env: DefaultsEnv): unknown {
  return typeof value === 'function' ? value(env) : value;
}

/**
 * The one place an assembled settings object is given its type: every field the table declares
 * for the level has been set above, which is what makes it a complete `LevelSettings[L]`.
 */
function typed<L extends Level>(fields: Record<string, unknown>): LevelSettings[L] {
  return fields as unknown as LevelSettings[L];
}

/** Merges the values written at one level over its parent (null at the outermost level). */
export function mergeLevel<L extends Level>(level: L, raw: Raw<LevelSettings[L]>, parent: LevelSettings[L] | null, env: DefaultsEnv): LevelSettings[L] {
  const written = new Map<string, unknown>(Object.entries(raw));
  const fields: Record<string, unknown> = {};
  for (const slot of SLOTS_BY_LEVEL.get(level) ?? []) {
    const value = written.get(slot.field);
    if (value !== undefined) {
      fields[slot.field] = value;
    } else if (slot.merge === 'inherit' && parent !== null) {
      fields[slot.field] = Reflect.get(parent, slot.field);
    } else {
      fields[slot.field] = defaultOf(slot.default, env);
    }
  }
  return typed<L>(fields);
}

/** Merges the per-module location settings of a level over those of its parent. */
export function mergeLocation(levels: LocLevels, parent: PerLocation | null, env: DefaultsEnv): PerLocation {
  return {
    settings: mergeLevel('loc', levels.loc, parent?.settings ?? null, env),
    proxy: mergeLevel('proxy', levels.proxy, parent?.proxy ?? null, env),
    uwsgi: mergeLevel('uwsgi', levels.uwsgi, parent?.uwsgi ?? null, env),
    fastcgi: mergeLevel('fastcgi', levels.fastcgi, parent?.fastcgi ?? null, env),
    scgi: mergeLevel('scgi', levels.scgi, parent?.scgi ?? null, env),
  };
}
