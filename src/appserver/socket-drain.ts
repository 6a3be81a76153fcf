import type { Socket } from 'node:net';

/**
 * One shared wait for a socket's 'drain' (or its end) per connection: every response sink that
 * was told to wait gets the same promise, so listeners do not pile up on a busy connection.
 */
export class SocketDrain {
  private waiter: Promise<void> | null = null;

  constructor(private readonly socket: Socket) {}

  wait(): Promise<void> {
    const socket = this.socket;
    if (socket.destroyed) return Promise.resolve();
    this.waiter ??= new Promise((resolve) => {
      const done = (): void => {
        socket.off('drain', done);
        socket.off('close', done);
        this.waiter = null;
        resolve();
      };
      socket.on('drain', done);
      socket.on('close', done);
    });
    return this.waiter;
  }
}
