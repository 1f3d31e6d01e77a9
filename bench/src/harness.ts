/**
 * The benchmark harness: what a benchmark declares, and how it is measured.
 *
 * A benchmark runs a workload (the subject) and, where one exists, a
 * plain-Node equivalent (the baseline) in the same process. Each run returns
 * named figures plus what was expected and what was delivered. The harness:
 * 1. runs `warmups` untimed rounds of both (JIT, inline caches, heap growth);
 * 2. runs `runs` measured rounds, alternating which side goes first so that
 *    drift (heap growth, thermal, a neighbour on the other core) hits both;
 * 3. forces a GC before every run when `--expose-gc` is on, so one run's
 *    garbage is not collected on the next run's clock;
 * 4. reports the median of each figure, with every sample kept.
 *
 * Every run is checked: a run that delivered fewer (or more) messages than it
 * expected is a failure, whatever the speed. `bench:quick` exists to prove
 * exactly this in CI.
 */
import { median } from './stats.js';

/** How large a run is: `quick` for CI's proof-of-life, `full` for figures. */
export interface Scale {
  readonly quick: boolean;
}

/** Picks a size by scale. */
export function sized(scale: Scale, full: number, quick: number): number {
  return scale.quick ? quick : full;
}

/** One figure a benchmark reports. */
export interface FigureSpec {
  /** Key of this figure in the run's `figures`; the row id is `<bench id>.<key>`. */
  readonly key: string;
  readonly label: string;
  readonly unit: string;
  readonly better: 'higher' | 'lower';
  /** Key in `data/original.json` `original`, when the Elixir original measured this. */
  readonly original?: string;
  /** Key of the baseline's figure to compare with (default: same key); null for none. */
  readonly baselineKey?: string | null;
}

/** An invariant of a run besides its delivery count: `actual` must equal `expected`. */
export interface RunCheck {
  /** What was checked, for the failure message: `topic restarts`, `subscribers kept`. */
  readonly what: string;
  readonly expected: number;
  readonly actual: number;
}

/** What one run of a workload produced. */
export interface RunOutcome {
  readonly figures: Readonly<Record<string, number>>;
  /** Messages (or deliveries, processes...) the run should have seen. */
  readonly expected: number;
  /** What it saw. Anything but `expected` fails the benchmark. */
  readonly delivered: number;
  /** Further invariants of the run; any that does not hold fails the benchmark. */
  readonly checks?: readonly RunCheck[];
}

export type Workload = (scale: Scale) => Promise<RunOutcome>;

/** A benchmark: a subject workload, an optional same-run baseline, the figures they report. */
export interface Benchmark {
  /** Stable id, used as a key in results: `runtime.cast`, `broker.W1`. */
  readonly id: string;
  readonly suite: 'runtime' | 'broker' | 'threads';
  readonly title: string;
  /** What a run's `expected` and `delivered` count. Default `messages`. */
  readonly counted?: string;
  /** How the workload runs, in one line, for the results file. */
  readonly method: string;
  readonly figures: readonly FigureSpec[];
  readonly subject: Workload;
  readonly baseline?: { readonly label: string; readonly run: Workload };
  /** Measured runs; default 5 (quick: 1). */
  readonly runs?: number;
  /** Untimed warm-up runs; default 1 (quick: 0). */
  readonly warmups?: number;
}

/** The measured result of one figure. */
export interface FigureResult {
  readonly id: string;
  readonly bench: string;
  readonly suite: string;
  readonly title: string;
  readonly label: string;
  readonly unit: string;
  readonly better: 'higher' | 'lower';
  readonly value: number;
  readonly samples: number[];
  readonly baseline: { label: string; value: number; samples: number[] } | null;
  /** value / baseline value. */
  readonly ratio: number | null;
  readonly originalKey: string | null;
  readonly method: string;
}

/** The outcome of one benchmark: its figures and any delivery failure. */
export interface BenchOutcome {
  readonly figures: FigureResult[];
  readonly failures: string[];
  readonly seconds: number;
  /** Every measured run of the subject, in order (warm-ups are checked but not kept). */
  readonly subjectRuns: RunOutcome[];
}

type GcFn = () => void;

/** The exposed GC, or null when node runs without `--expose-gc`. */
export function gcFunction(): GcFn | null {
  const gc = (globalThis as { gc?: GcFn }).gc;
  return typeof gc === 'function' ? gc : null;
}

/**
 * Collects garbage: three full GCs, since weak references and finalizers
 * need more than one pass. (Node 20's `gc({ type: 'major', execution:
 * 'sync' })` was tried and gave far noisier heap deltas than plain `gc()`.)
 * No-op without `--expose-gc`.
 */
export function forceGc(): void {
  const gc = gcFunction();
  if (gc === null) return;
  for (let i = 0; i < 3; i++) gc();
}

/** Heap in use after a forced full GC. Throws without `--expose-gc`: a guessed figure is no figure. */
export function settledHeap(): number {
  if (gcFunction() === null) {
    throw new Error('memory figures need a forced GC: run node with --expose-gc');
  }
  forceGc();
  return process.memoryUsage().heapUsed;
}

/** Resolves on the next turn of the event loop (after I/O and timers that are due). */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Writes a progress line to stderr (stdout keeps the table clean). */
export function progress(line: string): void {
  process.stderr.write(`${line}\n`);
}

interface Collected {
  figures: Map<string, number[]>;
  failures: string[];
  runs: RunOutcome[];
}

function collected(): Collected {
  return { figures: new Map(), failures: [], runs: [] };
}

function collect(into: Collected, side: string, outcome: RunOutcome): void {
  for (const [key, value] of Object.entries(outcome.figures)) {
    const list = into.figures.get(key) ?? [];
    list.push(value);
    into.figures.set(key, list);
  }
  into.runs.push(outcome);
  if (outcome.delivered !== outcome.expected) {
    into.failures.push(`${side}: delivered ${outcome.delivered} of ${outcome.expected} expected`);
  }
  for (const check of outcome.checks ?? []) {
    if (check.actual !== check.expected) {
      into.failures.push(`${side}: ${check.what} ${check.actual}, expected ${check.expected}`);
    }
  }
}

async function runOnce(
  bench: Benchmark,
  scale: Scale,
  subject: Collected,
  baseline: Collected,
  baselineFirst: boolean,
): Promise<void> {
  const sides: [string, Workload, Collected][] = [[bench.id, bench.subject, subject]];
  if (bench.baseline !== undefined) {
    const entry: [string, Workload, Collected] = [
      `${bench.id} baseline (${bench.baseline.label})`,
      bench.baseline.run,
      baseline,
    ];
    if (baselineFirst) sides.unshift(entry);
    else sides.push(entry);
  }
  for (const [name, run, into] of sides) {
    forceGc();
    collect(into, name, await run(scale));
  }
}

/** Measures one benchmark: warm-ups, then alternating measured runs; medians of each figure. */
export async function measure(bench: Benchmark, scale: Scale): Promise<BenchOutcome> {
  const started = performance.now();
  const runs = scale.quick ? 1 : (bench.runs ?? 5);
  const warmups = scale.quick ? 0 : (bench.warmups ?? 1);
  const discard = collected();
  const subject = collected();
  const baseline = collected();

  for (let i = 0; i < warmups; i++) await runOnce(bench, scale, discard, discard, false);
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await runOnce(bench, scale, subject, baseline, i % 2 === 1);
    const seconds = (performance.now() - started) / 1000;
    if (!scale.quick && seconds > 3) {
      progress(
        `  ${bench.id}: run ${i + 1}/${runs} in ${((performance.now() - t) / 1000).toFixed(1)} s`,
      );
    }
  }

  const figures = bench.figures.map((spec) => figureResult(bench, spec, subject, baseline));
  const failures = [...discard.failures, ...subject.failures, ...baseline.failures];
  const seconds = (performance.now() - started) / 1000;
  return { figures, failures, seconds, subjectRuns: subject.runs };
}

function figureResult(
  bench: Benchmark,
  spec: FigureSpec,
  subject: Collected,
  baseline: Collected,
): FigureResult {
  const samples = subject.figures.get(spec.key) ?? [];
  const value = median(samples);
  const baseKey = spec.baselineKey === undefined ? spec.key : spec.baselineKey;
  const baseSamples = baseKey === null ? undefined : baseline.figures.get(baseKey);
  const base =
    bench.baseline !== undefined && baseSamples !== undefined && baseSamples.length > 0
      ? { label: bench.baseline.label, value: median(baseSamples), samples: baseSamples }
      : null;
  return {
    id: `${bench.id}.${spec.key}`,
    bench: bench.id,
    suite: bench.suite,
    title: bench.title,
    label: spec.label,
    unit: spec.unit,
    better: spec.better,
    value,
    samples,
    baseline: base,
    // A ratio of a non-positive figure (a heap delta that GC made negative) means nothing.
    ratio: base === null || !(base.value > 0) || !(value >= 0) ? null : value / base.value,
    originalKey: spec.original ?? null,
    method: bench.method,
  };
}
