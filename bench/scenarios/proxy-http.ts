import { nginxAddress, nodeHttp, type Listen } from '../lib/backends.js';
import { behindFront, tsgiWebPasses } from '../lib/front.js';
import { nginxAvailable, type NginxSite } from '../lib/nginx.js';
import type { ProcessSpec, Scenario, Side, SideContext } from '../lib/types.js';

/** Idle connections to the backend each worker keeps: the figure. */
const KEEPALIVE = 32;

/**
 * nginx's reverse proxy with pooled connections (issue 7 §6): `proxy_pass` to an upstream with
 * `keepalive`, HTTP/1.1 and no `Connection: close`, the configuration that lets a proxy reuse its
 * backend connections. The backend is Node's raw `http` hello world on every side; only the front
 * differs, so the ratio is tsgi web's proxy path against nginx's. `node-proxy` shows, in the same
 * run, what a bare Node proxy reaches: the ceiling for anything that proxies in Node's event loop.
 */
function site(backend: Listen): NginxSite {
  return {
    http: ['upstream backend {', `  server ${nginxAddress(backend)};`, `  keepalive ${KEEPALIVE};`, '}'],
    server: [
      'location / {',
      '  proxy_pass http://backend;',
      '  proxy_http_version 1.1;',
      '  proxy_set_header Connection "";',
      '}',
    ],
  };
}

const backend = (listen: Listen, ctx: { processes: number }) => nodeHttp(listen, ctx.processes, 'none');

/**
 * For information: the same backend behind the least a Node proxy does (bench/apps/proxy-node.mjs:
 * node:http server + keep-alive Agent), what any proxy written in Node starts from.
 */
function nodeProxySide(): Side {
  const spec = ({ ports: [port, backendPort], processes }: SideContext): ProcessSpec => ({
    label: 'node http proxy',
    command: process.execPath,
    args: ['bench/apps/proxy-node.mjs', String(port), String(backendPort), String(processes), String(KEEPALIVE)],
    env: { NODE_CLUSTER_SCHED_POLICY: 'none' },
    ready: { kind: 'http', port: port!, path: '/' },
  });
  return {
    name: 'node-proxy',
    path: '/',
    ports: 2,
    processes: (ctx) => [backend({ port: ctx.ports[1]! }, ctx), spec(ctx)],
  };
}

export const proxyHttp: Scenario = {
  name: 'proxy-http',
  description: `tsgi web vs nginx, proxy_pass to Node's raw http (upstream keepalive ${KEEPALIVE}, HTTP/1.1), same nginx.conf and backend`,
  target: { ratio: 0.6, peer: 'nginx', text: 'tsgi web ≥ 0.6× nginx' },
  sides: [behindFront('tsgi', 'tsgi web', { site, backend }), behindFront('nginx', 'nginx', { site, backend }), nodeProxySide()],
  async available() {
    const nginx = await nginxAvailable();
    return nginx === true ? tsgiWebPasses('proxy_pass') : nginx;
  },
};
