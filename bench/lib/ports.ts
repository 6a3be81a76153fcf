/** Free loopback ports, found the portable way: bind port 0 and ask the kernel what it chose. */
import { createServer, type Server } from 'node:net';

export const LOOPBACK = '127.0.0.1';

/**
 * `count` distinct ports that were free a moment ago. Every probe socket stays bound until all
 * are, so the kernel cannot hand out the same port twice. The ports are released before the
 * servers bind them, so another program could take one in between; on a bench machine that race
 * is rare, and a server that cannot bind shows up as a start failure, never as a wrong figure.
 */
export async function freePorts(count: number): Promise<number[]> {
  const probes = await Promise.all(Array.from({ length: count }, listenEphemeral));
  try {
    return probes.map(portOf);
  } finally {
    await Promise.all(probes.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }
}

function listenEphemeral(): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, LOOPBACK, () => resolve(server));
  });
}

function portOf(server: Server): number {
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('bound a TCP socket but got no port');
  return address.port;
}
