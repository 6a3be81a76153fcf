/**
 * The results as markdown: a summary table (each scenario's ratio beside its target), a table of
 * every side's figures, the full text of failures, and, for the results file, a head saying when,
 * where and how the figures were taken.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { formatKb, formatMs, formatRatio, formatRps, formatUs } from './format.js';
import type { RunContext } from './machine.js';
import type { BenchParams, Outcome } from './types.js';

export function renderTables(outcomes: readonly Outcome[]): string {
  const parts = [summaryTable(outcomes)];
  const measured = outcomes.filter((o) => o.kind === 'measured');
  if (measured.length > 0) parts.push(sidesTable(outcomes));
  const failures = outcomes.filter((o) => o.kind === 'failed');
  for (const f of failures) parts.push(`**${f.scenario.name} failed:**\n\n\`\`\`\n${f.reason}\n\`\`\``);
  return parts.join('\n\n') + '\n';
}

export function renderResultsFile(
  outcomes: readonly Outcome[],
  ctx: RunContext,
  params: BenchParams,
  loadSettings: string,
): string {
  const head = [
    '# tsgi bench results',
    '',
    `- date: ${ctx.date}`,
    `- node: ${ctx.node}`,
    `- load generator: ${ctx.loadGenerator} (${loadSettings})`,
    `- cpus: ${ctx.cpus}`,
    `- params: ${params.rounds} rounds of ${params.durationSec} s per side, alternating; ` +
      `${params.warmupSec} s warm-up per side; ${params.connections} connections; ` +
      `${params.processes} backend process${params.processes === 1 ? '' : 'es'} per side`,
    `- command: \`${ctx.command}\``,
    '',
    'Figures are medians over the rounds; ratio = first side / target peer (median req/s). ' +
      'See bench/README.md for how to read them.',
  ].join('\n');
  return `${head}\n\n${renderTables(outcomes)}`;
}

export async function writeResultsFile(path: string, text: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, text);
}

function summaryTable(outcomes: readonly Outcome[]): string {
  const rows = outcomes.map((o) => {
    const target = o.scenario.target.text;
    switch (o.kind) {
      case 'measured': {
        const pair = `${o.sides[0]?.name ?? '?'}/${o.scenario.target.peer}`;
        // A memory scenario compares RSS (see Scenario.idle), a throughput scenario req/s.
        const label = o.scenario.idle === undefined ? pair : `RSS ${pair}`;
        const spread = `${formatRatio(Math.min(...o.roundRatios))}–${formatRatio(Math.max(...o.roundRatios))}`;
        return [o.scenario.name, `${formatRatio(o.ratio)} (${label})`, target, metText(o.met), spread, formatRatio(o.cpuRatio)];
      }
      case 'unavailable':
        return [o.scenario.name, `not available yet: ${o.reason}`, target, '—', '', ''];
      case 'failed':
        return [o.scenario.name, `failed: ${firstLine(o.reason)}`, target, '—', '', ''];
    }
  });
  return table(
    ['scenario', 'ratio', 'target', 'met', 'ratio per round', 'CPU/req ratio'],
    ['l', 'l', 'l', 'l', 'l', 'r'],
    rows,
  );
}

/** `—` for a reference scenario, which has no target to meet. */
function metText(met: boolean | null): string {
  return met === null ? '—' : met ? 'yes' : '**no**';
}

function sidesTable(outcomes: readonly Outcome[]): string {
  const rows: string[][] = [];
  for (const o of outcomes) {
    if (o.kind !== 'measured') continue;
    for (const s of o.sides) {
      rows.push([
        o.scenario.name,
        s.name,
        formatRps(s.medianRps),
        formatMs(s.medianP50Ms),
        formatMs(s.medianP99Ms),
        formatUs(s.medianCpuUsPerRequest),
        formatKb(s.peakRssKb),
        `${s.badStatus} / ${s.socketErrors}`,
        s.rounds.map((r) => formatRps(r.requestsPerSec)).join(', '),
      ]);
    }
  }
  return table(
    ['scenario', 'side', 'req/s', 'p50', 'p99', 'CPU/req', 'peak RSS', 'bad status / socket err', 'req/s per round'],
    ['l', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'l'],
    rows,
  );
}

/** A markdown table whose columns are padded, so it also reads well as plain text in a terminal. */
function table(header: string[], align: Array<'l' | 'r'>, rows: string[][]): string {
  const [head, ...body] = [header, ...rows].map((row) => row.map(escapeCell));
  const widths = header.map((_, i) => Math.max(3, ...[head, ...body].map((row) => (row?.[i] ?? '').length)));
  const pad = (cell: string, i: number): string =>
    align[i] === 'r' ? cell.padStart(widths[i] ?? 0) : cell.padEnd(widths[i] ?? 0);
  const line = (row: string[]): string => `| ${row.map(pad).join(' | ')} |`;
  // Markdown's alignment marker: `---:` right-aligns a column.
  const rule = widths.map((w, i) => (align[i] === 'r' ? `${'-'.repeat(w + 1)}:` : '-'.repeat(w + 2)));
  return [line(head ?? []), `|${rule.join('|')}|`, ...body.map(line)].join('\n');
}

function escapeCell(text: string): string {
  return text.replace(/\|/g, '\\|');
}

function firstLine(text: string): string {
  return text.split('\n', 1)[0] ?? '';
}
