/**
 * Broker latency and recovery workloads of issue 6:
 * - W4: end-to-end latency, from just before `publish` is called to the
 *   subscriber's callback, over 10,000 messages: back-to-back (the next
 *   message is published once the previous one arrived) and paced at
 *   10,000 msg/s (published on schedule whatever arrived; the publisher
 *   waits for each slot by yielding to the event loop, never by blocking).
 *   Baseline: two minimal array-queue actors, topic -> subscriber.
 * - W5: kill a loaded topic's process (10 subscribers, a full retained log,
 *   publishers running) and time until a publish succeeds again; the
 *   subscribers and the retained messages must still be there. No
 *   plain-Node baseline: nothing in plain Node restarts a crashed object.
 */
import { Broker, TopicUnavailableError } from '@ratatoskr/broker';
import { MiniActor, MiniScheduler } from './baselines.js';
import { nextTurn, sized, type RunOutcome, type Scale } from './harness.js';
import { percentileOfSorted } from './stats.js';

interface Stamp {
  readonly seq: number;
  readonly sentAt: number;
}

/** Records latency samples of stamps arriving in order; resolves waiters by sequence number. */
class LatencyProbe {
  samples: Float64Array = new Float64Array(0);
  private next = 0;
  private waitingFor = -1;
  private wake: (() => void) | null = null;

  /** Starts a new series of `n` samples. */
  reset(n: number): void {
    this.samples = new Float64Array(n);
    this.next = 0;
  }

  get count(): number {
    return this.next;
  }

  record(stamp: Stamp): void {
    if (stamp.seq !== this.next) return;
    this.samples[this.next++] = (performance.now() - stamp.sentAt) * 1000;
    if (this.next > this.waitingFor && this.wake !== null) {
      const wake = this.wake;
      this.wake = null;
      wake();
    }
  }

  /** Resolves once `count` samples have arrived, or after `deadlineMs`. */
  until(count: number, deadlineMs = 60_000): Promise<void> {
    if (this.next >= count) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, deadlineMs);
      this.waitingFor = count - 1;
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  figures(): { p50: number; p99: number } {
    const sorted = this.samples.subarray(0, this.next).sort();
    return { p50: percentileOfSorted(sorted, 50), p99: percentileOfSorted(sorted, 99) };
  }
}

type Publish = (stamp: Stamp) => void;

async function backToBack(n: number, probe: LatencyProbe, publish: Publish) {
  probe.reset(n);
  for (let seq = 0; seq < n; seq++) {
    const arrived = probe.until(seq + 1);
    publish({ seq, sentAt: performance.now() });
    await arrived;
  }
  return { figures: probe.figures(), delivered: probe.count };
}

async function paced(n: number, perSecond: number, probe: LatencyProbe, publish: Publish) {
  probe.reset(n);
  const intervalMs = 1000 / perSecond;
  const t0 = performance.now();
  for (let seq = 0; seq < n; seq++) {
    const due = t0 + seq * intervalMs;
    while (performance.now() < due) await nextTurn();
    publish({ seq, sentAt: performance.now() });
  }
  await probe.until(n);
  return { figures: probe.figures(), delivered: probe.count };
}

async function w4(scale: Scale, probe: LatencyProbe, publish: Publish): Promise<RunOutcome> {
  const n = sized(scale, 10_000, 1_000);
  const b2b = await backToBack(n, probe, publish);
  const steady = await paced(n, 10_000, probe, publish);
  return {
    figures: {
      'b2b.p50': b2b.figures.p50,
      'b2b.p99': b2b.figures.p99,
      'paced.p50': steady.figures.p50,
      'paced.p99': steady.figures.p99,
    },
    expected: 2 * n,
    delivered: b2b.delivered + steady.delivered,
  };
}

export async function w4Broker(scale: Scale): Promise<RunOutcome> {
  const broker = await Broker.start();
  await broker.createTopic('w4');
  const probe = new LatencyProbe();
  await broker.subscribe<Stamp>('w4', (m) => probe.record(m.payload));
  let failed = 0;
  const outcome = await w4(scale, probe, (stamp) => {
    broker.publish('w4', stamp).catch(() => failed++);
  });
  await broker.stop();
  return { ...outcome, delivered: outcome.delivered - failed };
}

export async function w4Baseline(scale: Scale): Promise<RunOutcome> {
  const scheduler = new MiniScheduler();
  const probe = new LatencyProbe();
  const subscriber = new MiniActor(scheduler, (stamp) => probe.record(stamp as Stamp));
  const topic = new MiniActor(scheduler, (stamp) => subscriber.send(stamp));
  return w4(scale, probe, (stamp) => topic.send(stamp));
}

// ---------------------------------------------------------------- W5

/** Publishes until one succeeds, yielding to the event loop between attempts. */
async function publishUntilServed(broker: Broker, topic: string, payload: unknown): Promise<void> {
  for (;;) {
    try {
      await broker.publish(topic, payload);
      return;
    } catch (error) {
      if (!(error instanceof TopicUnavailableError)) throw error;
      await nextTurn();
    }
  }
}

/** Background publishers that keep the topic busy until stopped; failures while it restarts are expected. */
function loadTopic(broker: Broker, topic: string, publishers: number): () => Promise<void> {
  let running = true;
  const loops = Array.from({ length: publishers }, async (_, p) => {
    for (let k = 0; running; k++) {
      await broker.publish(topic, { p, k }).catch(() => nextTurn());
    }
  });
  return async () => {
    running = false;
    await Promise.all(loops);
  };
}

export async function w5Broker(scale: Scale): Promise<RunOutcome> {
  const kills = sized(scale, 20, 3);
  const broker = await Broker.start();
  await broker.createTopic('w5');
  const subscribers = sized(scale, 10, 3);
  for (let i = 0; i < subscribers; i++) await broker.subscribe('w5', () => undefined);
  const batch = Array.from({ length: 1000 }, (_, i) => ({ payload: { seed: i } }));
  for (let i = 0; i < sized(scale, 10, 1); i++) await broker.publishBatch('w5', batch);
  const stopLoad = loadTopic(broker, 'w5', 4);

  const samples = new Float64Array(kills);
  let intact = 0;
  for (let i = 0; i < kills; i++) {
    await nextTurn();
    const before = await broker.stats('w5');
    const t0 = performance.now();
    broker.system.exit(broker.topicPid('w5')!, 'kill');
    await publishUntilServed(broker, 'w5', { probe: i });
    samples[i] = (performance.now() - t0) * 1000;
    const after = await broker.stats('w5');
    const kept =
      after.subscriberCount === before.subscriberCount &&
      after.retainedMessages >= before.retainedMessages &&
      after.restarts === before.restarts + 1;
    if (kept) intact++;
  }
  await stopLoad();
  await broker.stop();
  samples.sort();
  return {
    figures: { recovery: percentileOfSorted(samples, 50), worst: samples[kills - 1]! },
    expected: kills,
    delivered: intact,
  };
}
