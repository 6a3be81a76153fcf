/**
 * One client connection of `tsgi web` (nginx's ngx_http_request.c as a state machine):
 *
 *   Waiting ──first byte──▶ ReadingHead ──head──▶ Processing ──response sent──▶ Waiting
 *      │ keepalive_timeout      │ client_header_timeout     │ client_body_timeout   (keep-alive)
 *      ▼                        ▼ 414 / 494 / 400            │ send_timeout          or Closing
 *    close                    answer, close                  ▼
 *                                                          close
 *
 * - The head is parsed by the strict codec (src/protocols/http1.ts) and measured against nginx's
 *   header buffers by HeadBufferModel (414 / 494 exactly where nginx gives them).
 * - Pipelined requests are held until the response before them is sent, then served in order.
 * - A body nobody reads is discarded as it arrives, so keep-alive survives a POST to a file.
 * - After a response that ends keep-alive, the connection is half-closed and lingers a little
 *   so that unread request bytes do not turn into a reset that would destroy the response
 *   (nginx's lingering close).
 *
 * Every request goes through runPipeline (src/web/phases) and filterResponse; this file only
 * reads and writes.
 */
import type { Socket } from 'node:net';
import { Http1RequestParser, CHUNK_TRAILER, LAST_CHUNK, chunkHeader, type HttpParseError, type RequestHead } from '../../protocols/http1.js';
import { parseRequestTarget, NO_CAPTURES } from '../match/index.js';
import { errorResponse, writeStaticBody, extenOf, type StaticContext } from '../static/index.js';
import type { DateClock } from '../../appserver/http/response.js';
import type { NginxConfig, PerLocation } from '../config/index.js';
import type { ConnectionInfo, HeaderPair, OutgoingResponse, ServerCounters, WebModules, WorkerInfo } from '../request-context.js';
import { RequestBodyError } from '../request-context.js';
import { HeadBufferModel, HeadVerdict } from './head-buffers.js';
import { Deadline } from './deadline.js';
import { BodyChannel } from './body.js';
import { HeaderTable, RequestState } from './request.js';
import { statusLine } from './status-line.js';
import type { AddressGroup, Site } from './site.js';
import { runPipeline, finalize, type Final, type PipelineEnv } from '../phases/pipeline.js';
import { filterResponse } from '../phases/output.js';
import { fastStaticFor, type FastRoute } from './fast-static.js';

/** Everything a worker shares between its connections (one configuration generation). */
export interface WorkerServices {
  readonly config: NginxConfig;
  readonly site: Site;
  readonly modules: WebModules;
  readonly files: StaticContext;
  readonly clock: DateClock;
  /** `tsgi/0.1.0`: the Server header and the error pages' signature. */
  readonly serverVersion: string;
  readonly worker: WorkerInfo;
  readonly counters: ServerCounters;
  /** The worker is stopping gracefully: no new requests on kept-alive connections. */
  readonly shuttingDown: () => boolean;
  /** Serial numbers of connections ($connection). */
  nextSerial(): number;
}

const enum State {
  Waiting,
  ReadingHead,
  Processing,
  Closing,
}

/** Pipelined bytes held while a response is in progress before the socket is paused. */
const PIPELINE_HIGH_WATER = 64 * 1024;
/** Bodies up to this size are copied behind their head and sent in one write (fast-static.ts: the same). */
const MAX_JOINED_BODY = 16 * 1024;
/** nginx's escaping of bytes in a logged header line: controls and non-ASCII as \xNN. */
function escapeLogBytes(line: string): string {
  return line.replace(/[\x00-\x1f\x7f-\xff]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
const CONTINUE = Buffer.from('HTTP/1.1 100 Continue\r\n\r\n', 'latin1');

export class WebConnection {
  private state = State.Waiting;
  private readonly parser: Http1RequestParser;
  private readonly model: HeadBufferModel;
  private readonly info: ConnectionInfo & { requests: number };
  private readonly deadline = new Deadline();
  /** What the phases need from the worker, made at the first request (services never change). */
  private env: PipelineEnv | null = null;
  private headTimerArmed = false;
  private stash: Buffer | null = null;
  private request: RequestState | null = null;
  private body: BodyChannel | null = null;
  private pendingHead: RequestHead | null = null;
  private continueSent = false;
  private headLength = 0;
  private headStartMs = 0;
  private inputPaused = false;
  private closed = false;
  /** The request asked for `Expect: 100-continue`. */
  private expectContinue = false;
  /** The client half-closed: no request after the current one. */
  private clientEnded = false;

  constructor(
    readonly socket: Socket,
    private readonly group: AddressGroup,
    private readonly services: WorkerServices,
    private readonly onClose: (connection: WebConnection) => void,
  ) {
    const server = group.defaultServer.settings;
    this.model = new HeadBufferModel({
      small: server.clientHeaderBufferSize,
      large: server.largeClientHeaderBuffers.size,
      count: server.largeClientHeaderBuffers.number,
    });
    const maxHead = server.clientHeaderBufferSize + server.largeClientHeaderBuffers.number * server.largeClientHeaderBuffers.size;
    this.parser = new Http1RequestParser(
      {
        onHead: (head) => this.onHead(head),
        onBody: (chunk) => this.body?.push(chunk),
        onComplete: () => this.onMessageComplete(),
        onInvalidHeader: (line) => this.services.modules.errorLog.log('info', `client sent invalid header line: "${escapeLogBytes(line)}"`),
      },
      // The model refuses heads before these limits could be reached; they only bound the codec.
      // nginx counts no lines, only bytes: the shortest line ("a:" LF) is 3 bytes.
      {
        maxHeaderBytes: maxHead + 2,
        maxRequestLineBytes: maxHead + 2,
        maxHeaderCount: Math.ceil(maxHead / 3) + 1,
        ignoreInvalidHeaders: server.ignoreInvalidHeaders,
        underscoresInHeaders: server.underscoresInHeaders,
      },
    );
    const local = socket.localAddress;
    const isUnix = group.listen.address.kind === 'unix';
    this.info = {
      serial: services.nextSerial(),
      requests: 0,
      remoteAddr: isUnix ? 'unix:' : (socket.remoteAddress ?? ''),
      remotePort: isUnix ? '' : String(socket.remotePort ?? ''),
      serverAddr: isUnix ? group.text : (local ?? ''),
      serverPort: isUnix ? '' : String(socket.localPort ?? ''),
      listen: group.listen,
      acceptedMs: Date.now(),
    };
    const counters = services.counters;
    counters.accepts++;
    counters.handled++;
    counters.active++;
    counters.waiting++;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('end', () => this.onEnd());
    socket.on('error', () => {
      // ECONNRESET, EPIPE: 'close' follows and cleans up.
    });
    socket.on('close', () => this.cleanup());
    // nginx waits client_header_timeout for the first request (post_accept_timeout).
    this.arm(server.clientHeaderTimeoutMs, () => this.destroy());
  }

  /** Graceful stop: an idle connection closes now; a busy one after its response. */
  shutdown(): void {
    if (this.state === State.Waiting) this.destroy();
  }

  /** Moves to `next`, keeping stub_status's reading / writing / waiting counts. */
  private setState(next: State): void {
    if (next === this.state) return;
    const counters = this.services.counters;
    bucket(counters, this.state, -1);
    bucket(counters, next, 1);
    this.state = next;
  }

  // ---------------------------------------------------------------------------------------------
  // Reading

  private onData(chunk: Buffer): void {
    if (this.state === State.Closing) return;
    this.feed(chunk, 0);
  }

  /** Feeds bytes to the model and the codec until a request starts processing or the bytes run out. */
  private feed(data: Buffer, offset: number): void {
    let at = offset;
    // A response that ended keep-alive moves to Closing (the fast path does so within this loop):
    // what the client pipelined after it is never served.
    while (at < data.length && !this.closed && this.state !== State.Closing) {
      if (this.state === State.Processing && this.parser.idle) {
        // The next pipelined request: hold it until this response is out.
        this.stash = this.stash === null ? data.subarray(at) : Buffer.concat([this.stash, data.subarray(at)]);
        if (this.stash.length > PIPELINE_HIGH_WATER) this.pauseInput();
        return;
      }
      if (this.state !== State.Processing) {
        if (this.state === State.Waiting) this.startHead();
        const { verdict } = this.model.feed(data, at, data.length);
        if (verdict === HeadVerdict.UriTooLarge || verdict === HeadVerdict.HeaderTooLarge) {
          this.services.modules.errorLog.log('info', verdict === HeadVerdict.UriTooLarge ? 'client sent too long URI' : 'client sent too long header line');
          this.answerAndClose(verdict);
          return;
        }
      }
      const consumed = this.parser.execute(data, at);
      if (consumed < 0) {
        this.onParseError(this.parser.error!);
        return;
      }
      at += consumed;
      if (this.pendingHead !== null) this.startRequest();
      if (consumed === 0) break;
    }
  }

  private startHead(): void {
    this.setState(State.ReadingHead);
    this.model.reset();
    this.headStartMs = Date.now();
    if (!this.headTimerArmed) {
      this.headTimerArmed = true;
      this.arm(this.group.defaultServer.settings.clientHeaderTimeoutMs, () => {
        this.services.modules.errorLog.log('info', 'client timed out while reading client request headers');
        this.destroy();
      });
    }
  }

  private onHead(head: RequestHead): void {
    this.pendingHead = head;
    this.headLength = this.model.headBytes;
    // The body may follow in the same read: its channel must exist before the codec goes on.
    const flow = {
      pause: () => this.pauseInput(),
      resume: () => this.resumeInput(),
      wanted: () => this.sendContinue(),
    };
    this.expectContinue = head.expectContinue;
    this.continueSent = false;
    this.body = new BodyChannel(head.chunked ? -1 : Math.max(head.contentLength, 0), head.chunked, flow);
  }

  private onMessageComplete(): void {
    this.body?.end();
  }

  /** The client half-closed (servers are created with allowHalfOpen): answer what was asked, then close. */
  private onEnd(): void {
    this.clientEnded = true;
    if (this.state !== State.Processing) {
      this.destroy();
      return;
    }
    if (this.body !== null && !this.body.complete) this.body.fail(new RequestBodyError(400, 'client prematurely closed connection'));
    this.request?.clientClosed();
  }

  private pauseInput(): void {
    if (!this.inputPaused) {
      this.inputPaused = true;
      this.socket.pause();
    }
  }

  private resumeInput(): void {
    if (this.inputPaused) {
      this.inputPaused = false;
      this.socket.resume();
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Requests

  private startRequest(): void {
    const head = this.pendingHead!;
    this.pendingHead = null;
    this.headTimerArmed = false;
    this.clearTimer();
    this.setState(State.Processing);
    this.info.requests++;
    this.services.counters.requests++;
    if (this.serveFast(head)) return;
    if (this.body!.present && !this.body!.complete) this.armBodyTimer();
    void this.process(head).catch((error: unknown) => {
      this.services.modules.errorLog.log('alert', `connection failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      this.destroy();
    });
  }

  /**
   * A plain GET or HEAD of a cached file with a prepared answer (fast-static.ts): sent here, with
   * the keep-alive decision, counters, timers and access log of the pipeline's path, but without
   * the phases. False: the request takes the pipeline.
   */
  private serveFast(head: RequestHead): boolean {
    const services = this.services;
    const hit = fastStaticFor(services).lookup(this.group, head);
    if (hit === null) return false;
    const { route, answer } = hit;
    const s = route.loc.settings;
    const initialKeepAlive = head.keepAlive && !services.shuttingDown();
    // useLocation's limits (pipeline.ts), then respond()'s.
    const keepAlive =
      initialKeepAlive &&
      s.keepaliveTimeoutMs !== 0 &&
      this.info.requests < s.keepaliveRequests &&
      Date.now() - this.info.acceptedMs <= s.keepaliveTimeMs &&
      !this.clientEnded;
    const wire = answer.wire(head.method === 'HEAD', keepAlive, services.clock.header);
    let r: RequestState | null = null;
    if (s.accessLog !== 'off') {
      r = this.fastRequest(head, route, initialKeepAlive);
      r.keepAlive = keepAlive;
      r.status = 200;
      r.sentHeaders = answer.sentHeaders;
      r.bytesSent = wire.headLength + wire.bodyLength;
      r.bodyBytesSent = wire.bodyLength;
      this.request = r;
    }
    if (wire.body === null) {
      this.socket.write(wire.data);
    } else {
      this.socket.cork();
      this.socket.write(wire.data);
      this.socket.write(wire.body);
      this.socket.uncork();
    }
    const done = { keepAlive, loc: route.loc };
    if (this.socket.writableLength === 0 || this.closed) {
      this.endFast(r, done);
      return true;
    }
    // The kernel did not take it all: wait as write() does, under send_timeout.
    this.armSendTimer(s.sendTimeoutMs);
    this.flushed().then(
      () => this.endFast(r, done),
      (error: unknown) => {
        done.keepAlive = false;
        if (r !== null) r.keepAlive = false;
        if (!this.closed) services.modules.errorLog.log('info', `writing the response failed: ${error instanceof Error ? error.message : String(error)}`);
        this.endFast(r, done, false);
      },
    );
    return true;
  }

  private endFast(r: RequestState | null, done: { keepAlive: boolean; loc: PerLocation }, completed = true): void {
    if (r !== null) {
      r.completed = completed;
      this.endRequest(r);
    }
    this.afterResponse(done);
  }

  /** The RequestState process() makes, as findConfig leaves it, for the access log. */
  private fastRequest(head: RequestHead, route: FastRoute, keepAlive: boolean): RequestState {
    const r = new RequestState({
      connection: this.info,
      worker: this.services.worker,
      startMs: this.headStartMs,
      head: {
        method: head.method,
        requestLine: `${head.method} ${head.target} HTTP/1.${head.versionMinor}`,
        requestUri: route.requestUri,
        protocol: head.versionMinor === 1 ? 'HTTP/1.1' : 'HTTP/1.0',
        httpVersion: head.versionMinor === 1 ? 1001 : 1000,
        headLength: this.headLength,
      },
      headers: new HeaderTable(head.headers),
      requestHost: route.requestHost,
      server: route.server,
      serverCaptures: NO_CAPTURES,
      uri: route.uri,
      args: route.args,
      exten: route.exten,
      body: this.body!,
      modules: this.services.modules,
      config: this.services.config,
      keepAlive,
    });
    r.location = route.location;
    r.loc = route.loc;
    return r;
  }

  private armBodyTimer(): void {
    const loc = this.group.defaultServer.loc.settings;
    this.arm(loc.clientBodyTimeoutMs, () => {
      this.services.modules.errorLog.log('info', 'client timed out while reading client request body');
      this.body?.fail(new RequestBodyError(408, 'client timed out'));
      this.destroy();
    });
  }

  private sendContinue(): void {
    if (this.expectContinue && !this.continueSent) {
      this.continueSent = true;
      this.socket.write(CONTINUE);
    }
    this.resumeInput();
  }

  private async process(head: RequestHead): Promise<void> {
    const services = this.services;
    const group = this.group;
    const requestLine = `${head.method} ${head.target} HTTP/1.${head.versionMinor}`;
    const target = parseRequestTarget(head.target, { mergeSlashes: group.defaultServer.settings.mergeSlashes });
    if (!target.ok) {
      services.modules.errorLog.log('info', target.reason);
      this.answerAndClose(400);
      return;
    }
    const selection = group.selector.select(target.target.host ?? (head.host === '' ? null : head.host));
    if (!selection.ok) {
      services.modules.errorLog.log('info', selection.reason);
      this.answerAndClose(400);
      return;
    }
    const r = new RequestState({
      connection: this.info,
      worker: services.worker,
      startMs: this.headStartMs,
      head: {
        method: head.method,
        requestLine,
        requestUri: target.target.requestUri,
        protocol: head.versionMinor === 1 ? 'HTTP/1.1' : 'HTTP/1.0',
        httpVersion: head.versionMinor === 1 ? 1001 : 1000,
        headLength: this.headLength,
      },
      headers: new HeaderTable(head.headers),
      requestHost: selection.host,
      server: selection.server.id,
      serverCaptures: selection.captures.groups.length > 0 ? selection.captures : NO_CAPTURES,
      uri: target.target.uri,
      args: target.target.args,
      exten: extenOf(target.target.uri),
      body: this.body!,
      modules: services.modules,
      config: services.config,
      keepAlive: head.keepAlive && !services.shuttingDown(),
    });
    this.request = r;
    const env = this.pipelineEnv();
    let final: Final;
    if (head.method === 'TRACE') {
      // ngx_http_process_request_header refuses TRACE before any phase runs.
      r.log('info', 'client sent TRACE method');
      // Refused before nginx decides on keep-alive: the connection closes.
      r.keepAlive = false;
      const step = finalize(r, env, 405);
      final = 'kind' in step ? step : await runPipeline(r, env);
    } else {
      final = await runPipeline(r, env);
    }
    await this.respond(r, final);
  }

  private pipelineEnv(): PipelineEnv {
    if (this.env === null) {
      const site: Site = this.services.site;
      this.env = { matcher: (server) => site.matcher(server), files: this.services.files, serverVersion: this.services.serverVersion };
    }
    return this.env;
  }

  // ---------------------------------------------------------------------------------------------
  // Writing

  private async respond(r: RequestState, final: Final): Promise<void> {
    if (final.kind === 'close') {
      r.status = r.status || 444;
      this.endRequest(r);
      this.destroy();
      return;
    }
    if (final.kind === 'takeover') {
      this.setState(State.Closing);
      this.clearTimer();
      const pending = this.stash ?? Buffer.alloc(0);
      this.stash = null;
      this.socket.removeAllListeners('data');
      this.socket.removeAllListeners('end');
      this.endRequest(r);
      final.run(this.socket, pending);
      return;
    }
    const response = await filterResponse(r, final.response);
    // A client that waits for 100-continue and never got it may or may not send its body.
    if (this.body !== null && !this.body.complete && this.expectContinue && !this.continueSent) r.keepAlive = false;
    if (this.services.shuttingDown() || this.clientEnded) r.keepAlive = false;
    await this.write(r, response);
    this.endRequest(r);
    this.afterResponse(r);
  }

  /** Serializes the head in nginx's header order and sends head and body. */
  private async write(r: RequestState, response: OutgoingResponse): Promise<void> {
    const s = r.loc.settings;
    const status = response.status;
    const bodyless = r.method === 'HEAD' || status === 204 || status === 304 || status < 200;
    let contentLength: string | undefined;
    const rest: HeaderPair[] = [];
    let contentType: string | undefined;
    let lastModified: string | undefined;
    let location: string | undefined;
    let ownServer = true;
    let ownDate = true;
    for (const header of response.headers) {
      switch (canonicalName(header[0])) {
        case 'content-type':
          contentType = header[1];
          break;
        case 'content-length':
          contentLength = header[1];
          break;
        case 'last-modified':
          lastModified = header[1];
          break;
        case 'location':
          if (r.locationInSlot) location = header[1];
          else rest.push(header);
          break;
        case 'connection':
        case 'transfer-encoding':
        case 'keep-alive':
          break;
        // An upstream's own Server / Date (uwsgi_pass...) replace tsgi's, in their place among
        // the others, as nginx's header filter writes its own only when headers_out has none.
        case 'server':
          ownServer = false;
          rest.push(header);
          break;
        case 'date':
          ownDate = false;
          rest.push(header);
          break;
        default:
          rest.push(header);
      }
    }
    const hasBody = response.body.kind !== 'none';
    let chunked = false;
    if (contentLength === undefined && !bodyless && status !== 204) {
      if (r.head.httpVersion >= 1001 && s.chunkedTransferEncoding) chunked = true;
      else r.keepAlive = false;
    }
    let head = statusLine(status);
    if (ownServer) head += s.serverTokens === 'off' ? 'Server: tsgi\r\n' : `Server: ${this.services.serverVersion}\r\n`;
    if (ownDate) head += `Date: ${this.services.clock.header}\r\n`;
    if (contentType !== undefined) head += `Content-Type: ${contentType}\r\n`;
    if (contentLength !== undefined) head += `Content-Length: ${contentLength}\r\n`;
    if (lastModified !== undefined) head += `Last-Modified: ${lastModified}\r\n`;
    if (location !== undefined) head += `Location: ${location}\r\n`;
    if (chunked) head += 'Transfer-Encoding: chunked\r\n';
    if (r.keepAlive) {
      head += 'Connection: keep-alive\r\n';
      if (s.keepaliveHeaderSec !== null) head += `Keep-Alive: timeout=${s.keepaliveHeaderSec}\r\n`;
    } else {
      head += 'Connection: close\r\n';
    }
    for (const [name, value] of rest) head += `${name}: ${value}\r\n`;
    head += '\r\n';
    r.status = status;
    r.sentHeaders = response.headers;
    const body = response.body;
    // A small body already in memory (a proxied answer that came whole, an error page) goes out
    // in one buffer with its head: one write, no writev of two (as fast-static.ts does).
    const joined = !bodyless && !chunked && body.kind === 'buffer' && body.data.length <= MAX_JOINED_BODY ? body.data : null;
    const headBytes = joined === null ? Buffer.from(head, 'latin1') : joinHead(head, joined);
    r.bytesSent = head.length;
    this.armSendTimer(s.sendTimeoutMs);
    try {
      if (joined !== null) {
        this.socket.write(headBytes);
        r.bodyBytesSent = joined.length;
      } else if (bodyless || !hasBody) {
        this.socket.write(headBytes);
        if (chunked && !bodyless) this.socket.write(LAST_CHUNK);
      } else if (response.body.kind === 'stream') {
        await this.writeStream(r, headBytes, response.body.chunks, chunked);
      } else if (chunked) {
        await this.writeChunkedBuffers(r, headBytes, response.body);
      } else {
        await writeStaticBody(this.socket, response.body, { head: headBytes });
        r.bodyBytesSent = bodyLength(response.body);
      }
      r.bytesSent += r.bodyBytesSent;
      await this.flushed();
      r.completed = true;
    } catch (error) {
      r.keepAlive = false;
      if (!this.closed) this.services.modules.errorLog.log('info', `writing the response failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  private async writeStream(r: RequestState, head: Buffer, chunks: AsyncIterable<Buffer>, chunked: boolean): Promise<void> {
    // The head is held (corked) until the loop's check phase, so that a first body chunk that is
    // already there (the usual case: an upstream's head and body come in one read) goes out with
    // it in one write, as nginx's postponed output does, instead of two syscalls and two segments.
    // A body that comes later waits one turn of the event loop for its head, no more.
    const socket = this.socket;
    socket.cork();
    socket.write(head);
    let corked = true;
    const uncork = (): void => {
      if (!corked) return;
      corked = false;
      socket.uncork();
    };
    const timer = setImmediate(uncork);
    try {
      for await (const chunk of chunks) {
        if (this.closed) throw new Error('connection closed');
        if (chunk.length === 0) continue;
        r.bodyBytesSent += chunk.length;
        const ok = chunked ? this.writeChunk(chunk) : socket.write(chunk);
        if (!ok) {
          uncork();
          await this.drained();
        }
      }
      if (chunked) socket.write(LAST_CHUNK);
    } finally {
      // Whatever is corked must go before the caller waits for the socket to drain.
      clearImmediate(timer);
      uncork();
    }
  }

  private async writeChunkedBuffers(r: RequestState, head: Buffer, body: OutgoingResponse['body']): Promise<void> {
    if (body.kind !== 'buffer') {
      // Files and multipart bodies always come with a length from the static module.
      this.socket.write(head);
      await writeStaticBody(this.socket, body.kind === 'stream' ? { kind: 'none' } : body);
      return;
    }
    this.socket.cork();
    this.socket.write(head);
    if (body.data.length > 0) this.writeChunk(body.data);
    this.socket.write(LAST_CHUNK);
    this.socket.uncork();
    r.bodyBytesSent = body.data.length;
  }

  private writeChunk(chunk: Buffer): boolean {
    this.socket.cork();
    this.socket.write(chunkHeader(chunk.length));
    this.socket.write(chunk);
    const ok = this.socket.write(CHUNK_TRAILER);
    this.socket.uncork();
    return ok;
  }

  private drained(): Promise<void> {
    return new Promise((resolve, reject) => {
      const done = (): void => {
        this.socket.off('drain', done);
        this.socket.off('close', closed);
        this.refreshTimer();
        resolve();
      };
      const closed = (): void => {
        this.socket.off('drain', done);
        this.socket.off('close', closed);
        reject(new Error('connection closed'));
      };
      this.socket.on('drain', done);
      this.socket.on('close', closed);
    });
  }

  /** Resolves once the kernel took everything written (send_timeout keeps running meanwhile). */
  private async flushed(): Promise<void> {
    if (this.socket.writableLength > 0 && !this.closed) await this.drained();
  }

  /**
   * Answers with nginx's page for `status` and closes: a head that never became a request (a bad
   * target or host, 414, 494 sent as 400, a codec error), under the default server's settings.
   */
  private answerAndClose(status: number): void {
    const settings = this.group.defaultServer.loc.settings;
    this.clearTimer();
    const page = errorResponse(status, { serverTokens: settings.serverTokens, serverVersion: this.services.serverVersion });
    let head = statusLine(page.status);
    head += `Server: ${settings.serverTokens === 'off' ? 'tsgi' : this.services.serverVersion}\r\nDate: ${this.services.clock.header}\r\n`;
    for (const [name, value] of page.headers) head += `${name}: ${value}\r\n`;
    head += 'Connection: close\r\n\r\n';
    this.setState(State.Closing);
    this.socket.write(Buffer.from(head, 'latin1'));
    if (page.body.kind === 'buffer') this.socket.write(page.body.data);
    this.linger();
  }

  private onParseError(error: HttpParseError): void {
    this.services.modules.errorLog.log('info', error.message);
    if (this.state === State.Processing) {
      // A broken body after the head: the response in progress cannot be framed any more.
      this.body?.fail(new RequestBodyError(error.status, error.message));
      this.destroy();
      return;
    }
    // The codec's count limit stands for nginx's buffer limits: answer as nginx does for those.
    this.answerAndClose(error.code === 'ERR_HTTP_TOO_MANY_HEADERS' ? HeadVerdict.HeaderTooLarge : error.status);
  }

  /** The request is over (sent, closed or taken over): logs, cleanups, counters. */
  private endRequest(r: RequestState): void {
    r.requestLength = r.head.headLength + (this.body?.bytesReceived ?? 0);
    try {
      r.modules.accessLog.write(r);
    } catch (error) {
      r.log('alert', `access log failed: ${error instanceof Error ? error.message : String(error)}`);
    }
    r.finish();
    this.request = null;
  }

  /** Keep-alive: the next request (already stashed, or awaited); else lingering close. */
  private afterResponse(r: { readonly keepAlive: boolean; readonly loc: PerLocation }): void {
    if (this.closed) return;
    const body = this.body;
    if (!r.keepAlive) {
      if (body !== null && !body.complete) {
        // nginx reads and drops the rest of the body, connection open, for lingering_timeout.
        body.startDiscarding();
        this.resumeInput();
        this.arm(r.loc.settings.lingeringTimeoutMs, () => this.destroy());
        body.whenComplete(() => this.linger());
        return;
      }
      this.linger();
      return;
    }
    if (body !== null && !body.complete) {
      // Discard the rest of the body before the next request can be parsed (still "writing");
      // nginx gives a discarded body lingering_timeout, not client_body_timeout.
      body.startDiscarding();
      this.resumeInput();
      this.arm(r.loc.settings.lingeringTimeoutMs, () => this.destroy());
      body.whenComplete(() => {
        if (!this.closed) this.nextRequest(r);
      });
      return;
    }
    this.nextRequest(r);
  }

  private nextRequest(r: { readonly loc: PerLocation }): void {
    this.setState(State.Waiting);
    this.body = null;
    this.resumeInput();
    const s = r.loc.settings;
    this.arm(s.keepaliveTimeoutMs, () => this.destroy());
    const stash = this.stash;
    this.stash = null;
    if (stash !== null && stash.length > 0) this.feed(stash, 0);
  }

  // ---------------------------------------------------------------------------------------------
  // Timers and closing

  private arm(ms: number, onFire: () => void): void {
    this.deadline.set(ms, onFire);
  }

  private armSendTimer(ms: number): void {
    this.arm(ms, () => {
      this.services.modules.errorLog.log('info', 'client timed out while sending response to client');
      this.destroy();
    });
  }

  private refreshTimer(): void {
    this.deadline.restart();
  }

  private clearTimer(): void {
    this.deadline.clear();
  }

  /** nginx's lingering close: stop sending, read and drop what comes, close soon. */
  private linger(): void {
    this.setState(State.Closing);
    this.resumeInput();
    this.socket.end();
    this.arm(this.group.defaultServer.loc.settings.lingeringTimeoutMs, () => this.destroy());
  }

  private destroy(): void {
    if (this.closed) return;
    this.socket.destroy();
    this.cleanup();
  }

  private cleanup(): void {
    if (this.closed) return;
    this.closed = true;
    this.deadline.dispose();
    this.setState(State.Closing);
    this.services.counters.active--;
    const r = this.request;
    if (r !== null) {
      this.body?.fail(new RequestBodyError(499, 'client closed connection'));
      r.clientClosed();
      this.request = null;
      r.finish();
    }
    this.onClose(this);
  }
}

/**
 * The lower-case name for the switch in write(): the static module and most handlers already
 * spell these names as below, which spares a lower-cased copy of every header of every response.
 */
function canonicalName(name: string): string {
  switch (name) {
    case 'Content-Type':
      return 'content-type';
    case 'Content-Length':
      return 'content-length';
    case 'Last-Modified':
      return 'last-modified';
    case 'ETag':
    case 'Accept-Ranges':
    case 'Cache-Control':
    case 'Expires':
      // Not among the names write() looks for: any string outside its cases will do.
      return name;
    default:
      return name.toLowerCase();
  }
}

/** stub_status's bucket of a state (a closing connection is only "active"). */
function bucket(counters: ServerCounters, state: State, delta: number): void {
  if (state === State.Waiting) counters.waiting += delta;
  else if (state === State.ReadingHead) counters.reading += delta;
  else if (state === State.Processing) counters.writing += delta;
}

/** The head (latin1, as Buffer.from writes it) and the body in one buffer. */
function joinHead(head: string, body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(head.length + body.length);
  out.write(head, 0, 'latin1');
  body.copy(out, head.length);
  return out;
}

function bodyLength(body: OutgoingResponse['body']): number {
  switch (body.kind) {
    case 'none':
    case 'stream':
      return 0;
    case 'buffer':
      return body.data.length;
    case 'file':
      return body.end - body.start;
    case 'multipart':
      return body.parts.reduce((sum, part) => sum + (Buffer.isBuffer(part) ? part.length : part.end - part.start), 0);
  }
}
