/**
 * Every scenario, in the order `npm run bench` runs them. A scenario is added by writing its file
 * and listing it here: an explicit list, not registration as a side effect of importing.
 */
import type { Scenario } from '../lib/types.js';
import { appHttpHello } from './app-http-hello.js';
import { appHttpHelloNginxStatic } from './app-http-hello-nginx-static.js';
import { appHttpWorkers } from './app-http-workers.js';
import { flaskHello } from './flask-hello.js';
import { idleConns } from './idle-conns.js';
import { nginxFastcgiKeepalive } from './nginx-fastcgi-keepalive.js';
import { nginxScgi } from './nginx-scgi.js';
import { nginxUwsgi } from './nginx-uwsgi.js';
import { nginxUwsgiPythonRef } from './nginx-uwsgi-python-ref.js';
import { nginxUwsgiUnix } from './nginx-uwsgi-unix.js';
import { nodeVsNode } from './node-vs-node.js';
import { proxyHttp } from './proxy-http.js';
import { pythonHello } from './python-hello.js';
import { stack, stackClose } from './stack.js';
import { staticLarge } from './static-large.js';
import { staticSmall } from './static-small.js';

export const SCENARIOS: readonly Scenario[] = [
  appHttpHello,
  appHttpWorkers,
  appHttpHelloNginxStatic,
  nginxUwsgi,
  nginxFastcgiKeepalive,
  nginxUwsgiPythonRef,
  nginxScgi,
  nginxUwsgiUnix,
  pythonHello,
  flaskHello,
  proxyHttp,
  stack,
  stackClose,
  staticSmall,
  staticLarge,
  idleConns,
  nodeVsNode,
];
