/**
 * The application behind the three app servers of examples/stack (the seeds' Flask app's role).
 * Each `tsgi serve` runs it with `--env TSGI_STACK_INSTANCE=app-N` and `--env
 * TSGI_STACK_SOCKET=127.0.0.1:808N`, so the page can say which instance answered: the address
 * nginx's uwsgi_params put in the environ (SERVER_PORT) is the web server's, not the app server's.
 *
 * The instance is also in the `X-App-Instance` header, for `curl -i` and the tests.
 */
import type { App, Environ } from '../../src/gateway/types.js';

const instance = process.env.TSGI_STACK_INSTANCE ?? 'app (not started by examples/stack/start.ts)';
const socket = process.env.TSGI_STACK_SOCKET ?? 'unknown';
/** Per worker process: with several workers per app server each counts its own. */
let served = 0;

/** The environ keys worth showing: the ones uwsgi_params sets and the app routes on. */
const SHOWN = [
  'REQUEST_METHOD',
  'REQUEST_URI',
  'SCRIPT_NAME',
  'PATH_INFO',
  'QUERY_STRING',
  'SERVER_PROTOCOL',
  'SERVER_NAME',
  'SERVER_PORT',
  'REMOTE_ADDR',
  'HTTP_HOST',
] as const;

const app: App = (environ, startResponse) => {
  served += 1;
  const body = page(environ);
  startResponse('200 OK', [
    ['Content-Type', 'text/html; charset=utf-8'],
    ['Content-Length', String(Buffer.byteLength(body))],
    ['X-App-Instance', instance],
    // Every reload must show the balancer at work, never a cached copy.
    ['Cache-Control', 'no-store'],
  ]);
  return [body];
};

function page(environ: Environ): string {
  const rows = SHOWN.map((key) => `      <tr><th>${key}</th><td><code>${escape(String(environ[key] ?? ''))}</code></td></tr>`);
  return `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>tsgi stack: ${escape(instance)}</title>
  <link rel="stylesheet" href="/style.css">
</head>
<body>
  <header>
    <img src="/logo.png" width="64" height="64" alt="tsgi logo">
    <h1>Answered by <code id="instance">${escape(instance)}</code></h1>
  </header>
  <main>
    <p>This page came from the application, through <code>tsgi serve</code> on
       <code id="socket">uwsgi://${escape(socket)}</code> (worker pid <code id="pid">${process.pid}</code>,
       request <span id="served">${served}</span> of this worker). <code>tsgi web</code> passed the request
       over the uwsgi protocol and chose the app server round-robin: reload to see the next one.
       Its stylesheet and image are static files that <code>tsgi web</code> served itself.</p>
    <table>
${rows.join('\n')}
    </table>
    <p><a href="/">The static site</a></p>
  </main>
</body>
</html>
`;
}

function escape(text: string): string {
  return text.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

export default app;
