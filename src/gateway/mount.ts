/**
 * `mount(table)`: one application per URL prefix, as uWSGI's `mount = /prefix=app` with
 * `manage-script-name` and Paste's URLMap.
 *
 *   mount({ '/': site, '/api': api, '/api/v2': apiV2 })
 *
 *   PATH_INFO in         app     SCRIPT_NAME after   PATH_INFO after
 *   /api/v2/users        apiV2   /api/v2             /users
 *   /api/v2              apiV2   /api/v2             ''
 *   /api/v20             api     /api                /v20
 *   /apix                site    ''                  /apix
 *
 * The longest prefix wins, and a prefix matches only up to a `/` boundary. The matched prefix
 * moves from the front of PATH_INFO to the end of SCRIPT_NAME (mounts nest). Prefixes are
 * compared with the decoded PATH_INFO, case-sensitively, as uWSGI does.
 */
import type { App, Environ } from './types.js';

export interface MountOptions {
  /** The application for paths no prefix matches (the same as a `'/'` key; give one or the other). */
  fallback?: App;
}

interface Entry {
  prefix: string;
  app: App;
}

const SLASH = 0x2f;
const NOT_FOUND_BODY = Buffer.from('Not Found');

export function mount(table: Record<string, App>, options: MountOptions = {}): App {
  let root: App | undefined = options.fallback;
  const entries: Entry[] = [];
  const seen = new Map<string, string>();
  for (const [key, app] of Object.entries(table)) {
    if (typeof app !== 'function') throw new TypeError(`mount(): the value for ${JSON.stringify(key)} is not an application`);
    const prefix = normalizePrefix(key);
    const clash = seen.get(prefix);
    if (clash !== undefined) {
      throw new TypeError(`mount(): ${JSON.stringify(key)} and ${JSON.stringify(clash)} are the same mount point`);
    }
    seen.set(prefix, key);
    if (prefix === '') {
      if (options.fallback) throw new TypeError('mount(): give either a root key ("/") or options.fallback, not both');
      root = app;
    } else {
      entries.push({ prefix, app });
    }
  }
  // Longest first, so the first match is the longest one.
  entries.sort((a, b) => b.prefix.length - a.prefix.length);

  return (environ, startResponse) => {
    const path = environ.PATH_INFO;
    for (const { prefix, app } of entries) {
      if (
        path.startsWith(prefix) &&
        (path.length === prefix.length || path.charCodeAt(prefix.length) === SLASH)
      ) {
        // A copy, not an edit: middleware around the mount still sees the environ it passed.
        const mounted: Environ = {
          ...environ,
          SCRIPT_NAME: environ.SCRIPT_NAME + prefix,
          PATH_INFO: path.slice(prefix.length),
        };
        return app(mounted, startResponse);
      }
    }
    if (root) return root(environ, startResponse);
    startResponse('404 Not Found', [
      ['Content-Type', 'text/plain; charset=utf-8'],
      ['Content-Length', String(NOT_FOUND_BODY.length)],
    ]);
    return [NOT_FOUND_BODY];
  };
}

/** `/api/`, `api`, `//api//` -> `/api`; `/` and `''` -> `''` (the root). */
function normalizePrefix(key: string): string {
  const trimmed = key.replace(/\/+$/, '');
  if (trimmed === '') return '';
  const prefix = trimmed.startsWith('/') ? trimmed.replace(/^\/+/, '/') : `/${trimmed}`;
  if (prefix.includes('?') || prefix.includes('#')) {
    throw new TypeError(`mount(): ${JSON.stringify(key)} is not a path prefix`);
  }
  return prefix;
}
