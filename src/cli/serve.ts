/** `tsgi serve`: the application server (the uWSGI role). */
import { serve } from '../appserver/serve.js';
import { SERVE_OPTIONS } from '../appserver/options.js';
import { loadApp, type AppKind } from '../appserver/load-app.js';
import { Logger } from '../appserver/log.js';
import { parseAddress } from '../appserver/address.js';
import { formatHelp, parseOptions, UsageError } from './options.js';

const USAGE = 'Usage: tsgi serve --http-socket ADDR --app FILE[:EXPORT] [options]';

export async function runServe(argv: readonly string[]): Promise<number> {
  const options = parseOptions(SERVE_OPTIONS, argv);
  if (options.flag('help')) {
    process.stdout.write(formatHelp(USAGE, SERVE_OPTIONS));
    return 0;
  }
  if (options.positionals.length > 0) throw new UsageError(`unexpected argument "${options.positionals[0]}"`);
  const appSpec = options.string('app');
  if (!appSpec) throw new UsageError('no application given: use --app FILE[:EXPORT]');
  const sockets = options.list('http-socket');
  if (sockets.length === 0) throw new UsageError('no socket to serve on: use --http-socket ADDR');

  for (const socket of sockets) parseAddress(socket); // a typo in an address fails before the app loads
  const log = new Logger();
  const loaded = await loadApp(appSpec, options.string('app-kind') as AppKind | undefined);
  const server = await serve(loaded.app, {
    http: sockets,
    log,
    backlog: options.number('listen'),
    keepAliveTimeout: options.number('http-keepalive'),
  });
  for (const address of server.addresses) {
    const where = 'path' in address ? address.path : `http://${address.host}:${address.port}/`;
    log.info(`serving ${appSpec} (${loaded.kind} app) on ${where}`);
  }
  await new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals): void => {
      log.info(`${signal} received, finishing in-flight requests`);
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      void server.close().then(resolve);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  return 0;
}
