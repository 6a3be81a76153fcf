/**
 * Harakiri (uWSGI's --harakiri N): a request that runs longer than N seconds gets its worker
 * killed, and the log names the request.
 *
 * The hard case is a request whose code never yields (`while (true) {}`): the worker's event loop
 * is blocked, so no timer, signal handler or IPC message of that worker can run. uWSGI's master
 * reads each worker's request start from shared memory and kills it; a Node master cannot read a
 * worker's memory, and heartbeats over IPC would tell that a worker is silent, not which request
 * it was running. So the check runs inside the worker, on a second thread:
 *
 * - the main thread writes each request's start time and "METHOD URI" into a SharedArrayBuffer
 *   when the request starts and clears it when it ends (a few stores, no allocation, no message);
 * - a `worker_threads` watchdog wakes every quarter of the limit, finds the oldest request, and
 *   when it is past the limit writes uWSGI's lines to stderr with `fs.writeSync` (which works
 *   while the main thread is stuck), tells the master on the notes pipe, and sends SIGKILL to its
 *   own process. The master sees the death and respawns the worker. The request named is the
 *   oldest one, unless the main thread has been inside one request's synchronous code for two
 *   checks in a row: that one blocks the event loop (and every older request with it).
 *
 * The master keeps a coarse backstop (a worker whose reports stop for longer than the limit plus
 * a margin is killed), for the case where the watchdog thread itself could not run.
 *
 * Slots: one per request that may run at once (--threads), 64 when unlimited. A request that
 * finds every slot taken is not watched; the older ones that hold the slots would be killed first.
 */
import { Worker } from 'node:worker_threads';
import { NOTES_FD } from '../process/spawn.js';

/** Header: Int32 [0] stop flag for the watchdog, [1] slot of the request whose code runs now (-1: none). */
const HEADER_BYTES = 64;
const STOP_INDEX = 0;
const RUNNING_INDEX = 1;
/** Slot: Int32 sequence (odd while being written), Int32 description length, Float64 start (ms since epoch, 0 = free), description bytes. */
const SLOT_BYTES = 256;
const SEQ_OFFSET = 0;
const LENGTH_OFFSET = 4;
const START_OFFSET = 8;
const DESCRIPTION_OFFSET = 16;
const DESCRIPTION_BYTES = SLOT_BYTES - DESCRIPTION_OFFSET;
export const DEFAULT_HARAKIRI_SLOTS = 64;

/** The main thread's side: where requests are written down for the watchdog to read. */
export class HarakiriBoard {
  readonly buffer: SharedArrayBuffer;
  private readonly ints: Int32Array;
  private readonly floats: Float64Array;
  private readonly bytes: Uint8Array;
  private readonly encoder = new TextEncoder();
  private readonly free: number[] = [];

  constructor(readonly slots: number) {
    this.buffer = new SharedArrayBuffer(HEADER_BYTES + slots * SLOT_BYTES);
    this.ints = new Int32Array(this.buffer);
    this.floats = new Float64Array(this.buffer);
    this.bytes = new Uint8Array(this.buffer);
    for (let slot = slots - 1; slot >= 0; slot--) this.free.push(slot);
    Atomics.store(this.ints, RUNNING_INDEX, -1);
  }

  /** A request starts; returns its slot, or -1 when all slots are taken (the request is not watched). */
  begin(description: string, now: number = Date.now()): number {
    const slot = this.free.pop();
    if (slot === undefined) return -1;
    const base = HEADER_BYTES + slot * SLOT_BYTES;
    // A seqlock: the watchdog skips a slot whose sequence is odd or changed while it read.
    Atomics.add(this.ints, (base + SEQ_OFFSET) >> 2, 1);
    const { written } = this.encoder.encodeInto(description, this.bytes.subarray(base + DESCRIPTION_OFFSET, base + SLOT_BYTES));
    this.ints[(base + LENGTH_OFFSET) >> 2] = written;
    this.floats[(base + START_OFFSET) >> 3] = now;
    Atomics.add(this.ints, (base + SEQ_OFFSET) >> 2, 1);
    return slot;
  }

  end(slot: number): void {
    if (slot < 0) return;
    const base = HEADER_BYTES + slot * SLOT_BYTES;
    Atomics.add(this.ints, (base + SEQ_OFFSET) >> 2, 1);
    this.floats[(base + START_OFFSET) >> 3] = 0;
    Atomics.add(this.ints, (base + SEQ_OFFSET) >> 2, 1);
    this.free.push(slot);
  }

  /**
   * The main thread enters (slot) or leaves (-1) the application's synchronous code for a request.
   * When the event loop is stuck, this names the request that blocks it rather than an older one
   * that merely waits on I/O.
   */
  running(slot: number): void {
    Atomics.store(this.ints, RUNNING_INDEX, slot);
  }

  /** Asks the watchdog thread to end. */
  stop(): void {
    Atomics.store(this.ints, STOP_INDEX, 1);
    Atomics.notify(this.ints, STOP_INDEX);
  }
}

export interface WatchdogOptions {
  board: HarakiriBoard;
  /** The limit in seconds (uWSGI's --harakiri). */
  limit: number;
  /** The worker id, for the log lines. */
  workerId: number;
}

/**
 * The watchdog thread's code. It is evaluated as a CommonJS script (`eval: true`) rather than loaded
 * from a file because worker threads do not inherit tsx's module hooks on Node 20: a `.ts` file
 * would not load under the test runner, and a string runs the same from `src/` and `dist/`.
 */
const WATCHDOG_SOURCE = `
'use strict';
const { workerData } = require('node:worker_threads');
const fs = require('node:fs');
const { buffer, limitMs, checkMs, workerId, pid, slots, notesFd } = workerData;
const ints = new Int32Array(buffer);
const floats = new Float64Array(buffer);
const bytes = new Uint8Array(buffer);
const decoder = new TextDecoder();
const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const two = (n) => String(n).padStart(2, '0');
// ctime(3) without the newline, as uWSGI prints the start of the request.
const ctime = (ms) => {
  const d = new Date(ms);
  return DAYS[d.getDay()] + ' ' + MONTHS[d.getMonth()] + ' ' + String(d.getDate()).padStart(2, ' ') + ' ' +
    two(d.getHours()) + ':' + two(d.getMinutes()) + ':' + two(d.getSeconds()) + ' ' + d.getFullYear();
};
const write = (fd, text) => {
  for (let attempt = 0; attempt < 100; attempt++) {
    try { fs.writeSync(fd, text); return; } catch (error) { if (error.code !== 'EAGAIN') return; }
  }
};
// Reads a slot consistently (seqlock) or returns null when it is free or being written.
const readSlot = (slot) => {
  const base = ${HEADER_BYTES} + slot * ${SLOT_BYTES};
  const seq = Atomics.load(ints, (base + ${SEQ_OFFSET}) >> 2);
  if (seq & 1) return null;
  const start = floats[(base + ${START_OFFSET}) >> 3];
  const length = Math.min(ints[(base + ${LENGTH_OFFSET}) >> 2], ${DESCRIPTION_BYTES});
  const description = decoder.decode(bytes.slice(base + ${DESCRIPTION_OFFSET}, base + ${DESCRIPTION_OFFSET} + length));
  if (Atomics.load(ints, (base + ${SEQ_OFFSET}) >> 2) !== seq || start === 0) return null;
  return { slot, start, description };
};
// The request whose synchronous code ran at the previous check: seen running twice in a row, it
// is blocking the event loop, and it is the one to name even if an older request is waiting.
let previousRunning = null;
for (;;) {
  if (Atomics.wait(ints, ${STOP_INDEX}, 0, checkMs) !== 'timed-out') break;
  const now = Date.now();
  const runningSlot = Atomics.load(ints, ${RUNNING_INDEX});
  const running = runningSlot >= 0 ? readSlot(runningSlot) : null;
  const runningKey = running === null ? null : running.slot + ':' + running.start;
  const blocking = runningKey !== null && runningKey === previousRunning ? running : null;
  previousRunning = runningKey;
  let oldest = null;
  for (let slot = 0; slot < slots; slot++) {
    const entry = readSlot(slot);
    if (entry !== null && (oldest === null || entry.start < oldest.start)) oldest = entry;
  }
  if (oldest === null || now - oldest.start < limitMs) continue;
  const culprit = blocking !== null ? blocking : oldest;
  write(2, '*** HARAKIRI ON WORKER ' + workerId + ' (pid: ' + pid + ', try: 1) ***\\n');
  write(2, 'HARAKIRI: --- tsgi worker ' + workerId + ' core ' + culprit.slot + ' (pid: ' + pid + ') WAS managing request ' +
    culprit.description + ' since ' + ctime(culprit.start) + ' ---\\n');
  try {
    fs.writeSync(notesFd, JSON.stringify({ event: 'harakiri', request: culprit.description, startedAt: culprit.start }) + '\\n');
  } catch {
    // Not started by a master (no notes pipe): the log lines above are the record.
  }
  process.kill(pid, 'SIGKILL');
  break;
}
`;

/** Starts the watchdog thread. It does not keep the process alive. */
export function startWatchdog(options: WatchdogOptions): Worker {
  const limitMs = options.limit * 1000;
  const thread = new Worker(WATCHDOG_SOURCE, {
    eval: true,
    workerData: {
      buffer: options.board.buffer,
      limitMs,
      // uWSGI checks once a second; a quarter of the limit keeps a 1 s harakiri within 1.25 s.
      checkMs: Math.max(50, Math.min(1000, Math.floor(limitMs / 4))),
      workerId: options.workerId,
      pid: process.pid,
      slots: options.board.slots,
      notesFd: NOTES_FD,
    },
    // The watchdog needs none of the parent's Node options (a tsx loader would only slow its start).
    execArgv: [],
  });
  thread.unref();
  return thread;
}
