/**
 * The process tree of a server, read from /proc (Linux only): the pids it started and every
 * process whose parent chain leads to one of them (an app server's workers, nginx's workers).
 * Rebuilt at every call from each process's parent pid, so workers forked or respawned in the
 * meantime are included. (/proc/PID/task/TID/children would be cheaper but needs
 * CONFIG_PROC_CHILDREN, which not every kernel has.)
 */
import { readdirSync, readFileSync } from 'node:fs';

/** `roots` and all their live descendants; an empty list when /proc is not there. */
export function processTree(roots: readonly number[]): number[] {
  const children = childrenByParent();
  const seen = new Set<number>();
  const stack = [...roots];
  while (stack.length > 0) {
    const pid = stack.pop();
    if (pid === undefined || seen.has(pid)) continue;
    seen.add(pid);
    stack.push(...(children.get(pid) ?? []));
  }
  return [...seen];
}

/**
 * The fields of /proc/PID/stat after the command name, so that `fields[0]` is field 3 (state):
 * the 2nd field (the command, in parentheses) may itself contain spaces and parentheses, so
 * fields are counted from the last `)`. Undefined for a process that is gone.
 */
export function statFields(pid: number | string): string[] | undefined {
  const stat = readProc(`/proc/${pid}/stat`);
  if (stat === undefined) return undefined;
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** Processes come and go between listing /proc and reading it: a vanished one reads as absent. */
export function readProc(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

function childrenByParent(): Map<number, number[]> {
  const map = new Map<number, number[]>();
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return map;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    // Field 4, the parent pid.
    const ppid = Number(statFields(entry)?.[1]);
    if (!Number.isInteger(ppid)) continue;
    const list = map.get(ppid);
    if (list === undefined) map.set(ppid, [Number(entry)]);
    else list.push(Number(entry));
  }
  return map;
}
