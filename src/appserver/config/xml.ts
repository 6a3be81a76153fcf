/**
 * The xml reader, following uWSGI's libxml2 `uwsgi_xml_config` (core/xmlconf.c):
 * - the root element is `<uwsgi>` (or tsgi's `<tsgi>`); otherwise the first `<uwsgi>` child of the
 *   root is used, and with `file.xml:ID` the first one whose `id` attribute is ID (a stanza with no
 *   `id` matches any ID, as in uWSGI). This lets `<uwsgi>` blocks live inside other xml files;
 * - each child element is an option: `<socket>:3031</socket>`; an empty element (`<master/>`,
 *   `<master></master>`) has the value "1", which a boolean reads as true; elements repeat;
 * - with `:ID`, a child element carrying a different `id` attribute is skipped;
 * - `<app mountpoint="/x">file</app>` is uWSGI's shorthand for `mount = /x=file`. A plain
 *   `<app>file</app>` is tsgi's own `app` option (uWSGI would turn it into a `mount` with no
 *   mountpoint, which means nothing);
 * - a CDATA section directly in the stanza is uWSGI's `eval` option (Python code), which tsgi does
 *   not have, so it is reported as the unknown option "eval".
 * Values are trimmed (libxml2 keeps the whitespace around `<socket> :3031 </socket>`, which no
 * option can use). The parser is hand-written because no xml package reports the line of each
 * element, and every error tsgi prints ends with FILE:LINE. It covers what config files use:
 * elements, attributes, text, the five predefined and numeric entities, comments, CDATA,
 * processing instructions and a DOCTYPE without an internal subset.
 */
import { ConfigSyntaxError } from './errors.js';
import { DEFAULT_SECTIONS, type FileEntry } from './format.js';

interface XmlElement {
  readonly kind: 'element';
  readonly name: string;
  readonly attributes: ReadonlyMap<string, string>;
  readonly children: XmlNode[];
  readonly line: number;
}
type XmlNode =
  | XmlElement
  | { readonly kind: 'text'; readonly text: string; readonly line: number }
  | { readonly kind: 'cdata'; readonly text: string; readonly line: number };

const NAME = /[A-Za-z_:][-A-Za-z0-9_:.]*/y;
const ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

/** A position in the text that knows its line, so every error can name FILE:LINE. */
class Cursor {
  pos = 0;
  line = 1;

  constructor(
    readonly text: string,
    readonly file: string,
  ) {}

  done(): boolean {
    return this.pos >= this.text.length;
  }

  at(token: string): boolean {
    return this.text.startsWith(token, this.pos);
  }

  advance(count: number): string {
    const taken = this.text.slice(this.pos, this.pos + count);
    for (const char of taken) if (char === '\n') this.line++;
    this.pos += count;
    return taken;
  }

  /** Consumes up to and including `end`, returning what came before it. */
  until(end: string, what: string): string {
    const index = this.text.indexOf(end, this.pos);
    if (index < 0) throw this.error(`unclosed ${what}`);
    const taken = this.advance(index - this.pos);
    this.advance(end.length);
    return taken;
  }

  skipSpace(): void {
    while (!this.done() && /\s/.test(this.text[this.pos]!)) this.advance(1);
  }

  expect(token: string, what: string): void {
    if (!this.at(token)) throw this.error(`expected ${what}`);
    this.advance(token.length);
  }

  name(what: string): string {
    NAME.lastIndex = this.pos;
    const match = NAME.exec(this.text);
    if (!match) throw this.error(`expected ${what}`);
    return this.advance(match[0].length);
  }

  error(message: string, line = this.line): ConfigSyntaxError {
    return new ConfigSyntaxError(`invalid xml in ${this.file}:${line}: ${message}`, { kind: 'file', file: this.file, line });
  }
}

function decodeEntities(cursor: Cursor, text: string, line: number): string {
  return text.replace(/&([^;&\s]*);?/g, (whole, body: string) => {
    if (!whole.endsWith(';')) throw cursor.error(`"&" must start an entity such as &amp;`, line);
    if (body in ENTITIES) return ENTITIES[body]!;
    const numeric = /^#(x[0-9a-fA-F]+|[0-9]+)$/.exec(body);
    if (numeric) return String.fromCodePoint(numeric[1]!.startsWith('x') ? parseInt(numeric[1]!.slice(1), 16) : parseInt(numeric[1]!, 10));
    throw cursor.error(`unknown entity "&${body};"`, line);
  });
}

/** Comments, processing instructions and a DOCTYPE, which may sit around and between elements. */
function skipMisc(cursor: Cursor): boolean {
  if (cursor.at('<!--')) {
    cursor.advance(4);
    cursor.until('-->', 'comment');
    return true;
  }
  if (cursor.at('<?')) {
    cursor.advance(2);
    cursor.until('?>', 'processing instruction');
    return true;
  }
  if (cursor.at('<!DOCTYPE')) {
    const line = cursor.line;
    const body = cursor.until('>', 'DOCTYPE');
    if (body.includes('[')) throw cursor.error('a DOCTYPE with an internal subset is not supported', line);
    return true;
  }
  return false;
}

function parseElement(cursor: Cursor): XmlElement {
  const line = cursor.line;
  cursor.expect('<', 'an element');
  const name = cursor.name('an element name');
  const attributes = new Map<string, string>();
  for (;;) {
    cursor.skipSpace();
    if (cursor.at('/>')) {
      cursor.advance(2);
      return { kind: 'element', name, attributes, children: [], line };
    }
    if (cursor.at('>')) {
      cursor.advance(1);
      break;
    }
    const attributeLine = cursor.line;
    const attribute = cursor.name(`an attribute name or the end of <${name}>`);
    cursor.skipSpace();
    cursor.expect('=', `"=" after attribute ${attribute}`);
    cursor.skipSpace();
    const quote = cursor.at('"') ? '"' : cursor.at("'") ? "'" : undefined;
    if (!quote) throw cursor.error(`the value of attribute ${attribute} must be quoted`);
    cursor.advance(1);
    attributes.set(attribute, decodeEntities(cursor, cursor.until(quote, `attribute ${attribute}`), attributeLine));
  }
  const children: XmlNode[] = [];
  for (;;) {
    if (cursor.done()) throw cursor.error(`<${name}> is never closed`, line);
    if (cursor.at('</')) {
      cursor.advance(2);
      const closing = cursor.name('an element name');
      if (closing !== name) throw cursor.error(`</${closing}> closes <${name}> opened on line ${line}`);
      cursor.skipSpace();
      cursor.expect('>', `">" after </${closing}`);
      return { kind: 'element', name, attributes, children, line };
    }
    if (cursor.at('<![CDATA[')) {
      const cdataLine = cursor.line;
      cursor.advance(9);
      children.push({ kind: 'cdata', text: cursor.until(']]>', 'CDATA section'), line: cdataLine });
      continue;
    }
    if (skipMisc(cursor)) continue;
    if (cursor.at('<')) {
      children.push(parseElement(cursor));
      continue;
    }
    const end = cursor.text.indexOf('<', cursor.pos);
    const raw = cursor.advance((end < 0 ? cursor.text.length : end) - cursor.pos);
    // The line of the first visible character, which is what an error about the text points at.
    const leading = /^\s*/.exec(raw)![0];
    const textLine = cursor.line - (raw.split('\n').length - 1) + (leading.split('\n').length - 1);
    children.push({ kind: 'text', text: decodeEntities(cursor, raw, textLine), line: textLine });
  }
}

function parseDocument(cursor: Cursor): XmlElement {
  cursor.skipSpace();
  while (skipMisc(cursor)) cursor.skipSpace();
  if (!cursor.at('<')) throw cursor.error('expected the root element');
  const root = parseElement(cursor);
  cursor.skipSpace();
  while (skipMisc(cursor)) cursor.skipSpace();
  if (!cursor.done()) throw cursor.error(`text after the root element </${root.name}>`);
  return root;
}

function isElement(node: XmlNode): node is XmlElement {
  return node.kind === 'element';
}

export function parseXmlConfig(text: string, file: string, id?: string): FileEntry[] | null {
  if (id === '') throw new ConfigSyntaxError(`empty xml id after "${file}:"`, { kind: 'file', file, line: 1 });
  const cursor = new Cursor(text.replace(/^\uFEFF/, ''), file);
  const root = parseDocument(cursor);
  const names = DEFAULT_SECTIONS;
  const matchesId = (element: XmlElement): boolean => id === undefined || !element.attributes.has('id') || element.attributes.get('id') === id;
  const stanza = names.includes(root.name) ? root : root.children.filter(isElement).find((child) => names.includes(child.name) && matchesId(child));
  if (!stanza) return null;

  const entries: FileEntry[] = [];
  for (const child of stanza.children) {
    if (child.kind === 'text') {
      if (child.text.trim() !== '') throw cursor.error(`text "${child.text.trim()}" outside an option element`, child.line);
      continue;
    }
    if (child.kind === 'cdata') {
      entries.push({ key: 'eval', value: child.text, line: child.line });
      continue;
    }
    if (id !== undefined && child.attributes.has('id') && child.attributes.get('id') !== id) continue;
    const nested = child.children.find((node) => node.kind === 'element');
    if (nested) throw cursor.error(`<${child.name}> holds an element; an option's value must be text`, nested.line);
    const value = child.children.map((node) => (node.kind === 'element' ? '' : node.text)).join('').trim();
    const mountpoint = child.attributes.get('mountpoint');
    const domain = child.attributes.get('domain');
    if (child.name === 'app' && (mountpoint !== undefined || domain !== undefined)) {
      const prefix = mountpoint !== undefined ? `${mountpoint}=` : `${domain}|=`;
      entries.push({ key: 'mount', value: prefix + value, line: child.line });
      continue;
    }
    entries.push({ key: child.name, value: child.children.length === 0 ? '1' : value, line: child.line });
  }
  return entries;
}
