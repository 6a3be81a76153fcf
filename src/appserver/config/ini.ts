/**
 * The ini reader, following uWSGI's `uwsgi_ini_config` (core/ini.c) line by line:
 * - each line is stripped of spaces, tabs and CR at both ends; empty lines are skipped;
 * - a line starting with `;` or `#` is a comment (only at the start: `a = b ; c` keeps "b ; c");
 * - `[name]` starts a section; only the asked one is read (default `[uwsgi]`, and tsgi's `[tsgi]`);
 * - `key = value` splits at the first `=`; a line without `=` is `key` with an empty value, which a
 *   boolean option reads as true (`master` alone means `master = true`);
 * - a key may repeat: each occurrence is one more value, in order.
 * Two deliberate differences, both where uWSGI fails silently: a section header with text after
 * its `]` is an error (uWSGI would take `uwsgi]vhost = fals` as the section name and skip the rest),
 * and a missing section is an error (uWSGI only logs a warning and loads nothing).
 */
import { ConfigSyntaxError } from './errors.js';
import { sectionsFor, type FileEntry } from './format.js';

const BLANK = /^[ \t\r]+|[ \t\r]+$/g;

export function parseIni(text: string, file: string, section?: string): FileEntry[] | null {
  const wanted = sectionsFor(section);
  const entries: FileEntry[] = [];
  let current = '';
  let found = false;
  const lines = text.replace(/^\uFEFF/, '').split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = i + 1;
    const content = lines[i]!.replace(BLANK, '');
    if (content === '' || content.startsWith(';') || content.startsWith('#')) continue;
    if (content.startsWith('[')) {
      if (!content.endsWith(']')) {
        throw new ConfigSyntaxError(
          `malformed section header "${content}" in ${file}:${line}: a [section] header must be alone on its line`,
          { kind: 'file', file, line },
        );
      }
      current = content.slice(1, -1).trim();
      if (wanted.includes(current)) found = true;
      continue;
    }
    if (!wanted.includes(current)) continue;
    const equals = content.indexOf('=');
    const key = (equals >= 0 ? content.slice(0, equals) : content).replace(BLANK, '');
    const value = equals >= 0 ? content.slice(equals + 1).replace(BLANK, '') : '';
    if (key === '') throw new ConfigSyntaxError(`a line with no option name in ${file}:${line}`, { kind: 'file', file, line });
    entries.push({ key, value, line });
  }
  if (!found) return null;
  return entries;
}
