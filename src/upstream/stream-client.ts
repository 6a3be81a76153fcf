/**
 * The client for the protocols whose response runs until the peer closes: uwsgi and SCGI. One
 * connection per request, as nginx does for both (they have no way to mark the end of a response,
 * so a connection cannot be reused). The two differ only in how the request head is encoded and
 * whether `Status` is a header to hide: `StreamProtocol` is that difference, and uwsgi-client.ts
 * and scgi-client.ts each supply one.
 */
import { UpstreamConnection } from './connection.js';
import { UpstreamError } from './errors.js';
import { Exchange } from './exchange.js';
import type { UpstreamScheme } from './peer.js';
import { RAW_BODY } from './request-body.js';
import { prepareRequest, type PreparedRequest } from './request-vars.js';
import { resolveClientSettings, type ClientSettings } from './settings.js';
import type { UpstreamClient, UpstreamClientOptions, UpstreamRequest, UpstreamResponse } from './types.js';

export interface StreamProtocol {
  scheme: UpstreamScheme;
  /** nginx hides `Status` from SCGI responses (scgi_hide_header list), not from uwsgi ones. */
  hideStatus: boolean;
  /** The bytes before the body. May throw the codec's error (a var it cannot encode). */
  encodeHead(request: PreparedRequest, modifier1: number | undefined): Buffer;
}

const PREMATURE_CLOSE = 'upstream prematurely closed connection';

export class StreamClient implements UpstreamClient {
  readonly peer: string;
  private readonly protocol: StreamProtocol;
  private readonly settings: ClientSettings;
  private closed = false;

  constructor(protocol: StreamProtocol, options: UpstreamClientOptions) {
    this.protocol = protocol;
    this.settings = resolveClientSettings(protocol.scheme, options);
    this.peer = this.settings.peer.name;
  }

  request(request: UpstreamRequest): Promise<UpstreamResponse> {
    try {
      return this.start(request);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Nothing is pooled: requests in flight finish, new ones are refused. */
  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }

  private start(request: UpstreamRequest): Promise<UpstreamResponse> {
    const { peer, timeouts } = this.settings;
    if (this.closed) throw new UpstreamError('ERR_UPSTREAM_CLIENT_CLOSED', 'the upstream client is closed', 'connecting', peer.name);
    const prepared = prepareRequest(request, peer.name, true);
    let head: Buffer;
    try {
      head = this.protocol.encodeHead(prepared, request.modifier1);
    } catch (error) {
      const why = error instanceof Error ? error.message : String(error);
      throw new UpstreamError('ERR_UPSTREAM_INVALID_REQUEST', why, 'sending request', peer.name, { cause: error });
    }
    const connection = new UpstreamConnection(peer, timeouts);
    const exchange = new Exchange(
      {
        peer: peer.name,
        method: prepared.method,
        maxHeadSize: this.settings.maxHeadSize,
        hideStatus: this.protocol.hideStatus,
        prematureEnd: PREMATURE_CLOSE,
        highWaterMark: this.settings.highWaterMark,
        log: this.settings.log,
        signal: request.signal,
      },
      // Complete or failed, the connection is done: the protocol closes after one response.
      () => connection.destroy(),
    );
    connection.setOwner(exchange);
    connection.connected.then(
      () => {
        request.onConnected?.();
        exchange.send(connection, { head, body: request.body, contentLength: prepared.contentLength, framing: RAW_BODY });
      },
      // The connection already told its owner (the exchange) why.
      () => {},
    );
    return exchange.response;
  }
}
