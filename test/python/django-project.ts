/**
 * A real Django project for the tests, made the way a user makes one: `python3 -m django
 * startproject NAME DIR` with Debian's python3-django, then the few settings a deployment
 * changes (DEBUG off, ALLOWED_HOSTS, STATIC_ROOT), a one-line view, and on request the
 * management commands a deployment runs (migrate, collectstatic).
 */
import { spawnSync } from 'node:child_process';
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PYTHON, pythonEnv } from './harness.js';

export interface DjangoProject {
  /** The directory holding manage.py (what --chdir gets). */
  dir: string;
  name: string;
  /** STATIC_ROOT, filled by collectstatic when asked for. */
  staticRoot: string;
}

/** The answer of the project's `/hello/` view. */
export const HELLO = 'hello from django';

function run(args: string[], cwd: string, python = PYTHON): void {
  const result = spawnSync(python, args, { cwd, env: pythonEnv(), encoding: 'utf8', timeout: 60_000 });
  if (result.status !== 0) throw new Error(`${python} ${args.join(' ')} failed (${result.status ?? result.signal}):\n${result.stdout}${result.stderr}`);
}

export function makeDjangoProject(dir: string, name: string, options: { migrate?: boolean; collectstatic?: boolean } = {}): DjangoProject {
  mkdirSync(dir, { recursive: true });
  run(['-m', 'django', 'startproject', name, dir], dir);
  const staticRoot = join(dir, 'static_root');
  appendFileSync(
    join(dir, name, 'settings.py'),
    `
# Set by the tsgi tests, as a deployment would.
DEBUG = False
ALLOWED_HOSTS = ['127.0.0.1', 'localhost']
STATIC_ROOT = ${JSON.stringify(staticRoot)}
`,
  );
  const urls = join(dir, name, 'urls.py');
  const source = readFileSync(urls, 'utf8');
  writeFileSync(
    urls,
    `from django.http import HttpResponse\n${source}\nurlpatterns.append(path('hello/', lambda request: HttpResponse(${JSON.stringify(HELLO)}, content_type='text/plain')))\n`,
  );
  if (options.migrate) run(['manage.py', 'migrate', '--noinput', '-v', '0'], dir);
  if (options.collectstatic) run(['manage.py', 'collectstatic', '--noinput', '-v', '0'], dir);
  return { dir, name, staticRoot };
}
