/**
 * A 101 from a proxied server to an Upgrade request (WebSocket): nginx sends the 101 with the
 * upstream's headers plus `Upgrade` and `Connection: upgrade`, then copies bytes both ways until
 * either side closes (ngx_http_upstream_upgrade). The connection hands its socket over
 * (`takeover`), so this writes the head itself.
 */
import type { Socket } from 'node:net';
import type { ContentResult, HeaderPair, RequestContext } from '../request-context.js';
import type { PassResponse } from './module.js';

export function upgradeTakeover(ctx: RequestContext, response: PassResponse, headers: readonly HeaderPair[]): ContentResult {
  const upstream = response.upgrade!;
  const upgrade = headerValue(response.headers, 'upgrade');
  return {
    kind: 'takeover',
    run(client: Socket, pending: Buffer): void {
      let head = 'HTTP/1.1 101 Switching Protocols\r\n';
      for (const [name, value] of headers) head += `${name}: ${value}\r\n`;
      if (upgrade !== null) head += `Upgrade: ${upgrade}\r\n`;
      head += 'Connection: upgrade\r\n\r\n';
      ctx.status = 101;
      client.write(Buffer.from(head, 'latin1'));
      if (upstream.head.length > 0) client.write(upstream.head);
      if (pending.length > 0) upstream.socket.write(pending);
      join(client, upstream.socket);
    },
  };
}

/** Copies both ways with backpressure; either side's end (once flushed to the other) or error closes both. */
function join(a: Socket, b: Socket): void {
  const close = (): void => {
    a.destroy();
    b.destroy();
  };
  for (const [from, to] of [
    [a, b],
    [b, a],
  ] as const) {
    from.on('data', (chunk: Buffer) => {
      if (!to.write(chunk)) {
        from.pause();
        to.once('drain', () => from.resume());
      }
    });
    // nginx finalizes an upgraded request once either side reaches EOF and what it sent is
    // flushed (ngx_http_upstream_process_upgraded): a half-open peer (Node's http server keeps
    // its side open after our FIN) must not keep both sockets forever.
    from.on('end', () => to.end(close));
    from.on('error', close);
    from.on('close', close);
  }
  a.resume();
  b.resume();
}

function headerValue(flat: readonly string[], name: string): string | null {
  for (let i = 0; i + 1 < flat.length; i += 2) if (flat[i]!.toLowerCase() === name) return flat[i + 1]!;
  return null;
}
