/**
 * `uwsgi_pass`: a request to a uwsgi peer (uWSGI's `--socket`, or `tsgi serve --socket`). The
 * packet is the vars block (modifier1 0 by default), the body follows it, and the answer is a raw
 * HTTP response ending with the close (uWSGI: proto/uwsgi.c). nginx keeps uwsgi's `Status`-less
 * status line and hides nothing.
 */
import { encodeUwsgiRequest, UWSGI_MODIFIER_WSGI } from '../protocols/uwsgi.js';
import { StreamClient, type StreamProtocol } from './stream-client.js';
import type { UpstreamClientOptions } from './types.js';

const UWSGI: StreamProtocol = {
  scheme: 'uwsgi',
  hideStatus: false,
  encodeHead: (request, modifier1) => encodeUwsgiRequest(request.vars, modifier1 ?? UWSGI_MODIFIER_WSGI),
};

export class UwsgiClient extends StreamClient {
  constructor(options: UpstreamClientOptions) {
    super(UWSGI, options);
  }
}
