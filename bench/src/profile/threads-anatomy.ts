/**
 * Where the time of a cross-thread cast goes, measured piece by piece (a
 * CPU profile shows the JavaScript side; structured cloning runs in native
 * code and shows there only as `(program)` or as the self time of the
 * function calling `postMessage`).
 *
 * 1. Structured clone: `v8.serialize` / `v8.deserialize` (V8's value
 *    serializer, which `postMessage` uses) of batches of 4,096 messages in
 *    three shapes (`raw-batch.ts`): the bare messages, the router's envelope
 *    per message (`{ t, to, kind, data, revive }`), and a flat array with no
 *    object per entry. Nanoseconds per message, medians of 5 rounds.
 * 2. End to end, main thread -> a plain worker, the same three shapes, one
 *    `postMessage` per burst of 4,096: messages/s and the main thread's time
 *    inside `postMessage` per message.
 * 3. The runtime (`threads.cast`'s workload), the same figures, plus the
 *    longest the receiving server's mailbox got (sampled every 5 ms).
 * 4. Sequential round trips to a thread: a bare `postMessage` echo (the
 *    floor), comlink, and the runtime's `call`; medians of 3 runs.
 *
 * Usage: node --expose-gc dist/profile/threads-anatomy.js [--quick]
 */
import v8 from 'node:v8';
import { forceGc, type RunOutcome } from '../harness.js';
import { median } from '../stats.js';
import { makeBatch, type BatchShape } from '../threads/raw-batch.js';
import {
  callComlink,
  callRawEcho,
  callThread,
  castToRawWorker,
  castToThread,
} from '../threads-suite.js';
import { BURST } from '../workload.js';

const SHAPES: readonly BatchShape[] = ['bare', 'wire', 'flat'];
const ROUNDS = 5;

interface CloneCost {
  serializeNs: number;
  deserializeNs: number;
}

/** Serializes and deserializes `batches` batches of `BURST` messages; ns per message, medians. */
function cloneCost(shape: BatchShape, batches: number): CloneCost {
  const input = Array.from({ length: batches }, (_, b) => makeBatch(b * BURST, BURST, shape));
  const messages = batches * BURST;
  const serialize: number[] = [];
  const deserialize: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    forceGc();
    const t0 = performance.now();
    const buffers = input.map((batch) => v8.serialize(batch));
    const t1 = performance.now();
    for (const buffer of buffers) v8.deserialize(buffer);
    const t2 = performance.now();
    serialize.push(((t1 - t0) * 1e6) / messages);
    deserialize.push(((t2 - t1) * 1e6) / messages);
  }
  return { serializeNs: median(serialize), deserializeNs: median(deserialize) };
}

/** Median of each figure over `runs` runs of `run`; throws if a run lost a message. */
async function medians(runs: number, run: () => Promise<RunOutcome>) {
  const samples = new Map<string, number[]>();
  for (let i = 0; i < runs; i++) {
    forceGc();
    const outcome = await run();
    if (outcome.delivered !== outcome.expected) {
      throw new Error(`delivered ${outcome.delivered} of ${outcome.expected}`);
    }
    for (const [key, value] of Object.entries(outcome.figures)) {
      samples.set(key, [...(samples.get(key) ?? []), value]);
    }
  }
  const out: Record<string, number> = {};
  for (const [key, values] of samples) out[key] = median(values);
  return out;
}

function cell(value: number | undefined, digits = 0): string {
  return value === undefined ? '-' : value.toFixed(digits);
}

function render(header: readonly string[], rows: readonly string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: readonly string[]): string => r.map((c, i) => c.padEnd(widths[i]!)).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

async function roundTrips(scale: { quick: boolean }, runs: number): Promise<string> {
  const rows: string[][] = [];
  for (const [path, run] of [
    ['raw postMessage echo', callRawEcho],
    ['comlink', callComlink],
    ['Ratatoskr system.call', callThread],
  ] as const) {
    await run(scale); // warm-up
    const figures = await medians(runs, () => run(scale));
    const rate = figures['rate'] ?? 0;
    rows.push([path, cell(rate / 1e3, 1), cell(1e6 / rate, 1)]);
  }
  return render(['round trip to a thread', 'k per s', 'us each'], rows);
}

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const scale = { quick };
  const runs = quick ? 1 : 3;
  const rows: string[][] = [];
  for (const shape of SHAPES) {
    const clone = cloneCost(shape, quick ? 5 : 50);
    await castToRawWorker(scale, shape); // warm-up
    const e2e = await medians(runs, () => castToRawWorker(scale, shape));
    rows.push([
      `raw postMessage, ${shape}`,
      cell(clone.serializeNs),
      cell(clone.deserializeNs),
      cell((e2e['rate'] ?? 0) / 1e6, 2),
      cell(e2e['postNs']),
      '-',
    ]);
  }
  await castToThread(scale, true); // warm-up
  const ours = await medians(runs, () => castToThread(scale, true));
  rows.push([
    'Ratatoskr threads.cast (wire)',
    '-',
    '-',
    cell((ours['rate'] ?? 0) / 1e6, 2),
    cell(ours['postNs']),
    cell(ours['backlog']),
  ]);
  const header = [
    'path',
    'serialize ns/msg',
    'deserialize ns/msg',
    'end to end M msg/s',
    'main in postMessage ns/msg',
    'longest mailbox',
  ];
  console.log(`batches of ${BURST}; ${quick ? 'quick sizes' : '1,000,000 messages per run'}`);
  console.log(render(header, rows));
  console.log(`\n${await roundTrips(scale, runs)}`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
