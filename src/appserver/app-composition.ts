/**
 * What `--mount`, `--manage-script-name` and `--static-map` ask for, as plain data. Kept apart
 * from compose-app.ts so the master, which only passes it on to workers, does not load the app
 * loader, tsx and the static-file modules (the master's memory is a target: issue #4).
 */
import { resolve } from 'node:path';

export interface StaticMapping {
  prefix: string;
  dir: string;
}

export interface AppComposition {
  /** `[mountpoint, FILE[:EXPORT]]`, as `--mount /prefix=FILE` gives them. */
  mounts: Array<[string, string]>;
  manageScriptName: boolean;
  staticMaps: StaticMapping[];
}

export const NO_COMPOSITION: AppComposition = { mounts: [], manageScriptName: false, staticMaps: [] };

/** `/static=/var/www/static` → { prefix, dir }; the uWSGI option syntax. */
export function parseStaticMapping(text: string): StaticMapping | null {
  const equals = text.indexOf('=');
  if (equals <= 0 || equals === text.length - 1) return null;
  return { prefix: text.slice(0, equals), dir: resolve(text.slice(equals + 1)) };
}
