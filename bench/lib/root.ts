/** The repository root, from this file's place in it (bench/lib/root.ts), whatever the cwd. */
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
