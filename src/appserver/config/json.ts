/**
 * The json reader, following uWSGI's `uwsgi_json_config` (core/json.c): the document is an object
 * whose `"uwsgi"` member (or the one named by `file.json:name`; tsgi also accepts `"tsgi"`) is an
 * object of options. Values map as jansson's do there: a string as is, `true` to "1", `false` and
 * `null` to "0", a number to its decimal text, and an array to one value per item (the way to
 * repeat an option). Two differences: a nested object or array, which uWSGI skips silently, is an
 * error here; and a key written twice counts twice, as in ini files, where jansson keeps only the
 * last. The parser is hand-written because JSON.parse reports no line numbers, and every error
 * tsgi prints ends with FILE:LINE. It accepts exactly RFC 8259 JSON.
 */
import { ConfigSyntaxError } from './errors.js';
import { sectionsFor, type FileEntry } from './format.js';

type JsonNode =
  | { readonly kind: 'string'; readonly value: string; readonly line: number }
  | { readonly kind: 'number'; readonly value: number; readonly line: number }
  | { readonly kind: 'boolean'; readonly value: boolean; readonly line: number }
  | { readonly kind: 'null'; readonly line: number }
  | { readonly kind: 'array'; readonly items: JsonNode[]; readonly line: number }
  | { readonly kind: 'object'; readonly members: Array<{ key: string; value: JsonNode; line: number }>; readonly line: number };

const NUMBER = /-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y;
const ESCAPES: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };

class JsonReader {
  private pos = 0;
  private line = 1;

  constructor(
    private readonly text: string,
    private readonly file: string,
  ) {}

  error(message: string, line = this.line): ConfigSyntaxError {
    return new ConfigSyntaxError(`invalid json in ${this.file}:${line}: ${message}`, { kind: 'file', file: this.file, line });
  }

  private skipSpace(): void {
    while (this.pos < this.text.length) {
      const char = this.text[this.pos]!;
      if (char === '\n') this.line++;
      else if (char !== ' ' && char !== '\t' && char !== '\r') return;
      this.pos++;
    }
  }

  private describeHere(): string {
    return this.pos >= this.text.length ? 'the end of the file' : `"${this.text[this.pos]}"`;
  }

  document(): JsonNode {
    const value = this.value();
    this.skipSpace();
    if (this.pos < this.text.length) throw this.error(`unexpected ${this.describeHere()} after the document`);
    return value;
  }

  private value(): JsonNode {
    this.skipSpace();
    const line = this.line;
    const char = this.text[this.pos];
    if (char === '{') return this.object();
    if (char === '[') return this.array();
    if (char === '"') return { kind: 'string', value: this.string(), line };
    for (const [word, node] of [
      ['true', { kind: 'boolean', value: true, line }],
      ['false', { kind: 'boolean', value: false, line }],
      ['null', { kind: 'null', line }],
    ] as const) {
      if (this.text.startsWith(word, this.pos)) {
        this.pos += word.length;
        return node;
      }
    }
    NUMBER.lastIndex = this.pos;
    const number = NUMBER.exec(this.text);
    if (number) {
      this.pos += number[0].length;
      return { kind: 'number', value: Number(number[0]), line };
    }
    throw this.error(`unexpected ${this.describeHere()}`);
  }

  private object(): JsonNode {
    const line = this.line;
    this.pos++;
    const members: Array<{ key: string; value: JsonNode; line: number }> = [];
    this.skipSpace();
    if (this.text[this.pos] === '}') {
      this.pos++;
      return { kind: 'object', members, line };
    }
    for (;;) {
      this.skipSpace();
      const keyLine = this.line;
      if (this.text[this.pos] !== '"') throw this.error(`expected a quoted member name, found ${this.describeHere()}`);
      const key = this.string();
      this.skipSpace();
      if (this.text[this.pos] !== ':') throw this.error(`expected ":" after "${key}", found ${this.describeHere()}`);
      this.pos++;
      members.push({ key, value: this.value(), line: keyLine });
      this.skipSpace();
      const next = this.text[this.pos];
      this.pos++;
      if (next === '}') return { kind: 'object', members, line };
      if (next !== ',') {
        this.pos--;
        throw this.error(`expected "," or "}", found ${this.describeHere()}`);
      }
    }
  }

  private array(): JsonNode {
    const line = this.line;
    this.pos++;
    const items: JsonNode[] = [];
    this.skipSpace();
    if (this.text[this.pos] === ']') {
      this.pos++;
      return { kind: 'array', items, line };
    }
    for (;;) {
      items.push(this.value());
      this.skipSpace();
      const next = this.text[this.pos];
      this.pos++;
      if (next === ']') return { kind: 'array', items, line };
      if (next !== ',') {
        this.pos--;
        throw this.error(`expected "," or "]", found ${this.describeHere()}`);
      }
    }
  }

  private string(): string {
    this.pos++;
    let out = '';
    for (;;) {
      const char = this.text[this.pos];
      if (char === undefined || char === '\n') throw this.error('unterminated string');
      this.pos++;
      if (char === '"') return out;
      if (char < ' ') throw this.error('a control character inside a string must be escaped');
      if (char !== '\\') {
        out += char;
        continue;
      }
      const escape = this.text[this.pos];
      this.pos++;
      if (escape === 'u') {
        const hex = this.text.slice(this.pos, this.pos + 4);
        if (!/^[0-9a-fA-F]{4}$/.test(hex)) throw this.error('\\u must be followed by four hex digits');
        out += String.fromCharCode(parseInt(hex, 16));
        this.pos += 4;
      } else if (escape !== undefined && escape in ESCAPES) out += ESCAPES[escape];
      else throw this.error(`unknown escape "\\${escape ?? ''}"`);
    }
  }
}

/** The option text of a scalar, as core/json.c converts it. */
function scalarText(reader: JsonReader, key: string, node: JsonNode): string {
  switch (node.kind) {
    case 'string':
      return node.value;
    case 'number':
      return String(node.value);
    case 'boolean':
      return node.value ? '1' : '0';
    case 'null':
      return '0';
    default:
      throw reader.error(`the value of "${key}" is ${node.kind === 'array' ? 'an array inside an array' : 'an object'}; options take strings, numbers, booleans or an array of them`, node.line);
  }
}

export function parseJsonConfig(text: string, file: string, section?: string): FileEntry[] | null {
  const reader = new JsonReader(text.replace(/^\uFEFF/, ''), file);
  const root = reader.document();
  if (root.kind !== 'object') throw reader.error('the document must be an object such as {"uwsgi": {...}}', root.line);
  const wanted = sectionsFor(section);
  const stanzas = root.members.filter((member) => wanted.includes(member.key));
  if (stanzas.length === 0) return null;
  const entries: FileEntry[] = [];
  for (const stanza of stanzas) {
    if (stanza.value.kind !== 'object') throw reader.error(`"${stanza.key}" must be an object of options`, stanza.line);
    for (const member of stanza.value.members) {
      if (member.value.kind === 'array') {
        for (const item of member.value.items) entries.push({ key: member.key, value: scalarText(reader, member.key, item), line: item.line });
      } else {
        entries.push({ key: member.key, value: scalarText(reader, member.key, member.value), line: member.line });
      }
    }
  }
  return entries;
}
