/**
 * Fake upstream servers built from tsgi's own codecs and `node:net`, for the failures a real peer
 * will not produce on demand: a head cut in the middle, a stall, a bad record. Each server reads
 * the whole request with the protocol's decoder before the test's handler answers, so that
 * closing afterwards is a clean FIN, not a reset over unread bytes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { UwsgiRequestDecoder, UWSGI_MAX_BLOCK_SIZE } from '../../src/protocols/uwsgi.js';
import { ScgiRequestDecoder } from '../../src/protocols/scgi.js';
import { FcgiServerSession } from '../../src/protocols/fastcgi-session.js';
import { FCGI_REQUEST_COMPLETE, encodeStderr, encodeStdout } from '../../src/protocols/fastcgi.js';
import type { UpstreamScheme } from '../../src/upstream/peer.js';

export interface FakeRequest {
  socket: Socket;
  vars: string[];
  body: Buffer;
  keepConn: boolean;
  /** Response bytes: as they are for uwsgi and SCGI, in STDOUT records for FastCGI. */
  send(data: string | Buffer): void;
  /** FastCGI: a STDERR record. */
  stderr(text: string): void;
  /** FastCGI: the empty STDOUT record and END_REQUEST. uwsgi, SCGI: nothing (the close ends). */
  endRequest(protocolStatus?: number): void;
  /** Closes the connection with a FIN (everything sent so far is delivered). */
  close(): void;
  var(name: string): string | undefined;
}

export interface FakeServer {
  /** The address to give the client. */
  address: string;
  connections(): number;
  requests(): number;
  /** Connections currently open. */
  open(): number;
  close(): Promise<void>;
}

const LATIN1 = 'latin1';

function toBuffer(data: string | Buffer): Buffer {
  return typeof data === 'string' ? Buffer.from(data, LATIN1) : data;
}

/** Serves `protocol` on 127.0.0.1 (or a UNIX path); `onRequest` answers each whole request. */
export async function fakeUpstream(protocol: UpstreamScheme, onRequest: (request: FakeRequest) => void, unixPath?: string): Promise<FakeServer> {
  let connections = 0;
  let requests = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    // The handlers answer in several small writes; Nagle would hold each for the client's ACK.
    if (unixPath === undefined) socket.setNoDelay(true);
    const answer = (vars: string[], body: Buffer, keepConn: boolean, requestId: number, session: FcgiServerSession | null): void => {
      requests++;
      const request: FakeRequest = {
        socket,
        vars,
        body,
        keepConn,
        send: (data) => {
          if (!socket.writable) return;
          socket.write(session === null ? toBuffer(data) : encodeStdout(requestId, toBuffer(data)));
        },
        stderr: (text) => {
          if (socket.writable) socket.write(encodeStderr(requestId, Buffer.from(text)));
        },
        endRequest: (protocolStatus = FCGI_REQUEST_COMPLETE) => {
          if (session !== null && socket.writable) socket.write(session.endRequest(requestId, 0, protocolStatus));
          if (session?.closeRequested) socket.end();
        },
        close: () => socket.end(),
        var: (name) => {
          let value: string | undefined;
          for (let i = 0; i < vars.length; i += 2) if (vars[i] === name) value = vars[i + 1];
          return value;
        },
      };
      onRequest(request);
    };
    if (protocol === 'fastcgi') {
      const pending = new Map<number, { vars: string[]; body: Buffer[]; keepConn: boolean }>();
      const session: FcgiServerSession = new FcgiServerSession({
        onBeginRequest: (id, _role, keepConn) => pending.set(id, { vars: [], body: [], keepConn }),
        onParams: (id, vars) => {
          const entry = pending.get(id);
          if (entry) entry.vars = vars;
        },
        onStdin: (id, chunk) => pending.get(id)?.body.push(Buffer.from(chunk)),
        onStdinEnd: (id) => {
          const entry = pending.get(id);
          if (entry) answer(entry.vars, Buffer.concat(entry.body), entry.keepConn, id, session);
        },
        onAbort: () => {},
        onOutput: (bytes) => socket.write(bytes),
      });
      socket.on('data', (chunk: Buffer) => {
        if (session.execute(chunk) < 0) socket.destroy();
      });
      return;
    }
    let vars: string[] = [];
    const body: Buffer[] = [];
    const handlers = {
      onRequest: (request: { vars: string[] }) => {
        vars = request.vars;
      },
      onBody: (chunk: Buffer) => body.push(Buffer.from(chunk)),
      onComplete: () => answer(vars, Buffer.concat(body), false, 0, null),
    };
    const decoder = protocol === 'uwsgi' ? new UwsgiRequestDecoder(handlers, { bufferSize: UWSGI_MAX_BLOCK_SIZE }) : new ScgiRequestDecoder(handlers, { maxHeaderSize: 1 << 20 });
    socket.on('data', (chunk: Buffer) => {
      if (decoder.execute(chunk) < 0) socket.destroy();
    });
  });
  const address = await listen(server, unixPath);
  return {
    address,
    connections: () => connections,
    requests: () => requests,
    open: () => sockets.size,
    close: () => closeServer(server, sockets),
  };
}

/** A server that accepts and never reads: the request fills the socket buffers and stalls. */
export async function deafServer(): Promise<FakeServer> {
  let connections = 0;
  const sockets = new Set<Socket>();
  const server = createServer({ pauseOnConnect: true }, (socket) => {
    connections++;
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
  });
  const address = await listen(server);
  return { address, connections: () => connections, requests: () => 0, open: () => sockets.size, close: () => closeServer(server, sockets) };
}

/** A TCP port nothing listens on (it was bound, then released). */
export async function refusedAddress(): Promise<string> {
  const server = createServer();
  const address = await listen(server);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return address;
}

/**
 * An address whose connect() hangs: a listening socket in a child process that never accepts
 * (its event loop is blocked), with its one-slot backlog filled first. Non-routable addresses
 * (10.255.255.1) are no use where a sandbox proxies every outgoing connection.
 */
export async function blackHole(): Promise<{ address: string; close: () => Promise<void> }> {
  const child: ChildProcess = spawn(
    process.execPath,
    [
      '-e',
      `const server = require('node:net').createServer();
       server.listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => {
         process.stdout.write(server.address().port + '\\n', () => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0));
       });`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.once('data', (data: Buffer) => resolve(Number(data.toString().trim())));
    child.once('exit', (code) => reject(new Error(`black hole exited with ${code}`)));
  });
  // Fill the accept queue (backlog + 1 on Linux, plus slack): later SYNs are dropped.
  const fillers: Socket[] = [];
  for (let i = 0; i < 4; i++) {
    const filler = connect(port, '127.0.0.1');
    filler.on('error', () => {});
    fillers.push(filler);
  }
  await new Promise((resolve) => setTimeout(resolve, 100));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    address: `127.0.0.1:${port}`,
    async close() {
      for (const filler of fillers) filler.destroy();
      child.kill('SIGKILL');
      await exited;
    },
  };
}

function listen(server: Server, unixPath?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    const done = (): void => {
      const address = server.address();
      if (address === null) reject(new Error('no address'));
      else resolve(typeof address === 'string' ? `unix:${address}` : `127.0.0.1:${address.port}`);
    };
    if (unixPath === undefined) server.listen(0, '127.0.0.1', done);
    else server.listen(unixPath, done);
  });
}

function closeServer(server: Server, sockets: Set<Socket>): Promise<void> {
  for (const socket of sockets) socket.destroy();
  return new Promise<void>((resolve) => server.close(() => resolve()));
}
