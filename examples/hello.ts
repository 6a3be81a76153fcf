/**
 * The smallest TSGI application: `tsgi serve --http-socket 127.0.0.1:8000 --app examples/hello.ts`.
 * Compare PEP 3333's example: `def app(environ, start_response): ...; return [b"Hello"]`.
 */
import type { App } from '../src/gateway/types.js';

const hello: App = (environ, startResponse) => {
  const name = new URLSearchParams(environ.QUERY_STRING).get('name') ?? 'world';
  const body = `Hello, ${name}! You asked for ${environ.PATH_INFO || '/'} with ${environ.REQUEST_METHOD}.\n`;
  startResponse('200 OK', [
    ['Content-Type', 'text/plain; charset=utf-8'],
    ['Content-Length', String(Buffer.byteLength(body))],
  ]);
  return [body];
};

export default hello;
