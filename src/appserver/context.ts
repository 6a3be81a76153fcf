import type { Socket } from 'node:net';
import type { App, ErrorStream } from '../gateway/types.js';
import type { Http1Limits } from '../protocols/http1.js';
import type { Logger } from './log.js';
import type { DateClock } from './http/response.js';

/** What every connection accepted on one socket shares, whatever its protocol. */
export interface ServerContext {
  app: App;
  log: Logger;
  clock: DateClock;
  limits: Partial<Http1Limits>;
  errors: ErrorStream;
  serverName: string;
  serverPort: string;
  multiprocess: boolean;
  /** Keeps the server aware of responses still running (graceful close waits for them). */
  track(pending: Promise<void>): void;
  forget(connection: ServedConnection): void;
}

/** A client connection as the server's timeout sweep and graceful close see it. */
export interface ServedConnection {
  readonly socket: Socket;
  /** Set on every read; the sweep clears it and counts idle ticks. */
  active: boolean;
  idleTicks: number;
  /** Nothing in progress: may be closed at once. */
  readonly idle: boolean;
  /** Part of a request head is buffered and no request runs: the header timeout applies. */
  readonly waitingForHead: boolean;
  /** Close when idle, or after the response in progress. */
  shutdown(): void;
}
