/**
 * The log file of `--logto FILE` and `--daemonize FILE`: opened for appending (several processes
 * may write to the same file, and O_APPEND keeps each line whole), written synchronously (a line
 * logged just before the master exits must not be lost), and reopened on SIGUSR1 so that logrotate
 * can rename the file and have tsgi write to a new one, as uWSGI's log-reopen does.
 */
import { closeSync, fstatSync, openSync, writeSync } from 'node:fs';

/** Owner read/write, group read: uWSGI's mode for log files it creates (S_IRUSR | S_IWUSR | S_IRGRP). */
const LOG_FILE_MODE = 0o640;

export class LogFile {
  private fd: number;

  constructor(readonly path: string) {
    this.fd = openSync(path, 'a', LOG_FILE_MODE);
  }

  write(text: string): boolean {
    try {
      writeSync(this.fd, text);
    } catch {
      // A full disk must not take the server down; the line is lost, as a failed write(2) loses it in uWSGI.
    }
    return true;
  }

  /**
   * Opens the path again: after a rename (logrotate), lines go to a new file. The old file gets a
   * last line saying so, the new one a first line, in uWSGI's words.
   */
  reopen(options: {
    /** Write uWSGI's two lines about it (the master does; workers sharing the file do not). */
    announce?: boolean;
  } = {}): void {
    const announce = options.announce ?? true;
    const now = Math.floor(Date.now() / 1000);
    let size = 0;
    try {
      size = fstatSync(this.fd).size;
    } catch {
      // The size is only for the message.
    }
    if (announce) this.write(`[${now}] logsize: ${size}, triggering log-reopen...\n`);
    const fresh = openSync(this.path, 'a', LOG_FILE_MODE);
    const old = this.fd;
    this.fd = fresh;
    closeSync(old);
    if (announce) this.write(`[${now}] ${this.path} reopened.\n`);
  }

  close(): void {
    try {
      closeSync(this.fd);
    } catch {
      // Already closed.
    }
  }
}
