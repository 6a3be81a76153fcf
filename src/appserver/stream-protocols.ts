/** uwsgi and SCGI as seen by `tsgi serve`: the codec each uses and the head each response gets. */
import type { Socket } from 'node:net';
import { UwsgiRequestDecoder, UWSGI_MODIFIER_STRIP_SCRIPT_NAME, DEFAULT_UWSGI_BUFFER_SIZE } from '../protocols/uwsgi.js';
import { ScgiRequestDecoder } from '../protocols/scgi.js';
import { formatCgiHead, formatHttpHead } from '../protocols/cgi-response.js';
import { StreamConnection, type StreamProtocol } from './stream-connection.js';
import type { ServerContext } from './context.js';
import { KEEP_MODIFIER2 } from './stream-keep.js';

export interface StreamProtocolOptions {
  /** uWSGI's --buffer-size: the largest vars block (uwsgi) or header block (SCGI) accepted. */
  bufferSize?: number;
}

/**
 * uwsgi: the response is raw HTTP with the request's SERVER_PROTOCOL on the status line, as uWSGI
 * writes it (proto/base.c). A packet over --buffer-size is refused with uWSGI's own log line.
 */
export function uwsgiProtocol(options: StreamProtocolOptions = {}): StreamProtocol {
  const bufferSize = options.bufferSize ?? DEFAULT_UWSGI_BUFFER_SIZE;
  return {
    name: 'uwsgi',
    createDecoder(events) {
      return new UwsgiRequestDecoder(
        {
          onRequest: (request) =>
            events.onRequest({
              vars: request.vars,
              contentLength: request.contentLength,
              stripScriptName: request.modifier1 === UWSGI_MODIFIER_STRIP_SCRIPT_NAME,
              keep: request.modifier2 === KEEP_MODIFIER2,
            }),
          onBody: events.onBody,
          onComplete: events.onComplete,
        },
        { bufferSize },
      );
    },
    formatHead: (status, reason, headers, requestProtocol) =>
      formatHttpHead(status, reason, headers, /^HTTP\/\d\.\d$/.test(requestProtocol) ? requestProtocol : 'HTTP/1.1'),
    describeError: (error, peer) => `${error.message} (uwsgi request from ${peer}, code ${error.code})`,
  };
}

/** SCGI: a CGI response (`Status: 200 OK`), as uWSGI's --scgi-socket writes it. */
export function scgiProtocol(options: StreamProtocolOptions = {}): StreamProtocol {
  return {
    name: 'scgi',
    createDecoder(events) {
      return new ScgiRequestDecoder(
        {
          onRequest: (request) =>
            events.onRequest({ vars: request.vars, contentLength: request.contentLength, stripScriptName: false }),
          onBody: events.onBody,
          onComplete: events.onComplete,
        },
        { maxHeaderSize: options.bufferSize ?? DEFAULT_UWSGI_BUFFER_SIZE },
      );
    },
    formatHead: (status, reason, headers) => formatCgiHead(status, reason, headers),
    describeError: (error, peer) => `${error.message} (SCGI request from ${peer}, code ${error.code})`,
  };
}

export function streamConnectionFactory(protocol: StreamProtocol) {
  return (socket: Socket, context: ServerContext): StreamConnection => new StreamConnection(socket, context, protocol);
}
