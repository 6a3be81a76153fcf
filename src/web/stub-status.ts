/**
 * `stub_status` (ngx_http_stub_status_module.c, nginx 1.22): the basic counters as text/plain,
 * byte for byte as nginx writes them (each number line ends with a space before the newline):
 *
 *     Active connections: 2 \n
 *     server accepts handled requests\n
 *      17 17 42 \n
 *     Reading: 0 Writing: 1 Waiting: 1 \n
 *
 * The counters are the server's (`ServerCounters` in request-context.ts, summed over the workers
 * by `WorkerInfo.collectCounters()`, as nginx's live in shared memory). Only GET and HEAD are
 * answered (405 otherwise); HEAD gets the headers with the Content-Length of the text.
 */
import type { LocationConf, NginxConfig, PerLocation } from './config/index.js';
import type { ContentHandler, ContentResult, ModuleEnv, RequestContext, ServerCounters } from './request-context.js';

/** The counters stub_status shows. */
export type StubStatusCounters = Pick<ServerCounters, 'active' | 'accepts' | 'handled' | 'requests' | 'reading' | 'writing' | 'waiting'>;

/** nginx's exact stub_status body. */
export function stubStatusText(c: StubStatusCounters): string {
  return (
    `Active connections: ${c.active} \n` +
    'server accepts handled requests\n' +
    ` ${c.accepts} ${c.handled} ${c.requests} \n` +
    `Reading: ${c.reading} Writing: ${c.writing} Waiting: ${c.waiting} \n`
  );
}

/** The content handler of locations with `stub_status`. */
export class StubStatusHandler implements ContentHandler {
  readonly name = 'stub_status';

  claims(_location: LocationConf | null, loc: PerLocation): boolean {
    return loc.settings.stubStatus;
  }

  async handle(ctx: RequestContext): Promise<ContentResult> {
    const method = ctx.method;
    if (method !== 'GET' && method !== 'HEAD') return { kind: 'status', status: 405 };
    await ctx.body.discard();
    const text = Buffer.from(stubStatusText(await ctx.worker.collectCounters()), 'latin1');
    return {
      kind: 'response',
      response: {
        status: 200,
        headers: [
          ['Content-Type', 'text/plain'],
          ['Content-Length', String(text.length)],
        ],
        body: method === 'HEAD' ? { kind: 'none' } : { kind: 'buffer', data: text },
      },
    };
  }
}

/** The stub_status content handler of a configuration generation. */
export function createStubStatus(_config: NginxConfig, _env: ModuleEnv): StubStatusHandler {
  return new StubStatusHandler();
}
