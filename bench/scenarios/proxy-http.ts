import { nginxAddress, nodeHttp, type Listen } from '../lib/backends.js';
import { behindFront, tsgiWebPasses } from '../lib/front.js';
import { nginxAvailable, type NginxSite } from '../lib/nginx.js';
import type { Scenario } from '../lib/types.js';

/** Idle connections to the backend each worker keeps: the figure. */
const KEEPALIVE = 32;

/**
 * nginx's reverse proxy with pooled connections (issue 7 §6): `proxy_pass` to an upstream with
 * `keepalive`, HTTP/1.1 and no `Connection: close`, the configuration that lets a proxy reuse its
 * backend connections. The backend is Node's raw `http` hello world on both sides; only the front
 * differs, so the ratio is tsgi web's proxy path against nginx's.
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

export const proxyHttp: Scenario = {
  name: 'proxy-http',
  description: `tsgi web vs nginx, proxy_pass to Node's raw http (upstream keepalive ${KEEPALIVE}, HTTP/1.1), same nginx.conf and backend`,
  target: { ratio: 0.6, peer: 'nginx', text: 'tsgi web ≥ 0.6× nginx' },
  sides: [behindFront('tsgi', 'tsgi web', { site, backend }), behindFront('nginx', 'nginx', { site, backend })],
  async available() {
    const nginx = await nginxAvailable();
    return nginx === true ? tsgiWebPasses('proxy_pass') : nginx;
  },
};
