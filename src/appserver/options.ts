/**
 * The options of `tsgi serve`, named as uWSGI names them. The one place their defaults live: the
 * command line, the config loaders (./config/), `--help` and docs/options.md all read this table.
 *
 * Only what works is `supported`. Options that tsgi accepts so that uWSGI configs load unchanged,
 * but that mean nothing here, are `ignored` with the reason. Options whose behaviour is still being
 * built (master, processes, socket, module...) are added with their implementation, not before:
 * until then a config that uses them fails with "unknown option", naming FILE:LINE.
 */
import type { OptionSpec } from '../cli/options.js';

/** What `--app` may hold: a TSGI app, a fetch handler, or a Node (req, res) handler. */
export const APP_KINDS = ['tsgi', 'fetch', 'node'] as const;
export type AppKind = (typeof APP_KINDS)[number];

export const SERVE_OPTIONS = [
  {
    name: 'http-socket',
    type: 'string',
    repeatable: true,
    metavar: 'ADDR',
    section: 'Sockets',
    help: 'accept HTTP/1.1 on ADDR (host:port, :port or a UNIX socket path); the app server speaks HTTP itself',
  },
  {
    name: 'socket',
    short: 's',
    aliases: ['uwsgi-socket'],
    type: 'string',
    repeatable: true,
    metavar: 'ADDR',
    section: 'Sockets',
    help: 'accept the uwsgi protocol on ADDR (what nginx\'s uwsgi_pass speaks); host:port, :port or a UNIX socket path',
  },
  { name: 'fastcgi-socket', type: 'string', repeatable: true, metavar: 'ADDR', section: 'Sockets', help: 'accept FastCGI on ADDR (nginx\'s fastcgi_pass; FCGI_KEEP_CONN and multiplexing supported)' },
  { name: 'scgi-socket', type: 'string', repeatable: true, metavar: 'ADDR', section: 'Sockets', help: 'accept SCGI on ADDR (nginx\'s scgi_pass)' },
  {
    name: 'chmod-socket',
    type: 'string',
    bareValue: '666',
    metavar: '[MODE]',
    section: 'Sockets',
    help: 'set the permissions of UNIX sockets to the octal MODE (666 when given without a value)',
  },
  {
    name: 'vacuum',
    type: 'boolean',
    section: 'Sockets',
    help: 'remove the UNIX socket files when tsgi exits; tsgi always does on a clean exit (Node unlinks a socket file when its server closes), and a stale file left by a killed server is replaced at start',
  },
  {
    name: 'buffer-size',
    short: 'b',
    type: 'number',
    default: 4096,
    metavar: 'BYTES',
    section: 'Sockets',
    help: 'largest uwsgi vars block / SCGI header block accepted (at most 65535); a bigger request is refused and logged',
  },
  { name: 'listen', short: 'l', type: 'number', default: 100, metavar: 'N', section: 'Sockets', help: 'listen queue size of each socket' },
  { name: 'http-keepalive', type: 'number', default: 75, metavar: 'SECONDS', section: 'Sockets', help: 'close keep-alive connections idle this long' },
  {
    name: 'app',
    type: 'string',
    metavar: 'FILE[:EXPORT]',
    section: 'Application',
    help: 'the application module (.ts, .mts, .js, .mjs); export default, app or application unless named',
  },
  { name: 'app-kind', type: 'string', choices: APP_KINDS, metavar: 'KIND', section: 'Application', help: 'the kind of application, instead of detecting it' },
  {
    name: 'ini',
    type: 'string',
    repeatable: true,
    metavar: 'FILE[:SECTION]',
    section: 'Config files',
    action: 'load-ini',
    help: 'read options from the [uwsgi] or [tsgi] section of an ini file (or from [SECTION]); they take this option\'s place',
  },
  {
    name: 'xml',
    short: 'x',
    aliases: ['xmlconfig'],
    type: 'string',
    repeatable: true,
    metavar: 'FILE[:ID]',
    section: 'Config files',
    action: 'load-xml',
    help: 'read options from the <uwsgi> or <tsgi> element of an xml file (with :ID, the one with id="ID")',
  },
  {
    name: 'json',
    short: 'j',
    aliases: ['js'],
    type: 'string',
    repeatable: true,
    metavar: 'FILE[:SECTION]',
    section: 'Config files',
    action: 'load-json',
    help: 'read options from the "uwsgi" or "tsgi" object of a json file (or from "SECTION")',
  },
  {
    name: 'yaml',
    short: 'y',
    aliases: ['yml'],
    type: 'string',
    repeatable: true,
    metavar: 'FILE[:SECTION]',
    section: 'Config files',
    action: 'load-yaml',
    help: 'read options from the uwsgi: or tsgi: mapping of a yaml file (or from SECTION:)',
  },
  {
    name: 'include',
    type: 'string',
    repeatable: true,
    metavar: 'FILE[:SECTION]',
    section: 'Config files',
    action: 'load-by-extension',
    help: 'read a config file in the format its extension names (.ini, .xml, .json, .yaml, .yml)',
  },
  {
    name: 'set-placeholder',
    aliases: ['set-ph'],
    type: 'string',
    repeatable: true,
    metavar: 'NAME=VALUE',
    section: 'Config files',
    action: 'set-placeholder',
    help: 'define a placeholder that values use as %(NAME)',
  },
  {
    name: 'plugins',
    aliases: ['plugin'],
    type: 'string',
    repeatable: true,
    metavar: 'LIST',
    section: 'Python and plugins',
    status: 'ignored',
    ignoredReason: 'tsgi has no plugins; Python support is built in',
    help: 'load uWSGI plugins',
  },
  {
    name: 'enable-threads',
    short: 'T',
    type: 'boolean',
    section: 'Python and plugins',
    status: 'ignored',
    ignoredReason:
      'uWSGI needs it before threads started by a Python app can run; tsgi runs Python apps in ordinary CPython processes, where they always can',
    help: 'enable Python threads',
  },
  {
    name: 'single-interpreter',
    short: 'i',
    type: 'boolean',
    section: 'Python and plugins',
    status: 'ignored',
    ignoredReason: 'uWSGI may give each app its own Python sub-interpreter; tsgi never creates sub-interpreters, so this is always the case',
    help: 'do not use multiple Python interpreters',
  },
  { name: 'help', short: 'h', type: 'boolean', section: 'General', help: 'show this help and exit' },
] as const satisfies readonly OptionSpec[];
