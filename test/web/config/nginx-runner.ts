/**
 * Runs one configuration through the real nginx (`nginx -t`) and through `checkConfig`, so that a
 * test can compare what both print. Each case lives in its own temp prefix; nginx gets
 * `-p DIR/ -c DIR/nginx.conf -e DIR/error.log -g 'pid DIR/nginx.pid;'` so that it touches nothing
 * outside it, and tsgi gets the same prefix and `-g` text.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { checkConfig } from '../../../src/web/config/load.js';

export interface ConfigCase {
  /** The main file's text. */
  readonly conf: string;
  /** Other files, by path relative to the prefix. */
  readonly files?: Readonly<Record<string, string>>;
  /** More `-g` directives. */
  readonly globals?: string;
}

export interface CaseDir {
  readonly dir: string;
  readonly file: string;
  cleanup(): void;
}

export function writeCase(c: ConfigCase): CaseDir {
  const dir = mkdtempSync(join(tmpdir(), 'tsgi-conf-'));
  const file = join(dir, 'nginx.conf');
  writeFileSync(file, c.conf);
  for (const [name, text] of Object.entries(c.files ?? {})) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return { dir, file, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

function globalsFor(dir: string, c: ConfigCase): string {
  return `pid ${dir}/nginx.pid; ${c.globals ?? ''}`.trim();
}

/** nginx -t's lines, without the `nginx: ` prefix, the temp dir written as DIR. */
export function realNginxLines(nginx: string, c: ConfigCase): string[] {
  const { dir, file, cleanup } = writeCase(c);
  try {
    const result = spawnSync(nginx, ['-t', '-p', `${dir}/`, '-c', file, '-e', join(dir, 'error.log'), '-g', globalsFor(dir, c)], {
      encoding: 'utf8',
      cwd: dir,
    });
    return result.stderr
      .split('\n')
      .filter((line) => line.length > 0)
      .map((line) => line.replace(/^nginx: /, '').split(dir).join('DIR'));
  } finally {
    cleanup();
  }
}

/** checkConfig's lines for the same case; tsgi's own warnings (which nginx does not print) left out. */
export function tsgiLines(c: ConfigCase, options: { withTsgiWarnings?: boolean } = {}): string[] {
  const { dir, file, cleanup } = writeCase(c);
  try {
    const result = checkConfig(file, { prefix: `${dir}/`, globals: globalsFor(dir, c) });
    const ours = new Set(result.warnings.filter((w) => !w.nginx).map((w) => `[warn] ${w.message}`));
    return result.lines.filter((line) => options.withTsgiWarnings || !ours.has(line)).map((line) => line.split(dir).join('DIR'));
  } finally {
    cleanup();
  }
}
