// The app of app-http-hello: the smallest TSGI application, the same status, headers and body as
// bench/apps/hello-node.mjs, so the two sides differ only in the server.
import type { App } from '../../src/gateway/types.js';

const app: App = (_environ, startResponse) => {
  startResponse('200 OK', [
    ['Content-Type', 'text/plain'],
    ['Content-Length', '12'],
  ]);
  return ['Hello world\n'];
};

export default app;
