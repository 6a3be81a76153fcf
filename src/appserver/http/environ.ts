import type { Socket } from 'node:net';
import type { Environ } from '../../gateway/types.js';
import { TSGI_VERSION } from '../../gateway/types.js';
import { decodePath, headerToEnvironKey, joinRepeatedHeader, splitTarget } from '../../gateway/environ.js';
import type { BodyInput } from '../../gateway/input.js';
import type { RequestHead } from '../../protocols/http1.js';
import type { ServerContext } from '../context.js';

/** The environ of one HTTP request (docs/tsgi.md, "environ Variables"). */
export function buildHttpEnviron(context: ServerContext, socket: Socket, head: RequestHead, input: BodyInput): Environ {
  const { path, query } = splitTarget(head.target);
  const environ: Environ = {
    REQUEST_METHOD: head.method,
    SCRIPT_NAME: '',
    PATH_INFO: decodePath(path),
    QUERY_STRING: query,
    REQUEST_URI: head.target,
    SERVER_NAME: context.serverName,
    SERVER_PORT: context.serverPort,
    SERVER_PROTOCOL: head.versionMinor === 1 ? 'HTTP/1.1' : 'HTTP/1.0',
    REMOTE_ADDR: socket.remoteAddress ?? '',
    REMOTE_PORT: String(socket.remotePort ?? ''),
    'tsgi.version': TSGI_VERSION,
    'tsgi.url_scheme': 'http',
    'tsgi.input': input,
    'tsgi.errors': context.errors,
    'tsgi.multithread': true,
    'tsgi.multiprocess': context.multiprocess,
    'tsgi.run_once': false,
    // uWSGI's wsgi.input_terminated: reads end at the end of the body even without CONTENT_LENGTH (chunked).
    'tsgi.input_terminated': true,
  };
  const headers = head.headers;
  for (let i = 0; i < headers.length; i += 2) {
    const key = headerToEnvironKey(headers[i]!);
    const value = headers[i + 1]!;
    const previous = environ[key];
    environ[key] = typeof previous === 'string' ? joinRepeatedHeader(key, previous, value) : value;
  }
  return environ;
}
