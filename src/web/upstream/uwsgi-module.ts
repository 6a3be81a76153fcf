/**
 * `uwsgi_pass` (ngx_http_uwsgi_module): the request as a uwsgi packet, `uwsgi_param`s then the
 * request headers as HTTP_*, with `uwsgi_modifier1` in the packet head. One connection per
 * request: a uwsgi response ends with the close, so nginx never keeps one (not even with
 * `keepalive` in the upstream block).
 */
import type { UwsgiSettings } from '../config/index.js';
import { UwsgiClient } from '../../upstream/index.js';
import { buildCgiVars } from './cgi-params.js';
import { CgiPassClient, clientTimeouts } from './cgi-client.js';
import type { PassModule } from './module.js';

export const uwsgiModule: PassModule<UwsgiSettings> = {
  name: 'uwsgi',
  settings: (loc) => loc.uwsgi,
  prepare(ctx, settings) {
    const vars = buildCgiVars(ctx, { params: settings.params, passRequestHeaders: settings.passRequestHeaders, mergeRepeatedHeaders: false });
    return { kind: 'cgi', vars, modifier1: settings.modifier1, modifier2: settings.modifier2 };
  },
  createClient(peer, settings, _group, log) {
    return new CgiPassClient(new UwsgiClient({ address: peer.address.text, ...clientTimeouts(settings), maxHeadSize: settings.bufferSize, log }));
  },
  needsBodyLength: true,
  // ngx_http_uwsgi_hide_headers: X-Accel-* only (uwsgi sends a status line, not a Status header).
  hiddenHeaders: ['x-accel-expires', 'x-accel-redirect', 'x-accel-limit-rate', 'x-accel-buffering', 'x-accel-charset'],
};
