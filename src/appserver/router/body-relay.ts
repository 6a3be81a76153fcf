/**
 * The relay of one response body from a worker to the client, in the framing ./response.ts chose
 * for it: where the body ends (so the client connection, and a kept worker connection, can carry
 * the next request), and what the client gets when the worker closes.
 */
import type { Socket } from 'node:net';
import { CHUNK_TRAILER, LAST_CHUNK, chunkHeader } from '../../protocols/http1.js';
import { BodyFraming, ChunkedBodyEnd, type FramedHead } from './response.js';

export const enum RelayStep {
  /** More of the body is to come. */
  More,
  /** The body is complete on the client socket. */
  Done,
  /** The worker's framing broke (invalid chunks, or a close before the end): cut the client. */
  Broken,
}

export class BodyRelay {
  private framing = BodyFraming.None;
  private remaining = 0;
  private chunkedEnd: ChunkedBodyEnd | null = null;
  /** The client connection stays open after this response. */
  keepAlive = false;
  /** The worker's connection can carry the next request: it said so, and its framing held. */
  workerKeeps = false;

  /** Starts the body of `framed` (its head already sent); Done when it has none. */
  start(framed: FramedHead): RelayStep {
    this.framing = framed.framing;
    this.keepAlive = framed.keepAlive;
    this.workerKeeps = framed.workerKeeps;
    this.chunkedEnd = null;
    switch (framed.framing) {
      case BodyFraming.None:
        return RelayStep.Done;
      case BodyFraming.Length:
        this.remaining = framed.length;
        return framed.length === 0 ? RelayStep.Done : RelayStep.More;
      case BodyFraming.Chunked:
        this.chunkedEnd = new ChunkedBodyEnd();
        return RelayStep.More;
      default:
        return RelayStep.More;
    }
  }

  /** Writes the part of `chunk` that belongs to the body to `socket`. */
  relay(chunk: Buffer, socket: Socket): RelayStep {
    switch (this.framing) {
      case BodyFraming.Length: {
        const remaining = this.remaining;
        if (chunk.length < remaining) {
          this.remaining = remaining - chunk.length;
          socket.write(chunk);
          return RelayStep.More;
        }
        // Anything past Content-Length is not part of the response (nginx drops it the same way),
        // and a worker connection that carried it is out of step.
        if (chunk.length > remaining) this.workerKeeps = false;
        socket.write(chunk.length === remaining ? chunk : chunk.subarray(0, remaining));
        this.remaining = 0;
        return RelayStep.Done;
      }
      case BodyFraming.Rechunk:
        socket.write(chunkHeader(chunk.length));
        socket.write(chunk);
        socket.write(CHUNK_TRAILER);
        return RelayStep.More;
      case BodyFraming.Close:
        socket.write(chunk);
        return RelayStep.More;
      case BodyFraming.Chunked: {
        const chunkedEnd = this.chunkedEnd!;
        const used = chunkedEnd.feed(chunk);
        if (used < 0) return RelayStep.Broken;
        if (used < chunk.length) this.workerKeeps = false;
        socket.write(used === chunk.length ? chunk : chunk.subarray(0, used));
        return chunkedEnd.done ? RelayStep.Done : RelayStep.More;
      }
      default:
        // BodyFraming.None: a worker that sends a body after a HEAD head; dropped.
        this.workerKeeps = false;
        return RelayStep.More;
    }
  }

  /** The worker closed its connection: Done when that ends the body, Broken when it is cut short. */
  end(socket: Socket): RelayStep {
    this.workerKeeps = false;
    switch (this.framing) {
      case BodyFraming.Rechunk:
        socket.write(LAST_CHUNK);
        return RelayStep.Done;
      case BodyFraming.Close:
        this.keepAlive = false;
        return RelayStep.Done;
      default:
        // Content-Length not reached, or chunked without its last chunk: the client must not
        // take a truncated body for a complete one.
        return RelayStep.Broken;
    }
  }
}
