/**
 * The request object of `tsgi web`: the RequestContext every phase sees (see request-context.ts
 * for the contract), plus what only the pipeline and the connection use (keep-alive, the
 * error_page bookkeeping, cleanups).
 */
import type { Captures } from '../match/index.js';
import { NO_CAPTURES } from '../match/index.js';
import { ClientGone } from './client-gone.js';
import type { LocationConf, LogLevel, NginxConfig, PerLocation, ServerConf } from '../config/index.js';
import type {
  ConnectionInfo,
  HeaderPair,
  RequestBodyReader,
  RequestContext,
  RequestHeadFacts,
  RequestHeaders,
  WebModules,
  WorkerInfo,
} from '../request-context.js';

/** The request's headers, from the codec's flat [name, value, ...] list; lookups index it once. */
export class HeaderTable implements RequestHeaders {
  readonly list: readonly HeaderPair[];
  private index: Map<string, string[]> | null = null;

  constructor(flat: readonly string[]) {
    const list: HeaderPair[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) list.push([flat[i]!, flat[i + 1]!]);
    this.list = list;
  }

  private lookup(): Map<string, string[]> {
    if (this.index === null) {
      this.index = new Map();
      for (const [name, value] of this.list) {
        const key = name.toLowerCase();
        const values = this.index.get(key);
        if (values === undefined) this.index.set(key, [value]);
        else values.push(value);
      }
    }
    return this.index;
  }

  get(name: string): string | undefined {
    return this.lookup().get(name.toLowerCase())?.[0];
  }

  getAll(name: string): readonly string[] {
    return this.lookup().get(name.toLowerCase()) ?? [];
  }
}

export interface RequestInit {
  readonly connection: ConnectionInfo;
  readonly worker: WorkerInfo;
  readonly startMs: number;
  readonly head: RequestHeadFacts;
  readonly headers: RequestHeaders;
  /** The validated host from the request line or Host header ('' when neither gave one). */
  readonly requestHost: string;
  readonly server: ServerConf;
  readonly serverCaptures: Captures;
  readonly uri: string;
  readonly args: string;
  readonly exten: string;
  readonly body: RequestBodyReader;
  readonly modules: WebModules;
  readonly config: NginxConfig;
  /** The client wants the connection kept (HTTP/1.1 without `close`, or 1.0 with `keep-alive`). */
  readonly keepAlive: boolean;
}

/** nginx's NGX_HTTP_MAX_URI_CHANGES: internal redirects and location re-lookups per request. */
export const MAX_URI_CHANGES = 10;

export class RequestState implements RequestContext {
  readonly connection: ConnectionInfo;
  readonly worker: WorkerInfo;
  readonly startMs: number;
  readonly head: RequestHeadFacts;
  readonly headers: RequestHeaders;
  readonly scheme = 'http' as const;
  readonly host: string;
  /** nginx's r->headers_in.server: the host the request named, '' if none (redirects use it). */
  readonly requestHost: string;
  readonly server: ServerConf;
  readonly serverName: string;
  readonly body: RequestBodyReader;
  readonly modules: WebModules;
  readonly config: NginxConfig;
  readonly variables = new Map<string, string>();
  /** Made when a handler asks for clientGone: only *_pass handlers listen. */
  private gone: ClientGone | null = null;
  private goneAlready = false;

  get clientGone(): ClientGone {
    if (this.gone === null) {
      this.gone = new ClientGone();
      if (this.goneAlready) this.gone.abort();
    }
    return this.gone;
  }

  method: string;
  uri: string;
  args: string;
  exten: string;
  internal = false;
  redirects = 0;
  validUnparsedUri = true;
  validLocation = true;
  location: LocationConf | null = null;
  loc: PerLocation;
  captures: Captures;
  status = 0;
  sentHeaders: readonly HeaderPair[] = [];
  bodyBytesSent = 0;
  bytesSent = 0;
  requestLength: number;
  completed = false;

  /** r->keepalive: the connection stays open after this response. */
  keepAlive: boolean;
  /** r->error_page: an error_page was used (recursive_error_pages off allows one). */
  errorPageUsed = false;
  /**
   * The Location was completed by the header filter, so nginx writes it in its fixed place
   * (after Last-Modified); an absolute one stays among the other headers, in their order.
   */
  locationInSlot = false;
  /** r->err_status: the status an error_page redirect answers with (0: the page's own). */
  errStatus = 0;
  private readonly cleanups: (() => void)[] = [];

  constructor(init: RequestInit) {
    this.connection = init.connection;
    this.worker = init.worker;
    this.startMs = init.startMs;
    this.head = init.head;
    this.headers = init.headers;
    this.server = init.server;
    this.serverName = init.server.serverNames[0]?.name ?? '';
    this.requestHost = init.requestHost;
    this.host = init.requestHost !== '' ? init.requestHost : this.serverName;
    this.body = init.body;
    this.modules = init.modules;
    this.config = init.config;
    this.method = init.head.method;
    this.uri = init.uri;
    this.args = init.args;
    this.exten = init.exten;
    this.loc = init.server.loc;
    this.captures = init.serverCaptures ?? NO_CAPTURES;
    // A regex server_name's named groups are variables from the start ($sub in the server).
    for (const [name, value] of Object.entries(this.captures.named)) this.variables.set(name.toLowerCase(), value);
    this.requestLength = init.head.headLength;
    this.keepAlive = init.keepAlive;
  }

  /** HEAD asks for the headers only; an error_page redirect keeps HEAD as HEAD. */
  get headerOnly(): boolean {
    return this.method === 'HEAD';
  }

  /** The connection saw the client close (EOF or a dropped socket) before the response ended. */
  clientClosed(): void {
    this.goneAlready = true;
    this.gone?.abort();
  }

  onDone(cleanup: () => void): void {
    this.cleanups.push(cleanup);
  }

  log(level: LogLevel, message: string): void {
    this.modules.errorLog.log(level, message, this);
  }

  /** Runs the cleanups once; a failing cleanup does not stop the others. */
  finish(): void {
    const cleanups = this.cleanups.splice(0);
    for (const cleanup of cleanups) {
      try {
        cleanup();
      } catch (error) {
        this.log('alert', `request cleanup failed: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  }
}
