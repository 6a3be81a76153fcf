/**
 * Sends a request: its head, then the body as the peer takes it. One writer for the three
 * protocols: uwsgi and SCGI send the body as it is, FastCGI wraps it in STDIN records and ends it
 * with an empty one; `BodyFraming` is that difference.
 *
 * Large bodies go out in pieces of at most `pieceSize` bytes, each awaited, so the send timeout
 * measures progress between pieces (nginx's "between two successive write operations") rather
 * than one giant write, and an iterable body is pulled no faster than the socket drains.
 */
import { UpstreamError } from './errors.js';
import type { Transport } from './connection.js';

export interface BodyFraming {
  /** The bytes that carry `chunk` (a non-empty piece of at most `pieceSize` bytes). */
  frame(chunk: Uint8Array): Buffer;
  /** Sent after the body, if the protocol marks its end (FastCGI's empty STDIN record). */
  end: Buffer | null;
  pieceSize: number;
}

/** uwsgi and SCGI: the body follows the head unframed. 64 KiB pieces: one socket write each. */
export const RAW_BODY: BodyFraming = { frame: (chunk) => Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength), end: null, pieceSize: 64 * 1024 };

/** A whole request at most this big goes out as one write (one syscall, one TCP segment train). */
const COALESCE_LIMIT = 64 * 1024;

export interface OutgoingRequest {
  head: Buffer;
  body: Buffer | AsyncIterable<Uint8Array> | undefined;
  /** Declared body length, checked against what an iterable yields; null = unknown. */
  contentLength: number | null;
  framing: BodyFraming;
}

/**
 * Writes the request. Rejects with the connection's UpstreamError if a write fails, or with
 * ERR_UPSTREAM_REQUEST_BODY if the body source throws or yields more or fewer bytes than declared.
 */
export async function sendRequest(transport: Transport, request: OutgoingRequest, peer: string): Promise<void> {
  const { head, body, framing } = request;
  if (body === undefined || Buffer.isBuffer(body)) {
    const whole = body ?? EMPTY;
    if (head.length + whole.length <= COALESCE_LIMIT) {
      const parts = [head];
      if (whole.length > 0) parts.push(framing.frame(whole));
      if (framing.end !== null) parts.push(framing.end);
      await transport.write(parts.length === 1 ? head : Buffer.concat(parts));
      return;
    }
    await transport.write(head);
    for (let at = 0; at < whole.length; at += framing.pieceSize) {
      await transport.write(framing.frame(whole.subarray(at, at + framing.pieceSize)));
    }
  } else {
    await transport.write(head);
    await sendIterable(transport, body, request.contentLength, framing, peer);
  }
  if (framing.end !== null) await transport.write(framing.end);
}

async function sendIterable(
  transport: Transport,
  body: AsyncIterable<Uint8Array>,
  declared: number | null,
  framing: BodyFraming,
  peer: string,
): Promise<void> {
  const bodyError = (what: string, cause?: unknown): UpstreamError =>
    new UpstreamError('ERR_UPSTREAM_REQUEST_BODY', what, 'sending request', peer, cause === undefined ? undefined : { cause });
  let sent = 0;
  const iterator = body[Symbol.asyncIterator]();
  try {
    for (;;) {
      let step: IteratorResult<Uint8Array>;
      try {
        step = await iterator.next();
      } catch (error) {
        // nginx's words for a client body that stops: the source failed, not the upstream.
        throw bodyError(`request body source failed after ${sent} bytes (${error instanceof Error ? error.message : String(error)})`, error);
      }
      if (step.done === true) break;
      const chunk = step.value;
      sent += chunk.length;
      if (declared !== null && sent > declared) throw bodyError(`request body is longer than its declared length ${declared}`);
      for (let at = 0; at < chunk.length; at += framing.pieceSize) {
        await transport.write(framing.frame(chunk.subarray(at, at + framing.pieceSize)));
      }
    }
  } catch (error) {
    // Stop the source (closes a file, a client stream): nothing more will be read from it.
    await iterator.return?.().catch(() => undefined);
    throw error;
  }
  if (declared !== null && sent !== declared) throw bodyError(`request body ended after ${sent} of its declared ${declared} bytes`);
}

const EMPTY = Buffer.alloc(0);
