/**
 * One request and its response over one connection, the same for every protocol: the protocol
 * client decodes its framing and hands the exchange the CGI/HTTP response bytes (`onData`) and the
 * end of the response (`onEnd`: EOF for uwsgi and SCGI, FCGI_END_REQUEST for FastCGI).
 *
 * Two explicit state machines, because the request and the response overlap (a peer may answer
 * before it has read the whole body):
 *
 *   request:   waiting --send()--> sending --all written--> sent
 *                                         \--write failed--> stopped
 *   response:  head --head parsed--> body --onEnd(), length ok--> complete
 *                 \____________________\--error / short / abort--> failed
 *
 * `response` resolves in the body state. A failure before it rejects `response`; after it, the
 * body iterator throws. `onSettled` runs once, at complete or failed: the protocol client then
 * closes the connection or gives it back to its pool.
 *
 * With `askedKeep` (a kept uwsgi connection was asked for, kept-response.ts), a head carrying
 * `Tsgi-Keep: 1` makes the response end where its own framing says (Content-Length, chunked, or
 * no body), not at the close: `onSettled` then says whether the connection is reusable.
 */
import { CgiResponseParser, type CgiResponseHead } from '../protocols/cgi-response.js';
import type { ConnectionOwner, Transport } from './connection.js';
import { UpstreamError, type UpstreamErrorCode, type UpstreamPhase } from './errors.js';
import { sendRequest, type OutgoingRequest } from './request-body.js';
import { ResponseBody } from './response-body.js';
import { BodyLength, announcedBodyLength, hasBody, isInterim } from './response-length.js';
import { isGoodbye, keptHead } from './kept-response.js';
import { ChunkedDecoder, INVALID_CHUNKED, type ChunkSink } from '../protocols/http1-chunked.js';
import type { CancelSignal, UpstreamLog, UpstreamResponse } from './types.js';

export interface ExchangeSettings {
  peer: string;
  /** REQUEST_METHOD: a HEAD response has no body. */
  method: string;
  maxHeadSize: number;
  /** Drop `Status` from the headers: nginx's fastcgi and scgi modules hide it, uwsgi's does not. */
  hideStatus: boolean;
  /** What ran out when the response ended inside the head or short of its Content-Length:
   *  "upstream prematurely closed connection", or for FastCGI "... FastCGI stdout". */
  prematureEnd: string;
  highWaterMark: number;
  log: UpstreamLog;
  signal?: CancelSignal;
  /** The request asked the peer to keep the connection (uwsgi modifier2 'K'). */
  askedKeep?: boolean;
}

type RequestState = 'waiting' | 'sending' | 'sent' | 'stopped';
type ResponseState = 'head' | 'body' | 'complete' | 'failed';
export type ExchangeOutcome = 'complete' | 'failed';

const STATUS = 'status';
const TRUNCATED_HEAD = 'ERR_CGI_TRUNCATED';

export class Exchange implements ConnectionOwner {
  readonly response: Promise<UpstreamResponse>;
  private readonly settings: ExchangeSettings;
  /** `reusable`: the response ended by its own framing, whole, with nothing after it. */
  private readonly onSettled: (outcome: ExchangeOutcome, reusable: boolean) => void;
  private requestState: RequestState = 'waiting';
  private responseState: ResponseState = 'head';
  private transport: Transport | null = null;
  private readonly parser: CgiResponseParser;
  private length = new BodyLength(null);
  /** Log bytes past the Content-Length (once). Bytes after a bodiless response (HEAD, 204) are
   *  dropped quietly, as nginx does. */
  private warnOnOverflow = false;
  private body: ResponseBody | null = null;
  private resolveHead: (response: UpstreamResponse) => void = () => {};
  private rejectHead: (error: UpstreamError) => void = () => {};
  private readonly onAbort = (): void => this.abort();
  private received = 0;
  /** The peer agreed to keep the connection: the response ends by its framing (`finished`). */
  private delimited = false;
  private chunked: ChunkedDecoder | null = null;
  private chunkSink: ChunkSink | null = null;
  /** The delimited response is whole; the exchange completes once the current input is parsed. */
  private finished = false;
  /** Bytes came after the delimited end (or broke the chunks): the connection is out of step. */
  private overrun = false;
  /** The peer answered with a kept connection's goodbye: the request was never read. */
  private goodbyeValue = false;

  constructor(settings: ExchangeSettings, onSettled: (outcome: ExchangeOutcome, reusable: boolean) => void) {
    this.settings = settings;
    this.onSettled = onSettled;
    this.response = new Promise<UpstreamResponse>((resolve, reject) => {
      this.resolveHead = resolve;
      this.rejectHead = reject;
    });
    this.parser = new CgiResponseParser(
      { onHead: (head) => this.onHead(head), onBody: (chunk) => this.onBody(chunk) },
      { maxHeadSize: settings.maxHeadSize },
    );
    if (settings.signal !== undefined) {
      if (settings.signal.aborted) queueMicrotask(this.onAbort);
      else settings.signal.addEventListener('abort', this.onAbort, { once: true });
    }
  }

  get readPhase(): UpstreamPhase {
    return this.responseState === 'head' ? 'reading response header' : 'reading response body';
  }

  get settled(): boolean {
    return this.responseState === 'complete' || this.responseState === 'failed';
  }

  /** True once the whole request was written (a FastCGI connection is reusable only then). */
  get requestSent(): boolean {
    return this.requestState === 'sent';
  }

  /** The request failed on a stopping peer's goodbye (kept-response.ts): it may be sent again. */
  get goodbye(): boolean {
    return this.goodbyeValue;
  }

  /** Response bytes seen: a reused connection that fails before any may be retried. */
  get bytesReceived(): number {
    return this.received;
  }

  /** Starts writing the request on `transport` (the exchange uses it until it settles). */
  send(transport: Transport, outgoing: OutgoingRequest): void {
    if (this.settled) return;
    this.transport = transport;
    this.requestState = 'sending';
    sendRequest(transport, outgoing, this.settings.peer).then(
      () => {
        if (this.requestState !== 'sending') return;
        this.requestState = 'sent';
        // nginx arms the read timeout once the request is sent (ngx_http_upstream_send_request).
        if (!this.settled) transport.expectResponse();
      },
      (error: unknown) => {
        this.requestState = 'stopped';
        this.onError(error instanceof UpstreamError ? error : this.error('ERR_UPSTREAM_SEND', String(error), 'sending request'));
      },
    );
  }

  onData(chunk: Buffer): void {
    if (this.settled) return;
    this.received += chunk.length;
    if (this.parser.execute(chunk) < 0 && !this.settled) {
      const failure = this.parser.error;
      this.onError(this.error('ERR_UPSTREAM_INVALID_RESPONSE', failure?.message ?? 'upstream sent invalid response', this.readPhase));
      return;
    }
    // Completed here, after the whole input was parsed, so that bytes following the end in the
    // same read are seen (they make the connection unusable) before it is handed back.
    if (this.finished && !this.settled) this.complete(!this.overrun);
  }

  /** The response ended (EOF, or FCGI_END_REQUEST). */
  onEnd(): void {
    if (this.settled) return;
    const headError = this.parser.end();
    if (headError !== null) {
      const truncated = headError.code === TRUNCATED_HEAD;
      const what = truncated ? this.settings.prematureEnd : headError.message;
      this.onError(this.error(truncated ? 'ERR_UPSTREAM_PREMATURE_CLOSE' : 'ERR_UPSTREAM_INVALID_RESPONSE', what, 'reading response header'));
      return;
    }
    const short = this.length.shortfall();
    if (short !== null) {
      this.onError(this.error('ERR_UPSTREAM_PREMATURE_CLOSE', `${this.settings.prematureEnd} (${short})`, 'reading response body'));
      return;
    }
    if (this.chunked !== null && !this.chunked.done) {
      this.onError(this.error('ERR_UPSTREAM_PREMATURE_CLOSE', this.settings.prematureEnd, 'reading response body'));
      return;
    }
    this.complete(false);
  }

  private complete(reusable: boolean): void {
    this.responseState = 'complete';
    this.transport = null;
    this.settings.signal?.removeEventListener('abort', this.onAbort);
    this.body?.end();
    this.onSettled('complete', reusable);
  }

  onError(error: UpstreamError): void {
    if (this.settled) return;
    const hadHead = this.responseState === 'body';
    this.responseState = 'failed';
    this.transport = null;
    this.settings.signal?.removeEventListener('abort', this.onAbort);
    if (hadHead) this.body?.fail(error);
    else this.rejectHead(error);
    this.onSettled('failed', false);
  }

  /** The caller gave up (AbortSignal, or body.cancel()). */
  abort(): void {
    if (this.settled) return;
    let phase: UpstreamPhase = this.readPhase;
    if (this.requestState === 'waiting') phase = 'connecting';
    else if (this.requestState === 'sending' && this.responseState === 'head') phase = 'sending request';
    this.onError(this.error('ERR_UPSTREAM_ABORTED', 'request aborted by the caller', phase));
  }

  private error(code: UpstreamErrorCode, what: string, phase: UpstreamPhase): UpstreamError {
    return new UpstreamError(code, what, phase, this.settings.peer);
  }

  private onHead(head: CgiResponseHead): void {
    if (this.settled) return;
    if (isInterim(head.status)) {
      this.onError(this.error('ERR_UPSTREAM_INVALID_RESPONSE', `upstream sent an interim status ${head.status} as its response`, 'reading response header'));
      return;
    }
    if (this.settings.askedKeep === true && isGoodbye(head.status, head.headers)) {
      this.goodbyeValue = true;
      this.onError(this.error('ERR_UPSTREAM_PREMATURE_CLOSE', `${this.settings.prematureEnd} (a stopping worker's goodbye)`, 'reading response header'));
      return;
    }
    let headers = this.settings.hideStatus ? withoutStatus(head.headers) : head.headers;
    const kept = this.settings.askedKeep === true ? keptHead(headers) : null;
    if (kept !== null) headers = kept.headers;
    const announced = announcedBodyLength(headers);
    if (announced !== null && typeof announced === 'object') {
      this.onError(this.error('ERR_UPSTREAM_INVALID_RESPONSE', announced.invalid, 'reading response header'));
      return;
    }
    const bodied = hasBody(this.settings.method, head.status);
    this.warnOnOverflow = bodied && announced !== null;
    this.length = new BodyLength(bodied ? announced : 0);
    if (kept !== null) this.startDelimited(bodied, announced, kept.chunked);
    const body = new ResponseBody(
      {
        pause: () => this.transport?.pause(),
        resume: () => this.transport?.resume(),
        cancel: () => this.abort(),
      },
      this.settings.highWaterMark,
    );
    this.body = body;
    this.responseState = 'body';
    this.resolveHead({ status: head.status, reason: head.reason, headers, body });
  }

  /** The peer agreed to keep the connection: where its response ends. A head with no framing
   *  for a bodied response (neither length nor chunks) can only end at the close. */
  private startDelimited(bodied: boolean, announced: number | null, chunked: boolean): void {
    if (!bodied || announced === 0) {
      this.delimited = true;
      this.finished = true;
      this.warnOnOverflow = false;
    } else if (chunked) {
      this.delimited = true;
      this.length = new BodyLength(null);
      this.chunked = new ChunkedDecoder();
      this.chunkSink = { onData: (data) => this.body?.push(data) };
    } else if (announced !== null) {
      this.delimited = true;
    }
  }

  private onBody(chunk: Buffer): void {
    if (this.delimited) {
      this.onDelimitedBody(chunk);
      return;
    }
    if (this.responseState !== 'body') return;
    const part = this.length.take(chunk);
    if (part.length > 0) this.body?.push(part);
    if (part.length < chunk.length && this.warnOnOverflow) {
      this.warnOnOverflow = false;
      this.settings.log('warn', `upstream sent more data than specified in "Content-Length" header while reading upstream, upstream: "${this.settings.peer}"`);
    }
  }

  private onDelimitedBody(chunk: Buffer): void {
    if (this.finished || this.responseState !== 'body') {
      this.overrun = true;
      return;
    }
    const chunked = this.chunked;
    if (chunked !== null) {
      const used = chunked.execute(chunk, 0, chunk.length, this.chunkSink!);
      if (used < 0) {
        this.onError(this.error('ERR_UPSTREAM_INVALID_RESPONSE', INVALID_CHUNKED, 'reading response body'));
        return;
      }
      if (chunked.done) {
        this.finished = true;
        if (used < chunk.length) this.overrun = true;
      }
      return;
    }
    const part = this.length.take(chunk);
    if (part.length > 0) this.body?.push(part);
    if (part.length < chunk.length) this.overrun = true;
    if (this.length.shortfall() === null) this.finished = true;
  }
}

/** Headers without any `Status` line. */
function withoutStatus(headers: string[]): string[] {
  let found = false;
  for (let i = 0; i < headers.length && !found; i += 2) found = isStatus(headers[i]);
  if (!found) return headers;
  const out: string[] = [];
  for (let i = 0; i < headers.length; i += 2) {
    if (!isStatus(headers[i])) out.push(headers[i], headers[i + 1]);
  }
  return out;
}

function isStatus(name: string): boolean {
  return name.length === STATUS.length && name.toLowerCase() === STATUS;
}
