/** A complete, valid environ for driving an application directly (no server involved). */
import { BodyInput } from '../../src/gateway/input.js';
import { TSGI_VERSION, type Environ } from '../../src/gateway/types.js';

export function makeEnviron(overrides: Partial<Environ> = {}): Environ {
  return {
    REQUEST_METHOD: 'GET',
    SCRIPT_NAME: '',
    PATH_INFO: '/',
    QUERY_STRING: '',
    SERVER_NAME: 'example.org',
    SERVER_PORT: '80',
    SERVER_PROTOCOL: 'HTTP/1.1',
    REMOTE_ADDR: '127.0.0.1',
    REMOTE_PORT: '5000',
    'tsgi.version': TSGI_VERSION,
    'tsgi.url_scheme': 'http',
    'tsgi.input': BodyInput.empty(),
    'tsgi.errors': { write() {}, writelines() {}, flush() {} },
    'tsgi.multithread': true,
    'tsgi.multiprocess': false,
    'tsgi.run_once': false,
    ...overrides,
  };
}
