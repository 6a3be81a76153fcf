/**
 * uWSGI's stats document (`uwsgi_master_generate_stats` in core/master_utils.c), key for key, so
 * that uwsgitop, telegraf's uwsgi input, netdata and the other tools written for uWSGI read tsgi.
 * Each worker id up to --processes has an entry, cheap ones too (status "cheap", pid 0), and the
 * counters of an id survive respawns as uWSGI's do (they live in its shared memory); `delta_requests`
 * counts the requests of the process running now.
 *
 * Units are uWSGI's: `rss`/`vsz`/`tx` bytes, `avg_rt` and `running_time` microseconds, `last_spawn`
 * seconds since the epoch. What tsgi has no equivalent for is present with uWSGI's neutral value:
 * `signals` 0, `locks` [], `listen_queue_errors` 0, and a core's `vars`/`req_info` empty.
 */
import type { MasterSnapshot, SlotInfo } from '../master.js';
import type { ListenQueue } from './listen-queue.js';

export interface StatsSocket {
  name: string;
  proto: string;
  queue: number;
  max_queue: number;
  shared: number;
  can_offload: number;
}

export interface StatsApp {
  id: number;
  modifier1: number;
  mountpoint: string;
  startup_time: number;
  requests: number;
  exceptions: number;
  chdir: string;
}

export interface StatsCore {
  id: number;
  requests: number;
  static_requests: number;
  routed_requests: number;
  offloaded_requests: number;
  write_errors: number;
  read_errors: number;
  in_request: number;
  vars: string[];
  req_info: Record<string, number>;
}

/** uWSGI's worker statuses: tsgi's starting, replacing and draining workers show as idle or busy. */
export type StatsWorkerStatus = 'idle' | 'busy' | 'cheap' | 'pause';

export interface StatsWorker {
  id: number;
  pid: number;
  accepting: number;
  requests: number;
  delta_requests: number;
  exceptions: number;
  harakiri_count: number;
  signals: number;
  signal_queue: number;
  status: StatsWorkerStatus;
  rss: number;
  vsz: number;
  running_time: number;
  last_spawn: number;
  respawn_count: number;
  tx: number;
  avg_rt: number;
  apps: StatsApp[];
  cores: StatsCore[];
}

export interface StatsDocument {
  version: string;
  listen_queue: number;
  listen_queue_errors: number;
  signal_queue: number;
  load: number;
  pid: number;
  uid: number;
  gid: number;
  cwd: string;
  locks: Array<Record<string, number>>;
  sockets: StatsSocket[];
  workers: StatsWorker[];
}

/** Facts about the master process that the snapshot does not carry. */
export interface StatsContext {
  /** The version string, uWSGI-style (`0.1.0-tsgi`). */
  version: string;
  cwd: string;
  uid: number;
  gid: number;
  /** Listen queues by TCP port (readListenQueues()); empty where unknown. */
  queues: ReadonlyMap<number, ListenQueue>;
  /** The application's directory (--chdir), shown as the app's `chdir`. */
  chdir?: string;
}

function emptyCore(id: number): StatsCore {
  return {
    id,
    requests: 0,
    static_requests: 0,
    routed_requests: 0,
    offloaded_requests: 0,
    write_errors: 0,
    read_errors: 0,
    in_request: 0,
    vars: [],
    req_info: {},
  };
}

function workerEntry(slot: SlotInfo, context: StatsContext): StatsWorker {
  const worker = slot.worker;
  let status: StatsWorkerStatus = 'idle';
  if (slot.cheap) status = 'cheap';
  else if (worker !== null && worker.inFlight > 0) status = 'busy';
  const cores =
    worker === null || worker.cores.length === 0
      ? [emptyCore(0)]
      : worker.cores.map((core, id) => ({ ...emptyCore(id), requests: core.requests, in_request: core.inRequest ? 1 : 0 }));
  return {
    id: slot.id,
    pid: worker?.pid ?? 0,
    accepting: worker?.accepting === true ? 1 : 0,
    requests: slot.totals.requests,
    delta_requests: worker?.requests ?? 0,
    exceptions: slot.totals.exceptions,
    harakiri_count: slot.harakiriCount,
    signals: 0,
    signal_queue: 0,
    status,
    rss: worker?.rss ?? 0,
    vsz: worker?.vsz ?? 0,
    running_time: slot.totals.runningTime,
    last_spawn: Math.floor(slot.lastSpawn / 1000),
    respawn_count: slot.spawns,
    tx: slot.totals.tx,
    avg_rt: slot.avgRt,
    apps: [
      {
        id: 0,
        modifier1: 0,
        mountpoint: '',
        startup_time: worker?.startupTime ?? 0,
        requests: slot.totals.requests,
        exceptions: slot.totals.exceptions,
        chdir: context.chdir ?? '',
      },
    ],
    cores,
  };
}

/** The stats document of a master at the moment of `snapshot`. */
export function buildStatsDocument(snapshot: MasterSnapshot, context: StatsContext): StatsDocument {
  const sockets = snapshot.sockets.map((socket) => {
    const queue = socket.port === null ? undefined : context.queues.get(socket.port);
    return {
      name: socket.name,
      proto: socket.protocol,
      queue: queue?.queue ?? 0,
      max_queue: socket.backlog,
      shared: 0,
      can_offload: 0,
    };
  });
  let load = 0;
  for (const slot of snapshot.slots) load += slot.worker?.inFlight ?? 0;
  return {
    version: context.version,
    listen_queue: sockets.reduce((total, socket) => total + socket.queue, 0),
    listen_queue_errors: 0,
    signal_queue: 0,
    load,
    pid: snapshot.pid,
    uid: context.uid,
    gid: context.gid,
    cwd: context.cwd,
    locks: [],
    sockets,
    workers: snapshot.slots.map((slot) => workerEntry(slot, context)),
  };
}
