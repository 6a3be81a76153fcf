/**
 * A process's memory as uWSGI reports it: resident set size and address space size (vsz). uWSGI
 * reads both from /proc/self/stat on Linux (`get_memusage` in core/logging.c); Node has the RSS
 * but not the vsz, so the vsz comes from the same file, and is 0 where there is no /proc.
 */
import { readFileSync } from 'node:fs';

export interface MemoryUsage {
  /** Resident set size, bytes. */
  rss: number;
  /** Virtual memory size (address space), bytes. */
  vsz: number;
}

/** Field 23 of /proc/PID/stat (vsize, bytes), counted from the field after the command name. */
const VSIZE_AFTER_COMM = 20;

/** The vsz of process `pid` (default: this one) in bytes, or 0 when /proc cannot tell. */
export function readVsz(pid: number | 'self' = 'self'): number {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return 0;
  }
  // The command name (field 2) is in parentheses and may itself hold spaces and parentheses.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const vsize = Number(fields[VSIZE_AFTER_COMM]);
  return Number.isFinite(vsize) ? vsize : 0;
}

/** This process's memory now. */
export function readMemory(): MemoryUsage {
  return { rss: process.memoryUsage.rss(), vsz: readVsz() };
}
