/**
 * The environ of a request that arrived as CGI variables (uwsgi, FastCGI, SCGI): the one place
 * where what a front server sends becomes what docs/tsgi.md promises. nginx's `uwsgi_params`,
 * `fastcgi_params` and `scgi_params` differ (only uwsgi_params sends PATH_INFO; fastcgi_params
 * sends SCRIPT_NAME as the script path), so gaps are filled here the way uWSGI fills them.
 */
import type { Environ, ErrorStream } from '../gateway/types.js';
import { TSGI_VERSION } from '../gateway/types.js';
import { decodePath, joinRepeatedHeader, splitTarget } from '../gateway/environ.js';
import type { BodyInput } from '../gateway/input.js';

export interface CgiEnvironContext {
  errors: ErrorStream;
  multiprocess: boolean;
  /** Used when the front server sends no SERVER_NAME / SERVER_PORT. */
  serverName: string;
  serverPort: string;
}

export interface CgiEnvironOptions {
  /** uwsgi modifier1 30 (and uWSGI's manage-script-name): remove SCRIPT_NAME from the front of PATH_INFO. */
  stripScriptName?: boolean;
}

/** Keys a TSGI environ must hold as strings, with the value used when the front server omits them. */
const REQUIRED_DEFAULTS = ['REQUEST_METHOD', 'QUERY_STRING', 'SERVER_PROTOCOL', 'REMOTE_ADDR', 'REMOTE_PORT'] as const;
const DEFAULT_VALUES: Record<(typeof REQUIRED_DEFAULTS)[number], string> = {
  REQUEST_METHOD: 'GET',
  QUERY_STRING: '',
  SERVER_PROTOCOL: 'HTTP/1.1',
  REMOTE_ADDR: '',
  REMOTE_PORT: '',
};

/** True when `prefix` is a path prefix of `path` ending at a segment boundary. */
function isMountPrefix(prefix: string, path: string): boolean {
  return prefix.length > 0 && path.startsWith(prefix) && (path.length === prefix.length || path.charCodeAt(prefix.length) === 0x2f);
}

/**
 * `vars` is the flat `[name, value, name, value...]` list a codec decoded. A repeated request header
 * (nginx before 1.23 sends `X-A: 1` and `X-A: 2` as two HTTP_X_A vars) is joined as nginx 1.23+
 * and HTTP do (`, `; `; ` for Cookie); any other repeated var keeps its last value (a `uwsgi_param`
 * set twice sends both, and the last is what uWSGI's app sees).
 */
export function buildCgiEnviron(
  vars: readonly string[],
  input: BodyInput,
  context: CgiEnvironContext,
  options: CgiEnvironOptions = {},
): Environ {
  const environ: Record<string, unknown> = {};
  for (let i = 0; i + 1 < vars.length; i += 2) {
    const key = vars[i]!;
    const value = vars[i + 1]!;
    // nginx sends `CONTENT_LENGTH ""` and `CONTENT_TYPE ""` for a GET; TSGI says absent, never ''.
    // Skipped here rather than deleted afterwards: `delete` drops V8 into a slow dictionary object.
    if (value === '' && (key === 'CONTENT_LENGTH' || key === 'CONTENT_TYPE')) continue;
    const previous = environ[key];
    environ[key] = typeof previous === 'string' && key.startsWith('HTTP_') ? joinRepeatedHeader(key, previous, value) : value;
  }

  for (const key of REQUIRED_DEFAULTS) if (typeof environ[key] !== 'string') environ[key] = DEFAULT_VALUES[key];
  if (typeof environ.SERVER_NAME !== 'string' || environ.SERVER_NAME === '') environ.SERVER_NAME = context.serverName;
  if (typeof environ.SERVER_PORT !== 'string' || environ.SERVER_PORT === '') environ.SERVER_PORT = context.serverPort;

  let scriptName = typeof environ.SCRIPT_NAME === 'string' ? environ.SCRIPT_NAME : '';
  let pathInfo: string;
  if (typeof environ.PATH_INFO === 'string') {
    pathInfo = environ.PATH_INFO;
  } else {
    // No PATH_INFO (fastcgi_params, scgi_params): the path comes from DOCUMENT_URI or REQUEST_URI,
    // and SCRIPT_NAME counts as a mount point only when it is a strict prefix of that path
    // (fastcgi_params' SCRIPT_NAME is the whole script path, which is not a mount point).
    const documentUri = typeof environ.DOCUMENT_URI === 'string' ? environ.DOCUMENT_URI : null;
    const requestUri = typeof environ.REQUEST_URI === 'string' ? environ.REQUEST_URI : '/';
    const path = documentUri ?? decodePath(splitTarget(requestUri).path);
    if (isMountPrefix(scriptName, path) && scriptName.length < path.length) {
      pathInfo = path.slice(scriptName.length);
    } else {
      pathInfo = path;
      scriptName = '';
    }
  }
  if (options.stripScriptName && isMountPrefix(scriptName, pathInfo)) pathInfo = pathInfo.slice(scriptName.length);
  if (scriptName.endsWith('/')) scriptName = scriptName.replace(/\/+$/, '');
  if (scriptName === '' && pathInfo === '') pathInfo = '/';
  environ.SCRIPT_NAME = scriptName;
  environ.PATH_INFO = pathInfo;

  const https = typeof environ.HTTPS === 'string' ? environ.HTTPS.toLowerCase() : '';
  const scheme =
    typeof environ.UWSGI_SCHEME === 'string'
      ? environ.UWSGI_SCHEME
      : https === 'on' || https === '1'
        ? 'https'
        : environ.REQUEST_SCHEME === 'https'
          ? 'https'
          : 'http';

  environ['tsgi.version'] = TSGI_VERSION;
  environ['tsgi.url_scheme'] = scheme;
  environ['tsgi.input'] = input;
  environ['tsgi.errors'] = context.errors;
  environ['tsgi.multithread'] = true;
  environ['tsgi.multiprocess'] = context.multiprocess;
  environ['tsgi.run_once'] = false;
  environ['tsgi.input_terminated'] = true;
  return environ as Environ;
}
