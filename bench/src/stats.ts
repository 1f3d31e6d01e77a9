/**
 * Order statistics and number formatting for benchmark figures.
 *
 * Percentiles use the nearest-rank method on a sorted copy of the samples
 * (as HdrHistogram reports them, without its bucketing error): P99 of 10,000
 * samples is the 9,900th smallest. Medians of an even count average the two
 * middle values.
 */

/** The median of `values` (NaN for an empty list). */
export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Nearest-rank percentile `p` (0 < p <= 100) of samples already sorted ascending. */
export function percentileOfSorted(sorted: Float64Array | readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

/** Sorts a sample buffer in place (typed arrays sort numerically) and returns it. */
export function sortSamples(samples: Float64Array): Float64Array {
  return samples.sort();
}

const SCALES: readonly [number, string][] = [
  [1e9, 'G'],
  [1e6, 'M'],
  [1e3, 'k'],
];

/** A rate or count with an SI suffix and three significant digits: `12.3 M`. */
export function formatCount(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  for (const [scale, suffix] of SCALES) {
    if (Math.abs(value) >= scale) return `${significant(value / scale)} ${suffix}`;
  }
  return significant(value);
}

/** A byte count in binary units: `812 B`, `1.50 MiB`. */
export function formatBytes(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const abs = Math.abs(value);
  if (abs >= 1 << 30) return `${(value / 2 ** 30).toFixed(2)} GiB`;
  if (abs >= 1 << 20) return `${(value / 2 ** 20).toFixed(2)} MiB`;
  if (abs >= 1 << 10) return `${(value / 2 ** 10).toFixed(2)} KiB`;
  return `${Math.round(value)} B`;
}

/** A figure in its unit: rates and counts get SI suffixes, bytes binary ones, times stay as is. */
export function formatFigure(value: number, unit: string): string {
  if (unit === 'B') return formatBytes(value);
  if (unit.startsWith('B/')) return `${Math.round(value)} ${unit}`;
  if (unit === 'us' || unit === 'ms') return `${significant(value)} ${unit}`;
  return `${formatCount(value)} ${unit}`.replace('  ', ' ');
}

/** A ratio as `0.82x`. */
export function formatRatio(value: number | null): string {
  if (value === null || !Number.isFinite(value)) return '-';
  return `${value >= 10 ? value.toFixed(1) : value.toFixed(2)}x`;
}

function significant(value: number): string {
  const abs = Math.abs(value);
  if (abs >= 100) return value.toFixed(0);
  if (abs >= 10) return value.toFixed(1);
  return value.toFixed(2);
}
