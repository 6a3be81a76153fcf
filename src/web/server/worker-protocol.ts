/**
 * Messages between the master of `tsgi web` and its workers, over each worker's IPC channel.
 * Closed unions tagged by `type`, checked on arrival.
 *
 *   master                                   worker
 *   init {configuration, logs, slot}    ──▶ serves exactly what the master checked
 *   listen {index} + socket handle  ×N   ──▶ accepts on it
 *   start                                ──▶ serves;                ◀── ready | failed {message}
 *   quit / reopen                        ──▶ graceful stop / reopen logs
 *   counters {id} (a collection)         ──▶                        ◀── counters {id, values}
 *                                        ◀── collect {id}  (stub_status wants every worker's)
 *   collected {id, values}               ──▶
 *
 * Fast stop is SIGTERM, as nginx's master sends it.
 */
import type { ServerCounters } from '../request-context.js';
import type { ErrorLogEntry } from '../config/index.js';

export interface WorkerInit {
  /**
   * The configuration the master loaded and checked, structured-cloned (v8.serialize, base64):
   * a worker that read the files again could see them after an edit the master never checked.
   */
  readonly config: string;
  /** The error logs in force (the configuration's, or `-e`). */
  readonly errorLog: readonly ErrorLogEntry[];
  readonly slot: number;
  readonly generation: number;
}

export type MasterMessage =
  | { readonly type: 'init'; readonly init: WorkerInit }
  | { readonly type: 'listen'; readonly index: number }
  | { readonly type: 'start' }
  | { readonly type: 'quit' }
  | { readonly type: 'reopen' }
  | { readonly type: 'counters'; readonly id: number }
  | { readonly type: 'collected'; readonly id: number; readonly counters: ServerCounters };

export type WorkerMessage =
  | { readonly type: 'ready' }
  | { readonly type: 'failed'; readonly message: string }
  | { readonly type: 'counters'; readonly id: number; readonly counters: ServerCounters }
  | { readonly type: 'collect'; readonly id: number };

const COUNTER_KEYS = ['active', 'accepts', 'handled', 'requests', 'reading', 'writing', 'waiting'] as const;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

function isErrorLogEntry(value: unknown): value is ErrorLogEntry {
  return isRecord(value) && typeof value.target === 'string' && typeof value.level === 'string';
}

function isCounters(value: unknown): value is ServerCounters {
  return isRecord(value) && COUNTER_KEYS.every((key) => typeof value[key] === 'number');
}

export function parseMasterMessage(value: unknown): MasterMessage | null {
  if (!isRecord(value) || typeof value.type !== 'string') return null;
  switch (value.type) {
    case 'init': {
      const init = value.init;
      if (!isRecord(init) || typeof init.config !== 'string' || typeof init.slot !== 'number' || typeof init.generation !== 'number') return null;
      if (!Array.isArray(init.errorLog) || !init.errorLog.every(isErrorLogEntry)) return null;
      return { type: 'init', init: { config: init.config, errorLog: init.errorLog, slot: init.slot, generation: init.generation } };
    }
    case 'listen':
      return typeof value.index === 'number' ? { type: 'listen', index: value.index } : null;
    case 'start':
    case 'quit':
    case 'reopen':
      return { type: value.type };
    case 'counters':
      return typeof value.id === 'number' ? { type: 'counters', id: value.id } : null;
    case 'collected':
      return typeof value.id === 'number' && isCounters(value.counters) ? { type: 'collected', id: value.id, counters: value.counters } : null;
  }
  return null;
}

export function parseWorkerMessage(value: unknown): WorkerMessage | null {
  if (!isRecord(value) || typeof value.type !== 'string') return null;
  switch (value.type) {
    case 'ready':
      return { type: 'ready' };
    case 'failed':
      return typeof value.message === 'string' ? { type: 'failed', message: value.message } : null;
    case 'counters':
      return typeof value.id === 'number' && isCounters(value.counters) ? { type: 'counters', id: value.id, counters: value.counters } : null;
    case 'collect':
      return typeof value.id === 'number' ? { type: 'collect', id: value.id } : null;
  }
  return null;
}

/** Sums counters of several workers. */
export function sumCounters(list: readonly ServerCounters[]): ServerCounters {
  const total: ServerCounters = { active: 0, accepts: 0, handled: 0, requests: 0, reading: 0, writing: 0, waiting: 0 };
  for (const counters of list) for (const key of COUNTER_KEYS) total[key] += counters[key];
  return total;
}
