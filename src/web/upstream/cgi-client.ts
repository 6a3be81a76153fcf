/**
 * A PassClient over one of src/upstream's protocol clients (uwsgi, SCGI, FastCGI): the three CGI
 * modules differ in which client they make, not in how a request is handed to it.
 */
import { createReadStream } from 'node:fs';
import type { UpstreamClient, UpstreamRequest } from '../../upstream/index.js';
import type { CancelSignal } from '../../upstream/types.js';
import type { PassSettings } from '../config/index.js';
import type { PassBody, PassClient, PassResponse, PreparedRequest } from './module.js';

/** `*_connect_timeout`, `*_send_timeout`, `*_read_timeout` as the clients take them. */
export function clientTimeouts(settings: PassSettings): { connectTimeout: number; sendTimeout: number; readTimeout: number } {
  return { connectTimeout: settings.connectTimeoutMs, sendTimeout: settings.sendTimeoutMs, readTimeout: settings.readTimeoutMs };
}

/** The body as the protocol clients take it; a file is read again for every attempt. */
export function clientBody(body: PassBody): Pick<UpstreamRequest, 'body' | 'contentLength'> {
  switch (body.kind) {
    case 'none':
      return {};
    case 'buffer':
      return { body: body.data };
    case 'file':
      // 64 KiB reads: one socket write each (src/upstream/request-body.ts's piece size).
      return { body: createReadStream(body.path, { highWaterMark: 64 * 1024 }), contentLength: body.size };
    case 'stream':
      return body.length >= 0 ? { body: body.chunks, contentLength: body.length } : { body: body.chunks };
  }
}

export class CgiPassClient implements PassClient {
  constructor(private readonly client: UpstreamClient) {}

  async request(prepared: PreparedRequest, body: PassBody, signal: CancelSignal, onConnected?: () => void): Promise<PassResponse> {
    if (prepared.kind !== 'cgi') throw new TypeError(`a ${this.client.peer} client sends CGI variables, not an HTTP request`);
    const response = await this.client.request({ vars: prepared.vars, modifier1: prepared.modifier1, signal, onConnected, ...clientBody(body) });
    return { status: response.status, reason: response.reason, headers: response.headers, body: response.body };
  }

  close(): Promise<void> {
    return this.client.close();
  }
}
