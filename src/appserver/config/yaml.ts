/**
 * The yaml reader. uWSGI has two (core/yaml.c): libyaml when built with it, else a line reader.
 * Both read a top-level mapping whose `uwsgi` key (or the one named by `file.yaml:name`; tsgi also
 * accepts `tsgi`) holds `option: value` lines; both accept a key written twice (the uWSGI docs'
 * example repeats `socket:`), which general YAML libraries reject as a duplicate key. The libyaml
 * build also takes a list as repeated values. This reader does all of that:
 *
 *     uwsgi:
 *       socket: /tmp/uwsgi.sock      # a comment
 *       socket: 127.0.0.1:8000       # repeated key: a second value
 *       http-socket: [":8000", ":8001"]
 *       static-map:
 *         - /static=/srv/static
 *         - /media=/srv/media
 *       master: true
 *
 * Values may be plain, 'single-quoted' or "double-quoted"; everything is text, which the option's
 * type then reads. What is not option syntax (nested mappings, block scalars `|` `>`, anchors,
 * aliases, tags, multi-line plain values) is an error naming FILE:LINE, rather than being guessed
 * at. Hand-written for those line numbers and for the repeated keys.
 */
import { ConfigSyntaxError } from './errors.js';
import { sectionsFor, type FileEntry } from './format.js';

/** Where a quoted scalar may begin: after these (or at the start of the line). */
const SCALAR_STARTERS = new Set([':', '-', '[', ',', '']);

/** Removes a `#` comment (at the start or after a blank, outside quotes) and trailing blanks. */
function stripComment(line: string): string {
  let quote: '"' | "'" | undefined;
  let previous = '';
  for (let i = 0; i < line.length; i++) {
    const char = line[i]!;
    if (quote) {
      if (char === '\\' && quote === '"') i++;
      else if (char === quote) quote = undefined;
      continue;
    }
    if ((char === '"' || char === "'") && SCALAR_STARTERS.has(previous)) quote = char;
    else if (char === '#' && (i === 0 || line[i - 1] === ' ' || line[i - 1] === '\t')) return line.slice(0, i).trimEnd();
    if (char !== ' ' && char !== '\t') previous = char;
  }
  return line.trimEnd();
}

class YamlReader {
  constructor(private readonly file: string) {}

  error(message: string, line: number): ConfigSyntaxError {
    return new ConfigSyntaxError(`invalid yaml in ${this.file}:${line}: ${message}`, { kind: 'file', file: this.file, line });
  }

  /** `key: rest` or `key:`; the key may be quoted. */
  keyValue(text: string, line: number): { key: string; rest: string } {
    if (text.startsWith('"') || text.startsWith("'")) {
      const close = text.indexOf(text[0]!, 1);
      if (close < 0) throw this.error('unterminated quoted key', line);
      const after = text.slice(close + 1);
      if (!after.startsWith(':')) throw this.error(`expected ":" after the key ${text.slice(0, close + 1)}`, line);
      return { key: this.scalar(text.slice(0, close + 1), line), rest: after.slice(1).trim() };
    }
    // The key ends at the first ":" followed by a blank or the end of the line (YAML's rule, so
    // that `socket: 127.0.0.1:8000` keeps its port).
    let colon = text.indexOf(':');
    while (colon >= 0 && colon + 1 < text.length && text[colon + 1] !== ' ' && text[colon + 1] !== '\t') colon = text.indexOf(':', colon + 1);
    const key = colon >= 0 ? text.slice(0, colon).trim() : '';
    if (key === '') throw this.error(`expected "option: value", found "${text}"`, line);
    return { key, rest: text.slice(colon + 1).trim() };
  }

  /** One scalar: plain, single-quoted or double-quoted. */
  scalar(text: string, line: number): string {
    const first = text[0];
    if (first === '"') {
      if (text.length < 2 || !text.endsWith('"')) throw this.error(`unterminated double-quoted value ${text}`, line);
      return text.slice(1, -1).replace(/\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|.)/g, (_, escape: string) => {
        if (escape.length > 1) return String.fromCharCode(parseInt(escape.slice(1), 16));
        const simple: Record<string, string> = { n: '\n', t: '\t', r: '\r', '0': '\0', '"': '"', '\\': '\\', '/': '/', ' ': ' ' };
        const decoded = simple[escape];
        if (decoded === undefined) throw this.error(`unknown escape "\\${escape}"`, line);
        return decoded;
      });
    }
    if (first === "'") {
      if (text.length < 2 || !text.endsWith("'")) throw this.error(`unterminated single-quoted value ${text}`, line);
      return text.slice(1, -1).replaceAll("''", "'");
    }
    if (first === '|' || first === '>') throw this.error('block scalars (| and >) are not supported; write the value on one line', line);
    if (first === '&' || first === '*' || first === '!') throw this.error('anchors, aliases and tags are not supported', line);
    if (first === '{') throw this.error('a mapping is not an option value', line);
    return text;
  }

  /** The values of `key: rest`: a flow list gives several, anything else one. */
  values(rest: string, line: number): string[] {
    if (!rest.startsWith('[')) return [this.scalar(rest, line)];
    if (!rest.endsWith(']')) throw this.error(`unterminated list ${rest}`, line);
    const inner = rest.slice(1, -1).trim();
    if (inner === '') return [];
    const items: string[] = [];
    let quote: string | undefined;
    let start = 0;
    for (let i = 0; i <= inner.length; i++) {
      const char = inner[i];
      if (quote) {
        if (char === '\\' && quote === '"') i++;
        else if (char === quote) quote = undefined;
        continue;
      }
      if ((char === '"' || char === "'") && inner.slice(start, i).trim() === '') quote = char;
      else if (char === '[') throw this.error('a list inside a list is not an option value', line);
      else if (char === ',' || char === undefined) {
        const item = inner.slice(start, i).trim();
        if (item === '') throw this.error(`an empty item in the list ${rest}`, line);
        items.push(this.scalar(item, line));
        start = i + 1;
      }
    }
    return items;
  }
}

export function parseYamlConfig(text: string, file: string, section?: string): FileEntry[] | null {
  const reader = new YamlReader(file);
  const wanted = sectionsFor(section);
  const entries: FileEntry[] = [];
  let found = false;
  /** Inside a wanted section: the indentation of its keys, once known. */
  let inSection = false;
  let keyIndent: number | undefined;
  /** A `key:` with nothing after it: list items may follow, else it is a bare (empty) value. */
  let pending: { key: string; line: number; items: number } | undefined;

  const flushPending = (): void => {
    if (pending && pending.items === 0) entries.push({ key: pending.key, value: '', line: pending.line });
    pending = undefined;
  };

  const lines = text.replace(/^\uFEFF/, '').split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = i + 1;
    const content = stripComment(lines[i]!.replace(/\r$/, ''));
    if (content.trim() === '') continue;
    const indentText = /^[ \t]*/.exec(content)![0];
    if (indentText.includes('\t')) throw reader.error('tabs cannot indent yaml; use spaces', line);
    const indent = indentText.length;
    const body = content.slice(indent);

    if (indent === 0) {
      flushPending();
      if (body === '---' || body === '...' || body.startsWith('--- ') || body.startsWith('%')) continue;
      if (body.startsWith('-')) throw reader.error('the document must be a mapping such as "uwsgi:", not a list', line);
      const { key, rest } = reader.keyValue(body, line);
      inSection = wanted.includes(key);
      keyIndent = undefined;
      if (inSection) {
        found = true;
        if (rest !== '') throw reader.error(`"${key}" must hold indented "option: value" lines`, line);
      }
      continue;
    }
    if (!inSection) continue;

    keyIndent ??= indent;
    const isItem = body === '-' || body.startsWith('- ');
    if (isItem) {
      if (!pending || indent < keyIndent) throw reader.error('a list item that belongs to no option', line);
      const item = body.slice(1).trim();
      if (item === '') throw reader.error('an empty list item', line);
      if (item.startsWith('- ') || item.startsWith('[')) throw reader.error('a list inside a list is not an option value', line);
      entries.push({ key: pending.key, value: reader.scalar(item, line), line });
      pending.items++;
      continue;
    }
    if (indent > keyIndent) {
      if (pending && pending.items === 0) throw reader.error(`"${pending.key}" holds a nested mapping; options take a value or a list`, line);
      throw reader.error('unexpected indentation (a value continued on the next line is not supported)', line);
    }
    if (indent < keyIndent) throw reader.error('this line is indented less than the options before it', line);
    flushPending();
    const { key, rest } = reader.keyValue(body, line);
    if (rest === '') pending = { key, line, items: 0 };
    else for (const value of reader.values(rest, line)) entries.push({ key, value, line });
  }
  flushPending();
  if (!found) return null;
  return entries;
}
