// Quick throughput figures for topics in-thread vs on thread nodes.
//
//   npx tsc -p packages/broker/tsconfig.json && node packages/broker/scripts/thread-throughput.mjs [runs]
//
// Not the formal benchmark (bench/ has that): a fresh broker per run, the
// median of `runs` (default 3) runs, each figure in messages (or deliveries)
// per second, for `threads: 0` (topics on the broker's thread), 1 and 2. Also
// the main thread's event-loop delay (p99) during the concurrent workload.
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { Broker } from '@ratatoskr/broker';

const RUNS = Number(process.argv[2] ?? 3);
const turn = () => new Promise((resolve) => setImmediate(resolve));

async function until(done) {
  while (!done()) await turn();
}

/** W1-like: one topic, one subscriber, awaited publishes one after another. */
async function sequential(broker) {
  const n = 20_000;
  await broker.createTopic('seq');
  let got = 0;
  await broker.subscribe('seq', () => void got++, { bufferSize: n });
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await broker.publish('seq', { i });
  await until(() => got === n);
  return { rate: n / ((performance.now() - t0) / 1000) };
}

/** W2-like: 8 topics x 1 subscriber, 100 concurrent publishers, awaited publishes. */
async function concurrent(broker, subscribed = true) {
  const topics = Array.from({ length: 8 }, (_, i) => `c-${i}`);
  const perPublisher = 2_000;
  const publishers = 100;
  const n = perPublisher * publishers;
  let got = 0;
  for (const t of topics) {
    await broker.createTopic(t);
    if (subscribed) await broker.subscribe(t, () => void got++, { bufferSize: n });
  }
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: publishers }, async (_, p) => {
      const topic = topics[p % topics.length];
      for (let k = 0; k < perPublisher; k++) await broker.publish(topic, { p, k });
    }),
  );
  if (subscribed) await until(() => got === n);
  const elapsed = performance.now() - t0;
  delay.disable();
  return { rate: n / (elapsed / 1000), p99DelayMs: delay.percentile(99) / 1e6 };
}

/** Fire-and-forget floods to 8 topics (1 subscriber each), paced by stats every 5,000 per topic. */
async function flood(broker) {
  const topics = Array.from({ length: 8 }, (_, i) => `f-${i}`);
  const perTopic = 25_000;
  const n = perTopic * topics.length;
  let got = 0;
  for (const t of topics) {
    await broker.createTopic(t);
    await broker.subscribe(t, () => void got++, { bufferSize: perTopic });
  }
  const t0 = performance.now();
  for (let sent = 0; sent < perTopic; sent += 5_000) {
    for (const t of topics) for (let i = 0; i < 5_000; i++) broker.publishNoWait(t, { i });
    await Promise.all(topics.map((t) => broker.stats(t)));
  }
  await until(() => got === n);
  return { rate: n / ((performance.now() - t0) / 1000) };
}

/** Fan-out: one topic, 100 subscribers, 5,000 messages: deliveries per second. */
async function fanout(broker) {
  const subscribers = 100;
  const n = 5_000;
  await broker.createTopic('fan');
  let got = 0;
  for (let s = 0; s < subscribers; s++) {
    await broker.subscribe('fan', () => void got++, { bufferSize: n });
  }
  const t0 = performance.now();
  for (let i = 0; i < n; i++) broker.publishNoWait('fan', i);
  await until(() => got === n * subscribers);
  return { rate: (n * subscribers) / ((performance.now() - t0) / 1000) };
}

const WORKLOADS = [
  ['sequential publish, 1 topic, 1 subscriber', sequential],
  ['100 concurrent publishers, 8 topics, 1 subscriber each', (b) => concurrent(b, true)],
  ['100 concurrent publishers, 8 topics, no subscriber', (b) => concurrent(b, false)],
  ['publishNoWait floods, 8 topics, 1 subscriber each', flood],
  ['fan-out, 1 topic, 100 subscribers (deliveries/s)', fanout],
];

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const k = (rate) => `${(rate / 1000).toFixed(0)} k/s`;

for (const [name, workload] of WORKLOADS) {
  const row = [];
  for (const threads of [0, 1, 2]) {
    const rates = [];
    const delays = [];
    for (let run = 0; run < RUNS; run++) {
      const broker = await Broker.start({ threads });
      const result = await workload(broker);
      await broker.stop();
      rates.push(result.rate);
      if (result.p99DelayMs !== undefined) delays.push(result.p99DelayMs);
    }
    const delay = delays.length > 0 ? ` (loop p99 ${median(delays).toFixed(1)} ms)` : '';
    row.push(`threads ${threads}: ${k(median(rates))}${delay}`);
  }
  console.log(`${name}\n  ${row.join(' | ')}`);
}
