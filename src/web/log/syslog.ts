/**
 * `access_log syslog:...` and `error_log syslog:...` (src/core/ngx_syslog.c, nginx 1.22): one UDP
 * datagram per line, `<PRI>Nov 22 01:02:40 HOSTNAME TAG: MESSAGE`.
 *
 *   parameter           default
 *   server=ADDR[:PORT]  required; port 514
 *   facility=NAME       local7
 *   severity=NAME       info (access log); the error log uses each message's level
 *   tag=NAME            nginx
 *   nohostname          leave out the host name
 *
 * `server=unix:/path` (a UNIX datagram socket) is accepted but Node has no UNIX datagram sockets:
 * lines sent there are dropped (the error log says so once).
 */
import { createSocket, type Socket } from 'node:dgram';
import { TsgiError } from '../../errors.js';

const FACILITIES = [
  'kern', 'user', 'mail', 'daemon', 'auth', 'intern', 'lpr', 'news', 'uucp', 'clock', 'authpriv', 'ftp', 'ntp', 'audit',
  'alert', 'cron', 'local0', 'local1', 'local2', 'local3', 'local4', 'local5', 'local6', 'local7',
] as const;
const SEVERITIES = ['emerg', 'alert', 'crit', 'error', 'warn', 'notice', 'info', 'debug'] as const;
const DEFAULT_FACILITY = FACILITIES.indexOf('local7');
const DEFAULT_SEVERITY = SEVERITIES.indexOf('info');
const DEFAULT_PORT = 514;
const PRIORITY_FACILITY_FACTOR = 8;
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'] as const;

export interface SyslogTarget {
  readonly host: string;
  readonly port: number;
  /** `server=unix:/path`: kept, but lines are dropped. */
  readonly unixPath: string | null;
  readonly facility: number;
  readonly severity: number;
  readonly tag: string;
  readonly nohostname: boolean;
}

/** A syslog: target nginx would refuse; the message is nginx's. */
export class SyslogConfigError extends TsgiError {
  constructor(message: string) {
    super('ERR_SYSLOG_CONFIG', message);
  }
}

/** Parses `syslog:server=...,facility=...` (ngx_syslog_parse_args). Throws SyslogConfigError. */
export function parseSyslogTarget(text: string): SyslogTarget {
  const args = text.slice('syslog:'.length);
  let host: string | null = null;
  let port = DEFAULT_PORT;
  let unixPath: string | null = null;
  let facility = DEFAULT_FACILITY;
  let severity = DEFAULT_SEVERITY;
  let tag = 'nginx';
  let nohostname = false;
  for (const word of args.split(',')) {
    if (word === 'nohostname') {
      nohostname = true;
    } else if (word.startsWith('server=')) {
      const value = word.slice('server='.length);
      if (value.startsWith('unix:')) {
        unixPath = value.slice('unix:'.length);
        host = '';
        continue;
      }
      const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(value);
      const plain = /^([^:]+)(?::(\d+))?$/.exec(value);
      const parts = bracketed ?? plain;
      if (!parts) throw new SyslogConfigError(`invalid syslog server "${value}"`);
      host = parts[1]!;
      if (parts[2] !== undefined) port = Number(parts[2]);
    } else if (word.startsWith('facility=')) {
      const index = FACILITIES.indexOf(word.slice('facility='.length) as (typeof FACILITIES)[number]);
      if (index === -1) throw new SyslogConfigError(`unknown syslog facility "${word.slice('facility='.length)}"`);
      facility = index;
    } else if (word.startsWith('severity=')) {
      const index = SEVERITIES.indexOf(word.slice('severity='.length) as (typeof SEVERITIES)[number]);
      if (index === -1) throw new SyslogConfigError(`unknown syslog severity "${word.slice('severity='.length)}"`);
      severity = index;
    } else if (word.startsWith('tag=')) {
      tag = word.slice('tag='.length);
      if (tag.length > 32) throw new SyslogConfigError('syslog tag length exceeds 32');
    } else {
      throw new SyslogConfigError(`unknown syslog parameter "${word}"`);
    }
  }
  if (host === null) throw new SyslogConfigError('no syslog server specified');
  return { host, port, unixPath, facility, severity, tag, nohostname };
}

/** nginx's syslog time: "Nov 22 01:02:40", the day padded with a space. */
export function syslogTime(ms: number): string {
  const d = new Date(ms);
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${MONTHS[d.getMonth()]} ${String(d.getDate()).padStart(2, ' ')} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** The syslog header of one message (ngx_syslog_add_header). */
export function syslogHeader(target: SyslogTarget, ms: number, hostname: string, severity = target.severity): string {
  const priority = target.facility * PRIORITY_FACILITY_FACTOR + severity;
  return target.nohostname
    ? `<${priority}>${syslogTime(ms)} ${target.tag}: `
    : `<${priority}>${syslogTime(ms)} ${hostname} ${target.tag}: `;
}

/** The severity number of an nginx log level. */
export function syslogSeverity(level: string): number {
  const index = SEVERITIES.indexOf(level as (typeof SEVERITIES)[number]);
  return index === -1 ? DEFAULT_SEVERITY : index;
}

/** Sends lines to one syslog target over UDP; the socket is made on first use. */
export class SyslogSender {
  private socket: Socket | null = null;

  constructor(readonly target: SyslogTarget) {}

  /** False when the target cannot be reached from Node (a UNIX datagram socket). */
  get supported(): boolean {
    return this.target.unixPath === null;
  }

  send(datagram: Buffer): void {
    if (!this.supported) return;
    if (!this.socket) {
      this.socket = createSocket(this.target.host.includes(':') ? 'udp6' : 'udp4');
      this.socket.unref();
      // A lost datagram is not an error nginx reports per line; keep the process alive.
      this.socket.on('error', () => {});
    }
    this.socket.send(datagram, this.target.port, this.target.host);
  }

  close(): void {
    this.socket?.close();
    this.socket = null;
  }
}
