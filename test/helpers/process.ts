/** Starting the real `tsgi` binary and waiting for it to say where it listens. */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const TSGI_BIN = fileURLToPath(new URL('../../dist/src/cli/main.js', import.meta.url));

export interface Running {
  child: ChildProcess;
  output: () => string;
  /** Sends a signal and resolves with the exit code (or signal name). */
  stop(signal?: NodeJS.Signals): Promise<number | string>;
}

export function runTsgi(args: string[], options: { cwd?: string } = {}): Running {
  const child = spawn(process.execPath, [TSGI_BIN, ...args], { cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | string>((resolve) =>
    child.on('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')),
  );
  return {
    child,
    output: () => output,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      const result = await exited;
      clearTimeout(timer);
      return result;
    },
  };
}

/** Runs tsgi to completion (for commands that must fail fast). */
export async function runTsgiToExit(args: string[], options: { cwd?: string; timeoutMs?: number } = {}): Promise<{ code: number | string; output: string }> {
  const running = runTsgi(args, options);
  const code = await new Promise<number | string>((resolve) => {
    const timer = setTimeout(() => {
      running.child.kill('SIGKILL');
      resolve('timeout');
    }, options.timeoutMs ?? 15_000);
    running.child.on('exit', (exitCode, signal) => {
      clearTimeout(timer);
      resolve(exitCode ?? signal ?? 'unknown');
    });
  });
  return { code, output: running.output() };
}

/** Waits for the "serving ... on http://HOST:PORT/" line and returns the URL. */
export async function waitForUrl(running: Running, timeoutMs = 15_000): Promise<string> {
  const started = Date.now();
  for (;;) {
    const match = /on (http:\/\/[^\s]+\/)/.exec(running.output());
    if (match) return match[1]!;
    if (running.child.exitCode !== null) throw new Error(`tsgi exited with ${running.child.exitCode}:\n${running.output()}`);
    if (Date.now() - started > timeoutMs) throw new Error(`tsgi did not start in ${timeoutMs} ms:\n${running.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
