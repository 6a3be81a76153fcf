/**
 * Serving files and shaping responses: ngx_http_index_module, ngx_http_autoindex_module,
 * ngx_http_gzip_filter_module, ngx_http_gzip_static_module, ngx_http_headers_filter_module
 * (`expires`, `add_header`, `add_trailer`), ngx_http_charset_module.
 */
import type { Directive } from '../parser.js';
import { NginxConfigErrorCode } from '../errors.js';
import type { ExpiresSetting, HeaderEntry } from '../types.js';
import {
  Context,
  FLAG,
  HTTP_SRV_LOC,
  ONE_OR_MORE,
  TAKE1,
  TAKE12,
  TAKE2,
  TAKE23,
  custom,
  fieldOf,
  slot,
  type DirectiveContext,
  type DirectiveSpec,
} from './spec.js';
import { arg, parseTime, setBufs, setEnum, setFlag, setNumBetween, setSize, setTypes } from './setters.js';

/** `ngx_http_index_set_index`: directives add to the list; only the last may be absolute. */
function addIndex(d: Directive, cx: DirectiveContext, previous: readonly string[] | undefined): string[] {
  const list = [...(previous ?? [])];
  d.args.forEach((value, i) => {
    if (value.startsWith('/') && i !== d.args.length - 1) cx.warn(d, 'only the last index in "index" directive should be absolute');
    // nginx names the first argument here, whichever one is empty.
    if (value.length === 0) throw cx.error(d, `index "${d.args[0]}" in "index" directive is invalid`);
    cx.useVariables(d, value);
    list.push(value);
  });
  return list;
}

/** A power of two between `low` and `high` bytes (the gzip window and hash post handlers). */
function setPowerOfTwo(low: number, high: number, message: string) {
  return (d: Directive, cx: DirectiveContext): number => {
    const size = setSize(d, cx);
    for (let candidate = high; candidate >= low; candidate /= 2) if (candidate === size) return size;
    throw cx.directiveError(d, message);
  };
}

/** `ngx_http_headers_expires` + `ngx_http_parse_expires`. */
function applyExpires(d: Directive, cx: DirectiveContext): void {
  const raw = cx.raw('loc');
  if (raw.expires !== undefined) throw cx.directiveError(d, 'is duplicate', NginxConfigErrorCode.Duplicate);
  let modified = false;
  let value = arg(d, 0);
  if (d.args.length === 2) {
    if (value !== 'modified') throw cx.directiveError(d, 'invalid value');
    modified = true;
    value = arg(d, 1);
  }
  if (value.includes('$')) {
    cx.useVariables(d, value);
    raw.expires = { mode: 'variable', template: value };
    return;
  }
  if (!modified) {
    if (value === 'epoch' || value === 'max' || value === 'off') {
      raw.expires = { mode: value };
      return;
    }
  }
  let daily = false;
  let minus = false;
  if (value.startsWith('@')) {
    if (modified) throw cx.directiveError(d, 'daily time cannot be used with "modified" parameter');
    daily = true;
    value = value.slice(1);
  } else if (value.startsWith('+')) {
    value = value.slice(1);
  } else if (value.startsWith('-')) {
    value = value.slice(1);
    minus = true;
  }
  const seconds = parseTime(value, true);
  if (seconds === null) throw cx.directiveError(d, 'invalid value');
  if (daily) {
    if (seconds > 24 * 60 * 60) throw cx.directiveError(d, 'daily time value must be less than 24 hours');
    raw.expires = { mode: 'daily', secondsOfDay: seconds };
    return;
  }
  const setting: ExpiresSetting = { mode: modified ? 'modified' : 'access', seconds: minus ? -seconds : seconds };
  raw.expires = setting;
}

/** `ngx_http_headers_add`: `NAME VALUE [always]`; each directive adds one. */
function addHeader(d: Directive, cx: DirectiveContext, previous: readonly HeaderEntry[] | undefined): HeaderEntry[] {
  const [name, value, flag] = [arg(d, 0), arg(d, 1), d.args[2]];
  if (flag !== undefined && flag !== 'always') throw cx.error(d, `invalid parameter "${flag}"`);
  cx.useVariables(d, value);
  return [...(previous ?? []), { name, value, always: flag === 'always' }];
}

/** `ngx_http_set_charset_slot`: `off` turns the conversion off (null). */
function setCharset(d: Directive, cx: DirectiveContext): string | null {
  const value = arg(d);
  if (value === 'off' && d.name === 'charset') return null;
  cx.useVariables(d, value);
  return value;
}

export const STATIC_DIRECTIVES: readonly DirectiveSpec[] = [
  slot('index', HTTP_SRV_LOC, ONE_OR_MORE, 'loc', 'index', addIndex, {
    default: ['index.html'],
    accumulate: true,
    help: 'files tried for a URI ending in /',
  }),
  slot('autoindex', HTTP_SRV_LOC, FLAG, 'loc', 'autoindex', setFlag, { default: false, help: 'list directories without an index file' }),
  slot('autoindex_exact_size', HTTP_SRV_LOC, FLAG, 'loc', 'autoindexExactSize', setFlag, { default: true, help: 'exact sizes in listings' }),
  slot('autoindex_format', HTTP_SRV_LOC, TAKE1, 'loc', 'autoindexFormat', setEnum(['html', 'xml', 'json', 'jsonp']), {
    default: 'html',
    help: 'listing format',
  }),
  slot('autoindex_localtime', HTTP_SRV_LOC, FLAG, 'loc', 'autoindexLocaltime', setFlag, { default: false, help: 'local time in listings' }),
  slot('gzip', HTTP_SRV_LOC | Context.LocationIf, FLAG, 'loc', 'gzip', setFlag, { default: false, help: 'compress responses' }),
  slot('gzip_buffers', HTTP_SRV_LOC, TAKE2, 'loc', 'gzipBuffers', setBufs, { default: { number: 32, size: 4096 }, help: 'compression buffers' }),
  slot('gzip_types', HTTP_SRV_LOC, ONE_OR_MORE, 'loc', 'gzipTypes', setTypes('text/html'), {
    default: ['text/html'],
    accumulate: true,
    help: 'MIME types compressed besides text/html (* for all)',
  }),
  slot('gzip_comp_level', HTTP_SRV_LOC, TAKE1, 'loc', 'gzipCompLevel', setNumBetween(1, 9), { default: 1, help: 'compression level 1-9' }),
  slot(
    'gzip_window',
    HTTP_SRV_LOC,
    TAKE1,
    'loc',
    'gzipWindow',
    setPowerOfTwo(512, 32 * 1024, 'must be 512, 1k, 2k, 4k, 8k, 16k, or 32k'),
    { default: 32 * 1024, help: 'zlib window size' },
  ),
  slot(
    'gzip_hash',
    HTTP_SRV_LOC,
    TAKE1,
    'loc',
    'gzipHash',
    setPowerOfTwo(512, 128 * 1024, 'must be 512, 1k, 2k, 4k, 8k, 16k, 32k, 64k, or 128k'),
    { default: 128 * 1024, help: 'zlib hash memory' },
  ),
  slot('gzip_no_buffer', HTTP_SRV_LOC, FLAG, 'loc', 'gzipNoBuffer', setFlag, { default: false, help: 'compress without buffering' }),
  slot('gzip_min_length', HTTP_SRV_LOC, TAKE1, 'loc', 'gzipMinLength', setSize, { default: 20, help: 'smallest Content-Length compressed' }),
  slot('gzip_static', HTTP_SRV_LOC, TAKE1, 'loc', 'gzipStatic', setEnum(['off', 'on', 'always']), {
    default: 'off',
    help: 'serve FILE.gz when it exists',
  }),
  custom('expires', HTTP_SRV_LOC | Context.LocationIf, TAKE12, applyExpires, {
    help: 'Expires and Cache-Control: max-age',
    slots: [fieldOf('loc', 'expires', { mode: 'off' })],
  }),
  slot('add_header', HTTP_SRV_LOC | Context.LocationIf, TAKE23, 'loc', 'addHeaders', addHeader, {
    default: [],
    accumulate: true,
    help: 'response header (inherited only where none is set)',
  }),
  slot('add_trailer', HTTP_SRV_LOC | Context.LocationIf, TAKE23, 'loc', 'addTrailers', addHeader, {
    default: [],
    accumulate: true,
    help: 'response trailer',
  }),
  slot('charset', HTTP_SRV_LOC | Context.LocationIf, TAKE1, 'loc', 'charset', setCharset, { default: null, help: 'charset in Content-Type' }),
  slot('source_charset', HTTP_SRV_LOC | Context.LocationIf, TAKE1, 'loc', 'sourceCharset', setCharset, { default: null, help: 'charset of the responses' }),
  slot('override_charset', HTTP_SRV_LOC | Context.LocationIf, FLAG, 'loc', 'overrideCharset', setFlag, { default: false, help: 'convert proxied responses' }),
  slot(
    'charset_types',
    HTTP_SRV_LOC,
    ONE_OR_MORE,
    'loc',
    'charsetTypes',
    setTypes('text/html'),
    {
      default: ['text/html', 'text/xml', 'text/plain', 'text/vnd.wap.wml', 'application/javascript', 'application/rss+xml'],
      accumulate: true,
      help: 'MIME types the charset applies to',
    },
  ),
  custom(
    'charset_map',
    Context.Http,
    TAKE2,
    (d, cx) => cx.evaluateBlock(d, cx.context, (frame) => frame.setStatementHandler(() => undefined)),
    { block: true, help: 'a charset conversion table (accepted, not applied)' },
  ),
];
