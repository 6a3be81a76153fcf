/**
 * Kept connections from the router to tsgi's Python workers (docs/protocols.md, "Kept router
 * connections"). uwsgi has no keep-alive, so a connection per request costs a connect, an
 * accept and a close on both sides; the Python worker instead reads the next packet on the same
 * connection when the router asked for it (modifier2 KEEP_CONNECTION) and its response head
 * carried `Tsgi-Keep: 1`.
 *
 * The pool holds at most `limit` connections (two per worker thread, what the workers keep): a
 * request takes the connection that was released last (its worker has just become free), opens
 * a new one below the limit, and otherwise waits for the next one released. Waiting here rather
 * than in the workers' listen queue matters: a request sent on a connection waits for that
 * connection's worker, so the router only sends when a connection is free.
 */
import type { WorkerAddress } from './context.js';
import { WorkerSocket, type WorkerSocketHome, type WorkerSocketOwner } from './worker-socket.js';

/** modifier2 'K': the router will send its next request on this connection if the worker agrees. */
export const KEEP_CONNECTION = 0x4b;
/** The response head field by which a worker agrees; the router removes it. */
export const KEEP_FIELD = 'tsgi-keep';
/**
 * The field of the 503 a stopping worker sends on a kept connection instead of a response: it did
 * not read the request sent there, so the router sends it again on a fresh connection.
 */
export const RETRY_FIELD = 'tsgi-retry';

/** A client connection waiting for a worker connection. */
export interface PoolClient extends WorkerSocketOwner {
  onPooledWorker(worker: WorkerSocket): void;
}

export class WorkerPool implements WorkerSocketHome {
  /** Connected sockets between requests; the last released is taken first. */
  private readonly idle: WorkerSocket[] = [];
  private readonly waiting: PoolClient[] = [];
  private open = 0;

  constructor(
    private readonly upstream: WorkerAddress,
    private limit: number,
  ) {}

  /**
   * A new limit (the workers' number changed): waiting requests take the new room at once; above a
   * lower one, released connections are closed until it holds.
   */
  setLimit(limit: number): void {
    if (limit <= 0) return;
    this.limit = limit;
    while (this.waiting.length > 0 && this.open < this.limit) {
      const client = this.waiting.shift()!;
      client.onPooledWorker(this.acquire(client)!);
    }
  }

  /**
   * A socket for `client`'s request: an idle one (connected, `reused`), a new one (connecting:
   * the owner hears 'connect'), or null when `client` must wait for `onPooledWorker`. `fresh`
   * skips the idle ones and the limit: the retry after a stale connection.
   */
  acquire(client: PoolClient, fresh = false): WorkerSocket | null {
    if (!fresh) {
      const socket = this.idle.pop();
      if (socket !== undefined) {
        socket.owner = client;
        socket.reused = true;
        return socket;
      }
      if (this.open >= this.limit) {
        this.waiting.push(client);
        return null;
      }
    }
    this.open++;
    const socket = new WorkerSocket(client, this);
    const upstream = this.upstream;
    if ('path' in upstream) socket.connect(upstream.path);
    else socket.connect(upstream.port, upstream.host);
    return socket;
  }

  /** `client` no longer waits (it failed or went away). */
  cancel(client: PoolClient): void {
    const at = this.waiting.indexOf(client);
    if (at >= 0) this.waiting.splice(at, 1);
  }

  /** The socket's response ended where its framing said, and the worker keeps the connection. */
  release(socket: WorkerSocket): void {
    if (this.open > this.limit) {
      socket.destroy();
      return;
    }
    socket.resetResponse();
    if (socket.isPaused()) socket.resume();
    socket.removeAllListeners('drain');
    const client = this.waiting.shift();
    if (client === undefined) {
      socket.owner = null;
      this.idle.push(socket);
      return;
    }
    socket.owner = client;
    socket.reused = true;
    client.onPooledWorker(socket);
  }

  /**
   * `socket` broke between requests (its worker's goodbye, end or error reached it idle) and is
   * being destroyed: out of the idle list now. Its 'close', which would take it out too, comes
   * only a turn of the event loop later, and a request that took it meanwhile wrote into a
   * destroyed socket (a silent no-op) and waited --http-timeout for a reply: the 504s of a reload.
   */
  discard(socket: WorkerSocket): void {
    const at = this.idle.lastIndexOf(socket);
    if (at >= 0) this.idle.splice(at, 1);
  }

  closed(socket: WorkerSocket): void {
    this.open--;
    const at = this.idle.indexOf(socket);
    if (at >= 0) this.idle.splice(at, 1);
    const client = this.waiting.shift();
    if (client === undefined) return;
    // The waiting request takes the room this one left.
    const replacement = this.acquire(client);
    if (replacement !== null) client.onPooledWorker(replacement);
  }

  /** Closes the idle connections (the router is stopping). */
  closeIdle(): void {
    for (const socket of this.idle.splice(0)) socket.destroy();
  }
}
