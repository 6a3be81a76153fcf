/**
 * Waiting until a started server answers. Polling, not a fixed sleep: start-up time varies a lot
 * on a shared machine (tsx compiling an app, nginx forking workers), and a process that dies while
 * starting is reported at once with the end of its log.
 */
import { request } from 'node:http';
import { connect } from 'node:net';
import { closeSync, openSync, readSync, fstatSync } from 'node:fs';
import { LOOPBACK } from './ports.js';
import type { StartedProcess } from './processes.js';
import type { ReadyCheck } from './types.js';

const READY_TIMEOUT_MS = 20_000;
const POLL_MS = 100;
/** One probe may hang (a server that accepted but does not answer yet); do not wait on it forever. */
const PROBE_TIMEOUT_MS = 1000;
const LOG_TAIL_BYTES = 2048;

export async function waitReady(proc: StartedProcess): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (proc.exit !== null) {
      const how = proc.exit.signal !== null ? `signal ${proc.exit.signal}` : `code ${proc.exit.code}`;
      throw new Error(`${proc.spec.label} exited with ${how} while starting${logTail(proc.logPath)}`);
    }
    if (await probe(proc.spec.ready)) return;
    if (Date.now() > deadline) {
      throw new Error(`${proc.spec.label} did not answer within ${READY_TIMEOUT_MS / 1000} s${logTail(proc.logPath)}`);
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

function probe(check: ReadyCheck): Promise<boolean> {
  switch (check.kind) {
    case 'http':
      return probeHttp(check.port, check.path);
    case 'tcp':
      return probeConnect({ host: LOOPBACK, port: check.port });
    case 'unix':
      return probeConnect({ path: check.path });
  }
}

/** Any status counts: the question is whether the server answers, not whether the app is right. */
function probeHttp(port: number, path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ host: LOOPBACK, port, path, agent: false, timeout: PROBE_TIMEOUT_MS }, (res) => {
      res.resume();
      resolve(true);
    });
    req.once('timeout', () => req.destroy());
    req.once('error', () => resolve(false));
    req.end();
  });
}

/** A TCP port or a UNIX socket file that accepts a connection: the backend is listening. */
function probeConnect(where: { host: string; port: number } | { path: string }): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ ...where, timeout: PROBE_TIMEOUT_MS });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('timeout', () => socket.destroy());
    socket.once('error', () => resolve(false));
    socket.once('close', () => resolve(false));
  });
}

/** The end of a server's log, indented, for error messages; empty when the log is empty. */
export function logTail(path: string): string {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return '';
  }
  try {
    const size = fstatSync(fd).size;
    const length = Math.min(size, LOG_TAIL_BYTES);
    const buf = Buffer.alloc(length);
    readSync(fd, buf, 0, length, size - length);
    const text = buf.toString('utf8').trimEnd();
    // The path is not shown: the log lives in a temporary directory removed after the scenario.
    return text === '' ? '' : `\n  last output:\n${text.replace(/^/gm, '    | ')}`;
  } finally {
    closeSync(fd);
  }
}
