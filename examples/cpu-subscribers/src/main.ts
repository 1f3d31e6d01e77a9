/**
 * CPU-heavy subscribers, two ways, on the same traffic:
 *
 * - inline: each subscriber hashes every payload in its callback, on the
 *   main thread; the broker, the publishers and every timer wait meanwhile;
 * - pool: each subscriber hands the hashing to a `TaskPool` (piscina worker
 *   threads) and awaits it; its subscription process is suspended while the
 *   worker computes, and the main thread stays free.
 *
 * Both runs publish the same documents to a topic with several subscribers
 * and check that every subscriber produced the same digests. The main
 * thread's responsiveness is measured with `monitorEventLoopDelay` and
 * printed for each run.
 *
 *   node dist/main.js [--quick] [--messages N] [--subscribers N] [--rounds N]
 */
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { TaskPool } from '@ratatoskr/actors';
import { Broker, type Message } from '@ratatoskr/broker';
import { digest, type DigestTask } from './digest.js';

function options() {
  try {
    return parseArgs({
      options: {
        quick: { type: 'boolean', default: false },
        messages: { type: 'string' },
        subscribers: { type: 'string' },
        rounds: { type: 'string' },
      },
    }).values;
  } catch (error) {
    // An unknown flag, or a value that looks like one (`--rounds -1`).
    console.error(
      `${(error as Error).message}\nusage: main.js [--quick] [--messages N] [--subscribers N] [--rounds N]`,
    );
    process.exit(2);
  }
}
const values = options();
const quick = values.quick === true;
const messages = Number(values.messages ?? (quick ? 24 : 240));
const subscribers = Number(values.subscribers ?? 4);
const rounds = Number(values.rounds ?? (quick ? 200 : 2000));
for (const [name, value] of Object.entries({ messages, subscribers, rounds })) {
  if (!Number.isInteger(value) || value < 1) {
    console.error(`--${name} must be a positive integer, got ${String(value)}`);
    process.exit(2);
  }
}

interface Outcome {
  mode: string;
  elapsedMs: number;
  delay: { p50: number; p99: number; max: number };
  digests: string[][];
}

const documents = Array.from(
  { length: messages },
  (_, i) => `document ${i}: ${'lorem ipsum '.repeat(20)}`,
);

/** Publishes every document and waits until each subscriber has digested all of them. */
async function run(
  mode: string,
  handle: (task: DigestTask) => string | Promise<string>,
): Promise<Outcome> {
  const broker = await Broker.start();
  await broker.createTopic('documents');
  const digests: string[][] = Array.from({ length: subscribers }, () => []);
  let pending = messages * subscribers;
  let done!: () => void;
  const finished = new Promise<void>((resolve) => (done = resolve));
  for (let s = 0; s < subscribers; s++) {
    await broker.subscribe<string>('documents', async (message: Message<string>) => {
      digests[s]!.push(await handle({ text: message.payload, rounds }));
      if (--pending === 0) done();
    });
  }
  const probe = new DelayProbe();
  const started = performance.now();
  for (const text of documents) await broker.publish('documents', text);
  await finished;
  const elapsedMs = performance.now() - started;
  const delay = await probe.stop();
  await broker.stop();
  return { mode, elapsedMs, delay, digests };
}

/**
 * How late a 2 ms interval timer fires on the main thread: the event-loop
 * delay a timer, an I/O callback or an HTTP request would see. A blocked
 * loop shows as one very late firing, so the probe waits for the firing
 * that the end of the run releases before it reads its samples.
 */
const PROBE_INTERVAL_MS = 2;

class DelayProbe {
  private readonly samples: number[] = [];
  private last = performance.now();
  private readonly timer = setInterval(() => {
    const now = performance.now();
    this.samples.push(Math.max(0, now - this.last - PROBE_INTERVAL_MS));
    this.last = now;
  }, PROBE_INTERVAL_MS);

  async stop(): Promise<{ p50: number; p99: number; max: number }> {
    await new Promise((resolve) => setTimeout(resolve, 4 * PROBE_INTERVAL_MS));
    clearInterval(this.timer);
    const sorted = this.samples.sort((a, b) => a - b);
    const at = (p: number) =>
      sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
    return { p50: at(50), p99: at(99), max: sorted[sorted.length - 1] ?? 0 };
  }
}

const poolThreads = Math.max(2, availableParallelism());
const pool = new TaskPool({ minThreads: poolThreads, maxThreads: poolThreads });
const digestModule = new URL('./digest.js', import.meta.url).href;

console.error(
  `hashing ${messages} documents x ${subscribers} subscribers, ${rounds} SHA-256 rounds each`,
);
console.error('[1/2] subscribers hashing inline, on the main thread');
const inline = await run('inline (main thread)', digest);
console.error('[2/2] subscribers hashing on a TaskPool');
const pooled = await run(`TaskPool (${poolThreads} worker threads)`, (task) =>
  pool.run<string>({ module: digestModule, export: 'digest', arg: task }),
);
await pool.destroy();

const same = JSON.stringify(inline.digests) === JSON.stringify(pooled.digests);
const complete = [inline, pooled].every((o) => o.digests.every((d) => d.length === messages));

const row = (cells: string[]) =>
  cells
    .map((c, i) => c.padEnd([34, 12, 12, 12, 12][i]!))
    .join(' ')
    .trimEnd();
console.log(
  `CPU-heavy subscribers: ${messages} documents x ${subscribers} subscribers, ${rounds} SHA-256 rounds each`,
);
console.log(row(['mode', 'elapsed', 'loop P50', 'loop P99', 'loop max']));
for (const o of [inline, pooled]) {
  console.log(
    row([
      o.mode,
      `${o.elapsedMs.toFixed(0)} ms`,
      `${o.delay.p50.toFixed(1)} ms`,
      `${o.delay.p99.toFixed(1)} ms`,
      `${o.delay.max.toFixed(1)} ms`,
    ]),
  );
}
console.log(
  `digests: ${complete ? 'all computed' : 'MISSING'}, ${same ? 'identical in both modes' : 'DIFFERENT'}`,
);
console.log(
  'loop: how late a 2 ms timer fired on the main thread during the run (0 is fully responsive)',
);
process.exitCode = same && complete ? 0 : 1;
