/**
 * The nginx.conf grammar: tokens in, a tree of directives out, with `include` files read in place.
 *
 *     directive := word+ ";" | word+ "{" directive* "}"
 *
 * A file must close every block it opens (nginx reads each included file on its own), and `-g`
 * text may not open blocks at all.
 *
 * Error order. nginx reads and applies directives in one pass, so when a file has both a bad value
 * on line 3 and a stray `}` on line 9, it reports line 3. To keep that order while still building a
 * tree first, a syntax error does not throw here: it is attached to the tree where reading stopped
 * (`ConfigFile.error`, `Directive.blockError`, `Directive.includeError`) and the evaluator throws
 * it when it gets there, after the directives before it were applied.
 *
 * Includes. As in nginx, a relative path is taken relative to the configuration prefix (the
 * directory of the main file); a pattern (`*`, `?`, `[`) reads every match in byte order, and no
 * match is not an error. tsgi adds one fallback: a relative, non-pattern include that does not
 * exist there is looked up in the shipped `conf/` directory, so `include mime.types;` and
 * `include uwsgi_params;` work beside any config, as they do on Debian. An include that leads back
 * to a file being read is an error (nginx overflows its stack on it).
 */
import { readFileSync, realpathSync, statSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { describeErrno, NginxConfigError, NginxConfigErrorCode, type ConfigOrigin } from './errors.js';
import { expandGlob, hasGlobMagic } from './glob.js';
import { Lexer, type SourceName, type Token } from './lexer.js';

/** One directive as written. */
export interface Directive {
  readonly name: string;
  readonly args: readonly string[];
  /** The file it was read from; null for `-g` text. */
  readonly file: string | null;
  /** The line nginx reports for it: where its `;` or `{` is. */
  readonly line: number;
  /** The line its name is on. */
  readonly startLine: number;
  /** The directives inside `{ ... }`, for a block directive. */
  readonly block?: readonly Directive[];
  /** The line of the block's closing `}` (nginx reports errors found after reading a block there). */
  readonly endLine?: number;
  /** A syntax error that stopped reading inside the block, after `block`. */
  readonly blockError?: NginxConfigError;
  /** For `include`: the files it named, in the order nginx reads them. */
  readonly included?: readonly ConfigFile[];
  /** For `include`: why the file could not be opened. */
  readonly includeError?: NginxConfigError;
}

/** One file (or the `-g` text) as read. */
export interface ConfigFile {
  /** The path as nginx prints it; null for `-g` text. */
  readonly path: string | null;
  readonly directives: readonly Directive[];
  /** A syntax or read error that stopped reading, after `directives`. */
  readonly error?: NginxConfigError;
}

export interface ParseOptions {
  /** nginx's conf prefix, ending in `/`: the directory of the main file. Relative includes resolve here. */
  readonly confPrefix: string;
  /** Directories tried in order for a relative, non-pattern include missing under `confPrefix`. */
  readonly fallbackDirs?: readonly string[];
}

/** How deep includes may nest before tsgi calls it a loop even if paths differ. */
const MAX_INCLUDE_DEPTH = 64;

interface Reading {
  readonly options: ParseOptions;
  /** Real paths of the files being read, outermost first, to find include loops. */
  readonly stack: string[];
  /** Every file read, in order (for `-T` and reload). */
  readonly files: string[];
}

interface Statements {
  directives: Directive[];
  error?: NginxConfigError;
  /** Reading stopped because of an error attached deeper in the tree. */
  aborted: boolean;
  endLine?: number;
}

function statementsOf(lexer: Lexer, source: SourceName, inBlock: boolean, reading: Reading): Statements {
  const directives: Directive[] = [];
  const origin = (line: number) => lexer.origin(line);
  const syntax = (text: string, line: number) => new NginxConfigError(NginxConfigErrorCode.Syntax, text, origin(line));
  for (;;) {
    const words: Token[] = [];
    let token: Token;
    try {
      for (token = lexer.next(); token.kind === 'word'; token = lexer.next()) words.push(token);
    } catch (error) {
      if (error instanceof NginxConfigError) return { directives, error, aborted: false };
      throw error;
    }
    const file = source.kind === 'file' ? source.file : null;
    const first = words[0];
    switch (token.kind) {
      case ';': {
        if (!first) return { directives, error: syntax('unexpected ";"', token.line), aborted: false };
        const directive: Directive = {
          name: first.value,
          args: words.slice(1).map((w) => w.value),
          file,
          line: token.line,
          startLine: first.line,
        };
        directives.push(isInclude(directive) ? include(directive, reading) : directive);
        continue;
      }
      case '{': {
        if (!first) return { directives, error: syntax('unexpected "{"', token.line), aborted: false };
        if (source.kind === 'command-line') {
          return { directives, error: syntax('block directives are not supported in -g option', token.line), aborted: false };
        }
        const inner = statementsOf(lexer, source, true, reading);
        directives.push({
          name: first.value,
          args: words.slice(1).map((w) => w.value),
          file,
          line: token.line,
          startLine: first.line,
          block: inner.directives,
          ...(inner.endLine !== undefined ? { endLine: inner.endLine } : {}),
          ...(inner.error ? { blockError: inner.error } : {}),
        });
        if (inner.error || inner.aborted) return { directives, aborted: true };
        continue;
      }
      case '}':
        if (first || !inBlock) return { directives, error: syntax('unexpected "}"', token.line), aborted: false };
        return { directives, aborted: false, endLine: token.line };
      case 'eof':
        if (first) return { directives, error: lexer.unexpectedEnd(), aborted: false };
        if (inBlock) return { directives, error: syntax('unexpected end of file, expecting "}"', token.line), aborted: false };
        return { directives, aborted: false };
    }
  }
}

function isInclude(directive: Directive): boolean {
  // Only the form nginx would accept is read here; the evaluator reports the others.
  return directive.name === 'include' && directive.args.length === 1;
}

/** nginx's ngx_get_full_name: an absolute path as is, anything else glued to the prefix. */
export function fullName(prefix: string, name: string): string {
  return isAbsolute(name) ? name : prefix + name;
}

/** Where an error about a directive is reported: its file and line, or the `-g` command line. */
function originOf(directive: Directive | null): ConfigOrigin {
  if (!directive) return { kind: 'none' };
  return directive.file === null ? { kind: 'command-line' } : { kind: 'file', file: directive.file, line: directive.line };
}

function include(directive: Directive, reading: Reading): Directive {
  const at = originOf(directive);
  const arg = directive.args[0]!;
  const full = fullName(reading.options.confPrefix, arg);
  if (hasGlobMagic(full)) {
    return { ...directive, included: expandGlob(full).map((path) => readFile(path, reading, directive)) };
  }
  let path = full;
  if (!isAbsolute(arg) && !fileExists(full)) {
    const fallback = (reading.options.fallbackDirs ?? []).map((dir) => dir + arg).find(fileExists);
    if (fallback) path = fallback;
  }
  const opened = openFile(path);
  if (opened instanceof Error) {
    const text = `open() "${path}" failed ${describeErrno(opened)}`;
    return { ...directive, includeError: new NginxConfigError(NginxConfigErrorCode.Open, text, at, { cause: opened }) };
  }
  return { ...directive, included: [readFile(path, reading, directive)] };
}

function fileExists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}

function openFile(path: string): Error | 'ok' {
  try {
    statSync(path);
    return 'ok';
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error));
  }
}

function readFile(path: string, reading: Reading, from: Directive | null): ConfigFile {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    const code = error instanceof Error && 'code' in error ? error.code : undefined;
    if (code === 'EISDIR') {
      // nginx opens a directory fine and fails on the first read, at level crit, with no position.
      const text = `pread() "${path}" failed ${describeErrno(error)}`;
      return { path, directives: [], error: new NginxConfigError(NginxConfigErrorCode.Open, text, { kind: 'none' }, { cause: error, level: 'crit' }) };
    }
    const text = `open() "${path}" failed ${describeErrno(error)}`;
    return { path, directives: [], error: new NginxConfigError(NginxConfigErrorCode.Open, text, originOf(from), { cause: error }) };
  }
  let real = path;
  try {
    real = realpathSync(path);
  } catch {
    // keep the name as given; the read above succeeded, so this only loses loop detection via links
  }
  if (reading.stack.includes(real) || reading.stack.length >= MAX_INCLUDE_DEPTH) {
    const text = `include loop: "${path}" is already being read`;
    return { path, directives: [], error: new NginxConfigError(NginxConfigErrorCode.IncludeLoop, text, originOf(from)) };
  }
  reading.files.push(path);
  reading.stack.push(real);
  try {
    const source: SourceName = { kind: 'file', file: path };
    const result = statementsOf(new Lexer(bytes, source), source, false, reading);
    return { path, directives: result.directives, ...(result.error ? { error: result.error } : {}) };
  } finally {
    reading.stack.pop();
  }
}

/** The result of reading a main file: its tree, and every file read (the main file first). */
export interface ParsedConfig {
  readonly root: ConfigFile;
  readonly files: readonly string[];
}

/** Reads a configuration file and everything it includes. Never throws a config error: see `ConfigFile.error`. */
export function parseConfigFile(path: string, options: ParseOptions): ParsedConfig {
  const reading: Reading = { options, stack: [], files: [] };
  return { root: readFile(path, reading, null), files: reading.files };
}

/**
 * Reads configuration text that is not in a file: `-g` directives (errors say ` in command line`)
 * or, with a file name, text held in memory (tests, `tsgi web` with an inline config).
 */
export function parseConfigText(text: string | Uint8Array, source: SourceName, options: ParseOptions): ParsedConfig {
  const reading: Reading = { options, stack: source.kind === 'file' ? [source.file] : [], files: source.kind === 'file' ? [source.file] : [] };
  const result = statementsOf(new Lexer(text, source), source, false, reading);
  const root: ConfigFile = {
    path: source.kind === 'file' ? source.file : null,
    directives: result.directives,
    ...(result.error ? { error: result.error } : {}),
  };
  return { root, files: reading.files };
}

/**
 * Walks a tree in nginx's reading order, includes expanded, and returns the first error nginx
 * would stop on if every directive were valid: the pure syntax check.
 */
export function firstSyntaxError(file: ConfigFile): NginxConfigError | null {
  const walk = (directives: readonly Directive[]): NginxConfigError | null => {
    for (const d of directives) {
      if (d.includeError) return d.includeError;
      for (const inc of d.included ?? []) {
        const found = walk(inc.directives) ?? inc.error ?? null;
        if (found) return found;
      }
      if (d.block) {
        const found = walk(d.block) ?? d.blockError ?? null;
        if (found) return found;
      }
    }
    return null;
  };
  return walk(file.directives) ?? file.error ?? null;
}
