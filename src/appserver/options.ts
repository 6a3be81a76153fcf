/** The options of `tsgi serve`, named as uWSGI names them. The one place their defaults live. */
import type { OptionSpec } from '../cli/options.js';

/** What `--app` may hold: a TSGI app, a fetch handler, or a Node (req, res) handler. */
export const APP_KINDS = ['tsgi', 'fetch', 'node'] as const;
export type AppKind = (typeof APP_KINDS)[number];

export const SERVE_OPTIONS = [
  {
    name: 'http-socket',
    type: 'string',
    repeatable: true,
    metavar: 'ADDR',
    help: 'accept HTTP/1.1 on ADDR (host:port, :port or a UNIX socket path); the app server speaks HTTP itself',
  },
  { name: 'app', type: 'string', metavar: 'FILE[:EXPORT]', help: 'the application module (.ts, .mts, .js, .mjs); export default, app or application unless named' },
  { name: 'app-kind', type: 'string', choices: APP_KINDS, metavar: 'KIND', help: 'the kind of application, instead of detecting it' },
  { name: 'listen', short: 'l', type: 'number', default: 100, metavar: 'N', help: 'listen queue size of each socket' },
  { name: 'http-keepalive', type: 'number', default: 75, metavar: 'SECONDS', help: 'close keep-alive connections idle this long' },
  { name: 'help', short: 'h', type: 'boolean', help: 'show this help and exit' },
] as const satisfies readonly OptionSpec[];
