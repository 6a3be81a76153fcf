/** For scenarios' `available()`: does a binary or a build output exist? */
import { access, constants } from 'node:fs/promises';
import { resolve } from 'node:path';
import { REPO_ROOT } from './root.js';

/** `path` is relative to the repository root, or absolute. */
export async function exists(path: string, mode: number = constants.F_OK): Promise<boolean> {
  try {
    await access(resolve(REPO_ROOT, path), mode);
    return true;
  } catch {
    return false;
  }
}

export async function executable(path: string): Promise<boolean> {
  return exists(path, constants.X_OK);
}

/** The tsgi command, as the build leaves it. */
export const TSGI_CLI = 'dist/src/cli/main.js';

/** `true` once `npm run build` produced the tsgi command, else why not. */
export async function tsgiBuilt(): Promise<true | string> {
  return (await exists(TSGI_CLI)) ? true : `${TSGI_CLI} is missing (run npm install / npm run build)`;
}
