/**
 * `--app FILE[:export]`: loads a `.ts`, `.mts`, `.js` or `.mjs` module (TypeScript through tsx, no
 * build step), picks the export, works out which kind of application it is and adapts it to TSGI.
 */
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { tsImport } from 'tsx/esm/api';
import { TsgiError } from '../errors.js';
import type { App } from '../gateway/types.js';
import { fromFetch } from '../gateway/adapters/fetch.js';
import { fromNode } from '../gateway/adapters/node.js';

import { APP_KINDS, type AppKind } from './options.js';

export { APP_KINDS, type AppKind };

/** The application could not be loaded: the message names the file and what was expected. */
export class AppLoadError extends TsgiError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_APP_LOAD', message, options);
  }
}

/** Export names tried, in order, when `FILE` has no `:export` (uWSGI's default callable is `application`). */
const DEFAULT_EXPORTS = ['default', 'app', 'application'] as const;

export interface LoadedApp {
  app: App;
  kind: AppKind;
  file: string;
  exportName: string;
}

/** Splits `file.ts:name` (a Windows drive letter's colon is not an export separator). */
export function parseAppSpec(spec: string): { file: string; exportName: string | null } {
  const colon = spec.lastIndexOf(':');
  if (colon > 1 && !spec.slice(colon + 1).includes('/')) {
    return { file: spec.slice(0, colon), exportName: spec.slice(colon + 1) || null };
  }
  return { file: spec, exportName: null };
}

type Candidate = { fetch?: unknown; callback?: unknown; handle?: unknown; listen?: unknown };

/**
 * Which kind of application a value is.
 * - an object with `fetch()` (Hono, srvx, Bun-style): fetch
 * - a Koa application (has `callback()`): node, through `app.callback()`
 * - a function with one parameter: fetch handler `(request) => Response`
 * - a function with three parameters, or with `handle` and `listen` (Express, Connect): node
 * - any other function of two parameters: TSGI. A bare Node `(req, res)` handler looks the same,
 *   which is why `--app-kind node` exists.
 */
export function detectAppKind(value: unknown): AppKind | null {
  if (typeof value === 'object' && value !== null) {
    const candidate = value as Candidate;
    if (typeof candidate.fetch === 'function') return 'fetch';
    if (typeof candidate.callback === 'function') return 'node';
    return null;
  }
  if (typeof value !== 'function') return null;
  const candidate = value as Candidate & ((...args: never[]) => unknown);
  if (typeof candidate.handle === 'function' && typeof candidate.listen === 'function') return 'node';
  if (typeof candidate.fetch === 'function') return 'fetch';
  if (candidate.length === 1) return 'fetch';
  if (candidate.length === 3) return 'node';
  return 'tsgi';
}

export function adaptApp(value: unknown, kind: AppKind, where: string): App {
  switch (kind) {
    case 'tsgi':
      if (typeof value !== 'function') throw new AppLoadError(`${where} is not a function: expected a TSGI app (environ, startResponse) => body`);
      return value as App;
    case 'fetch':
      if (typeof value === 'function') return fromFetch(value as (request: Request) => Response | Promise<Response>);
      if (typeof value === 'object' && value !== null && typeof (value as Candidate).fetch === 'function') {
        return fromFetch(value as { fetch(request: Request): Response | Promise<Response> });
      }
      throw new AppLoadError(`${where} is not a fetch handler: expected (request) => Response or an object with fetch()`);
    case 'node': {
      const candidate = value as Candidate;
      if (typeof value === 'object' && value !== null && typeof candidate.callback === 'function') {
        return fromNode((candidate.callback as () => Parameters<typeof fromNode>[0]).call(value));
      }
      if (typeof value === 'function') return fromNode(value as Parameters<typeof fromNode>[0]);
      throw new AppLoadError(`${where} is not a Node handler: expected (req, res) => void or a Koa application`);
    }
  }
}

export async function loadApp(spec: string, kindOverride?: AppKind): Promise<LoadedApp> {
  const { file, exportName } = parseAppSpec(spec);
  const path = resolve(file);
  if (!existsSync(path)) throw new AppLoadError(`cannot load app "${spec}": ${path} does not exist`);
  if (!statSync(path).isFile()) throw new AppLoadError(`cannot load app "${spec}": ${path} is not a file`);
  let namespace: Record<string, unknown>;
  try {
    namespace = (await tsImport(pathToFileURL(path).href, import.meta.url)) as Record<string, unknown>;
  } catch (error) {
    const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    throw new AppLoadError(`cannot load app "${spec}": importing ${path} failed: ${reason}`, { cause: error });
  }
  // A .js file that Node treats as CommonJS arrives with its exports under `default` (CJS interop).
  const exportsObject = namespace.default;
  if (detectAppKind(exportsObject) === null && typeof exportsObject === 'object' && exportsObject !== null) {
    namespace = { ...namespace, ...(exportsObject as Record<string, unknown>) };
    if (detectAppKind(namespace.default) === null) delete namespace.default;
  }
  const names = exportName ? [exportName] : DEFAULT_EXPORTS;
  const chosen = names.find((name) => namespace[name] !== undefined);
  if (chosen === undefined) {
    const available = Object.keys(namespace).filter((name) => name !== '__esModule' && name !== 'module.exports');
    throw new AppLoadError(
      `cannot load app "${spec}": ${path} has no export ${names.map((n) => `"${n}"`).join(' or ')}` +
        ` (it exports: ${available.length ? available.join(', ') : 'nothing'})`,
    );
  }
  const value = namespace[chosen];
  const where = `export "${chosen}" of ${path}`;
  const kind = kindOverride ?? detectAppKind(value);
  if (kind === null) {
    throw new AppLoadError(
      `cannot load app "${spec}": ${where} is ${value === null ? 'null' : typeof value}; expected a TSGI app ` +
        '(environ, startResponse) => body, a fetch handler (request) => Response or { fetch }, or a Node (req, res) handler',
    );
  }
  return { app: adaptApp(value, kind, where), kind, file: path, exportName: chosen };
}
