/** A description of where and how a run happened, for the head of the results file. */
import { cpus } from 'node:os';

export interface RunContext {
  date: string;
  node: string;
  cpus: string;
  loadGenerator: string;
  command: string;
}

export function describeMachine(loadGenerator: string, argv: readonly string[]): RunContext {
  const list = cpus();
  const model = list[0]?.model.trim() ?? 'unknown cpu';
  return {
    date: new Date().toISOString(),
    node: process.version,
    cpus: `${list.length} × ${model}`,
    loadGenerator,
    command: ['npm run bench', ...(argv.length > 0 ? ['--', ...argv] : [])].join(' '),
  };
}
