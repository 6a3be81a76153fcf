/**
 * The router's TSGI application for the sockets the Python workers cannot accept on themselves
 * (an SCGI or FastCGI socket, a second uwsgi socket): the router serves such a socket with the
 * appserver's own connection code (../stream-connection.ts, ../fastcgi-connection.ts), and this
 * app hands each request it decodes to the workers as a uwsgi request, then streams their answer
 * back. The protocol of the client's socket is thus spoken by tested code, and the workers keep
 * one socket (docs/python.md, "Sockets").
 *
 * One worker connection per request, without tsgi's keep extension: the worker closes it after
 * the response, so the end of the response is the end of the connection and nothing can leak
 * from one request into the next. (The HTTP side of the router keeps connections: ./worker-pool.ts.)
 */
import { connect, type Socket } from 'node:net';
import type { App, Body, Environ, HeaderList, InputStream, StartResponse } from '../../gateway/types.js';
import { CgiResponseParser, type CgiResponseHandlers, type CgiResponseHead } from '../../protocols/cgi-response.js';
import { UWSGI_MAX_BLOCK_SIZE, encodeUwsgiRequest } from '../../protocols/uwsgi.js';
import { describeError, type Logger } from '../log.js';
import { describeWorkerAddress, type WorkerAddress } from './context.js';

export interface RelayOptions {
  upstream: WorkerAddress;
  /** --http-timeout: seconds of silence from a worker before a 504 (or a cut body). */
  timeoutSeconds: number;
  log: Logger;
}

/** Body chunks waiting for the client before the worker socket is paused. */
const QUEUED_CHUNKS = 16;

/**
 * The CGI variables of `environ` as the worker should see them: every string-valued key without a
 * dot (the server's own keys are `tsgi.*`). PATH_INFO and SCRIPT_NAME are the ones the connection
 * code derived, which is what the worker would derive from the same variables.
 */
export function relayVars(environ: Environ): string[] {
  const vars: string[] = [];
  for (const [key, value] of Object.entries(environ)) {
    if (typeof value === 'string' && !key.includes('.')) vars.push(key, value);
  }
  return vars;
}

/** An answer of the router itself, when the workers give none. */
function failure(startResponse: StartResponse, status: string, text: string): Body {
  startResponse(status, [
    ['Content-Type', 'text/plain'],
    ['Content-Length', String(Buffer.byteLength(text))],
  ]);
  return [text];
}

/** One relayed response: the worker socket's parser events, turned into a head promise and a body queue. */
class Relay implements CgiResponseHandlers {
  readonly parser = new CgiResponseParser(this, { maxHeadSize: UWSGI_MAX_BLOCK_SIZE });
  readonly head: Promise<CgiResponseHead>;
  private resolveHead!: (head: CgiResponseHead) => void;
  private rejectHead!: (error: Error) => void;
  private readonly chunks: Buffer[] = [];
  private ended = false;
  private error: Error | null = null;
  private wake: (() => void) | null = null;

  constructor(readonly socket: Socket) {
    this.head = new Promise((resolve, reject) => {
      this.resolveHead = resolve;
      this.rejectHead = reject;
    });
    // Without a listener an early failure would be an unhandled rejection.
    this.head.catch(() => undefined);
  }

  onHead(head: CgiResponseHead): void {
    this.resolveHead(head);
  }

  onBody(chunk: Buffer): void {
    this.chunks.push(chunk);
    if (this.chunks.length >= QUEUED_CHUNKS) this.socket.pause();
    this.notify();
  }

  data(chunk: Buffer): void {
    if (this.parser.execute(chunk) < 0) this.fail(this.parser.error!);
  }

  end(): void {
    const error = this.parser.end();
    if (error !== null) this.fail(error);
    else {
      this.ended = true;
      this.notify();
    }
  }

  fail(error: Error): void {
    if (this.ended || this.error !== null) return;
    this.error = error;
    this.rejectHead(error);
    this.socket.destroy();
    this.notify();
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }

  async *body(): AsyncGenerator<Buffer> {
    try {
      for (;;) {
        const chunk = this.chunks.shift();
        if (chunk !== undefined) {
          if (this.chunks.length < QUEUED_CHUNKS / 2 && this.socket.isPaused()) this.socket.resume();
          yield chunk;
          continue;
        }
        if (this.error !== null) throw this.error;
        if (this.ended) return;
        await new Promise<void>((resolve) => (this.wake = resolve));
      }
    } finally {
      // Also when the client went away mid-body: the worker's write fails and it moves on.
      this.socket.destroy();
    }
  }
}

/** Streams the request body into the worker socket, with backpressure; a failure ends the relay. */
async function sendBody(input: InputStream, relay: Relay): Promise<void> {
  const socket = relay.socket;
  for await (const chunk of input) {
    if (socket.destroyed) return;
    if (!socket.write(chunk)) await new Promise<void>((resolve) => socket.once('drain', resolve).once('close', resolve));
  }
}

async function relayRequest(environ: Environ, startResponse: StartResponse, options: RelayOptions): Promise<Body> {
  let packet: Buffer;
  try {
    packet = encodeUwsgiRequest(relayVars(environ));
  } catch (error) {
    options.log.error(`tsgi relay: cannot pass the request to the workers: ${describeError(error)}`);
    return failure(startResponse, '502 Bad Gateway', 'Bad Gateway\n');
  }
  const socket = connect('path' in options.upstream ? { path: options.upstream.path } : options.upstream);
  const relay = new Relay(socket);
  let timedOut = false;
  socket.setTimeout(options.timeoutSeconds * 1000, () => {
    timedOut = true;
    relay.fail(new Error(`no answer from ${describeWorkerAddress(options.upstream)} in ${options.timeoutSeconds} seconds`));
  });
  socket.on('data', (chunk: Buffer) => relay.data(chunk));
  socket.on('end', () => relay.end());
  socket.on('error', (error) => relay.fail(error));
  socket.on('close', () => relay.fail(new Error('the worker closed the connection')));
  socket.write(packet);
  if (environ.CONTENT_LENGTH !== undefined && environ.CONTENT_LENGTH !== '0') {
    sendBody(environ['tsgi.input'], relay).catch((error: unknown) => relay.fail(error instanceof Error ? error : new Error(String(error))));
  }
  let head: CgiResponseHead;
  try {
    head = await relay.head;
  } catch (error) {
    options.log.error(`tsgi relay: ${describeWorkerAddress(options.upstream)}: ${describeError(error)}`);
    return timedOut ? failure(startResponse, '504 Gateway Timeout', 'Gateway Timeout\n') : failure(startResponse, '502 Bad Gateway', 'Bad Gateway\n');
  }
  const headers: HeaderList = [];
  for (let i = 0; i + 1 < head.headers.length; i += 2) {
    // A CGI-style head carries its status as a header; the client's protocol writes it its own way.
    if (head.headers[i]!.toLowerCase() !== 'status') headers.push([head.headers[i]!, head.headers[i + 1]!]);
  }
  startResponse(`${head.status} ${head.reason}`, headers);
  return relay.body();
}

/** The TSGI app the router runs on a non-HTTP socket: every request goes to the workers. */
export function relayApp(options: RelayOptions): App {
  return (environ, startResponse) => relayRequest(environ, startResponse, options);
}
