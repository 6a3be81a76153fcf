/**
 * The application a worker runs, put together from the options: `--app`, uWSGI's
 * `--mount /prefix=FILE` (with or without `--manage-script-name`) and `--static-map`.
 */
import type { App, Environ } from '../gateway/types.js';
import { loadApp } from './load-app.js';
import type { AppKind } from './options.js';
import { staticMap } from './static-map.js';
import type { AppComposition } from './app-composition.js';

export { NO_COMPOSITION, type AppComposition } from './app-composition.js';

const NOT_FOUND = 'Not Found\n';

/**
 * Chooses the mounted application as uWSGI does:
 * - with manage-script-name, by the longest mountpoint that starts PATH_INFO at a `/` boundary,
 *   which then becomes SCRIPT_NAME (set, not appended: nginx may already send the same
 *   SCRIPT_NAME with `uwsgi_param SCRIPT_NAME /myapp`, as the seeds do) and leaves PATH_INFO;
 * - without it, by SCRIPT_NAME equal to a mountpoint (what the front server says).
 * No match falls back to `--app`, else 404.
 */
export function mountDispatcher(mounts: ReadonlyArray<readonly [string, App]>, fallback: App | null, manageScriptName: boolean): App {
  const table = mounts
    .map(([prefix, app]) => [prefix.replace(/\/+$/, ''), app] as const)
    .sort((a, b) => b[0].length - a[0].length);
  return (environ: Environ, startResponse) => {
    if (manageScriptName) {
      const path = environ.PATH_INFO;
      for (const [prefix, app] of table) {
        if (prefix === '' || (path.startsWith(prefix) && (path.length === prefix.length || path.charCodeAt(prefix.length) === 0x2f))) {
          const shifted = { ...environ, SCRIPT_NAME: prefix, PATH_INFO: path.slice(prefix.length) };
          return app(shifted, startResponse);
        }
      }
    } else {
      const scriptName = environ.SCRIPT_NAME.replace(/\/+$/, '');
      for (const [prefix, app] of table) if (prefix === scriptName) return app(environ, startResponse);
    }
    if (fallback) return fallback(environ, startResponse);
    startResponse('404 Not Found', [['Content-Type', 'text/plain'], ['Content-Length', String(NOT_FOUND.length)]]);
    return [NOT_FOUND];
  };
}

export interface BuiltApp {
  app: App;
  /** For the start-up log: `app.ts (tsgi app), /a=a.ts (fetch app)`. */
  description: string;
}

export async function buildApp(spec: string | undefined, kind: AppKind | undefined, composition: AppComposition): Promise<BuiltApp> {
  const parts: string[] = [];
  let main: App | null = null;
  if (spec) {
    const loaded = await loadApp(spec, kind);
    main = loaded.app;
    parts.push(`${spec} (${loaded.kind} app)`);
  }
  const mounted: Array<[string, App]> = [];
  for (const [prefix, mountSpec] of composition.mounts) {
    const loaded = await loadApp(mountSpec);
    mounted.push([prefix, loaded.app]);
    parts.push(`${prefix}=${mountSpec} (${loaded.kind} app)`);
  }
  let app = mounted.length > 0 ? mountDispatcher(mounted, main, composition.manageScriptName) : main;
  if (app === null) throw new Error('buildApp(): no application and no mount');
  app = staticMap(composition.staticMaps, app);
  for (const mapping of composition.staticMaps) parts.push(`static ${mapping.prefix}=${mapping.dir}`);
  return { app, description: parts.join(', ') };
}
