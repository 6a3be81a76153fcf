/** How figures are written, shared by the progress lines and the table so both read the same. */

/** 41203.7 → "41,204" */
export function formatRps(rps: number): string {
  return Number.isFinite(rps) ? Math.round(rps).toLocaleString('en-US') : '—';
}

/** 0.2731 → "0.27 ms", 6.08 → "6.08 ms", 123.4 → "123 ms" */
export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return '—';
  return ms >= 100 ? `${Math.round(ms)} ms` : `${ms.toFixed(2)} ms`;
}

/** 48212 kB → "47.1 MiB"; 0 (never sampled, e.g. no /proc) → "—" */
export function formatKb(kb: number): string {
  return kb > 0 ? `${(kb / 1024).toFixed(1)} MiB` : '—';
}

/** 0.9134 → "0.91×" */
export function formatRatio(ratio: number): string {
  return Number.isFinite(ratio) ? `${ratio.toFixed(2)}×` : '—';
}

/** 41.3 → "41 µs", 8.25 → "8.3 µs"; NaN (no /proc) → "—" */
export function formatUs(us: number): string {
  if (!Number.isFinite(us)) return '—';
  return us >= 10 ? `${Math.round(us)} µs` : `${us.toFixed(1)} µs`;
}
