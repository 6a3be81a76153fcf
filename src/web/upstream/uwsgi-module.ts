/**
 * `uwsgi_pass` (ngx_http_uwsgi_module): the request as a uwsgi packet, `uwsgi_param`s then the
 * request headers as HTTP_*, with `uwsgi_modifier1` in the packet head. One connection per
 * request: a uwsgi response ends with the close, so nginx never keeps one (not even with
 * `keepalive` in the upstream block).
 *
 * tsgi differs there: with `keepalive N` in the upstream block, the packet asks the peer to keep
 * the connection (tsgi's extension, docs/protocols.md "Kept uwsgi connections"). tsgi serve
 * agrees and the connection carries the next request; real uWSGI ignores the question and
 * closes, which is today's behaviour. Without `keepalive`, the packet is nginx's byte for byte.
 */
import type { UpstreamConf, UwsgiSettings } from '../config/index.js';
import { UwsgiClient } from '../../upstream/index.js';
import { buildCgiVars } from './cgi-params.js';
import { CgiPassClient, clientTimeouts } from './cgi-client.js';
import type { PassModule } from './module.js';

function keepsConnections(group: UpstreamConf): boolean {
  return group.keepalive !== null;
}

export const uwsgiModule: PassModule<UwsgiSettings> = {
  name: 'uwsgi',
  settings: (loc) => loc.uwsgi,
  prepare(ctx, settings) {
    const vars = buildCgiVars(ctx, { params: settings.params, passRequestHeaders: settings.passRequestHeaders, mergeRepeatedHeaders: false });
    return { kind: 'cgi', vars, modifier1: settings.modifier1, modifier2: settings.modifier2 };
  },
  createClient(peer, settings, group, log) {
    const keep = keepsConnections(group);
    return new CgiPassClient(
      new UwsgiClient({
        address: peer.address.text,
        ...clientTimeouts(settings),
        maxHeadSize: settings.bufferSize,
        log,
        keep,
        pool: keep ? { maxIdle: group.keepalive ?? 1, idleTimeout: group.keepaliveTimeoutMs } : undefined,
      }),
    );
  },
  clientVariant: (settings, group) =>
    `${settings.connectTimeoutMs}/${settings.sendTimeoutMs}/${settings.readTimeoutMs}/${settings.bufferSize}/${keepsConnections(group) ? 'keep' : 'close'}`,
  needsBodyLength: true,
  // ngx_http_uwsgi_hide_headers: X-Accel-* only (uwsgi sends a status line, not a Status header).
  hiddenHeaders: ['x-accel-expires', 'x-accel-redirect', 'x-accel-limit-rate', 'x-accel-buffering', 'x-accel-charset'],
};
