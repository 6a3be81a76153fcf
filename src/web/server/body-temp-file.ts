/**
 * A request body's temp file under client_body_temp_path, as nginx's ngx_create_temp_file makes
 * it: a ten-digit number for a name, placed in the `levels` subdirectories taken from the end of
 * the name (`levels 1 2`: `PATH/7/45/0000000457`... digits from the right), created 0600 and
 * never reused (O_EXCL, next number on a clash), opened for reading too (response buffers). nginx creates the directories at start; here
 * they are made on first use, so a configuration that never spills leaves no directory behind.
 */
import { mkdir, open, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';

const NAME_DIGITS = 10;
const MAX_CLASHES = 100;
/** nginx starts its counter at a random point per process, so workers rarely clash. */
let nextNumber = Math.floor(Math.random() * 123_456) + process.pid * 1000;

export function tempFilePath(base: string, levels: readonly number[], n: number): string {
  const name = String(n % 10 ** NAME_DIGITS).padStart(NAME_DIGITS, '0');
  const parts: string[] = [];
  let end = name.length;
  for (const level of levels) {
    parts.push(name.slice(end - level, end));
    end -= level;
  }
  return join(base, ...parts, name);
}

export interface TempFile {
  readonly path: string;
  readonly handle: FileHandle;
}

/** Creates a new temp file; throws the system error when the directory cannot be made or written. */
export async function createTempFile(base: string, levels: readonly number[]): Promise<TempFile> {
  let madeDirectory = false;
  for (let clash = 0; ; ) {
    const path = tempFilePath(base, levels, nextNumber);
    try {
      const handle = await open(path, 'wx+', 0o600);
      nextNumber++;
      return { path, handle };
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' && !madeDirectory) {
        // The same name again once its directory exists.
        madeDirectory = true;
        await mkdir(join(path, '..'), { recursive: true, mode: 0o700 });
        continue;
      }
      if (code !== 'EEXIST' || ++clash >= MAX_CLASHES) throw error;
      nextNumber++;
      madeDirectory = false;
    }
  }
}

/** Removes a temp file; a file already gone is fine. */
export function removeTempFile(path: string): void {
  unlink(path).catch(() => undefined);
}
