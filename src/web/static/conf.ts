/**
 * The per-location configuration the static handler reads, as the directives resolve it after
 * nginx's inheritance (root/alias, index, autoindex*, try_files, etag, if_modified_since,
 * default_type, types, expires, max_ranges, charset, server_tokens, msie_padding).
 *
 * `createStaticConf` takes the directive values (defaults filled from STATIC_DEFAULTS, the only
 * place they are written down), checks what nginx checks when it reads them, and precompiles
 * try_files and index so that nothing is parsed per request.
 */
import { TsgiError } from '../../errors.js';
import { textToBytes } from '../match/bytes.js';
import { NGINX_DEFAULT_TYPES, type MimeTypes } from './mime.js';
import { EXPIRES_OFF } from './expires.js';
import { confinementBase } from './paths.js';
import type { AutoindexFormat, Expires, FileMapping, IfModifiedSinceMode, ServerTokens } from './types.js';

export interface StaticConfInput {
  /** Where files come from: root or alias (see FileMapping). Text from the config file. */
  readonly files: FileMapping;
  /** `index` (default: index.html). */
  readonly index?: readonly string[];
  readonly autoindex?: boolean;
  readonly autoindexFormat?: AutoindexFormat;
  readonly autoindexExactSize?: boolean;
  readonly autoindexLocaltime?: boolean;
  /** `try_files` arguments, or null (default) for none. */
  readonly tryFiles?: readonly string[] | null;
  readonly etag?: boolean;
  readonly ifModifiedSince?: IfModifiedSinceMode;
  readonly defaultType?: string;
  /** Extension → type (see mime.ts). Default: nginx's three built-in types. */
  readonly types?: MimeTypes;
  readonly expires?: Expires;
  /** `max_ranges`; null for unlimited. 0 turns ranges (and Accept-Ranges) off. */
  readonly maxRanges?: number | null;
  /** `charset`; null for off. */
  readonly charset?: string | null;
  /** Types that get "; charset=" (`charset_types`); text/html always does. */
  readonly charsetTypes?: ReadonlySet<string>;
  readonly serverTokens?: ServerTokens;
  readonly msiePadding?: boolean;
}

/** nginx's defaults, in one place. */
export const STATIC_DEFAULTS = Object.freeze({
  index: Object.freeze(['index.html']) as readonly string[],
  autoindex: false,
  autoindexFormat: 'html' as AutoindexFormat,
  autoindexExactSize: true,
  autoindexLocaltime: false,
  tryFiles: null as readonly string[] | null,
  etag: true,
  ifModifiedSince: 'exact' as IfModifiedSinceMode,
  defaultType: 'text/plain',
  types: NGINX_DEFAULT_TYPES,
  expires: EXPIRES_OFF,
  maxRanges: null as number | null,
  charset: null as string | null,
  /** ngx_http_charset_default_types, plus text/html, which nginx always adds. */
  charsetTypes: new Set([
    'text/html',
    'text/xml',
    'text/plain',
    'text/vnd.wap.wml',
    'application/javascript',
    'application/rss+xml',
  ]) as ReadonlySet<string>,
  serverTokens: 'on' as ServerTokens,
  msiePadding: true,
});

/** A try_files or index argument cut at its variables: "/p/$uri.html" is ['/p/', {uri}, '.html']. */
export type TemplatePart = string | { readonly variable: string };

/** One compiled try_files argument. */
export interface TryFilesEntry {
  /** The argument as a byte string, without the trailing '/' of a directory test. */
  readonly template: string;
  readonly hasVariables: boolean;
  readonly parts: readonly TemplatePart[];
  /** "$uri/": only a directory satisfies it. */
  readonly testDir: boolean;
}

/** try_files: the candidates, then what to do when none exists. */
export interface TryFiles {
  readonly candidates: readonly TryFilesEntry[];
  /** `=404`: finish with this status; else internal redirect to (or named location of) `fallback`. */
  readonly code: number | null;
  readonly fallback: TryFilesEntry | null;
}

export interface IndexEntry {
  readonly name: string;
  readonly hasVariables: boolean;
  readonly parts: readonly TemplatePart[];
}

/** The compiled, frozen configuration serveStatic takes. */
export interface StaticConf {
  /** Byte strings; a root's trailing '/' removed as nginx does. */
  readonly files: FileMapping;
  /** Paths may not resolve outside this directory (see paths.ts). */
  readonly confinedTo: string;
  readonly index: readonly IndexEntry[];
  readonly autoindex: boolean;
  readonly autoindexFormat: AutoindexFormat;
  readonly autoindexExactSize: boolean;
  readonly autoindexLocaltime: boolean;
  readonly tryFiles: TryFiles | null;
  readonly etag: boolean;
  readonly ifModifiedSince: IfModifiedSinceMode;
  readonly defaultType: string;
  readonly types: MimeTypes;
  readonly expires: Expires;
  readonly maxRanges: number | null;
  readonly charset: string | null;
  readonly charsetTypes: ReadonlySet<string>;
  readonly serverTokens: ServerTokens;
  readonly msiePadding: boolean;
}

/** A configuration nginx would refuse, with nginx's message. */
export class StaticConfError extends TsgiError {
  constructor(message: string) {
    super('ERR_STATIC_CONF', message);
  }
}

const SLASH = 0x2f;
const MAX_TRY_FILES_CODE = 999;

export function createStaticConf(input: StaticConfInput): StaticConf {
  const d = STATIC_DEFAULTS;
  const files = compileMapping(input.files);
  const maxRanges = input.maxRanges === undefined ? d.maxRanges : input.maxRanges;
  if (maxRanges !== null && (!Number.isInteger(maxRanges) || maxRanges < 0)) {
    throw new StaticConfError('invalid value in "max_ranges" directive');
  }
  return Object.freeze({
    files,
    confinedTo: confinementBase(files),
    index: compileIndex(input.index ?? d.index),
    autoindex: input.autoindex ?? d.autoindex,
    autoindexFormat: input.autoindexFormat ?? d.autoindexFormat,
    autoindexExactSize: input.autoindexExactSize ?? d.autoindexExactSize,
    autoindexLocaltime: input.autoindexLocaltime ?? d.autoindexLocaltime,
    tryFiles: compileTryFiles(input.tryFiles === undefined ? d.tryFiles : input.tryFiles),
    etag: input.etag ?? d.etag,
    ifModifiedSince: input.ifModifiedSince ?? d.ifModifiedSince,
    defaultType: input.defaultType ?? d.defaultType,
    types: input.types ?? d.types,
    expires: input.expires ?? d.expires,
    maxRanges,
    charset: input.charset === undefined ? d.charset : input.charset,
    charsetTypes: input.charsetTypes ?? d.charsetTypes,
    serverTokens: input.serverTokens ?? d.serverTokens,
    msiePadding: input.msiePadding ?? d.msiePadding,
  });
}

function compileMapping(files: FileMapping): FileMapping {
  switch (files.kind) {
    case 'root': {
      // ngx_http_core_root drops one trailing slash of a root ("root /srv/www/;" is /srv/www).
      let root = textToBytes(files.root);
      if (root.length > 0 && root.charCodeAt(root.length - 1) === SLASH) root = root.slice(0, -1);
      return Object.freeze({ kind: 'root', root });
    }
    case 'alias':
      return Object.freeze({ kind: 'alias', alias: textToBytes(files.alias), location: textToBytes(files.location) });
    case 'regexAlias':
      return Object.freeze({ kind: 'regexAlias', alias: textToBytes(files.alias) });
  }
}

function compileIndex(names: readonly string[]): IndexEntry[] {
  if (names.length === 0) throw new StaticConfError('invalid number of arguments in "index" directive');
  return names.map((name) => {
    if (name.length === 0) throw new StaticConfError(`index "${name}" in "index" directive is invalid`);
    const bytes = textToBytes(name);
    return Object.freeze({ name: bytes, hasVariables: bytes.includes('$'), parts: compileTemplate(bytes) });
  });
}

function compileTryFiles(args: readonly string[] | null): TryFiles | null {
  if (args === null) return null;
  if (args.length < 2) throw new StaticConfError('invalid number of arguments in "try_files" directive');
  const candidates = args.slice(0, -1).map((arg): TryFilesEntry => {
    const bytes = textToBytes(arg);
    const testDir = bytes.length > 0 && bytes.charCodeAt(bytes.length - 1) === SLASH;
    const template = testDir ? bytes.slice(0, -1) : bytes;
    return Object.freeze({ template, hasVariables: template.includes('$'), parts: compileTemplate(template), testDir });
  });
  const last = textToBytes(args[args.length - 1]!);
  let code: number | null = null;
  let fallback: TryFilesEntry | null = null;
  if (last.startsWith('=')) {
    code = /^\d+$/.test(last.slice(1)) ? Number(last.slice(1)) : Number.NaN;
    if (!Number.isInteger(code) || code > MAX_TRY_FILES_CODE) throw new StaticConfError(`invalid code "${last}"`);
  } else {
    fallback = Object.freeze({ template: last, hasVariables: last.includes('$'), parts: compileTemplate(last), testDir: false });
  }
  return Object.freeze({ candidates: Object.freeze(candidates), code, fallback });
}

/** Cuts a template at its variables ($name or ${name}, names of letters, digits and '_'). */
export function compileTemplate(template: string): readonly TemplatePart[] {
  const parts: TemplatePart[] = [];
  let last = 0;
  for (const match of template.matchAll(/\$(?:\{(\w+)\}|(\w+))/g)) {
    if (match.index > last) parts.push(template.slice(last, match.index));
    parts.push(Object.freeze({ variable: match[1] ?? match[2]! }));
    last = match.index + match[0].length;
  }
  if (last < template.length) parts.push(template.slice(last));
  return Object.freeze(parts);
}
