/**
 * access_log syslog:...: the target's parameters, and the datagram against the one nginx sends
 * for the same request (time and host name normalised).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import type { AddressInfo } from 'node:net';
import { SyslogConfigError, SyslogSender, compileLogFormat, parseSyslogTarget, syslogHeader } from '../../../src/web/log/index.js';
import { Variables } from '../../../src/web/variables.js';
import { configFromText, fakeContext } from '../variables/fake-context.js';
import { nginx, startNginx, type NginxRun } from '../variables/nginx-runner.js';

describe('parseSyslogTarget', () => {
  it('reads nginx parameters with their defaults', () => {
    assert.deepEqual(parseSyslogTarget('syslog:server=10.0.0.1'), {
      host: '10.0.0.1', port: 514, unixPath: null, facility: 23, severity: 6, tag: 'nginx', nohostname: false,
    });
    assert.deepEqual(parseSyslogTarget('syslog:server=[::1]:5514,facility=local0,severity=warn,tag=web,nohostname'), {
      host: '::1', port: 5514, unixPath: null, facility: 16, severity: 4, tag: 'web', nohostname: true,
    });
    assert.equal(parseSyslogTarget('syslog:server=unix:/dev/log').unixPath, '/dev/log');
    assert.throws(() => parseSyslogTarget('syslog:facility=local0'), SyslogConfigError);
    assert.throws(() => parseSyslogTarget('syslog:server=x,color=red'), SyslogConfigError);
  });

  it('writes the header nginx writes: <PRI>Mmm dd hh:mm:ss host tag: ', () => {
    const target = parseSyslogTarget('syslog:server=127.0.0.1,tag=web');
    assert.match(syslogHeader(target, Date.UTC(2026, 0, 5, 3, 4, 5), 'box'), /^<190>Jan  [45] \d\d:\d\d:05 box web: $/);
    assert.match(syslogHeader({ ...target, nohostname: true }, Date.UTC(2026, 0, 15, 3, 4, 5), 'box'), /^<190>Jan 1[45] \d\d:\d\d:05 web: $/);
  });
});

describe('syslog datagrams against nginx', { skip: 'skip' in nginx ? nginx.skip : false }, () => {
  let run: NginxRun;
  let receiver: Socket;
  const datagrams: string[] = [];
  let http = '';

  before(async () => {
    if (!('path' in nginx)) return;
    receiver = createSocket('udp4');
    receiver.on('message', (message) => datagrams.push(message.toString('latin1')));
    await new Promise<void>((resolve) => receiver.bind(0, '127.0.0.1', resolve));
    const port = (receiver.address() as AddressInfo).port;
    http = `
      log_format short '$request $status "$http_user_agent"';
      server {
        listen 127.0.0.1:PORT;
        access_log syslog:server=127.0.0.1:${port},tag=web,facility=local3 short;
        location / { return 204; }
      }`;
    run = await startNginx(nginx.path, http);
  });
  after(async () => {
    await run?.stop();
    receiver?.close();
  });

  it('the same datagram', async () => {
    const raw = 'GET /s?x=1 HTTP/1.0\r\nUser-Agent: "ua"\r\n\r\n';
    const response = await run.request(raw);
    for (let i = 0; i < 200 && datagrams.length === 0; i += 1) await new Promise((resolve) => setTimeout(resolve, 10));
    const config = configFromText(`events {} http { ${http.replaceAll('PORT', String(run.port))} }`);
    const entries = config.servers[0]!.loc.settings.accessLog;
    assert.notEqual(entries, 'off');
    const entry = entries === 'off' ? null : entries[0]!;
    const variables = new Variables(config);
    const ctx = fakeContext({ config, raw, variables });
    ctx.status = response.status;
    const sender = new SyslogSender(parseSyslogTarget(entry!.path));
    const ours = syslogHeader(sender.target, Date.now(), 'HOST') + compileLogFormat(config.http!.logFormats.get('short')!, variables)(ctx);
    const normalise = (datagram: string): string => datagram.replace(/^(<\d+>)[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \S+ /, '$1TIME HOST ');
    assert.equal(normalise(ours), normalise(datagrams[0]!));
  });
});
