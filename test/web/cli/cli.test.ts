/**
 * `tsgi web`'s command line, run as the real binary (dist/), next to the real nginx: the same
 * flags give the same lines (with "tsgi" for "nginx", time stamps and pids set aside) and the
 * same exit statuses.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TSGI_BIN } from '../../helpers/process.js';
import { freePort, nginxPeer, waitForPort } from '../../helpers/nginx.js';
import { exchangeRaw } from '../server/raw-http.js';

const nginx = nginxPeer();
const dir = mkdtempSync(join(tmpdir(), 'tsgi-web-cli-'));
const GOOD = join(dir, 'good.conf');
const BAD = join(dir, 'bad.conf');
const WARN = join(dir, 'warn.conf');
const INCLUDING = join(dir, 'including.conf');
writeFileSync(GOOD, `pid ${dir}/good.pid;\nevents {}\nhttp { server { listen 127.0.0.1:18999; } }\n`);
writeFileSync(BAD, 'events {}\nhttp { server { listen 127.0.0.1:18999; foo; } }\n');
writeFileSync(
  WARN,
  'events {}\nhttp {\n  server { listen 127.0.0.1:18999; server_name a; }\n  server { listen 127.0.0.1:18999; server_name a; }\n}\n',
);
writeFileSync(join(dir, 'part.conf'), 'server { listen 127.0.0.1:18999; }\n');
writeFileSync(INCLUDING, `events {}\nhttp { include ${dir}/part.conf; }\n`);

interface Run {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function run(command: string, args: readonly string[]): Run {
  const result = spawnSync(command, args, { encoding: 'latin1', cwd: tmpdir(), timeout: 20_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

const tsgi = (args: readonly string[]): Run => run(process.execPath, [TSGI_BIN, 'web', ...args]);

/** Lines with the log's time stamp and pid set aside, and the program's name made neutral. */
function neutral(text: string): string {
  return text
    .replace(/^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d \[(\w+)\] \d+#\d+: /gm, '[$1] ')
    .replace(/^(nginx|tsgi): /gm, 'PROGRAM: ')
    .replace(/\/usr\/sbin\/nginx|tsgi web/g, 'PROGRAM');
}

describe('tsgi web command line, next to nginx', { skip: 'skip' in nginx ? nginx.skip : false }, () => {
  let nginxPath = '';
  before(() => {
    if ('path' in nginx) nginxPath = nginx.path;
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const same = (args: readonly string[]): void => {
    const theirs = run(nginxPath, args);
    const ours = tsgi(args);
    assert.equal(neutral(ours.stderr), neutral(theirs.stderr), `stderr of ${args.join(' ')}`);
    assert.equal(ours.stdout, theirs.stdout, `stdout of ${args.join(' ')}`);
    assert.equal(ours.status, theirs.status, `exit status of ${args.join(' ')}`);
  };

  it('-t on a good file', () => same(['-t', '-c', GOOD]));
  it('-t on a bad file: [emerg] ... in F:L, test failed, exit 1', () => same(['-t', '-c', BAD]));
  it('-t -q prints nothing on success', () => same(['-t', '-q', '-c', GOOD]));
  it('-tq combined flags, failure still printed', () => same(['-tq', '-c', BAD]));
  it('-t prints warnings', () => same(['-t', '-c', WARN]));
  it('-t on a missing file', () => same(['-t', '-c', join(dir, 'missing.conf')]));
  it('-T dumps every file read', () => same(['-T', '-c', INCLUDING]));
  it('-T -q dumps without the test lines', () => same(['-T', '-q', '-c', INCLUDING]));
  it('-c glued to its value, -p prefix with a relative -c', () => {
    same(['-c' + GOOD, '-t']);
    same(['-t', '-p', dir, '-c', 'good.conf']);
  });
  it('-g directives, and a bad -g', () => {
    same(['-t', '-c', GOOD, '-g', 'worker_processes 2;']);
    same(['-t', '-c', GOOD, '-g', 'daemon']);
  });
  it('bad options', () => {
    same(['-x']);
    same(['extra']);
    same(['-s']);
    same(['-s', 'foo']);
    same(['-c']);
    same(['-p']);
    same(['-e']);
    same(['-g']);
  });
  it('-s without a running master: the pid file is missing', () => same(['-s', 'reload', '-c', GOOD]));
  it('-s with a config that does not load', () => same(['-s', 'reload', '-c', BAD]));
  it('-e sends the [emerg] to the file and a copy to stderr', () => {
    const theirs = run(nginxPath, ['-t', '-c', BAD, '-e', join(dir, 'nginx-e.log')]);
    const ours = tsgi(['-t', '-c', BAD, '-e', join(dir, 'tsgi-e.log')]);
    assert.equal(neutral(ours.stderr), neutral(theirs.stderr));
    assert.equal(ours.status, 1);
    assert.match(neutral(run('cat', [join(dir, 'tsgi-e.log')]).stdout), /^\[emerg\] unknown directive "foo" in .*bad\.conf:2$/m);
  });
  it('-v, -V and -h', () => {
    assert.match(tsgi(['-v']).stderr, /^tsgi version: tsgi\/\d+\.\d+\.\d+\n$/);
    const full = tsgi(['-V']);
    assert.equal(full.status, 0);
    assert.match(full.stderr, /^tsgi version: tsgi\/.*\nbuilt with Node\.js v\d+.*\nconfigure arguments: --prefix=/);
    const help = tsgi(['-h']);
    assert.equal(help.status, 0);
    assert.match(help.stderr, /Usage: tsgi web \[-\?hvVtTq\] \[-s signal\] \[-p prefix\]/);
    assert.match(help.stderr, /-s signal {5}: send signal to a master process: stop, quit, reopen, reload/);
  });
  it('starting with a bad config fails with the [emerg] line, exit 1', () => same(['-c', BAD]));
});

describe('tsgi web process modes', () => {
  const modes = mkdtempSync(join(tmpdir(), 'tsgi-web-modes-'));
  after(() => rmSync(modes, { recursive: true, force: true }));

  const conf = (name: string, port: number, main: string): string => {
    const file = join(modes, `${name}.conf`);
    writeFileSync(
      file,
      `${main}\npid ${modes}/${name}.pid;\nerror_log ${modes}/${name}.log notice;\nevents {}\nhttp {\n  access_log off;\n  server {\n    listen 127.0.0.1:${port};\n    listen unix:${modes}/${name}.sock;\n    location / { return 200 "${name} $remote_addr\\n"; }\n  }\n}\n`,
    );
    return file;
  };

  const overUnix = (path: string): Promise<string> =>
    new Promise((resolve, reject) => {
      let text = '';
      const socket = connect({ path }, () => socket.write('GET / HTTP/1.0\r\n\r\n'));
      socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
    });

  it('daemon on (the default): returns once serving; -s stop ends the master', async () => {
    const port = await freePort();
    const file = conf('daemon', port, '');
    const started = Date.now();
    const result = tsgi(['-c', file]);
    assert.equal(result.status, 0, result.stderr);
    assert.ok(Date.now() - started < 15_000);
    const pid = Number(readFileSync(join(modes, 'daemon.pid'), 'utf8'));
    assert.ok(pid > 0);
    const response = await exchangeRaw(port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.equal(response.responses[0]!.body.toString(), 'daemon 127.0.0.1\n');
    assert.match(await overUnix(join(modes, 'daemon.sock')), /daemon unix:\n$/);
    assert.equal(tsgi(['-s', 'stop', '-c', file]).status, 0);
    const deadline = Date.now() + 10_000;
    while (existsSync(join(modes, 'daemon.pid')) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(existsSync(join(modes, 'daemon.pid')), false);
    assert.equal(existsSync(join(modes, 'daemon.sock')), false);
  });

  it('master_process off: one process serves, QUIT stops it', async () => {
    const port = await freePort();
    const file = conf('single', port, 'daemon off;\nmaster_process off;');
    const child = spawn(process.execPath, [TSGI_BIN, 'web', '-c', file], { stdio: 'ignore' });
    await waitForPort(port);
    const response = await exchangeRaw(port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.equal(response.responses[0]!.body.toString(), 'single 127.0.0.1\n');
    assert.equal(spawnSync('ps', ['-o', 'pid=', '--ppid', String(child.pid)], { encoding: 'utf8' }).stdout.trim(), '');
    child.kill('SIGQUIT');
    const code = await new Promise((resolve) => child.on('exit', (status) => resolve(status)));
    assert.equal(code, 0);
    assert.equal(existsSync(join(modes, 'single.sock')), false);
  });

  it('a port in use: [emerg] bind() ... failed, exit 1', async () => {
    const blocker = createServer();
    const port = await new Promise<number>((resolve) => blocker.listen(0, '127.0.0.1', () => resolve((blocker.address() as AddressInfo).port)));
    const file = conf('busy', port, 'daemon off;');
    const result = tsgi(['-c', file]);
    blocker.close();
    assert.equal(result.status, 1);
    assert.match(result.stderr, new RegExp(`\\[emerg\\] \\d+#\\d+: bind\\(\\) to 127\\.0\\.0\\.1:${port} failed \\(98: .*Address already in use`));
    assert.equal(existsSync(join(modes, 'busy.pid')), false);
  });
});
