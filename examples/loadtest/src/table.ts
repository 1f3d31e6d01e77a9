/**
 * The load test's performance table: one row per figure of each workload,
 * with the figure measured in this run, the original Ratatoskr's figure for
 * the same workload, and what was delivered against what was published.
 *
 * A workload whose runs lost (or duplicated) anything, or broke one of its
 * checks, is marked `LOST` on each of its rows, and the load test exits with
 * code 1.
 */
import {
  formatFigure,
  referenceData,
  type BenchOutcome,
  type Benchmark,
  type RunOutcome,
} from '@ratatoskr/bench';

/** One workload as measured: the benchmark and what `measure` returned (or the error it threw). */
export interface Measured {
  readonly bench: Benchmark;
  readonly outcome: BenchOutcome | null;
  /** What went wrong: lost messages, broken checks, a throw. Empty when nothing did. */
  readonly failures: readonly string[];
}

/** One printed row. */
export interface Row {
  readonly workload: string;
  readonly figure: string;
  readonly value: string;
  readonly original: string;
  readonly delivered: string;
  readonly check: 'ok' | 'LOST';
}

/** The columns: a row's field and its title. */
const COLUMNS: readonly (readonly [keyof Row, string])[] = [
  ['figure', 'workload and figure'],
  ['value', 'Ratatoskr, this run'],
  ['original', 'original (Elixir)'],
  ['delivered', 'delivered / published'],
  ['check', 'check'],
];

const count = (n: number): string => n.toLocaleString('en-US');

/**
 * What the runs delivered against what they should have: per run when every
 * run had the same counts (`200,000 / 200,000 messages, each of 5 runs`),
 * else summed over the runs.
 */
export function deliveredText(runs: readonly RunOutcome[], counted: string): string {
  if (runs.length === 0) return '-';
  const first = runs[0]!;
  const uniform = runs.every(
    (r) => r.expected === first.expected && r.delivered === first.delivered,
  );
  if (uniform) {
    const each = runs.length === 1 ? '' : `, each of ${runs.length} runs`;
    return `${count(first.delivered)} / ${count(first.expected)} ${counted}${each}`;
  }
  const delivered = runs.reduce((sum, r) => sum + r.delivered, 0);
  const expected = runs.reduce((sum, r) => sum + r.expected, 0);
  return `${count(delivered)} / ${count(expected)} ${counted} over ${runs.length} runs`;
}

/** The rows of one measured workload. */
export function rowsOf(measured: Measured): Row[] {
  const { bench, outcome, failures } = measured;
  const check = failures.length === 0 ? 'ok' : 'LOST';
  const delivered = deliveredText(outcome?.subjectRuns ?? [], bench.counted ?? 'messages');
  const originals = referenceData().original;
  if (outcome === null) {
    return [
      { workload: bench.id, figure: bench.title, value: '-', original: '-', delivered, check },
    ];
  }
  return outcome.figures.map((f) => {
    const original = f.originalKey === null ? undefined : originals[f.originalKey];
    return {
      workload: bench.id,
      figure: f.label,
      value: formatFigure(f.value, f.unit),
      original: original === undefined ? '-' : formatFigure(original.value, original.unit),
      delivered,
      check,
    };
  });
}

/** The table as fixed-width text: a header, a rule, the rows. */
export function renderTable(rows: readonly Row[]): string {
  const cells = [
    COLUMNS.map(([, title]) => title),
    ...rows.map((row) => COLUMNS.map(([key]) => row[key])),
  ];
  const widths = COLUMNS.map((_, i) => Math.max(...cells.map((r) => r[i]!.length)));
  const line = (r: readonly string[]): string =>
    r
      .map((cell, i) => cell.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  const [header, ...body] = cells;
  return [line(header!), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}

/** 1 if any workload lost anything or failed a check, else 0. */
export function exitCode(measured: readonly Measured[]): number {
  return measured.some((m) => m.failures.length > 0) ? 1 : 0;
}
