/**
 * The pluggable parts of the request pipeline for one configuration generation (WebModules in
 * request-context.ts), made in every worker when it starts: the one place where modules are
 * wired in, in nginx's order.
 *
 *   variables     src/web/variables.ts
 *   error log     src/web/log (the main context's targets, or `-e` when it names none)
 *   access log    src/web/log
 *   PREACCESS     limit_req, then limit_conn (nginx runs a phase's handlers last-registered first)
 *   filters       gzip (after add_header/expires, before the range headers)
 *   content       stub_status, then the *_pass handler (src/web/upstream/pass.ts) for the
 *                 modules in PASS_MODULES, over the generation's upstream groups
 *
 * Extra handlers and filters (tests, an embedding program) run before the built-in ones.
 */
import type { ErrorLogEntry, NginxConfig } from '../config/index.js';
import type { ContentHandler, ErrorLog, ModuleEnv, PhaseHandler, ResponseFilter, WebModules, WorkerInfo } from '../request-context.js';
import { createVariableEngine } from '../variables.js';
import { createAccessLog, createErrorLog } from '../log/index.js';
import { createLimitConn, createLimitReq } from '../limits/index.js';
import { createGzip } from '../gzip/index.js';
import { createStubStatus } from '../stub-status.js';
import { createPassHandler } from '../upstream/pass.js';
import { createUpstreamGroups } from '../upstream/balancer/index.js';
import type { PassModule } from '../upstream/module.js';
import { proxyModule } from '../upstream/proxy-module.js';
import { uwsgiModule } from '../upstream/uwsgi-module.js';
import { fastcgiModule } from '../upstream/fastcgi-module.js';
import { scgiModule } from '../upstream/scgi-module.js';

/** The `*_pass` modules, in the order a location's settings are asked (nginx allows one per
 *  location). */
const PASS_MODULES: readonly PassModule[] = [proxyModule, uwsgiModule, fastcgiModule, scgiModule];

export interface ModuleOptions {
  readonly worker: WorkerInfo;
  /** The main context's error logs in force (`errorLogEntries` applies `-e`); default: the configuration's. */
  readonly errorLogEntries?: readonly ErrorLogEntry[];
  readonly content?: readonly ContentHandler[];
  readonly preaccess?: readonly PhaseHandler[];
  readonly filters?: readonly ResponseFilter[];
}

/** The configuration with its main `error_log` replaced (by `-e`, when the file names none). */
export function withMainErrorLog(config: NginxConfig, entries: readonly ErrorLogEntry[] | undefined): NginxConfig {
  if (entries === undefined) return config;
  return { ...config, main: { ...config.main, errorLog: entries } };
}

/** The error log of a configuration (master and workers alike). Throws LogOpenError. */
export function openErrorLog(config: NginxConfig, entries?: readonly ErrorLogEntry[]): ErrorLog {
  return createErrorLog(withMainErrorLog(config, entries));
}

export function createWebModules(config: NginxConfig, options: ModuleOptions): WebModules {
  const errorLog = openErrorLog(config, options.errorLogEntries);
  const variables = createVariableEngine(config);
  const env: ModuleEnv = { variables, errorLog, worker: options.worker };
  const accessLog = createAccessLog(config, env);
  const pass = createPassHandler(config, env, {
    modules: PASS_MODULES,
    groups: createUpstreamGroups(config, {
      onDisabled: (_group, peer) => errorLog.log('warn', `upstream server temporarily disabled while connecting to upstream, upstream: "${peer.name}"`),
    }),
  });
  return {
    variables,
    errorLog,
    accessLog,
    preaccess: [...(options.preaccess ?? []), createLimitReq(config, env), createLimitConn(config, env)],
    filters: [...(options.filters ?? []), createGzip(config, env)],
    content: [...(options.content ?? []), createStubStatus(config, env), pass],
    close: async () => {
      await pass.close();
      await accessLog.close();
      errorLog.close();
    },
  };
}
