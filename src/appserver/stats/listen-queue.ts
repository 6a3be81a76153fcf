/**
 * The listen queue of a TCP socket: connections the kernel has accepted and no worker has taken yet
 * (uWSGI's `listen_queue`, which it reads with getsockopt(TCP_INFO), something Node cannot call).
 * Linux shows the same number in /proc/net/tcp and /proc/net/tcp6: for a socket in the LISTEN
 * state, `rx_queue` is the accept queue length (sk_ack_backlog). The maximum is not there (it is in
 * the netlink socket diagnostics that `ss` uses), so the stats take it from --listen. UNIX sockets
 * and systems without /proc report nothing, and the stats then show 0, as uWSGI does off Linux.
 */
import { readFileSync } from 'node:fs';

export interface ListenQueue {
  /** Connections waiting to be accepted. */
  queue: number;
}

/** `st` of a socket in LISTEN state in /proc/net/tcp (TCP_LISTEN = 10). */
const TCP_LISTEN = '0A';

/** Every listening TCP socket of this network namespace, by port. */
export function readListenQueues(): Map<number, ListenQueue> {
  const queues = new Map<number, ListenQueue>();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(file, 'latin1');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      // sl local_address rem_address st tx_queue:rx_queue ...
      const fields = line.trim().split(/\s+/);
      if (fields.length < 5 || fields[3] !== TCP_LISTEN) continue;
      const local = fields[1]!;
      const port = Number.parseInt(local.slice(local.lastIndexOf(':') + 1), 16);
      const rx = fields[4]!.split(':')[1] ?? '0';
      // The same port may listen on several addresses (IPv4 and IPv6): add the queues up.
      const queue = (Number.parseInt(rx, 16) || 0) + (queues.get(port)?.queue ?? 0);
      queues.set(port, { queue });
    }
  }
  return queues;
}
