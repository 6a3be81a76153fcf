/**
 * A raw HTTP/1.x client for the web server tests: sends bytes as given (pipelined requests,
 * oversized heads, bare LFs) and parses every response that comes back, framing included
 * (Content-Length, chunked, or the end of the connection).
 */
import { connect } from 'node:net';

export interface RawResponse {
  readonly status: number;
  /** The status line as sent, without CRLF. */
  readonly statusLine: string;
  readonly headers: readonly (readonly [string, string])[];
  readonly body: Buffer;
  /** Transfer-Encoding: chunked was used (the body above is de-chunked). */
  readonly chunked: boolean;
  header(name: string): string | undefined;
}

export interface Exchange {
  readonly responses: RawResponse[];
  /** The server closed the connection (before `waitMs` after the last expected response). */
  readonly closed: boolean;
  /** Bytes that did not parse as a response. */
  readonly rest: Buffer;
}

export interface ExchangeOptions {
  /** Responses to wait for (default 1). */
  readonly expect?: number;
  /** Which of the expected responses answer a HEAD (no body whatever the headers say). */
  readonly heads?: readonly boolean[];
  /** After the last expected response, wait this long for a close (default 100 ms). */
  readonly waitMs?: number;
  readonly timeoutMs?: number;
  /** Half-close after sending. */
  readonly end?: boolean;
  readonly host?: string;
}

function makeResponse(statusLine: string, headers: [string, string][], body: Buffer, chunked: boolean): RawResponse {
  return {
    status: Number(/^HTTP\/\d\.\d (\d{3})/.exec(statusLine)?.[1] ?? 0),
    statusLine,
    headers,
    body,
    chunked,
    header: (name) => headers.find(([key]) => key.toLowerCase() === name.toLowerCase())?.[1],
  };
}

/** Parses one response at the start of `data`; null if incomplete. `closed`: the stream ended. */
function parseOne(data: Buffer, head: boolean, closed: boolean): { response: RawResponse; used: number } | null {
  const end = data.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const lines = data.subarray(0, end).toString('latin1').split('\r\n');
  const statusLine = lines[0]!;
  const headers: [string, string][] = lines.slice(1).map((line) => {
    const colon = line.indexOf(':');
    return [line.slice(0, colon), line.slice(colon + 1).trim()];
  });
  const find = (name: string) => headers.find(([key]) => key.toLowerCase() === name)?.[1];
  const status = Number(/^HTTP\/\d\.\d (\d{3})/.exec(statusLine)?.[1] ?? 0);
  let at = end + 4;
  if (head || status === 204 || status === 304 || (status >= 100 && status < 200)) {
    return { response: makeResponse(statusLine, headers, Buffer.alloc(0), false), used: at };
  }
  if (find('transfer-encoding')?.toLowerCase() === 'chunked') {
    const parts: Buffer[] = [];
    for (;;) {
      const lineEnd = data.indexOf('\r\n', at);
      if (lineEnd < 0) return null;
      const size = Number.parseInt(data.subarray(at, lineEnd).toString('latin1'), 16);
      at = lineEnd + 2;
      if (size === 0) {
        if (data.length < at + 2) return null;
        return { response: makeResponse(statusLine, headers, Buffer.concat(parts), true), used: at + 2 };
      }
      if (data.length < at + size + 2) return null;
      parts.push(data.subarray(at, at + size));
      at += size + 2;
    }
  }
  const length = find('content-length');
  if (length !== undefined) {
    const n = Number(length);
    if (data.length < at + n) return null;
    return { response: makeResponse(statusLine, headers, data.subarray(at, at + n), false), used: at + n };
  }
  if (!closed) return null;
  return { response: makeResponse(statusLine, headers, data.subarray(at), false), used: data.length };
}

/** Sends `request` to 127.0.0.1:`port` and collects the responses. */
export function exchangeRaw(port: number, request: string | Buffer, options: ExchangeOptions = {}): Promise<Exchange> {
  const expect = options.expect ?? 1;
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: options.host ?? '127.0.0.1', allowHalfOpen: true });
    let data = Buffer.alloc(0);
    const responses: RawResponse[] = [];
    let closed = false;
    let settleTimer: NodeJS.Timeout | null = null;
    const timeout = setTimeout(() => finish(), options.timeoutMs ?? 5000);
    const finish = (): void => {
      clearTimeout(timeout);
      if (settleTimer) clearTimeout(settleTimer);
      socket.destroy();
      resolve({ responses, closed, rest: data });
    };
    const parse = (): void => {
      for (;;) {
        const parsed = parseOne(data, options.heads?.[responses.length] ?? false, closed);
        if (parsed === null) break;
        responses.push(parsed.response);
        data = data.subarray(parsed.used);
        if (parsed.response.status === 100) responses.pop();
      }
      if (closed) return finish();
      if (responses.length >= expect && settleTimer === null) settleTimer = setTimeout(finish, options.waitMs ?? 100);
    };
    socket.on('connect', () => {
      socket.write(typeof request === 'string' ? Buffer.from(request, 'latin1') : request);
      if (options.end) socket.end();
    });
    socket.on('data', (chunk: Buffer) => {
      data = Buffer.concat([data, chunk]);
      parse();
    });
    socket.on('end', () => {
      closed = true;
      parse();
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ECONNRESET') {
        closed = true;
        parse();
      } else reject(error);
    });
  });
}
