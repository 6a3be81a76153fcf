/**
 * `tsgi top ADDR`: a live terminal view of a stats server (`tsgi serve --stats ADDR`, or a real
 * uWSGI's), the way uwsgitop shows it: one line per worker with its share of the requests, the
 * requests per second since the last frame, status, average response time, memory, bytes sent,
 * respawns, harakiri count, time spent in requests and last spawn. It refreshes every second
 * (`--frequency N`); `q` quits. `--once` prints one frame as plain text and exits, for scripts.
 *
 * ADDR is what uwsgitop takes: `host:port`, a UNIX socket path, or an `http://` URL of a server
 * started with --stats-http. The columns and their arithmetic are uwsgitop's, so the numbers read
 * the same in both tools.
 */
import { connect, type Socket } from 'node:net';
import { request } from 'node:http';
import { hostname } from 'node:os';
import { TsgiError } from '../errors.js';
import { formatHelp, parseOptions, UsageError, type OptionSpec } from './options.js';
import { ctime } from '../appserver/request-log.js';

const USAGE = 'Usage: tsgi top [--frequency SECONDS] [--once] ADDR   (ADDR: host:port, a UNIX socket path, or http://host:port/)';

const TOP_OPTIONS = [
  { name: 'frequency', type: 'number', default: 1, metavar: 'SECONDS', help: 'refresh every SECONDS seconds' },
  { name: 'once', type: 'boolean', help: 'print one frame as plain text and exit' },
  { name: 'help', short: 'h', type: 'boolean', help: 'show this help and exit' },
] as const satisfies readonly OptionSpec[];

/** How long a stats server may take to answer. */
const FETCH_TIMEOUT_MS = 5000;

export class StatsFetchError extends TsgiError {
  constructor(address: string, why: string) {
    super('ERR_STATS_FETCH', `unable to get statistics from ${address}: ${why}`);
  }
}

/** The parts of a stats document this view reads (uwsgitop's key accesses). */
export interface TopWorker {
  id: number;
  pid: number;
  requests: number;
  exceptions: number;
  signals?: number;
  status: string;
  avg_rt: number;
  rss: number;
  vsz: number;
  tx: number;
  respawn_count: number;
  harakiri_count: number;
  running_time: number;
  last_spawn: number;
}

export interface TopDocument {
  version?: string;
  listen_queue?: number;
  cwd?: string;
  uid?: number;
  gid?: number;
  pid?: number;
  workers: TopWorker[];
}

/** Reads the whole answer of a stats server (it closes the connection when done). */
export function fetchStats(address: string): Promise<string> {
  if (address.startsWith('http://')) {
    return new Promise((resolve, reject) => {
      const req = request(address, { timeout: FETCH_TIMEOUT_MS }, (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (text += chunk));
        response.on('end', () => resolve(text));
        response.on('error', (error) => reject(new StatsFetchError(address, error.message)));
      });
      req.on('timeout', () => req.destroy(new Error('timed out')));
      req.on('error', (error) => reject(new StatsFetchError(address, error.message)));
      req.end();
    });
  }
  return new Promise((resolve, reject) => {
    let socket: Socket;
    if (address.includes('/') && !address.startsWith('[')) {
      socket = connect(address);
    } else {
      const colon = address.lastIndexOf(':');
      if (colon < 0) {
        reject(new StatsFetchError(address, 'expected host:port, a UNIX socket path or an http:// URL'));
        return;
      }
      const host = address.slice(0, colon).replace(/^\[(.*)\]$/, '$1') || '127.0.0.1';
      socket = connect(Number(address.slice(colon + 1)), host);
    }
    let text = '';
    socket.setEncoding('utf8');
    socket.setTimeout(FETCH_TIMEOUT_MS, () => socket.destroy(new Error('timed out')));
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('end', () => resolve(text));
    socket.on('error', (error) => reject(new StatsFetchError(address, error.message)));
  });
}

/** The JSON of a stats answer; a --stats-http answer read from the raw socket has a header block first. */
export function parseStats(text: string): TopDocument {
  const body = text.startsWith('HTTP/') ? text.slice(text.indexOf('\r\n\r\n') + 4) : text;
  const document: unknown = JSON.parse(body);
  if (typeof document !== 'object' || document === null || !('workers' in document) || !Array.isArray(document.workers)) {
    throw new Error('the answer is not a uWSGI stats document (no "workers" list)');
  }
  return document as TopDocument;
}

/** uwsgitop's human_size: 1.5M, 20.0K, 512. */
export function humanSize(bytes: number): string {
  if (bytes >= 1024 ** 3) return `${(bytes / 1024 ** 3).toFixed(1)}G`;
  if (bytes >= 1024 ** 2) return `${(bytes / 1024 ** 2).toFixed(1)}M`;
  if (bytes >= 1024) return `${(bytes / 1024).toFixed(1)}K`;
  return String(Math.floor(bytes));
}

function pad2(value: number): string {
  return value < 10 ? `0${value}` : String(value);
}

/** Request counts of the previous frame, for requests per second. */
export class RateState {
  private last = new Map<number, number>();
  private lastTime: number | null = null;

  /** Requests per second of each worker since the previous call (0 on the first). */
  update(workers: readonly TopWorker[], now: number): Map<number, number> {
    const rates = new Map<number, number>();
    const seconds = this.lastTime === null ? 0 : (now - this.lastTime) / 1000;
    for (const worker of workers) {
      const before = this.last.get(worker.id);
      rates.set(worker.id, before === undefined || seconds <= 0 ? 0 : Math.max(0, worker.requests - before) / seconds);
    }
    this.last = new Map(workers.map((worker) => [worker.id, worker.requests]));
    this.lastTime = now;
    return rates;
  }
}

const COLUMNS = ['WID', '%', 'PID', 'REQ', 'RPS', 'EXC', 'SIG', 'STATUS', 'AVG', 'RSS', 'VSZ', 'TX', 'ReSpwn', 'HC', 'RunT', 'LastSpwn'] as const;

/** ANSI colours of uwsgitop's statuses: busy green, cheap magenta, sig* yellow, pause blue. */
function statusColour(status: string): string | null {
  if (status === 'busy') return '\x1b[32m';
  if (status === 'cheap') return '\x1b[35m';
  if (status.startsWith('sig')) return '\x1b[33m';
  if (status === 'pause') return '\x1b[34m';
  return null;
}

/** One frame: two header lines, the column titles, one row per worker (most requests first). */
export function renderFrame(document: TopDocument, rates: ReadonlyMap<number, number>, options: { now: number; host: string; colour: boolean }): string {
  const workers = [...document.workers].sort((a, b) => b.requests - a.requests);
  const total = workers.reduce((sum, worker) => sum + worker.requests, 0);
  const totalRps = [...rates.values()].reduce((sum, rate) => sum + rate, 0);
  const tx = workers.reduce((sum, worker) => sum + worker.tx, 0);
  const version = document.version === undefined ? '' : `-${document.version}`;
  const date = ctime(options.now);
  const lines = [
    `uwsgi${version} - ${date} - req: ${total} - RPS: ${Math.round(totalRps)} - lq: ${document.listen_queue ?? 0} - tx: ${humanSize(tx)}`,
    [
      `node: ${options.host}`,
      document.cwd === undefined ? null : `cwd: ${document.cwd}`,
      document.uid === undefined ? null : `uid: ${document.uid}`,
      document.gid === undefined ? null : `gid: ${document.gid}`,
      document.pid === undefined ? null : `masterpid: ${document.pid}`,
    ]
      .filter(Boolean)
      .join(' - '),
  ];
  const rows = workers.map((worker) => {
    let runningTime = String(Math.floor(worker.running_time / 1000));
    if (worker.running_time / 1000 > 9_999_999) runningTime = `${Math.floor(worker.running_time / 1000 / 60_000)}m`;
    let lastSpawn = '--:--:--';
    if (worker.last_spawn) {
      const spawned = new Date(worker.last_spawn * 1000);
      lastSpawn = `${pad2(spawned.getHours())}:${pad2(spawned.getMinutes())}:${pad2(spawned.getSeconds())}`;
    }
    return [
      String(worker.id),
      (total === 0 ? 0 : (100 * worker.requests) / total).toFixed(1),
      String(worker.pid),
      String(worker.requests),
      String(Math.round(rates.get(worker.id) ?? 0)),
      String(worker.exceptions),
      String(worker.signals ?? 0),
      worker.status,
      `${Math.floor(worker.avg_rt / 1000)}ms`,
      humanSize(worker.rss),
      humanSize(worker.vsz),
      humanSize(worker.tx),
      String(worker.respawn_count),
      String(worker.harakiri_count),
      runningTime,
      lastSpawn,
    ];
  });
  const widths = COLUMNS.map((title, index) => Math.max(title.length, ...rows.map((row) => row[index]!.length)));
  const format = (cells: readonly string[]): string => ` ${cells.map((cell, index) => cell.padEnd(widths[index]!)).join('  ')}`.trimEnd();
  const title = format(COLUMNS);
  lines.push(options.colour ? `\x1b[7m${title}\x1b[0m` : title);
  rows.forEach((row, index) => {
    const line = format(row);
    const colour = options.colour ? statusColour(workers[index]!.status) : null;
    lines.push(colour === null ? line : `${colour}${line}\x1b[0m`);
  });
  return `${lines.join('\n')}\n`;
}

async function frame(address: string, rates: RateState, colour: boolean): Promise<string> {
  const document = parseStats(await fetchStats(address));
  const now = Date.now();
  return renderFrame(document, rates.update(document.workers, now), { now, host: hostname(), colour });
}

/** The live view: alternate screen, a frame every `frequency` seconds, `q` (or Ctrl-C) to quit. */
async function live(address: string, frequencyMs: number): Promise<number> {
  const out = process.stdout;
  const input = process.stdin;
  const rates = new RateState();
  const colour = out.isTTY === true;
  let stop: (code: number) => void = () => {};
  const stopped = new Promise<number>((resolve) => (stop = resolve));
  const onKey = (data: Buffer): void => {
    const key = data.toString('utf8');
    if (key === 'q' || key === 'Q' || key === '\x03') stop(0);
  };
  if (input.isTTY) {
    input.setRawMode(true);
    input.on('data', onKey);
    input.resume();
  }
  const onSignal = (): void => stop(0);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // Alternate screen and hidden cursor, as curses does; both undone on the way out.
  if (colour) out.write('\x1b[?1049h\x1b[?25l');
  let timer: NodeJS.Timeout | null = null;
  try {
    for (;;) {
      // A stats server that stops answering ends the view with its error (after the screen is restored).
      const text = await frame(address, rates, colour);
      out.write(colour ? `\x1b[H\x1b[2J${text}` : `${text}\n`);
      const next = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), frequencyMs)));
      const code = await Promise.race([stopped, next]);
      if (code !== null) return code;
    }
  } finally {
    if (timer !== null) clearTimeout(timer);
    if (colour) out.write('\x1b[?25h\x1b[?1049l');
    if (input.isTTY) {
      input.setRawMode(false);
      input.off('data', onKey);
      input.pause();
    }
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

export async function runTop(argv: readonly string[]): Promise<number> {
  const options = parseOptions(TOP_OPTIONS, argv);
  if (options.flag('help')) {
    process.stdout.write(formatHelp(USAGE, TOP_OPTIONS));
    return 0;
  }
  const address = options.positionals[0];
  if (address === undefined || options.positionals.length > 1) throw new UsageError(`give one stats address\n${USAGE}`);
  const frequency = options.number('frequency')!;
  if (!(frequency > 0)) throw new UsageError(`option --frequency expects a positive number of seconds, got ${frequency}`);
  if (options.flag('once')) {
    process.stdout.write(await frame(address, new RateState(), false));
    return 0;
  }
  return live(address, frequency * 1000);
}
