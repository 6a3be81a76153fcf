/**
 * `scgi_pass`: a request to an SCGI peer (uWSGI's `--scgi-socket`, `tsgi serve --scgi-socket`,
 * python-scgi). The netstring head carries CONTENT_LENGTH first and SCGI=1; the body follows; the
 * answer is a CGI response (`Status:` header) ending with the close. nginx hides `Status`.
 * SCGI forbids a name twice: merge repeated headers before (nginx >= 1.23 sends them merged).
 */
import { encodeScgiRequest } from '../protocols/scgi.js';
import { StreamClient, type StreamProtocol } from './stream-client.js';
import type { UpstreamClientOptions } from './types.js';

const SCGI: StreamProtocol = {
  scheme: 'scgi',
  hideStatus: true,
  // prepareRequest requires a known length for SCGI, so contentLength is a number here.
  encodeHead: (request) => encodeScgiRequest(request.vars, request.contentLength ?? 0),
  // SCGI has no field where a request could ask for more.
  canKeep: false,
};

export class ScgiClient extends StreamClient {
  constructor(options: UpstreamClientOptions) {
    super(SCGI, options);
  }
}
