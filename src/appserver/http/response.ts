/**
 * An HTTP/1.1 response on a socket: framing (Content-Length, chunked, or close-delimited for
 * HTTP/1.0), keep-alive, HEAD, and coalescing the head with the first chunk into one write.
 */
import type { Socket } from 'node:net';
import type { ResponseSink } from '../../gateway/handler.js';
import type { HeaderList } from '../../gateway/types.js';
import { CHUNK_TRAILER, LAST_CHUNK, chunkHeader, reasonPhrase } from '../../protocols/http1.js';
import { TsgiError } from '../../errors.js';

/** An application header that would corrupt the response (response splitting). */
export class BadResponseHeaderError extends TsgiError {
  constructor(name: string, value: string) {
    super('ERR_BAD_RESPONSE_HEADER', `invalid response header ${JSON.stringify(name)}: ${JSON.stringify(value)}`);
  }
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const FORBIDDEN_IN_VALUE = /[\r\n\0]/;
/** Below this size the head and the first chunk are copied into one buffer: one syscall, one packet. */
const COALESCE_LIMIT = 16 * 1024;

const enum Framing {
  None, // HEAD, 1xx, 204, 304: no body bytes on the wire
  Fixed, // the application gave Content-Length
  Chunked, // HTTP/1.1 without Content-Length
  Close, // HTTP/1.0 without Content-Length: the body ends when the connection does
}

/** `Date:` computed once a second, not once a request. */
export class DateClock {
  private second = -1;
  private value = '';
  get header(): string {
    const now = Date.now();
    const second = Math.floor(now / 1000);
    if (second !== this.second) {
      this.second = second;
      this.value = new Date(now).toUTCString();
    }
    return this.value;
  }
}

export interface ResponseOwner {
  /** The response is fully handed to the socket; keepAlive says whether the connection continues. */
  responseDone(keepAlive: boolean): void;
  /** Shared drain waiter of the connection. */
  drain(): Promise<void>;
}

export interface ResponseRequest {
  method: string;
  versionMinor: 0 | 1;
  keepAlive: boolean;
}

export class HttpResponseSink implements ResponseSink {
  keepAlive: boolean;
  private framing = Framing.None;
  private pendingHead: string | null = null;
  private remaining = 0;
  private finished = false;

  constructor(
    private readonly socket: Socket,
    private readonly request: ResponseRequest,
    private readonly owner: ResponseOwner,
    private readonly clock: DateClock,
  ) {
    this.keepAlive = request.keepAlive;
  }

  get aborted(): boolean {
    return this.socket.destroyed;
  }

  sendHead(status: number, reason: string, headers: HeaderList): void {
    let head = `HTTP/1.1 ${status} ${reason || reasonPhrase(status)}\r\nDate: ${this.clock.header}\r\n`;
    let contentLength = -1;
    for (let i = 0; i < headers.length; i++) {
      const header = headers[i]!;
      const name = header[0];
      const value = header[1];
      if (typeof name !== 'string' || typeof value !== 'string' || !TOKEN.test(name) || FORBIDDEN_IN_VALUE.test(value)) {
        throw new BadResponseHeaderError(String(name), String(value));
      }
      switch (name.length) {
        case 10: // connection: hop-by-hop, the server owns it (PEP 3333 forbids it to apps)
          if (name.toLowerCase() === 'connection') {
            if (value.toLowerCase().includes('close')) this.keepAlive = false;
            continue;
          }
          break;
        case 14:
          if (name.toLowerCase() === 'content-length') {
            const length = Number(value);
            if (!/^\d+$/.test(value) || !Number.isSafeInteger(length)) throw new BadResponseHeaderError(name, value);
            contentLength = length;
          }
          break;
        case 17: // transfer-encoding: the server frames the body itself
          if (name.toLowerCase() === 'transfer-encoding') continue;
          break;
      }
      head += `${name}: ${value}\r\n`;
    }
    const bodyless = this.request.method === 'HEAD' || status < 200 || status === 204 || status === 304;
    if (bodyless) {
      this.framing = Framing.None;
    } else if (contentLength >= 0) {
      this.framing = Framing.Fixed;
      this.remaining = contentLength;
    } else if (this.request.versionMinor === 1) {
      this.framing = Framing.Chunked;
      head += 'Transfer-Encoding: chunked\r\n';
    } else {
      this.framing = Framing.Close;
      this.keepAlive = false;
    }
    if (!this.keepAlive) head += 'Connection: close\r\n';
    else if (this.request.versionMinor === 0) head += 'Connection: keep-alive\r\n';
    this.pendingHead = head + '\r\n';
  }

  write(chunk: Uint8Array): boolean {
    const socket = this.socket;
    if (socket.destroyed) return true;
    switch (this.framing) {
      case Framing.None:
        return this.flushHead();
      case Framing.Fixed:
        if (chunk.length > this.remaining) {
          // More than the application promised: the client would read it as the next response.
          chunk = chunk.subarray(0, this.remaining);
          this.keepAlive = false;
        }
        this.remaining -= chunk.length;
        if (chunk.length === 0) return this.flushHead();
        return this.writeWithHead(chunk);
      case Framing.Close:
        return this.writeWithHead(chunk);
      case Framing.Chunked: {
        socket.cork();
        this.flushHead();
        socket.write(chunkHeader(chunk.length));
        socket.write(chunk);
        const ok = socket.write(CHUNK_TRAILER);
        socket.uncork();
        return ok;
      }
    }
  }

  drain(): Promise<void> {
    return this.owner.drain();
  }

  end(): void {
    if (this.finished) return;
    this.finished = true;
    const socket = this.socket;
    if (this.framing === Framing.Chunked) {
      if (this.pendingHead !== null) {
        socket.write(this.pendingHead + '0\r\n\r\n', 'latin1');
        this.pendingHead = null;
      } else {
        socket.write(LAST_CHUNK);
      }
    } else {
      this.flushHead();
    }
    if (this.framing === Framing.Fixed && this.remaining > 0) {
      // Fewer bytes than Content-Length: only closing tells the client the body is incomplete.
      this.keepAlive = false;
    }
    this.owner.responseDone(this.keepAlive);
  }

  abort(): void {
    this.finished = true;
    this.socket.destroy();
  }

  private flushHead(): boolean {
    if (this.pendingHead === null) return true;
    const head = this.pendingHead;
    this.pendingHead = null;
    return this.socket.write(head, 'latin1');
  }

  private writeWithHead(chunk: Uint8Array): boolean {
    const head = this.pendingHead;
    if (head === null) return this.socket.write(chunk);
    this.pendingHead = null;
    if (chunk.length <= COALESCE_LIMIT) {
      const buffer = Buffer.allocUnsafe(head.length + chunk.length);
      buffer.write(head, 0, "latin1");
      buffer.set(chunk, head.length);
      return this.socket.write(buffer);
    }
    this.socket.cork();
    this.socket.write(head, 'latin1');
    const ok = this.socket.write(chunk);
    this.socket.uncork();
    return ok;
  }
}
