/**
 * Runs the benchmark suites and prints one table: each figure, its plain-Node
 * baseline from the same run, the ratio, the Elixir original's figure and the
 * issue 6 target.
 *
 * Usage: node --expose-gc dist/main.js [--quick] [--suite runtime|broker|threads]... [--only <id>,...] [--no-write]
 * - `--quick`: small sizes and one run each, for CI: proves every workload
 *   still runs and delivers everything; writes no results; asserts nothing
 *   about speed.
 * - `--suite`: run only these suites (default: all).
 * - `--only`: run only benchmarks whose id starts with one of these prefixes
 *   (implies `--no-write`, since a partial suite would replace a full one).
 * - `--no-write`: print only.
 * A full run writes `results/<date>.json` and `.md` and regenerates
 * `results/LATEST.md`.
 *
 * Exit code 1 when any run lost (or duplicated) a message, or a workload threw.
 */
import { brokerSuite } from './broker-suite.js';
import { gcFunction, measure, progress, type Benchmark, type FigureResult } from './harness.js';
import { writeReadmeSection } from './readme-section.js';
import {
  currentCommit,
  textTable,
  toRows,
  writeResults,
  type ResultRow,
  type SuiteRun,
} from './report.js';
import { registrySuite } from './registry-suite.js';
import { runtimeSuite } from './runtime-suite.js';
import { supervisorSuite } from './supervisor-suite.js';
import { threadsSuite } from './threads-suite.js';

interface Options {
  quick: boolean;
  suites: string[];
  only: string[];
  write: boolean;
}

const SUITES: Readonly<Record<string, readonly Benchmark[]>> = {
  runtime: [...runtimeSuite, ...registrySuite, ...supervisorSuite],
  broker: brokerSuite,
  threads: threadsSuite,
};

function parseArgs(argv: readonly string[]): Options {
  const options: Options = { quick: false, suites: [], only: [], write: true };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--quick') options.quick = true;
    else if (arg === '--no-write') options.write = false;
    else if (arg === '--suite') options.suites.push(...(argv[++i] ?? '').split(','));
    else if (arg === '--only') options.only.push(...(argv[++i] ?? '').split(','));
    else throw new Error(`unknown argument ${JSON.stringify(arg)}; see the header of main.ts`);
  }
  if (options.suites.length === 0) options.suites = Object.keys(SUITES);
  for (const s of options.suites) {
    if (SUITES[s] === undefined) throw new Error(`unknown suite ${JSON.stringify(s)}`);
  }
  if (options.quick || options.only.length > 0) options.write = false;
  return options;
}

function selected(options: Options, suite: string): Benchmark[] {
  const all = SUITES[suite] ?? [];
  if (options.only.length === 0) return [...all];
  return all.filter((b) => options.only.some((prefix) => b.id.startsWith(prefix)));
}

interface SuiteOutcome {
  figures: FigureResult[];
  failures: string[];
  run: SuiteRun;
}

async function runSuite(suite: string, benches: readonly Benchmark[], quick: boolean) {
  const started = performance.now();
  const at = new Date().toISOString();
  const outcome: SuiteOutcome = {
    figures: [],
    failures: [],
    run: { at, commit: currentCommit(), seconds: 0 },
  };
  for (const bench of benches) {
    progress(`[${suite}] ${bench.id}: ${bench.title}`);
    try {
      const result = await measure(bench, { quick });
      outcome.figures.push(...result.figures);
      outcome.failures.push(...result.failures.map((f) => `${bench.id}: ${f}`));
      progress(`[${suite}] ${bench.id}: done in ${result.seconds.toFixed(1)} s`);
    } catch (error) {
      outcome.failures.push(`${bench.id}: threw ${error instanceof Error ? error.stack : error}`);
    }
  }
  outcome.run = { ...outcome.run, seconds: (performance.now() - started) / 1000 };
  return outcome;
}

async function main(): Promise<number> {
  const options = parseArgs(process.argv.slice(2));
  if (gcFunction() === null) progress('note: run node with --expose-gc for memory figures');
  const rows: ResultRow[] = [];
  const runs: Record<string, SuiteRun> = {};
  const failures: string[] = [];
  for (const suite of options.suites) {
    const benches = selected(options, suite);
    if (benches.length === 0) {
      progress(`[${suite}] no benchmarks to run`);
      continue;
    }
    const outcome = await runSuite(suite, benches, options.quick);
    rows.push(...toRows(outcome.figures, !options.quick));
    runs[suite] = outcome.run;
    failures.push(...outcome.failures);
  }

  console.log(`\n${textTable(rows)}\n`);
  if (options.write && failures.length === 0 && rows.length > 0) {
    const file = writeResults(rows, runs);
    const section = writeReadmeSection();
    console.log(`results: ${file.pathname}${section === null ? '' : `, ${section.pathname}`}`);
  }
  if (failures.length > 0) {
    console.error(`FAILED: ${failures.length} benchmark check(s) failed:`);
    for (const f of failures) console.error(`  ${f}`);
    return 1;
  }
  const checked = rows.length;
  console.log(`all ${checked} figure(s) measured; every run delivered what it sent`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
