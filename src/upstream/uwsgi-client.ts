/**
 * `uwsgi_pass`: a request to a uwsgi peer (uWSGI's `--socket`, or `tsgi serve --socket`). The
 * packet is the vars block (modifier1 0 by default), the body follows it, and the answer is a raw
 * HTTP response ending with the close (uWSGI: proto/uwsgi.c). nginx keeps uwsgi's `Status`-less
 * status line and hides nothing.
 *
 * With `keep` (tsgi web: `keepalive N` in the upstream block), the packet's modifier2 is 'K' and
 * a peer that answers `Tsgi-Keep: 1` keeps the connection for the next request (tsgi serve does;
 * uWSGI ignores modifier2 and closes, so nothing changes with it). See kept-response.ts.
 */
import { encodeUwsgiRequest, UWSGI_MODIFIER_WSGI } from '../protocols/uwsgi.js';
import { KEEP_MODIFIER2 } from './kept-response.js';
import { StreamClient, type StreamClientOptions, type StreamProtocol } from './stream-client.js';

const UWSGI: StreamProtocol = {
  scheme: 'uwsgi',
  hideStatus: false,
  encodeHead: (request, modifier1, keep) => encodeUwsgiRequest(request.vars, modifier1 ?? UWSGI_MODIFIER_WSGI, keep ? KEEP_MODIFIER2 : 0),
  canKeep: true,
};

export class UwsgiClient extends StreamClient {
  constructor(options: StreamClientOptions) {
    super(UWSGI, options);
  }
}
