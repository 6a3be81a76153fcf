/**
 * What the proxy_pass tests share: a raw echo backend that answers with the exact bytes of the
 * request it received (request line, header lines, body), so a test can compare what nginx and
 * tsgi web send upstream byte for byte.
 */
import type { Server } from 'node:net';
import { rawPeer } from './pass-helpers.js';

export interface EchoBackend {
  readonly port: number;
  readonly server: Server;
  /** Connections accepted so far. */
  connections(): number;
  close(): Promise<void>;
}

const HEAD_END = '\r\n\r\n';

/** Reads requests (Content-Length or chunked bodies) and answers each with its raw bytes.
 *  Keeps the connection unless the request says `Connection: close`. */
export async function rawEchoBackend(): Promise<EchoBackend> {
  return rawPeer((socket) => {
    let pending = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      for (;;) {
        const request = takeRequest(pending);
        if (request === null) return;
        pending = pending.subarray(request.length);
        const raw = request.raw;
        const close = /\r\nconnection: *close\r\n/i.test(request.head);
        socket.write(`HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: ${raw.length}\r\n${close ? 'Connection: close\r\n' : ''}\r\n`);
        socket.write(raw);
        if (close) {
          socket.end();
          return;
        }
      }
    });
  });
}

/** One whole request at the start of `data`, or null when more bytes are needed. */
function takeRequest(data: Buffer): { raw: Buffer; head: string; length: number } | null {
  const end = data.indexOf(HEAD_END);
  if (end < 0) return null;
  const headLength = end + HEAD_END.length;
  const head = data.subarray(0, headLength).toString('latin1');
  const lengthMatch = /\r\ncontent-length: *(\d+)\r\n/i.exec(head);
  if (lengthMatch) {
    const total = headLength + Number(lengthMatch[1]);
    return data.length < total ? null : { raw: data.subarray(0, total), head, length: total };
  }
  if (/\r\ntransfer-encoding: *chunked\r\n/i.test(head)) {
    const last = data.indexOf('\r\n0\r\n\r\n', headLength - 2);
    if (last < 0) return null;
    const total = last + 7;
    return { raw: data.subarray(0, total), head, length: total };
  }
  return { raw: data.subarray(0, headLength), head, length: headLength };
}

/** The body of the one HTTP response in `text` (Content-Length or chunked). */
export function responseBody(text: string): string {
  const end = text.indexOf(HEAD_END);
  if (end < 0) throw new Error(`no response head in ${JSON.stringify(text)}`);
  const head = text.slice(0, end);
  let rest = text.slice(end + HEAD_END.length);
  if (!/\r\ntransfer-encoding: *chunked/i.test(head)) return rest;
  let body = '';
  for (;;) {
    const lineEnd = rest.indexOf('\r\n');
    const size = parseInt(rest.slice(0, lineEnd), 16);
    if (!(size > 0)) return body;
    body += rest.slice(lineEnd + 2, lineEnd + 2 + size);
    rest = rest.slice(lineEnd + 2 + size + 2);
  }
}

export function statusOf(text: string): number {
  return Number(text.slice(9, 12));
}
