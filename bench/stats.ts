// Small numeric helpers the sections share: percentiles, formatting, and a figure with its target.
import type { BenchResult } from './types';

/** Nearest-rank percentile (p in 0..100) of unsorted samples; NaN for none. */
export function percentile(samples: number[], p: number): number {
  if (samples.length === 0) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1] as number;
}

export function median(samples: number[]): number {
  return percentile(samples, 50);
}

export function ms(value: number): string {
  return Number.isFinite(value) ? `${value < 10 ? value.toFixed(1) : Math.round(value)} ms` : 'n/a';
}

export function seconds(valueMs: number): string {
  return Number.isFinite(valueMs) ? `${(valueMs / 1000).toFixed(valueMs < 10_000 ? 2 : 1)} s` : 'n/a';
}

export function mib(bytes: number): string {
  return Number.isFinite(bytes) ? `${Math.round(bytes / 1024 / 1024)} MiB` : 'n/a';
}

/** A figure held against an upper bound. */
export function atMost(section: string, metric: string, value: number, bound: number, show: (v: number) => string) {
  return {
    section,
    metric,
    value: show(value),
    target: `≤ ${show(bound)}`,
    met: Number.isFinite(value) && value <= bound,
  } satisfies BenchResult;
}

/** A figure held against a lower bound. */
export function atLeast(section: string, metric: string, value: number, bound: number, show: (v: number) => string) {
  return {
    section,
    metric,
    value: show(value),
    target: `≥ ${show(bound)}`,
    met: Number.isFinite(value) && value >= bound,
  } satisfies BenchResult;
}

/** A figure reported without a target (context for the others). */
export function info(section: string, metric: string, value: string | number): BenchResult {
  return { section, metric, value };
}

/** Runs `fn` over `items` with at most `limit` in flight. */
export async function inParallel<T, R>(
  items: T[],
  limit: number,
  fn: (item: T, i: number) => Promise<R>,
): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    for (;;) {
      const i = next++;
      if (i >= items.length) return;
      out[i] = await fn(items[i] as T, i);
    }
  });
  await Promise.all(lanes);
  return out;
}

export const sleep = (msToWait: number) => new Promise<void>((r) => setTimeout(r, msToWait));
