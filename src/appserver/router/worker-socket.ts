/**
 * The router's connection to a worker. Its listeners are shared functions that reach the client
 * connection of the request it carries through `owner`: no closure is created per request. With
 * kept connections (./worker-pool.ts) the owner changes from request to request, and between
 * requests it is null: a socket then belongs to the pool, and anything it reports (data, end,
 * error) means it cannot carry another request.
 */
import { Socket } from 'node:net';
import { CgiResponseParser, type CgiResponseHandlers, type CgiResponseHead } from '../../protocols/cgi-response.js';
import { UWSGI_MAX_BLOCK_SIZE } from '../../protocols/uwsgi.js';

/** What a worker socket tells the client connection whose request it carries. */
export interface WorkerSocketOwner {
  onWorkerConnect(): void;
  onWorkerData(worker: WorkerSocket, chunk: Buffer): void;
  onWorkerEnd(): void;
  onWorkerError(error: Error): void;
  onResponseHead(worker: WorkerSocket, head: CgiResponseHead): void;
  onResponseBody(chunk: Buffer): void;
  resumeClient(): void;
}

/** Where a kept socket goes when its response ended (or it closed): ./worker-pool.ts. */
export interface WorkerSocketHome {
  release(worker: WorkerSocket): void;
  discard(worker: WorkerSocket): void;
  closed(worker: WorkerSocket): void;
}

export class WorkerSocket extends Socket implements CgiResponseHandlers {
  owner: WorkerSocketOwner | null;
  response: CgiResponseParser;
  /** The pool that owns this socket between requests; null for a connection per request. */
  readonly home: WorkerSocketHome | null;
  /** It carried a request before the current one (a failure before any reply may be a stale socket). */
  reused = false;
  /** The owner finished with it cleanly inside a data event: back to the pool when that event ends. */
  released = false;
  /** Bytes arrived that belong to no response: it cannot carry another request. */
  dirty = false;

  constructor(owner: WorkerSocketOwner, home: WorkerSocketHome | null) {
    super();
    this.owner = owner;
    this.home = home;
    this.response = new CgiResponseParser(this, { maxHeadSize: UWSGI_MAX_BLOCK_SIZE });
    this.on('connect', onWorkerConnect);
    this.on('data', onWorkerData);
    this.on('end', onWorkerEnd);
    this.on('error', onWorkerError);
    if (home !== null) this.on('close', onWorkerClose);
  }

  /** A fresh response parser, for the next request on a kept connection. */
  resetResponse(): void {
    this.response = new CgiResponseParser(this, { maxHeadSize: UWSGI_MAX_BLOCK_SIZE });
  }

  onHead(head: CgiResponseHead): void {
    if (this.owner === null) this.dirty = true;
    else this.owner.onResponseHead(this, head);
  }

  onBody(chunk: Buffer): void {
    if (this.owner === null) this.dirty = true;
    else this.owner.onResponseBody(chunk);
  }
}

function onWorkerConnect(this: WorkerSocket): void {
  this.owner?.onWorkerConnect();
}

function onWorkerData(this: WorkerSocket, chunk: Buffer): void {
  const owner = this.owner;
  if (owner === null) {
    // A worker does not speak between requests (but for its goodbye).
    discardIdle(this);
    return;
  }
  owner.onWorkerData(this, chunk);
  if (this.released) {
    // Handed on only now that the old response's parser has returned, so that it cannot call
    // into the next request's owner.
    this.released = false;
    if (this.dirty) this.destroy();
    else this.home!.release(this);
  }
}

function onWorkerEnd(this: WorkerSocket): void {
  if (this.owner === null) discardIdle(this);
  else this.owner.onWorkerEnd();
}

function onWorkerError(this: WorkerSocket, error: Error): void {
  if (this.owner === null) discardIdle(this);
  else this.owner.onWorkerError(error);
}

/** Destroys a socket that broke between requests, and takes it out of the pool's idle list at once. */
function discardIdle(socket: WorkerSocket): void {
  socket.home?.discard(socket);
  socket.destroy();
}

function onWorkerClose(this: WorkerSocket): void {
  this.home!.closed(this);
  const owner = this.owner;
  if (owner !== null) {
    // Closed with no 'end' or 'error' for its request (destroyed behind the owner's back): a
    // request left waiting here would get nothing until --http-timeout.
    this.owner = null;
    owner.onWorkerEnd();
  }
}

export function onWorkerDrain(this: WorkerSocket): void {
  this.owner?.resumeClient();
}
