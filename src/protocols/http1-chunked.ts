/**
 * The chunked transfer coding of an HTTP/1.x response body (RFC 9112 §7.1), as a proxy reads it
 * from an upstream: pure and resumable, bytes in, data subarrays out, never copied.
 *
 * Follows nginx's ngx_http_parse_chunked as the proxy module uses it
 * (ngx_http_proxy_chunked_filter): hex sizes with an overflow check, extensions after ';' or
 * whitespace skipped, trailer lines read and dropped (nginx 1.22 does not pass upstream
 * trailers to the client). Any framing error is nginx's "upstream sent invalid chunked
 * response". Unlike the request side (http1.ts), a bare LF is taken as a line end: nginx's
 * parser does so for upstream bodies, and a lenient reader loses nothing on a response.
 */

const LF = 0x0a;
const CR = 0x0d;
const SP = 0x20;
const HTAB = 0x09;
const SEMICOLON = 0x3b;

/** Hex digit value, -1 for anything else. */
const HEX_VALUE = new Int8Array(256).fill(-1);
for (let i = 0; i < 16; i++) {
  HEX_VALUE['0123456789abcdef'.charCodeAt(i)] = i;
  HEX_VALUE['0123456789ABCDEF'.charCodeAt(i)] = i;
}

/** Above this, one more hex digit would pass 2^53 (nginx checks NGX_MAX_OFF_T_VALUE / 16). */
const MAX_SIZE_BEFORE_DIGIT = Math.floor(Number.MAX_SAFE_INTEGER / 16);
/** A size line or a trailer line longer than this is refused: nothing legitimate needs more,
 *  and without a cap a peer could make the decoder scan forever. */
const MAX_LINE_BYTES = 4096;

const enum State {
  SizeFirst,
  Size,
  Extension,
  SizeLF,
  Data,
  DataCR,
  DataLF,
  TrailerStart,
  TrailerLine,
  TrailerLF,
  EndLF,
  Done,
  Failed,
}

/** Where chunk data goes. */
export interface ChunkSink {
  /** A subarray of the input; never empty. */
  onData(chunk: Buffer): void;
}

export const INVALID_CHUNKED = 'upstream sent invalid chunked response';

export class ChunkedDecoder {
  private state: State = State.SizeFirst;
  private size = 0;
  private lineBytes = 0;

  /** True once the last chunk and the trailer section were read. */
  get done(): boolean {
    return this.state === State.Done;
  }

  get failed(): boolean {
    return this.state === State.Failed;
  }

  reset(): void {
    this.state = State.SizeFirst;
    this.size = 0;
    this.lineBytes = 0;
  }

  /**
   * Decodes `data[from, end)`; returns the position it stopped at: `end`, or just past the
   * body's last byte once done (the rest is not the body's), or -1 on a framing error.
   */
  execute(data: Buffer, from: number, end: number, sink: ChunkSink): number {
    let p = from;
    let state = this.state;
    while (p < end) {
      switch (state) {
        case State.SizeFirst: {
          const digit = HEX_VALUE[data[p]!]!;
          if (digit < 0) return this.fail();
          this.size = digit;
          this.lineBytes = 1;
          p++;
          state = State.Size;
          break;
        }
        case State.Size: {
          const c = data[p]!;
          const digit = HEX_VALUE[c]!;
          if (digit >= 0) {
            if (this.size > MAX_SIZE_BEFORE_DIGIT) return this.fail();
            this.size = this.size * 16 + digit;
            if (++this.lineBytes > MAX_LINE_BYTES) return this.fail();
            p++;
          } else if (c === CR) {
            state = State.SizeLF;
            p++;
          } else if (c === LF) {
            state = this.afterSizeLine();
            p++;
          } else if (c === SEMICOLON || c === SP || c === HTAB) {
            state = State.Extension;
            p++;
          } else {
            return this.fail();
          }
          break;
        }
        case State.Extension: {
          const c = data[p]!;
          p++;
          if (c === CR) state = State.SizeLF;
          else if (c === LF) state = this.afterSizeLine();
          else if (++this.lineBytes > MAX_LINE_BYTES) return this.fail();
          break;
        }
        case State.SizeLF:
          if (data[p] !== LF) return this.fail();
          p++;
          state = this.afterSizeLine();
          break;
        case State.Data: {
          const n = Math.min(this.size, end - p);
          sink.onData(data.subarray(p, p + n));
          this.size -= n;
          p += n;
          if (this.size === 0) state = State.DataCR;
          break;
        }
        case State.DataCR: {
          const c = data[p]!;
          p++;
          if (c === CR) state = State.DataLF;
          else if (c === LF) state = State.SizeFirst;
          else return this.fail();
          break;
        }
        case State.DataLF:
          if (data[p] !== LF) return this.fail();
          p++;
          state = State.SizeFirst;
          break;
        case State.TrailerStart: {
          const c = data[p]!;
          p++;
          if (c === CR) state = State.EndLF;
          else if (c === LF) {
            this.state = State.Done;
            return p;
          } else {
            this.lineBytes = 1;
            state = State.TrailerLine;
          }
          break;
        }
        case State.TrailerLine: {
          const c = data[p]!;
          p++;
          if (c === CR) state = State.TrailerLF;
          else if (c === LF) state = State.TrailerStart;
          else if (++this.lineBytes > MAX_LINE_BYTES) return this.fail();
          break;
        }
        case State.TrailerLF:
          if (data[p] !== LF) return this.fail();
          p++;
          state = State.TrailerStart;
          break;
        case State.EndLF:
          if (data[p] !== LF) return this.fail();
          this.state = State.Done;
          return p + 1;
        case State.Done:
          return p;
        case State.Failed:
          return -1;
      }
    }
    this.state = state;
    return p;
  }

  private afterSizeLine(): State {
    return this.size === 0 ? State.TrailerStart : State.Data;
  }

  private fail(): number {
    this.state = State.Failed;
    return -1;
  }
}
