/**
 * Ratatoskr's load test: the original broker's own workloads, run live on
 * `@ratatoskr/broker`, and printed as a performance table beside the
 * original's figures.
 *
 * - W1 sync publish: 1 topic, 1 subscriber, 200,000 awaited publishes;
 * - W2 large scale: 1,000 topics x 1 subscriber, 1,000,000 messages from 100
 *   concurrent publishers, with publish latency P50/P99;
 * - W3 fan-out: 500 subscribers on one topic, 10,000 messages: deliveries/s,
 *   and the memory the 500 subscribers add;
 * - W4 end-to-end latency publish -> subscriber, P50/P99 over 10,000
 *   messages, back-to-back and paced at 10,000 msg/s;
 * - W5 recovery: kill a loaded topic's process, time until it serves again.
 *
 * The workloads are those of `@ratatoskr/bench` (one copy of each, in
 * `bench/src/broker-*.ts`); this program runs them as the benchmark harness
 * does (warm-up runs, then measured runs; each figure is the median) and
 * checks that every run delivered everything that was published.
 *
 * Usage: node --expose-gc dist/main.js [--quick]
 * `--quick` runs small sizes once each (seconds, for tests; the figures then
 * mean little). The table goes to stdout, progress to stderr. Exit code 1
 * if any workload lost a message or broke one of its checks.
 */
import {
  brokerSuite,
  gcFunction,
  machine,
  measure,
  progress,
  type Benchmark,
} from '@ratatoskr/bench';
import { exitCode, renderTable, rowsOf, type Measured } from './table.js';

const WORKLOADS: readonly string[] = ['W1', 'W2', 'W3', 'W4', 'W5'];

function parseArgs(argv: readonly string[]): { quick: boolean } {
  for (const arg of argv) {
    if (arg !== '--quick') throw new Error(`unknown argument ${JSON.stringify(arg)}; use --quick`);
  }
  return { quick: argv.includes('--quick') };
}

/** Runs one workload's measured runs (no baseline: the original's figure is the comparison). */
async function run(bench: Benchmark, quick: boolean, step: string): Promise<Measured> {
  const runs = quick ? 1 : (bench.runs ?? 5);
  const warmups = quick ? 0 : (bench.warmups ?? 1);
  progress(`${step} ${bench.id} ${bench.title}: ${warmups} warm-up + ${runs} measured run(s)`);
  try {
    const outcome = await measure({ ...bench, baseline: undefined }, { quick });
    progress(`${step} ${bench.id} done in ${outcome.seconds.toFixed(1)} s`);
    return { bench, outcome, failures: outcome.failures };
  } catch (error) {
    const failure = `threw ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`;
    return { bench, outcome: null, failures: [failure] };
  }
}

function heading(quick: boolean): string {
  const m = machine();
  const scale = quick
    ? 'QUICK scale: small sizes, one run each (a smoke test; the figures mean little)'
    : 'each figure is the median of its measured runs, after warm-up runs';
  return [
    "Ratatoskr load test: the original's workloads W1-W5 on @ratatoskr/broker, measured live",
    `${m['cpu']}, ${m['cores']} cores, Node ${m['node']}; ${scale}`,
  ].join('\n');
}

async function main(): Promise<number> {
  const { quick } = parseArgs(process.argv.slice(2));
  if (gcFunction() === null) {
    throw new Error('W3 measures memory after forced GC: run node with --expose-gc');
  }
  const benches = WORKLOADS.map((id) => brokerSuite.find((b) => b.id === id)!);
  const measured: Measured[] = [];
  for (const [i, bench] of benches.entries()) {
    measured.push(await run(bench, quick, `[${i + 1}/${benches.length}]`));
  }

  console.log(`\n${heading(quick)}\n`);
  console.log(renderTable(measured.flatMap(rowsOf)));
  console.log('\noriginal: the Elixir Ratatoskr (OTP 25, 2 schedulers), as quoted in issue 6.');
  const code = exitCode(measured);
  if (code === 0) {
    console.log('nothing lost: every run delivered everything that was published.');
  } else {
    for (const m of measured) {
      for (const failure of m.failures) console.error(`LOST in ${m.bench.id}: ${failure}`);
    }
  }
  return code;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
