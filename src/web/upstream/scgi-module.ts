/**
 * `scgi_pass` (ngx_http_scgi_module): a netstring of CONTENT_LENGTH (the body's real length,
 * first, as the protocol requires), SCGI=1, the `scgi_param`s, then the request headers as
 * HTTP_*. SCGI forbids a name twice, so repeated headers are joined as nginx >= 1.23 does.
 * One connection per request: the response ends with the close.
 */
import type { ScgiSettings } from '../config/index.js';
import { ScgiClient } from '../../upstream/index.js';
import { buildCgiVars } from './cgi-params.js';
import { CgiPassClient, clientTimeouts } from './cgi-client.js';
import type { PassModule } from './module.js';

export const scgiModule: PassModule<ScgiSettings> = {
  name: 'scgi',
  settings: (loc) => loc.scgi,
  prepare(ctx, settings) {
    return { kind: 'cgi', vars: buildCgiVars(ctx, { params: settings.params, passRequestHeaders: settings.passRequestHeaders, mergeRepeatedHeaders: true }) };
  },
  createClient(peer, settings, _group, log) {
    return new CgiPassClient(new ScgiClient({ address: peer.address.text, ...clientTimeouts(settings), maxHeadSize: settings.bufferSize, log }));
  },
  needsBodyLength: true,
  hiddenHeaders: ['status', 'x-accel-expires', 'x-accel-redirect', 'x-accel-limit-rate', 'x-accel-buffering', 'x-accel-charset'],
};
