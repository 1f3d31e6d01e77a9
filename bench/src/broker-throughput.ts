/**
 * Broker throughput workloads of issue 6, after the original's own:
 * - W1: sync publish, 1 topic, 1 subscriber, 200,000 awaited publishes;
 * - W2: 1,000 topics x 1 subscriber, 1,000,000 messages from 100 concurrent
 *   publishers, with each publish's latency (call to resolve);
 * - W3: fan-out, 500 subscribers on one topic, 10,000 messages, and the heap
 *   the 500 subscribers add.
 *
 * Each run uses a fresh broker with default options and callback
 * subscribers. A run counts a message delivered only if it arrived in its
 * publisher's order on its topic (the broker's guarantee: per publisher, per
 * topic; W2's publishers spread over many topics, and nothing orders one
 * topic's deliveries against another's); drops by the default overflow
 * policy count as losses.
 * Baselines: an `EventEmitter` per topic, published to through an awaited
 * async function (W1, W2), or emitted to directly (W3, the raw fan-out
 * ceiling the target compares with).
 */
import { EventEmitter } from 'node:events';
import { Broker, type BrokerOptions, type Message } from '@ratatoskr/broker';
import { settledHeap, sized, type RunOutcome, type Scale } from './harness.js';
import { median, percentileOfSorted } from './stats.js';
import { Countdown, ratePerSecond } from './workload.js';

/** The payload every workload publishes: which publisher, which of its messages. */
interface Seq {
  readonly p: number;
  readonly k: number;
}

/** A plain message, built like the broker's (id, topic, payload, metadata, timestamp, offset). */
interface PlainMessage {
  readonly id: string;
  readonly topic: string;
  readonly payload: Seq;
  readonly metadata: Readonly<Record<string, string>>;
  readonly timestamp: number;
  readonly offset: number;
}

const NO_METADATA: Readonly<Record<string, string>> = Object.freeze({});

/** The plain-Node publish: an awaited async function that emits on an EventEmitter. */
class PlainBus {
  readonly emitter = new EventEmitter();
  private nextId = 0;
  private offsets = new Map<string, number>();

  constructor() {
    this.emitter.setMaxListeners(0);
  }

  async publish(topic: string, payload: Seq): Promise<string> {
    const id = `m-${(this.nextId++).toString(36)}`;
    const offset = this.offsets.get(topic) ?? 0;
    this.offsets.set(topic, offset + 1);
    this.emitter.emit(topic, {
      id,
      topic,
      payload,
      metadata: NO_METADATA,
      timestamp: Date.now(),
      offset,
    });
    return id;
  }
}

/**
 * Counts messages that arrive in per-publisher order: for each publisher,
 * the next `k` expected. A message out of order is not counted.
 */
class OrderCheck {
  private readonly next: Int32Array;

  constructor(
    publishers: number,
    private readonly countdown: Countdown,
  ) {
    this.next = new Int32Array(publishers);
  }

  see(seq: Seq): void {
    if (this.next[seq.p] === seq.k) {
      this.next[seq.p] = seq.k + 1;
      this.countdown.tick();
    }
  }
}

/**
 * Counts messages that arrive in per-publisher order on one topic, when a
 * publisher's messages to the topic are not consecutive (W2 spreads each
 * publisher over the topics): a message counts if its `k` is above the last
 * one seen from its publisher. A lost, repeated or late message is not
 * counted, so the total reaches the messages sent only if none was.
 */
class RisingCheck {
  private readonly last: Int32Array;

  constructor(
    publishers: number,
    private readonly countdown: Countdown,
  ) {
    this.last = new Int32Array(publishers).fill(-1);
  }

  see(seq: Seq): void {
    if (seq.k > this.last[seq.p]!) {
      this.last[seq.p] = seq.k;
      this.countdown.tick();
    }
  }
}

function latencyFigures(samples: Float64Array): { p50: number; p99: number } {
  samples.sort();
  return { p50: percentileOfSorted(samples, 50), p99: percentileOfSorted(samples, 99) };
}

// ---------------------------------------------------------------- W1

export async function w1Broker(scale: Scale): Promise<RunOutcome> {
  const n = sized(scale, 200_000, 5_000);
  const broker = await Broker.start();
  await broker.createTopic('w1');
  const received = new Countdown(n);
  const order = new OrderCheck(1, received);
  await broker.subscribe<Seq>('w1', (m) => order.see(m.payload));
  const t0 = performance.now();
  for (let k = 0; k < n; k++) await broker.publish('w1', { p: 0, k });
  await received.done;
  const rate = ratePerSecond(n, t0);
  await broker.stop();
  return { figures: { rate }, expected: n, delivered: received.count };
}

export async function w1Baseline(scale: Scale): Promise<RunOutcome> {
  const n = sized(scale, 200_000, 5_000);
  const bus = new PlainBus();
  const received = new Countdown(n);
  const order = new OrderCheck(1, received);
  bus.emitter.on('w1', (m: PlainMessage) => order.see(m.payload));
  const t0 = performance.now();
  for (let k = 0; k < n; k++) await bus.publish('w1', { p: 0, k });
  await received.done;
  return { figures: { rate: ratePerSecond(n, t0) }, expected: n, delivered: received.count };
}

// ---------------------------------------------------------------- W2

/** The shape of a W2 run: topics (one subscriber each), concurrent publishers, messages each. */
export interface W2Size {
  readonly topics: number;
  readonly publishers: number;
  readonly perPublisher: number;
}

function w2Size(scale: Scale): W2Size {
  const publishers = sized(scale, 100, 10);
  const n = sized(scale, 1_000_000, 20_000);
  return { topics: sized(scale, 1_000, 50), publishers, perPublisher: n / publishers };
}

/** Runs the W2 publishers against `publish`, recording each publish's latency in microseconds. */
async function w2Publishers(
  size: W2Size,
  topicNames: readonly string[],
  publish: (topic: string, payload: Seq) => Promise<unknown>,
): Promise<Float64Array> {
  const samples = new Float64Array(size.publishers * size.perPublisher);
  let at = 0;
  const publisher = async (p: number): Promise<void> => {
    for (let k = 0; k < size.perPublisher; k++) {
      const topic = topicNames[(p + k * size.publishers) % size.topics]!;
      const t = performance.now();
      await publish(topic, { p, k });
      samples[at++] = (performance.now() - t) * 1000;
    }
  };
  await Promise.all(Array.from({ length: size.publishers }, (_, p) => publisher(p)));
  return samples;
}

function topicNames(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `w2-${i}`);
}

/** Something measured while a load runs (the event-loop delay, say): its figures when stopped. */
export interface LoadProbe {
  start(): void;
  stop(): Readonly<Record<string, number>>;
}

/**
 * W2's traffic at `size` against a broker started with `options`: every
 * topic created with one callback subscriber, then the publishers; `probe`
 * runs from the first publish until the last delivery. Figures: `rate`,
 * publish latency `p50` and `p99`, and the probe's.
 */
export async function w2Run(
  size: W2Size,
  options: BrokerOptions = {},
  probe?: LoadProbe,
): Promise<RunOutcome> {
  const n = size.publishers * size.perPublisher;
  const broker = await Broker.start(options);
  const names = topicNames(size.topics);
  const received = new Countdown(n);
  for (const name of names) {
    const order = new RisingCheck(size.publishers, received);
    await broker.createTopic(name);
    await broker.subscribe<Seq>(name, (m: Message<Seq>) => order.see(m.payload));
  }
  probe?.start();
  const t0 = performance.now();
  const samples = await w2Publishers(size, names, (topic, payload) =>
    broker.publish(topic, payload),
  );
  await received.done;
  const rate = ratePerSecond(n, t0);
  const probed = probe?.stop() ?? {};
  await broker.stop();
  return {
    figures: { rate, ...latencyFigures(samples), ...probed },
    expected: n,
    delivered: received.count,
  };
}

export function w2Broker(scale: Scale): Promise<RunOutcome> {
  return w2Run(w2Size(scale));
}

export async function w2Baseline(scale: Scale): Promise<RunOutcome> {
  const size = w2Size(scale);
  const n = size.publishers * size.perPublisher;
  const bus = new PlainBus();
  const names = topicNames(size.topics);
  const received = new Countdown(n);
  for (const name of names) {
    const order = new RisingCheck(size.publishers, received);
    bus.emitter.on(name, (m: PlainMessage) => order.see(m.payload));
  }
  const t0 = performance.now();
  const samples = await w2Publishers(size, names, (topic, payload) => bus.publish(topic, payload));
  await received.done;
  const rate = ratePerSecond(n, t0);
  return { figures: { rate, ...latencyFigures(samples) }, expected: n, delivered: received.count };
}

// ---------------------------------------------------------------- W3

const MEMORY_ROUNDS = 3;

/**
 * Heap added by one round of idle subscribers, as the median of `MEMORY_ROUNDS`
 * rounds (each on a topic of its own): a single heap delta after forced GC
 * moves by +-200 KB from run to run, so one reading is not a figure.
 */
async function subscriberMemory(addRound: (round: number) => Promise<void>): Promise<number> {
  const deltas: number[] = [];
  for (let round = 0; round < MEMORY_ROUNDS; round++) {
    const before = settledHeap();
    await addRound(round);
    deltas.push(settledHeap() - before);
  }
  return median(deltas);
}

export async function w3Broker(scale: Scale): Promise<RunOutcome> {
  const subscribers = sized(scale, 500, 50);
  const n = sized(scale, 10_000, 500);
  const broker = await Broker.start();
  const memory = await subscriberMemory(async (round) => {
    const topic = `w3-idle-${round}`;
    await broker.createTopic(topic);
    for (let i = 0; i < subscribers; i++) await broker.subscribe(topic, () => undefined);
  });
  await broker.createTopic('w3');
  const deliveries = new Countdown(n * subscribers);
  for (let i = 0; i < subscribers; i++) {
    const check = new OrderCheck(1, deliveries);
    await broker.subscribe<Seq>('w3', (m) => check.see(m.payload));
  }
  const t0 = performance.now();
  for (let k = 0; k < n; k++) await broker.publish('w3', { p: 0, k });
  await deliveries.done;
  const rate = ratePerSecond(n * subscribers, t0);
  await broker.stop();
  return { figures: { rate, memory }, expected: n * subscribers, delivered: deliveries.count };
}

export async function w3Baseline(scale: Scale): Promise<RunOutcome> {
  const subscribers = sized(scale, 500, 50);
  const n = sized(scale, 10_000, 500);
  const idle = Array.from({ length: MEMORY_ROUNDS }, () => new EventEmitter());
  const memory = await subscriberMemory(async (round) => {
    const emitter = idle[round]!;
    emitter.setMaxListeners(0);
    for (let i = 0; i < subscribers; i++) emitter.on('w3', () => undefined);
  });
  const emitter = new EventEmitter();
  emitter.setMaxListeners(0);
  const deliveries = new Countdown(n * subscribers);
  for (let i = 0; i < subscribers; i++) {
    const check = new OrderCheck(1, deliveries);
    emitter.on('w3', (m: PlainMessage) => check.see(m.payload));
  }
  const t0 = performance.now();
  for (let k = 0; k < n; k++) {
    const payload = { p: 0, k };
    const timestamp = Date.now();
    emitter.emit('w3', {
      id: `m-${k}`,
      topic: 'w3',
      payload,
      metadata: NO_METADATA,
      timestamp,
      offset: k,
    });
  }
  await deliveries.done;
  const rate = ratePerSecond(n * subscribers, t0);
  return { figures: { rate, memory }, expected: n * subscribers, delivered: deliveries.count };
}
