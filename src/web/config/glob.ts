/**
 * The `include` glob: glibc's `glob(3)` as nginx calls it (no flags), so that `include
 * conf.d/*.conf;` reads the same files in the same order.
 * - `*`, `?` and `[...]` (with `!` or `^` to negate, ranges) match within one path component;
 *   a backslash makes the next character literal.
 * - A leading `.` in a name is matched only by a pattern component that starts with `.`.
 * - Directories that cannot be read are skipped (glob without GLOB_ERR); no match is not an error.
 * - The result is sorted by byte value of the whole path (nginx never calls setlocale, so the
 *   C locale's strcoll is strcmp).
 */
import { readdirSync, statSync } from 'node:fs';

/** The characters that make nginx treat an include as a pattern (its `strpbrk(file, "*?[")`). */
export function hasGlobMagic(path: string): boolean {
  return /[*?[]/.test(path);
}

function componentHasMagic(component: string): boolean {
  // An escaped character is literal, so `a\*` alone is not a pattern component.
  return /(^|[^\\])(\\\\)*[*?[]/.test(component);
}

/** Translates one pattern component into a RegExp source, fnmatch style. */
function componentToRegExp(component: string): RegExp {
  let source = '';
  let i = 0;
  while (i < component.length) {
    const ch = component[i]!;
    if (ch === '\\' && i + 1 < component.length) {
      source += escapeRegExp(component[i + 1]!);
      i += 2;
      continue;
    }
    if (ch === '*') {
      source += '[^/]*';
      i += 1;
      continue;
    }
    if (ch === '?') {
      source += '[^/]';
      i += 1;
      continue;
    }
    if (ch === '[') {
      const close = findClassEnd(component, i);
      if (close === -1) {
        source += '\\[';
        i += 1;
        continue;
      }
      let body = component.slice(i + 1, close);
      let negate = false;
      if (body.startsWith('!') || body.startsWith('^')) {
        negate = true;
        body = body.slice(1);
      }
      const escapedBody = body.replace(/[\\\]^]/g, (c) => '\\' + c);
      source += `[${negate ? '^' : ''}${escapedBody}]`;
      i = close + 1;
      continue;
    }
    source += escapeRegExp(ch);
    i += 1;
  }
  return new RegExp(`^${source}$`, 's');
}

/** Index of the `]` closing the class that opens at `open`; a `]` right after `[` or `[!` is literal. */
function findClassEnd(component: string, open: number): number {
  let i = open + 1;
  if (component[i] === '!' || component[i] === '^') i += 1;
  if (component[i] === ']') i += 1;
  for (; i < component.length; i += 1) if (component[i] === ']') return i;
  return -1;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

function unescapeLiteral(component: string): string {
  return component.replace(/\\(.)/g, '$1');
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir === '' ? '/' : dir);
  } catch {
    return [];
  }
}

function exists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

const encoder = new TextEncoder();

/** Byte-order comparison of two paths, as strcmp on their UTF-8 bytes. */
export function compareBytes(a: string, b: string): number {
  return Buffer.compare(encoder.encode(a), encoder.encode(b));
}

/** Expands an absolute pattern into the existing paths it names, sorted as glob(3) sorts them. */
export function expandGlob(pattern: string): string[] {
  const absolute = pattern.startsWith('/');
  const components = pattern.split('/').filter((c, i) => c !== '' || i === 0);
  let paths = [absolute ? '' : '.'];
  const start = absolute ? 1 : 0;
  for (let k = start; k < components.length; k += 1) {
    const component = components[k]!;
    const last = k === components.length - 1;
    const next: string[] = [];
    for (const base of paths) {
      if (!componentHasMagic(component)) {
        const candidate = `${base}/${unescapeLiteral(component)}`;
        if (last ? exists(candidate) : isDirectory(candidate)) next.push(candidate);
        continue;
      }
      const regexp = componentToRegExp(component);
      const matchDotFiles = component.startsWith('.');
      for (const name of listDir(base)) {
        if (name.startsWith('.') && !matchDotFiles) continue;
        if (!regexp.test(name)) continue;
        const candidate = `${base}/${name}`;
        if (last || isDirectory(candidate)) next.push(candidate);
      }
    }
    paths = next;
  }
  const results = absolute ? paths : paths.map((p) => p.slice(2));
  return results.sort(compareBytes);
}
