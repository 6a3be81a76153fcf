#!/usr/bin/env node
/** The one `tsgi` command: `tsgi serve ...` (and, as with uWSGI, bare options mean `serve`). */
import { readFileSync } from 'node:fs';
import { TsgiError } from '../errors.js';
import { runServe } from './serve.js';

const COMMANDS: Record<string, { help: string; run(argv: readonly string[]): Promise<number> }> = {
  serve: { help: 'run the application server (the uWSGI role)', run: runServe },
  web: { help: 'run the web server (the nginx role)', run: async (argv) => (await import('./web.js')).runWeb(argv) },
  top: { help: 'show the workers of a stats server live, like uwsgitop', run: async (argv) => (await import('./top.js')).runTop(argv) },
};

function version(): string {
  const manifest = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return manifest.version;
}

function usage(): string {
  const lines = Object.entries(COMMANDS).map(([name, command]) => `  ${name.padEnd(8)}${command.help}`);
  return `Usage: tsgi <command> [options]\n\nCommands:\n${lines.join('\n')}\n\nRun "tsgi <command> --help" for a command's options.\n`;
}

async function main(argv: string[]): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
    process.stdout.write(usage());
    return first === undefined ? 1 : 0;
  }
  if (first === '--version' || first === '-V') {
    process.stdout.write(`tsgi ${version()}\n`);
    return 0;
  }
  const command = COMMANDS[first];
  if (command) return command.run(rest);
  // uWSGI is invoked with options only: `tsgi --http-socket :8000 ...` means `tsgi serve ...`.
  if (first.startsWith('-')) return runServe(argv);
  process.stderr.write(`tsgi: unknown command "${first}"\n\n${usage()}`);
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof TsgiError) process.stderr.write(`tsgi: ${error.message}\n`);
    else process.stderr.write(`tsgi: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = error instanceof TsgiError && error.code === 'ERR_USAGE' ? 2 : 1;
  },
);
