/**
 * FastCGI connection state machines on top of the record codec in `fastcgi.ts`. Pure: bytes in,
 * events and bytes-to-send out; no sockets, no timers.
 *
 *   FcgiServerSession  the application side (a Responder, §6.2): decodes what nginx (or tsgi web)
 *                      sends on one connection, requests multiplexed by id, and answers the
 *                      management records itself.
 *   FcgiClientSession  the web server side: decodes what php-fpm (or tsgi serve) answers.
 *
 * Both follow the codec contract: `execute(data, offset)` returns the bytes consumed (all) or -1
 * with `error` set; nothing throws out of it; handler exceptions propagate.
 */
import {
  DEFAULT_FCGI_MAX_PARAMS_BYTES,
  FCGI_ABORT_REQUEST,
  FCGI_BEGIN_REQUEST,
  FCGI_BEGIN_REQUEST_BODY_LEN,
  FCGI_CANT_MPX_CONN,
  FCGI_DATA,
  FCGI_END_REQUEST,
  FCGI_END_REQUEST_BODY_LEN,
  FCGI_GET_VALUES,
  FCGI_GET_VALUES_RESULT,
  FCGI_MAX_CONNS,
  FCGI_MAX_REQS,
  FCGI_MPXS_CONNS,
  FCGI_NULL_REQUEST_ID,
  FCGI_OVERLOADED,
  FCGI_PARAMS,
  FCGI_REQUEST_COMPLETE,
  FCGI_RESPONDER,
  FCGI_STDERR,
  FCGI_STDIN,
  FCGI_STDOUT,
  FCGI_UNKNOWN_ROLE,
  FCGI_UNKNOWN_TYPE,
  FCGI_UNKNOWN_TYPE_BODY_LEN,
  FastcgiError,
  FcgiNameValueDecoder,
  FcgiRecordDecoder,
  decodeNameValuePairs,
  encodeAbortRequest,
  encodeEndRequest,
  encodeFcgiRequest,
  encodeGetValuesResult,
  encodeResponseEnd,
  encodeUnknownType,
  readBeginRequestBody,
  readEndRequestBody,
  readUnknownTypeBody,
  recordTypeName,
  type FastcgiErrorCode,
  type FcgiRequestOptions,
  type FcgiVars,
} from './fastcgi.js';

const EMPTY: Buffer = Buffer.alloc(0);
/** FCGI_MPXS_CONNS values (§4.1). */
const MPXS_YES = '1';
const MPXS_NO = '0';

// ---------------------------------------------------------------------------------------------
// Server (application) side

export interface FcgiServerHandlers {
  /** A request became active (§3.3 "Managing Request IDs"). `role` is FCGI_RESPONDER (other
   *  roles are refused with FCGI_UNKNOWN_ROLE before this is called). `keepConn`: FCGI_KEEP_CONN
   *  was set; without it the application closes the connection after the response (§5.1). */
  onBeginRequest(requestId: number, role: number, keepConn: boolean): void;
  /** The PARAMS stream ended (§5.2): flat [name, value, ...], latin1, in the order sent. */
  onParams(requestId: number, vars: string[]): void;
  /** Request body bytes (STDIN, §5.3); a subarray of the input, never empty. */
  onStdin(requestId: number, chunk: Buffer): void;
  /** The empty STDIN record arrived: the body is complete. */
  onStdinEnd(requestId: number): void;
  /** FCGI_ABORT_REQUEST (§5.4), or the connection closed with the request active (`finish`).
   *  The request stays active until `endRequest` (the spec wants an END_REQUEST answer). */
  onAbort(requestId: number): void;
  /** Bytes the session answers by itself: GET_VALUES_RESULT, UNKNOWN_TYPE, and END_REQUEST for
   *  refused requests. Write them to the connection in order with the responses. */
  onOutput(bytes: Buffer): void;
}

export interface FcgiServerOptions {
  /** FCGI_MAX_CONNS answered to GET_VALUES (§4.1). */
  maxConns: number;
  /** FCGI_MAX_REQS answered to GET_VALUES; also the most requests active on one connection:
   *  one more BEGIN_REQUEST is refused with FCGI_OVERLOADED (§5.5). */
  maxReqs: number;
  /** FCGI_MPXS_CONNS answered to GET_VALUES; when false a second concurrent request on a
   *  connection is refused with FCGI_CANT_MPX_CONN (§5.5). */
  mpxsConns: boolean;
  /** Largest PARAMS stream accepted per request (ERR_FASTCGI_PARAMS_TOO_LARGE beyond). */
  maxParamsBytes: number;
}

/** maxConns / maxReqs here are placeholders for what the app server knows (its listen queue,
 *  workers and threads) and passes in; nothing in the session depends on maxConns. */
export const DEFAULT_FCGI_SERVER_OPTIONS: Readonly<FcgiServerOptions> = Object.freeze({
  maxConns: 1024,
  maxReqs: 1024,
  mpxsConns: true,
  maxParamsBytes: DEFAULT_FCGI_MAX_PARAMS_BYTES,
});

const enum ServerPhase {
  Params,
  Stdin,
  Done,
}

class ServerRequest {
  phase: ServerPhase = ServerPhase.Params;
  aborted = false;
  params: FcgiNameValueDecoder | null;
  constructor(
    readonly keepConn: boolean,
    maxParamsBytes: number,
  ) {
    this.params = new FcgiNameValueDecoder(maxParamsBytes);
  }
}

/**
 * One connection of a Responder. Feed it the connection's bytes; it calls the handlers per
 * request id, answers management records (null request id) itself through `onOutput`, and
 * refuses requests it cannot take with END_REQUEST.
 *
 * Records for an id that is not active are ignored (§3.3: "While a request ID R is inactive, the
 * application ignores records with requestId == R, except for FCGI_BEGIN_REQUEST"): they are
 * what a web server still sends after the application answered early or refused the request.
 */
export class FcgiServerSession {
  private readonly handlers: FcgiServerHandlers;
  private readonly options: Readonly<FcgiServerOptions>;
  private readonly decoder: FcgiRecordDecoder;
  private readonly requests = new Map<number, ServerRequest>();
  private closeAfterResponse = false;

  constructor(handlers: FcgiServerHandlers, options?: Partial<FcgiServerOptions>) {
    this.handlers = handlers;
    this.options = { ...DEFAULT_FCGI_SERVER_OPTIONS, ...options };
    this.decoder = new FcgiRecordDecoder(
      { onRecord: (type, requestId, content) => this.onRecord(type, requestId, content) },
      { splitStreams: true },
    );
  }

  get error(): FastcgiError | null {
    return this.decoder.error;
  }

  /** Requests begun and not yet ended with `endRequest`. */
  get activeRequests(): number {
    return this.requests.size;
  }

  /** A request sent without FCGI_KEEP_CONN has been answered: close the connection once the
   *  bytes are written (§5.1, §3.5). */
  get closeRequested(): boolean {
    return this.closeAfterResponse;
  }

  isActive(requestId: number): boolean {
    return this.requests.has(requestId);
  }

  /** Feeds the connection's bytes. Returns the bytes consumed (all), or -1 on a protocol error. */
  execute(data: Buffer, offset = 0): number {
    return this.decoder.execute(data, offset);
  }

  /**
   * The connection closed. Every active request is aborted (`onAbort`, unless already aborted):
   * a web server that does not multiplex aborts by closing (§5.4), and nginx never sends
   * FCGI_ABORT_REQUEST. Returns ERR_FASTCGI_TRUNCATED if it closed inside a record.
   */
  finish(): FastcgiError | null {
    const error = this.decoder.finish();
    for (const [requestId, request] of this.requests) {
      if (request.aborted) continue;
      request.aborted = true;
      this.handlers.onAbort(requestId);
    }
    return error;
  }

  /**
   * Ends a request: returns the empty STDOUT record and {FCGI_END_REQUEST, id, {appStatus,
   * protocolStatus}} in one buffer, and makes the id inactive (§3.3: it becomes inactive when the
   * application sends END_REQUEST), so the web server may reuse it. Returns an empty buffer if
   * the id is not active (already ended): a second END_REQUEST would confuse the web server.
   */
  endRequest(requestId: number, appStatus = 0, protocolStatus: number = FCGI_REQUEST_COMPLETE): Buffer {
    const request = this.requests.get(requestId);
    if (request === undefined) return EMPTY;
    this.requests.delete(requestId);
    if (!request.keepConn) this.closeAfterResponse = true;
    return encodeResponseEnd(requestId, appStatus, protocolStatus);
  }

  private fail(code: FastcgiErrorCode, message: string): void {
    this.decoder.fail(new FastcgiError(code, message));
  }

  private onRecord(type: number, requestId: number, content: Buffer): void {
    if (requestId === FCGI_NULL_REQUEST_ID) {
      this.onManagementRecord(type, content);
      return;
    }
    if (type === FCGI_BEGIN_REQUEST) {
      this.onBeginRequest(requestId, content);
      return;
    }
    const request = this.requests.get(requestId);
    if (request === undefined) return; // §3.3: inactive id, ignored.
    switch (type) {
      case FCGI_PARAMS: {
        const params = request.params;
        if (request.phase !== ServerPhase.Params || params === null) {
          this.fail('ERR_FASTCGI_UNEXPECTED_RECORD', `FCGI_PARAMS for request ${requestId} after its PARAMS stream ended`);
          return;
        }
        if (content.length > 0) {
          const error = params.write(content);
          if (error !== null) this.decoder.fail(error);
          return;
        }
        const error = params.end();
        if (error !== null) {
          this.decoder.fail(error);
          return;
        }
        request.phase = ServerPhase.Stdin;
        request.params = null;
        this.handlers.onParams(requestId, params.vars);
        return;
      }
      case FCGI_STDIN:
        if (request.phase !== ServerPhase.Stdin) {
          // §6.2: a Responder receives the whole PARAMS stream, then STDIN, once.
          const when = request.phase === ServerPhase.Params ? 'before its PARAMS stream ended' : 'after its STDIN stream ended';
          this.fail('ERR_FASTCGI_UNEXPECTED_RECORD', `FCGI_STDIN for request ${requestId} ${when}`);
          return;
        }
        if (content.length > 0) {
          this.handlers.onStdin(requestId, content);
        } else {
          request.phase = ServerPhase.Done;
          this.handlers.onStdinEnd(requestId);
        }
        return;
      case FCGI_ABORT_REQUEST:
        if (request.aborted) return;
        request.aborted = true;
        this.handlers.onAbort(requestId);
        return;
      case FCGI_DATA:
        this.fail('ERR_FASTCGI_UNEXPECTED_RECORD', `FCGI_DATA for request ${requestId}: only a Filter receives it (§6.4)`);
        return;
      default:
        // END_REQUEST, STDOUT, STDERR and the rest travel from the application (appendix A).
        this.fail('ERR_FASTCGI_UNEXPECTED_RECORD', `${recordTypeName(type)} for request ${requestId} is not sent to an application`);
    }
  }

  private onBeginRequest(requestId: number, content: Buffer): void {
    if (content.length !== FCGI_BEGIN_REQUEST_BODY_LEN) {
      this.fail('ERR_FASTCGI_BAD_RECORD', `FCGI_BEGIN_REQUEST with ${content.length} content bytes, not ${FCGI_BEGIN_REQUEST_BODY_LEN}`);
      return;
    }
    if (this.requests.has(requestId)) {
      this.fail('ERR_FASTCGI_DUPLICATE_REQUEST', `FCGI_BEGIN_REQUEST for request ${requestId}, which is already active`);
      return;
    }
    const { role, keepConn } = readBeginRequestBody(content);
    // §5.5: the three ways to refuse a new request. The id never becomes active, so the rest of
    // the request's records are ignored.
    let refusal = -1;
    if (role !== FCGI_RESPONDER) refusal = FCGI_UNKNOWN_ROLE;
    else if (!this.options.mpxsConns && this.requests.size > 0) refusal = FCGI_CANT_MPX_CONN;
    else if (this.requests.size >= this.options.maxReqs) refusal = FCGI_OVERLOADED;
    if (refusal >= 0) {
      if (!keepConn) this.closeAfterResponse = true;
      this.handlers.onOutput(encodeEndRequest(requestId, 0, refusal));
      return;
    }
    this.requests.set(requestId, new ServerRequest(keepConn, this.options.maxParamsBytes));
    this.handlers.onBeginRequest(requestId, role, keepConn);
  }

  private onManagementRecord(type: number, content: Buffer): void {
    if (type !== FCGI_GET_VALUES) {
      // §4.2: answer {FCGI_UNKNOWN_TYPE, 0, {T}} to any management record not understood.
      this.handlers.onOutput(encodeUnknownType(type));
      return;
    }
    const query = decodeNameValuePairs(content, this.options.maxParamsBytes);
    if (query instanceof FastcgiError) {
      this.decoder.fail(query);
      return;
    }
    // §4.1: answer the names understood, with values; omit the others.
    const result: string[] = [];
    for (let i = 0; i < query.length; i += 2) {
      const name = query[i];
      if (name === FCGI_MAX_CONNS) result.push(name, String(this.options.maxConns));
      else if (name === FCGI_MAX_REQS) result.push(name, String(this.options.maxReqs));
      else if (name === FCGI_MPXS_CONNS) result.push(name, this.options.mpxsConns ? MPXS_YES : MPXS_NO);
    }
    this.handlers.onOutput(encodeGetValuesResult(result));
  }
}

// ---------------------------------------------------------------------------------------------
// Client (web server) side

export interface FcgiClientHandlers {
  /** Response bytes (STDOUT, §5.3); a subarray of the input, never empty. The empty STDOUT record
   *  is not reported: php-fpm does not send it, END_REQUEST is the end of the response. */
  onStdout(requestId: number, chunk: Buffer): void;
  /** Error text from the application (STDERR, §5.3); never empty. */
  onStderr(requestId: number, chunk: Buffer): void;
  /** {FCGI_END_REQUEST, id, {appStatus, protocolStatus}} (§5.5): the request is over and its id
   *  may be reused. protocolStatus other than FCGI_REQUEST_COMPLETE means it was refused. */
  onEndRequest(requestId: number, appStatus: number, protocolStatus: number): void;
  /** The answer to `encodeGetValues` (§4.1): flat [name, value, ...]. */
  onGetValuesResult?(values: string[]): void;
  /** The application did not understand the management record of this type (§4.2). */
  onUnknownType?(type: number): void;
}

/**
 * One connection to a FastCGI application. `beginRequest` encodes a request and registers its
 * id; records for an id with no request in flight are a protocol error, as in nginx ("upstream
 * sent unexpected FastCGI request id").
 */
export class FcgiClientSession {
  private readonly handlers: FcgiClientHandlers;
  private readonly decoder: FcgiRecordDecoder;
  private readonly inFlight = new Set<number>();

  constructor(handlers: FcgiClientHandlers) {
    this.handlers = handlers;
    this.decoder = new FcgiRecordDecoder(
      { onRecord: (type, requestId, content) => this.onRecord(type, requestId, content) },
      { splitStreams: true },
    );
  }

  get error(): FastcgiError | null {
    return this.decoder.error;
  }

  /** Requests sent and not yet answered with END_REQUEST. */
  get activeRequests(): number {
    return this.inFlight.size;
  }

  isActive(requestId: number): boolean {
    return this.inFlight.has(requestId);
  }

  /**
   * Registers request `requestId` and returns its first bytes (`encodeFcgiRequest`): BEGIN_REQUEST
   * and the PARAMS stream, plus the whole STDIN stream when `options.stdin` is given; otherwise
   * send the body with `encodeStdin` and end it with `encodeStdinEnd`. A RangeError if the id is
   * already in flight or is the null id.
   */
  beginRequest(requestId: number, vars: FcgiVars, options?: FcgiRequestOptions): Buffer {
    if (requestId === FCGI_NULL_REQUEST_ID) throw new RangeError('FastCGI request id 0 is the null id of management records');
    if (this.inFlight.has(requestId)) throw new RangeError(`FastCGI request ${requestId} is already in flight`);
    const bytes = encodeFcgiRequest(requestId, vars, options);
    this.inFlight.add(requestId);
    return bytes;
  }

  /** {FCGI_ABORT_REQUEST, id} for a request in flight (§5.4); the application answers with
   *  END_REQUEST, which ends it. Empty buffer if the request is not in flight. */
  abortRequest(requestId: number): Buffer {
    return this.inFlight.has(requestId) ? encodeAbortRequest(requestId) : EMPTY;
  }

  execute(data: Buffer, offset = 0): number {
    return this.decoder.execute(data, offset);
  }

  /** The connection closed: ERR_FASTCGI_TRUNCATED if inside a record or with requests still in
   *  flight (nginx: "upstream prematurely closed connection"), else null. */
  finish(): FastcgiError | null {
    const error = this.decoder.finish();
    if (error !== null) return error;
    if (this.inFlight.size > 0) {
      const ids = [...this.inFlight].join(', ');
      this.fail('ERR_FASTCGI_TRUNCATED', `connection closed before FCGI_END_REQUEST for request ${ids}`);
    }
    return this.decoder.error;
  }

  private fail(code: FastcgiErrorCode, message: string): void {
    this.decoder.fail(new FastcgiError(code, message));
  }

  private onRecord(type: number, requestId: number, content: Buffer): void {
    if (requestId === FCGI_NULL_REQUEST_ID) {
      this.onManagementRecord(type, content);
      return;
    }
    if (!this.inFlight.has(requestId)) {
      this.fail('ERR_FASTCGI_UNKNOWN_REQUEST', `${recordTypeName(type)} for request ${requestId}, which is not in flight`);
      return;
    }
    switch (type) {
      case FCGI_STDOUT:
        if (content.length > 0) this.handlers.onStdout(requestId, content);
        return;
      case FCGI_STDERR:
        if (content.length > 0) this.handlers.onStderr(requestId, content);
        return;
      case FCGI_END_REQUEST: {
        if (content.length !== FCGI_END_REQUEST_BODY_LEN) {
          this.fail('ERR_FASTCGI_BAD_RECORD', `FCGI_END_REQUEST with ${content.length} content bytes, not ${FCGI_END_REQUEST_BODY_LEN}`);
          return;
        }
        const { appStatus, protocolStatus } = readEndRequestBody(content);
        this.inFlight.delete(requestId);
        this.handlers.onEndRequest(requestId, appStatus, protocolStatus);
        return;
      }
      default:
        // nginx: "upstream sent invalid FastCGI record type".
        this.fail('ERR_FASTCGI_UNEXPECTED_RECORD', `${recordTypeName(type)} for request ${requestId} is not sent by an application`);
    }
  }

  private onManagementRecord(type: number, content: Buffer): void {
    if (type === FCGI_GET_VALUES_RESULT) {
      const values = decodeNameValuePairs(content);
      if (values instanceof FastcgiError) {
        this.decoder.fail(values);
        return;
      }
      this.handlers.onGetValuesResult?.(values);
      return;
    }
    if (type === FCGI_UNKNOWN_TYPE) {
      if (content.length !== FCGI_UNKNOWN_TYPE_BODY_LEN) {
        this.fail('ERR_FASTCGI_BAD_RECORD', `FCGI_UNKNOWN_TYPE with ${content.length} content bytes, not ${FCGI_UNKNOWN_TYPE_BODY_LEN}`);
        return;
      }
      this.handlers.onUnknownType?.(readUnknownTypeBody(content));
      return;
    }
    this.fail('ERR_FASTCGI_UNEXPECTED_RECORD', `management record ${recordTypeName(type)} is not sent by an application`);
  }
}
