/**
 * Broker latency and recovery workloads of issue 6:
 * - W4: end-to-end latency, from just before `publish` is called to the
 *   subscriber's callback, over 10,000 messages: back-to-back (the next
 *   message is published once the previous one arrived) and paced at
 *   10,000 msg/s (published on schedule whatever arrived; between messages
 *   the publisher yields one event-loop turn, then sleeps the rest of the
 *   slot with `Atomics.wait`, so the pacing itself makes no garbage).
 *   Baseline: two minimal array-queue actors, topic -> subscriber.
 * - W5: kill a loaded topic's process (10 subscribers, a full retained log,
 *   publishers running) and time until a publish succeeds again; the
 *   subscribers and the retained messages must still be there, and every
 *   subscriber must have received every accepted message (each publish that
 *   resolved), in offset order, across all the kills. No plain-Node
 *   baseline: nothing in plain Node restarts a crashed object.
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
  /** One watchdog per series (not a timer per message): a lost message ends the wait. */
  private watchdog: ReturnType<typeof setTimeout> | null = null;

  /** Starts a new series of `n` samples; gives up waiting after `deadlineMs` in all. */
  reset(n: number, deadlineMs = 60_000): void {
    this.samples = new Float64Array(n);
    this.next = 0;
    if (this.watchdog !== null) clearTimeout(this.watchdog);
    this.watchdog = setTimeout(() => this.release(), deadlineMs);
  }

  get count(): number {
    return this.next;
  }

  record(stamp: Stamp): void {
    if (stamp.seq !== this.next) return;
    this.samples[this.next++] = (performance.now() - stamp.sentAt) * 1000;
    if (this.next > this.waitingFor) this.release();
  }

  private release(): void {
    const wake = this.wake;
    this.wake = null;
    if (wake !== null) wake();
  }

  /** Resolves once `count` samples have arrived, or when the series' watchdog fires. */
  until(count: number): Promise<void> {
    if (this.next >= count) return Promise.resolve();
    return new Promise((resolve) => {
      this.waitingFor = count - 1;
      this.wake = resolve;
    });
  }

  figures(): { p50: number; p99: number } {
    if (this.watchdog !== null) clearTimeout(this.watchdog);
    this.watchdog = null;
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

/** Sleeps the thread without allocating (a spin on `setImmediate` makes garbage). */
const sleeper = new Int32Array(new SharedArrayBuffer(4));

async function paced(n: number, perSecond: number, probe: LatencyProbe, publish: Publish) {
  probe.reset(n);
  const intervalMs = 1000 / perSecond;
  const t0 = performance.now();
  for (let seq = 0; seq < n; seq++) {
    const due = t0 + seq * intervalMs;
    // One event-loop turn lets everything the last publish started finish
    // (microtasks, and work deferred to setImmediate); the rest of the slot
    // is slept. Waiting with a loop of setImmediate instead allocates about
    // 800 MB/s, and the scavenges it causes land in the latencies measured.
    await nextTurn();
    const wait = due - performance.now();
    if (wait > 0) Atomics.wait(sleeper, 0, 0, wait);
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
function loadTopic(broker: Broker, topic: string, publishers: number): () => Promise<number> {
  let running = true;
  let accepted = 0;
  const loops = Array.from({ length: publishers }, async (_, p) => {
    for (let k = 0; running; k++) {
      try {
        await broker.publish(topic, { p, k });
        accepted++;
      } catch {
        await nextTurn();
      }
    }
  });
  return async () => {
    running = false;
    await Promise.all(loops);
    return accepted;
  };
}

/** A subscriber that counts the messages arriving at the next offset (from 0: a new topic). */
class OffsetCheck {
  private next = 0;
  counted = 0;

  readonly see = (message: { readonly offset: number }): void => {
    if (message.offset !== this.next) return;
    this.next++;
    this.counted++;
  };
}

/** Resolves once `done()` holds, checking every event-loop turn, or after `deadlineMs`. */
async function until(done: () => boolean, deadlineMs = 60_000): Promise<void> {
  const end = performance.now() + deadlineMs;
  while (!done() && performance.now() < end) await nextTurn();
}

/** Kills the topic's process `kills` times under load; recovery times and how many kept everything. */
async function killRepeatedly(broker: Broker, topic: string, kills: number) {
  const samples = new Float64Array(kills);
  let intact = 0;
  for (let i = 0; i < kills; i++) {
    await nextTurn();
    const before = await broker.stats(topic);
    const t0 = performance.now();
    broker.system.exit(broker.topicPid(topic)!, 'kill');
    await publishUntilServed(broker, topic, { probe: i });
    samples[i] = (performance.now() - t0) * 1000;
    const after = await broker.stats(topic);
    const kept =
      after.subscriberCount === before.subscriberCount &&
      after.retainedMessages >= before.retainedMessages &&
      after.restarts === before.restarts + 1;
    if (kept) intact++;
  }
  samples.sort();
  return { samples, intact };
}

export async function w5Broker(scale: Scale): Promise<RunOutcome> {
  const kills = sized(scale, 20, 3);
  const broker = await Broker.start();
  await broker.createTopic('w5');
  const subscribers = Array.from({ length: sized(scale, 10, 3) }, () => new OffsetCheck());
  for (const check of subscribers) await broker.subscribe('w5', check.see);
  const batch = Array.from({ length: 1000 }, (_, i) => ({ payload: { seed: i } }));
  const batches = sized(scale, 10, 1);
  for (let i = 0; i < batches; i++) await broker.publishBatch('w5', batch);
  const stopLoad = loadTopic(broker, 'w5', 4);

  const { samples, intact } = await killRepeatedly(broker, 'w5', kills);
  // Every message accepted: the prefill, the background publishes, one probe per kill.
  const accepted = batches * batch.length + (await stopLoad()) + kills;
  const expected = accepted * subscribers.length;
  const delivered = (): number => subscribers.reduce((sum, s) => sum + s.counted, 0);
  await until(() => delivered() >= expected);
  const { messageCount } = await broker.stats('w5');
  await broker.stop();
  return {
    figures: { recovery: percentileOfSorted(samples, 50), worst: samples[kills - 1]! },
    expected,
    delivered: delivered(),
    checks: [
      {
        what: 'kills leaving subscribers, retained log and restart count intact',
        expected: kills,
        actual: intact,
      },
      {
        what: "the topic's messageCount against accepted publishes",
        expected: accepted,
        actual: messageCount,
      },
    ],
  };
}
