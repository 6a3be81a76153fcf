/**
 * Signals for a supervisor: the handlers only queue the signal and wake the main loop, which
 * handles one signal at a time (gunicorn's `SIG_QUEUE`). Handling a reload while a stop is half
 * done is how supervisors end up with orphaned workers; a queue makes the order explicit.
 */

/** The signals a master reacts to (their meaning is documented where they are handled). */
export const MASTER_SIGNALS = ['SIGHUP', 'SIGTERM', 'SIGINT', 'SIGQUIT', 'SIGTTIN', 'SIGTTOU', 'SIGUSR1'] as const;
export type MasterSignal = (typeof MASTER_SIGNALS)[number];

/**
 * Signals that count: each TTIN adds a worker. Any other signal already waiting in the queue is
 * not queued twice, so a burst of HUPs is one reload (gunicorn caps its queue at five for the
 * same reason, but a cap could drop a TERM behind four HUPs).
 */
const COUNTED: ReadonlySet<NodeJS.Signals> = new Set(['SIGTTIN', 'SIGTTOU']);

export class SignalQueue<S extends NodeJS.Signals> {
  private readonly pending: S[] = [];
  private readonly handlers = new Map<S, () => void>();

  /** `wake` is called after every queued signal, so a sleeping loop can run at once. */
  constructor(private readonly wake: () => void) {}

  /** Installs process handlers for `signals`; each one only queues. */
  install(signals: readonly S[]): void {
    for (const signal of signals) {
      if (this.handlers.has(signal)) continue;
      const handler = (): void => this.push(signal);
      this.handlers.set(signal, handler);
      process.on(signal, handler);
    }
  }

  /** Removes the handlers: the process gets the default disposition of each signal back. */
  uninstall(): void {
    for (const [signal, handler] of this.handlers) process.off(signal, handler);
    this.handlers.clear();
  }

  /** Queues a signal as if it had been delivered (the programmatic API goes through here too). */
  push(signal: S): void {
    if (COUNTED.has(signal) || !this.pending.includes(signal)) this.pending.push(signal);
    this.wake();
  }

  /** The oldest pending signal, or undefined. */
  take(): S | undefined {
    return this.pending.shift();
  }

  get size(): number {
    return this.pending.length;
  }
}
