/**
 * `--touch-reload FILE`: a graceful reload whenever FILE's modification time changes (`touch
 * FILE` after a deploy). uWSGI looks at the files once per master cycle with stat(); so does this,
 * once a second. A file that does not exist yet triggers the reload when it is created; a file that
 * disappears triggers nothing.
 */
import { statSync } from 'node:fs';

/** uWSGI's master cycle. */
const DEFAULT_INTERVAL_MS = 1000;

function modifiedAt(file: string): number | null {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return null;
  }
}

export class TouchReload {
  private readonly seen = new Map<string, number | null>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly files: readonly string[],
    /** Called with the file that changed. */
    private readonly onTouched: (file: string) => void,
    private readonly intervalMs = DEFAULT_INTERVAL_MS,
  ) {}

  start(): void {
    for (const file of this.files) this.seen.set(file, modifiedAt(file));
    this.timer = setInterval(() => this.check(), this.intervalMs);
    // The master's sockets keep the process alive; this timer alone must not.
    this.timer.unref();
  }

  /** One look at every file; public so that a caller with its own loop can drive it. */
  check(): void {
    for (const file of this.files) {
      const before = this.seen.get(file) ?? null;
      const now = modifiedAt(file);
      if (now === null) continue;
      this.seen.set(file, now);
      if (now !== before) {
        this.onTouched(file);
        // One reload for several files touched together.
        for (const other of this.files) this.seen.set(other, modifiedAt(other));
        return;
      }
    }
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }
}
