/**
 * nginx's request-head buffers, as a model: which requests get 414 and which 494 ("400 Request
 * Header Or Cookie Too Large"), exactly where nginx would give them (ngx_http_process_request_line,
 * ngx_http_process_request_headers and ngx_http_alloc_large_header_buffer in
 * src/http/ngx_http_request.c, nginx 1.22).
 *
 * nginx reads a head into one `client_header_buffer_size` buffer (1k). When that fills up before
 * the head is complete, it takes a `large_client_header_buffers` buffer (4 x 8k) and copies the
 * line in progress into it; lines already complete stay where they are. So:
 *
 *   - a request line or header line as long as one large buffer can never be completed
 *     (414 for the request line, 494 for a header line);
 *   - a head that needs more large buffers than allowed is refused the same way, depending on
 *     whether the request line was complete;
 *   - where the buffer boundaries fall depends only on the bytes, not on how they arrive, so the
 *     model is fed the head bytes in order and decides the same way nginx does.
 *
 *   client_header_buffer_size 1k; large_client_header_buffers 4 8k;
 *   request line of 8191 bytes + LF ............ 414 (the partial line fills a whole 8k buffer)
 *   one 9000-byte Cookie header ................. 494
 *   five 7000-byte headers ...................... 494 (each fits, but five buffers are needed)
 *
 * The HTTP codec (src/protocols/http1.ts) parses the head; this model only watches line ends.
 */

const LF = 0x0a;
const CR = 0x0d;

/** What the model decided after some bytes. */
export const enum HeadVerdict {
  /** The head is not complete and still fits: read more. */
  More = 0,
  /** The head ended (its blank line was seen). */
  Complete = 1,
  /** nginx answers 414 Request-URI Too Large. */
  UriTooLarge = 414,
  /** nginx answers 494 (sent as 400 "Request Header Or Cookie Too Large"). */
  HeaderTooLarge = 494,
}

export interface HeadBufferSizes {
  /** `client_header_buffer_size`. */
  readonly small: number;
  /** `large_client_header_buffers` size. */
  readonly large: number;
  /** `large_client_header_buffers` number. */
  readonly count: number;
}

export class HeadBufferModel {
  /** Offset (in head bytes) where the current buffer's data starts. */
  private bufferStart = 0;
  private capacity: number;
  private largeUsed = 0;
  /** Bytes of this head seen so far. */
  private position = 0;
  /** Offset where the line being read starts; -1 while between lines (nginx's r->state == 0). */
  private lineStart = -1;
  /** The request line is complete. */
  private inHeaders = false;
  /** The current header line has only had a CR so far (an empty line in the making). */
  private lineLength = 0;

  constructor(private readonly sizes: HeadBufferSizes) {
    this.capacity = sizes.small;
  }

  /** Bytes of the head seen so far (all of it once `feed` said Complete): `$request_length`'s start. */
  get headBytes(): number {
    return this.position;
  }

  /** Starts over for the next request on the connection (nginx starts it in a small buffer again). */
  reset(): void {
    this.bufferStart = 0;
    this.capacity = this.sizes.small;
    this.largeUsed = 0;
    this.position = 0;
    this.lineStart = -1;
    this.inHeaders = false;
    this.lineLength = 0;
  }

  /**
   * Feeds bytes [from, to) of `data`, which continue the head. Returns the verdict and, when the
   * head is complete, how many of the bytes belonged to it (`used`).
   */
  feed(data: Buffer, from: number, to: number): { verdict: HeadVerdict; used: number } {
    for (let i = from; i < to; i++) {
      if (this.position === this.bufferStart + this.capacity) {
        const verdict = this.nextBuffer();
        if (verdict !== HeadVerdict.More) return { verdict, used: i - from };
      }
      const c = data[i]!;
      this.position++;
      if (!this.inHeaders) {
        if (this.lineStart < 0) {
          // nginx skips CR and LF before a request line without keeping them.
          if (c === CR || c === LF) continue;
          this.lineStart = this.position - 1;
        }
        if (c === LF) {
          this.inHeaders = true;
          this.lineStart = -1;
          this.lineLength = 0;
        }
        continue;
      }
      if (this.lineStart < 0) this.lineStart = this.position - 1;
      if (c === LF) {
        if (this.lineLength === 0) return { verdict: HeadVerdict.Complete, used: i - from + 1 };
        this.lineStart = -1;
        this.lineLength = 0;
      } else if (c !== CR || this.lineLength > 0) {
        this.lineLength++;
      }
    }
    return { verdict: HeadVerdict.More, used: to - from };
  }

  /** The buffer is full and the head goes on: ngx_http_alloc_large_header_buffer. */
  private nextBuffer(): HeadVerdict {
    const tooLarge = this.inHeaders ? HeadVerdict.HeaderTooLarge : HeadVerdict.UriTooLarge;
    if (!this.inHeaders && this.lineStart < 0) {
      // Only CR/LF so far: nginx reuses the buffer from its start.
      this.bufferStart = this.position;
      return HeadVerdict.More;
    }
    if (this.lineStart >= 0 && this.position - this.lineStart >= this.sizes.large) return tooLarge;
    if (this.largeUsed >= this.sizes.count) return tooLarge;
    this.largeUsed++;
    this.capacity = this.sizes.large;
    this.bufferStart = this.lineStart >= 0 ? this.lineStart : this.position;
    return HeadVerdict.More;
  }
}
