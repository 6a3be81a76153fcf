/**
 * The open-file cache: nginx's open_file_cache role, tuned for Node, where every stat() is a trip
 * through the libuv thread pool.
 *
 * An entry remembers, for one path, what stat() said (or which error it gave) and, for regular
 * files up to `maxFileSize` bytes, the content; plus what serve.ts derived from them (ETag,
 * Last-Modified, the prepared 200 response). For `validMs` after it was checked an entry is
 * trusted without any system call, so a hot small file costs none. After that the next request
 * stats the path again; an unchanged file (same device, inode, size and mtime) keeps its content
 * and prepared headers, a changed one loses them.
 *
 * Memory is bounded by `maxEntries` and `maxBytes` (content); the oldest entries go first.
 * Errors (ENOENT...) are cached too unless `cacheErrors` is off, which makes try_files chains
 * cheap and makes a new file visible after at most `validMs`.
 */
import { open, readdir, stat, lstat } from 'node:fs/promises';
import type { Stats } from 'node:fs';

/** What stat() found. Times are seconds, as nginx keeps them. */
export interface FileInfo {
  readonly kind: 'file' | 'directory' | 'other';
  readonly size: number;
  /** mtime in whole seconds (ETag, Last-Modified). */
  readonly mtime: number;
  /** For revalidation: mtime with its fraction, inode and device. */
  readonly mtimeMs: number;
  readonly ino: number;
  readonly dev: number;
}

/** The errno codes nginx tells apart; anything else is 'EOTHER' (a 500 in nginx). */
export type FsErrorCode = 'ENOENT' | 'ENOTDIR' | 'ENAMETOOLONG' | 'EACCES' | 'ELOOP' | 'EMLINK' | 'EOTHER';

export type StatResult = FileInfo | { readonly error: FsErrorCode };

export function isFsError(result: StatResult): result is { readonly error: FsErrorCode } {
  return 'error' in result;
}

export interface FileCacheOptions {
  /** How long a stat result is trusted, in ms (nginx's open_file_cache_valid). Default 2000. */
  readonly validMs?: number;
  /** Entries kept at most (open_file_cache max=). Default 10000. */
  readonly maxEntries?: number;
  /**
   * Files up to this size have their content kept in memory. Default 1 MiB: Node has no
   * sendfile, and reading a 1 MiB file for every request (thread pool, a fresh buffer, a copy)
   * cost ~4× the CPU of sending it from memory (bench static-large).
   */
  readonly maxFileSize?: number;
  /** Total content bytes kept. Default 64 MiB. */
  readonly maxBytes?: number;
  /** Cache ENOENT and other errors (open_file_cache_errors). Default on. */
  readonly cacheErrors?: boolean;
}

export const FILE_CACHE_DEFAULTS = Object.freeze({
  validMs: 2000,
  maxEntries: 10_000,
  maxFileSize: 1024 * 1024,
  maxBytes: 64 * 1024 * 1024,
  cacheErrors: true,
});

/** One path's entry. `derived` is serve.ts's scratch space, reset whenever the file changes. */
export interface CacheEntry {
  readonly path: string;
  stat: StatResult;
  /** Date.now() until which `stat` is trusted. */
  validUntil: number;
  /** The whole file, for small regular files once loaded. */
  content: Buffer | null;
  derived: unknown;
}

export class FileCache {
  readonly validMs: number;
  readonly maxEntries: number;
  readonly maxFileSize: number;
  readonly maxBytes: number;
  readonly cacheErrors: boolean;
  private readonly entries = new Map<string, CacheEntry>();
  private contentBytes = 0;

  constructor(options: FileCacheOptions = {}) {
    this.validMs = options.validMs ?? FILE_CACHE_DEFAULTS.validMs;
    this.maxEntries = options.maxEntries ?? FILE_CACHE_DEFAULTS.maxEntries;
    this.maxFileSize = options.maxFileSize ?? FILE_CACHE_DEFAULTS.maxFileSize;
    this.maxBytes = options.maxBytes ?? FILE_CACHE_DEFAULTS.maxBytes;
    this.cacheErrors = options.cacheErrors ?? FILE_CACHE_DEFAULTS.cacheErrors;
  }

  /** The entry for `path` if it may be used at `now`, else undefined (a stat is due). */
  fresh(path: string, now: number): CacheEntry | undefined {
    const entry = this.entries.get(path);
    return entry !== undefined && entry.validUntil > now ? entry : undefined;
  }

  /** Records a stat result; keeps content and derived data if the file is the same one. */
  store(path: string, result: StatResult, now: number): CacheEntry {
    const old = this.entries.get(path);
    if (old !== undefined) {
      if (sameFile(old.stat, result)) {
        old.stat = result;
        old.validUntil = now + this.validMs;
        // Re-insert so that the Map's order stays oldest-checked first.
        this.entries.delete(path);
        this.entries.set(path, old);
        return old;
      }
      this.drop(old);
    }
    const entry: CacheEntry = { path, stat: result, validUntil: now + this.validMs, content: null, derived: undefined };
    if (isFsError(result) && !this.cacheErrors) return entry;
    this.entries.set(path, entry);
    this.trim();
    return entry;
  }

  /** Keeps the content read for `entry`, if it fits. */
  storeContent(entry: CacheEntry, content: Buffer): void {
    if (content.length > this.maxFileSize || this.entries.get(entry.path) !== entry) return;
    if (entry.content !== null) this.contentBytes -= entry.content.length;
    entry.content = content;
    this.contentBytes += content.length;
    this.trim();
  }

  /** True when a file of this size would have its content kept. */
  wantsContent(info: FileInfo): boolean {
    return info.kind === 'file' && info.size <= this.maxFileSize && info.size <= this.maxBytes;
  }

  /** Forgets everything (tests, reload). */
  clear(): void {
    this.entries.clear();
    this.contentBytes = 0;
  }

  get size(): number {
    return this.entries.size;
  }

  get bytes(): number {
    return this.contentBytes;
  }

  private drop(entry: CacheEntry): void {
    if (entry.content !== null) this.contentBytes -= entry.content.length;
    entry.content = null;
    entry.derived = undefined;
    this.entries.delete(entry.path);
  }

  private trim(): void {
    while (this.entries.size > this.maxEntries || this.contentBytes > this.maxBytes) {
      const oldest = this.entries.values().next();
      if (oldest.done) return;
      this.drop(oldest.value);
    }
  }
}

function sameFile(a: StatResult, b: StatResult): boolean {
  if (isFsError(a) || isFsError(b)) return isFsError(a) && isFsError(b) && a.error === b.error;
  return a.kind === b.kind && a.size === b.size && a.mtimeMs === b.mtimeMs && a.ino === b.ino && a.dev === b.dev;
}

// --- system calls, all async; serve.ts calls them only on cache misses ------------------------

/** Paths are byte strings: hand them to fs as the bytes they stand for. */
export const fsPath = (path: string): Buffer => Buffer.from(path, 'latin1');

export function fileInfo(stats: Stats): FileInfo {
  return {
    kind: stats.isFile() ? 'file' : stats.isDirectory() ? 'directory' : 'other',
    size: stats.size,
    mtime: Math.floor(stats.mtimeMs / 1000),
    mtimeMs: stats.mtimeMs,
    ino: stats.ino,
    dev: stats.dev,
  };
}

export function errorCode(error: unknown): FsErrorCode {
  const code = (error as { code?: unknown } | null)?.code;
  switch (code) {
    case 'ENOENT':
    case 'ENOTDIR':
    case 'ENAMETOOLONG':
    case 'EACCES':
    case 'ELOOP':
    case 'EMLINK':
      return code;
    default:
      return 'EOTHER';
  }
}

/** stat() following symlinks, as nginx's open() + fstat() sees the file. */
export async function statPath(path: string): Promise<StatResult> {
  // A NUL cannot be in a file name; Node would throw ERR_INVALID_ARG_VALUE.
  if (path.includes('\0')) return { error: 'ENOENT' };
  try {
    return fileInfo(await stat(fsPath(path)));
  } catch (error) {
    return { error: errorCode(error) };
  }
}

/**
 * Reads a whole small file: open, fstat, read, close. The fstat result comes back with the bytes,
 * so the two always describe the same version of the file.
 */
export async function readWholeFile(path: string): Promise<{ info: StatResult; content: Buffer | null }> {
  let handle;
  try {
    handle = await open(fsPath(path), 'r');
  } catch (error) {
    return { info: { error: errorCode(error) }, content: null };
  }
  try {
    const info = fileInfo(await handle.stat());
    if (info.kind !== 'file') return { info, content: null };
    const content = Buffer.allocUnsafe(info.size);
    let filled = 0;
    while (filled < info.size) {
      const { bytesRead } = await handle.read(content, filled, info.size - filled, filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    // A file that shrank while being read is reported as it is now: the caller re-checks.
    return filled === info.size ? { info, content } : { info: fileInfo(await handle.stat()), content: null };
  } catch (error) {
    return { info: { error: errorCode(error) }, content: null };
  } finally {
    await handle.close();
  }
}

/**
 * A directory's entries for autoindex (names as byte strings), or the opendir error. Kind, size
 * and mtime come from stat(), which follows symlinks (a link to a directory is listed as a
 * directory); a dangling or looping symlink from lstat(), as nginx does.
 */
export async function listDirectory(path: string): Promise<readonly DirectoryEntry[] | { readonly error: FsErrorCode }> {
  let names: Buffer[];
  try {
    names = await readdir(fsPath(path), { encoding: 'buffer' });
  } catch (error) {
    return { error: errorCode(error) };
  }
  const base = path.endsWith('/') ? path : path + '/';
  const entries: DirectoryEntry[] = [];
  for (const raw of names) {
    const name = raw.toString('latin1');
    if (name.startsWith('.')) continue;
    const full = fsPath(base + name);
    let info: FileInfo;
    try {
      info = fileInfo(await stat(full));
    } catch (error) {
      const code = errorCode(error);
      // Unreadable entries are skipped; other failures end the listing with a 500.
      if (code !== 'ENOENT' && code !== 'ELOOP') {
        if (code === 'EACCES') continue;
        return { error: 'EOTHER' };
      }
      try {
        info = fileInfo(await lstat(full));
      } catch {
        return { error: 'EOTHER' };
      }
    }
    entries.push({ name, isDirectory: info.kind === 'directory', isFile: info.kind === 'file', mtime: info.mtime, size: info.size });
  }
  return entries;
}

/** An autoindex entry as readdir and stat describe it. */
export interface DirectoryEntry {
  readonly name: string;
  readonly isDirectory: boolean;
  readonly isFile: boolean;
  readonly mtime: number;
  readonly size: number;
}
