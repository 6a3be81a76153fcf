/**
 * `fastcgi_pass` (ngx_http_fastcgi_module): the request as FastCGI PARAMS (`fastcgi_param`s,
 * then the request headers as HTTP_*) and STDIN records. `fastcgi_split_path_info` and
 * `fastcgi_index` act through `$fastcgi_script_name` / `$fastcgi_path_info` (src/web/variables.ts),
 * which the params use (`fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name`).
 *
 * Connections are kept only with `fastcgi_keep_conn on` and `keepalive N` in the upstream block,
 * as nginx: keep_conn alone sets FCGI_KEEP_CONN but the connection still closes after the
 * request, since nginx's keepalive module is what caches it.
 */
import type { FastcgiSettings, UpstreamConf } from '../config/index.js';
import { FastcgiClient } from '../../upstream/index.js';
import { buildCgiVars } from './cgi-params.js';
import { CgiPassClient, clientTimeouts } from './cgi-client.js';
import type { PassModule } from './module.js';

function keepsConnections(settings: FastcgiSettings, group: UpstreamConf): boolean {
  return settings.keepConn && group.keepalive !== null;
}

export const fastcgiModule: PassModule<FastcgiSettings> = {
  name: 'fastcgi',
  settings: (loc) => loc.fastcgi,
  prepare(ctx, settings) {
    return { kind: 'cgi', vars: buildCgiVars(ctx, { params: settings.params, passRequestHeaders: settings.passRequestHeaders, mergeRepeatedHeaders: false }) };
  },
  createClient(peer, settings, group, log) {
    const keepConn = keepsConnections(settings, group);
    return new CgiPassClient(
      new FastcgiClient({
        address: peer.address.text,
        ...clientTimeouts(settings),
        maxHeadSize: settings.bufferSize,
        log,
        keepConn,
        pool: keepConn ? { maxIdle: group.keepalive ?? 1, idleTimeout: group.keepaliveTimeoutMs } : undefined,
      }),
    );
  },
  clientVariant: (settings, group) =>
    `${settings.connectTimeoutMs}/${settings.sendTimeoutMs}/${settings.readTimeoutMs}/${settings.bufferSize}/${keepsConnections(settings, group) ? 'keep' : 'close'}`,
  hiddenHeaders: ['status', 'x-accel-expires', 'x-accel-redirect', 'x-accel-limit-rate', 'x-accel-buffering', 'x-accel-charset'],
};
