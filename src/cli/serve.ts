/** `tsgi serve`: the application server (the uWSGI role). */
import { serve } from '../appserver/serve.js';
import { SERVE_OPTIONS } from '../appserver/options.js';
import { loadApp, type AppKind } from '../appserver/load-app.js';
import { Logger } from '../appserver/log.js';
import { parseAddress } from '../appserver/address.js';
import { loadServeOptions } from '../appserver/config/load.js';
import { COMMAND_LINE, formatHelp, UsageError, whereFrom, type ParsedOptions } from './options.js';
import { formatBound, type SocketProtocol, type SocketSpec } from '../appserver/sockets.js';
import { UWSGI_MAX_BLOCK_SIZE } from '../protocols/uwsgi.js';

const USAGE = 'Usage: tsgi serve --http-socket ADDR --app FILE[:EXPORT] [options]';

/** Every socket option, in the order the table lists them. */
function socketSpecs(options: ParsedOptions): SocketSpec[] {
  const byOption: Array<[string, SocketProtocol]> = [
    ['http-socket', 'http'],
    ['socket', 'uwsgi'],
    ['fastcgi-socket', 'fastcgi'],
    ['scgi-socket', 'scgi'],
  ];
  return byOption.flatMap(([name, protocol]) => options.list(name).map((address) => ({ protocol, address })));
}

export async function runServe(argv: readonly string[]): Promise<number> {
  const options = loadServeOptions(argv, process.env, process.cwd());
  if (options.flag('help')) {
    process.stdout.write(formatHelp(USAGE, SERVE_OPTIONS));
    return 0;
  }
  if (options.positionals.length > 0) throw new UsageError(`unexpected argument "${options.positionals[0]}"`);
  const appSpec = options.string('app');
  if (!appSpec) throw new UsageError('no application given: use --app FILE[:EXPORT]');
  const sockets = socketSpecs(options);
  if (sockets.length === 0) {
    throw new UsageError('no socket to serve on: use --http-socket, --socket, --fastcgi-socket or --scgi-socket ADDR');
  }
  for (const socket of sockets) parseAddress(socket.address); // a typo in an address fails before the app loads
  const bufferSize = options.number('buffer-size')!;
  if (!Number.isInteger(bufferSize) || bufferSize < 1 || bufferSize > UWSGI_MAX_BLOCK_SIZE) {
    throw new UsageError(`option --buffer-size expects 1 to ${UWSGI_MAX_BLOCK_SIZE}, got ${bufferSize}${whereFrom(options.source('buffer-size') ?? COMMAND_LINE)}`);
  }
  const chmod = options.string('chmod-socket');
  if (chmod !== undefined && !/^[0-7]{3,4}$/.test(chmod)) {
    throw new UsageError(`option --chmod-socket expects an octal mode like 660, got "${chmod}"${whereFrom(options.source('chmod-socket') ?? COMMAND_LINE)}`);
  }

  const log = new Logger();
  for (const { spec, sources } of options.ignored()) {
    log.info(`option "${spec.name}"${whereFrom(sources[0] ?? COMMAND_LINE)} is accepted and ignored: ${spec.ignoredReason}`);
  }
  const loaded = await loadApp(appSpec, options.string('app-kind') as AppKind | undefined);
  const server = await serve(loaded.app, {
    sockets,
    log,
    backlog: options.number('listen'),
    keepAliveTimeout: options.number('http-keepalive'),
    bufferSize,
    chmodSocket: chmod === undefined ? undefined : Number.parseInt(chmod, 8),
  });
  server.addresses.forEach((address, i) => {
    log.info(`serving ${appSpec} (${loaded.kind} app) on ${formatBound(address, sockets[i]!.protocol)}`);
  });
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
