/**
 * nginx's bookkeeping of listening addresses (`ngx_http_add_listen`, `ngx_http_add_addresses` in
 * src/http/ngx_http.c): addresses are grouped by family and port, and each address keeps the
 * servers on it. This is where nginx finds, while reading `listen`, a server listening twice on
 * one address, two default servers, and socket options given twice.
 */
import { NginxConfigErrorCode } from './errors.js';
import type { Directive } from './parser.js';
import type { DirectiveContext } from './directives/spec.js';
import type { ServerBuilder } from './builders.js';
import type { ListenConf } from './types.js';

function familyOf(listen: ListenConf): string {
  if (listen.address.kind === 'unix') return 'unix';
  return listen.address.ipVersion === 6 ? 'inet6' : 'inet';
}

/**
 * Adds `listen` to `server`. `optionsSet` is nginx's `lsopt.set`: the listen gave socket options
 * (backlog=, rcvbuf=, bind, reuseport...), which only one listen per address may do.
 */
export function addListen(cx: DirectiveContext, d: Directive, server: ServerBuilder, listen: ListenConf, optionsSet = false): void {
  const http = cx.builders.http!;
  const port = listen.address.kind === 'unix' ? 0 : listen.address.port;
  const portKey = `${familyOf(listen)}:${port}`;
  const key = listen.address.kind === 'unix' ? listen.address.path : listen.address.host;
  let addresses = http.ports.get(portKey);
  if (!addresses) {
    addresses = [];
    http.ports.set(portKey, addresses);
  }
  const existing = addresses.find((a) => a.key === key);
  if (!existing) {
    addresses.push({ key, text: listen.text, servers: [server], defaultServer: listen.defaultServer ? server : null, optionsSet });
    server.listen.push(listen);
    return;
  }
  if (existing.servers.includes(server)) throw cx.error(d, `a duplicate listen ${existing.text}`, NginxConfigErrorCode.Duplicate);
  existing.servers.push(server);
  if (optionsSet) {
    if (existing.optionsSet) throw cx.error(d, `duplicate listen options for ${existing.text}`, NginxConfigErrorCode.Duplicate);
    existing.optionsSet = true;
    existing.text = listen.text;
  }
  if (listen.defaultServer) {
    if (existing.defaultServer) throw cx.error(d, `a duplicate default server for ${existing.text}`, NginxConfigErrorCode.Duplicate);
    existing.defaultServer = server;
  }
  server.listen.push(listen);
}
