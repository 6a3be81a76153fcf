/**
 * Parity with the real nginx 1.22 while requests are in flight: least_conn and max_conns read
 * the connections each server holds. Backends (in this process) hold `/hold` requests until the
 * test releases them, so the same interleaving of held, quick and released requests goes to
 * nginx and to tsgi's balancer, and each must choose the same servers.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type ServerResponse } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readAll, splitResponses } from '../../helpers/net.js';
import { freePort, launchNginx, testNginxConf, nginxPeer, type LaunchedNginx } from '../../helpers/nginx.js';
import { groupsFrom, label } from './balancer-helpers.js';
import type { PeerSelection, UpstreamPeer } from '../../../src/web/upstream/types.js';

const NAMES = ['p', 'q', 'r'] as const;

/** `hold` keeps a request open at its server, `quick` is answered at once, `release N` ends hold N. */
type Op = 'hold' | 'quick' | `release ${number}`;

interface Case {
  readonly name: string;
  readonly body: string;
  readonly ops: readonly Op[];
}

const CASES: readonly Case[] = [
  {
    name: 'lc_load',
    body: 'least_conn; server {p} weight=3; server {q}; server {r} weight=2;',
    ops: ['hold', 'hold', 'quick', 'hold', 'quick', 'hold', 'hold', 'quick', 'release 0', 'quick', 'hold', 'release 2', 'quick', 'quick', 'hold', 'release 1', 'release 3', 'quick', 'quick', 'quick'],
  },
  {
    name: 'rr_max_conns',
    body: 'server {p} weight=2 max_conns=1; server {q} max_conns=2; server {r} max_conns=1;',
    ops: ['hold', 'quick', 'hold', 'quick', 'hold', 'hold', 'quick', 'release 1', 'quick', 'hold', 'quick', 'release 0', 'release 2', 'quick', 'quick', 'quick'],
  },
];

const peer = nginxPeer();

describe('balancers with requests in flight: same choices as nginx', { skip: 'skip' in peer ? peer.skip : false }, () => {
  const ports = new Map<string, number>();
  const servers: Server[] = [];
  /** Held requests by id: which backend has it, and how to answer it. */
  const held = new Map<string, { name: string; res: ServerResponse }>();
  let nginx: LaunchedNginx | undefined;
  let dir = '';
  let front = 0;

  before(async () => {
    if (!('path' in peer)) return;
    for (const name of NAMES) {
      const server = createServer((req, res) => {
        const id = /^\/[a-z_]+\/hold\/(\d+)$/.exec(req.url ?? '')?.[1];
        if (id !== undefined) held.set(id, { name, res });
        else res.end(name);
      });
      const port = await freePort();
      await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
      servers.push(server);
      ports.set(name, port);
    }
    dir = mkdtempSync(join(tmpdir(), 'tsgi-balancer-load-'));
    front = await freePort();
    const conf = testNginxConf(
      dir,
      `${CASES.map(upstream).join('\n')}
  server {
    listen 127.0.0.1:${front};
    ${CASES.map((c) => `location /${c.name}/ { proxy_pass http://${c.name}; add_header X-Tried $upstream_addr always; }`).join('\n')}
  }`,
    );
    nginx = await launchNginx(peer.path, dir, conf, front);
  });

  after(async () => {
    for (const { res } of held.values()) res.end();
    await nginx?.stop();
    for (const server of servers) await new Promise((resolve) => server.close(resolve));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const upstream = (c: Case): string => `upstream ${c.name} { ${c.body.replace(/\{([a-z])\}/g, (_, name: string) => `127.0.0.1:${ports.get(name)}`)} }`;
  const nameAt = (addr: string): string => [...ports].find(([, port]) => addr === `127.0.0.1:${port}`)?.[0] ?? addr;

  /** The ops through nginx: a held request's server, a quick one's tried list ('502' when none). */
  async function throughNginx(c: Case): Promise<string[]> {
    const out: string[] = [];
    const pending: Promise<string>[] = [];
    for (const op of c.ops) {
      if (op === 'hold') {
        const id = String(pending.length);
        pending.push(send(`/${c.name}/hold/${id}`));
        for (let i = 0; i < 500 && !held.has(id); i += 1) await new Promise((resolve) => setTimeout(resolve, 5));
        out.push(`hold ${held.get(id)?.name ?? 'none'}`);
      } else if (op === 'quick') {
        out.push(`quick ${await send(`/${c.name}/quick`)}`);
      } else {
        const id = op.slice('release '.length);
        held.get(id)!.res.end('held');
        await pending[Number(id)];
        held.delete(id);
        out.push(op);
      }
    }
    return out;
  }

  function send(path: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const socket = connect({ port: front, host: '127.0.0.1' }, () => {
        socket.write(`GET ${path} HTTP/1.0\r\nHost: balancer.test\r\n\r\n`);
        readAll(socket, 10_000).then((data) => {
          const [response] = splitResponses(data.toString('latin1'));
          if (response?.status !== 200) return resolve(String(response?.status));
          resolve((response.headers['x-tried'] ?? '').split(', ').map(nameAt).join('>'));
        }, reject);
      });
      socket.once('error', reject);
    });
  }

  /** The same ops through tsgi's balancer. */
  function throughTsgi(c: Case): string[] {
    const group = groupsFrom(upstream(c)).get(c.name)!;
    const holds: Array<{ pick: PeerSelection; peer: UpstreamPeer }> = [];
    const out: string[] = [];
    const nameOfPeer = (p: UpstreamPeer): string => nameAt(`127.0.0.1:${label(p)}`);
    for (const op of c.ops) {
      if (op === 'hold') {
        const pick = group.begin({ remoteAddr: '127.0.0.1', hashKey: '' });
        const p = pick.next();
        if (p) holds.push({ pick, peer: p });
        out.push(`hold ${p ? nameOfPeer(p) : 'none'}`);
      } else if (op === 'quick') {
        const pick = group.begin({ remoteAddr: '127.0.0.1', hashKey: '' });
        const p = pick.next();
        if (p) pick.done(p, 'ok');
        out.push(`quick ${p ? nameOfPeer(p) : '502'}`);
      } else {
        const h = holds[Number(op.slice('release '.length))]!;
        h.pick.done(h.peer, 'ok');
        out.push(op);
      }
    }
    return out;
  }

  for (const c of CASES) {
    it(`${c.name}: ${c.body}`, async () => {
      const real = await throughNginx(c);
      assert.deepEqual(throughTsgi(c), real);
    });
  }
});
