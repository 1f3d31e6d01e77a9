/**
 * M: memory a topic holds after 1,000,000 publishes with no subscriber,
 * under the default retention (the original kept every message: +606 MB).
 *
 * Every publish sends the same payload object (passed by reference), so what
 * is measured is the cost of a retained message beyond its payload: the
 * message record, its id, the log's slot. Heap is read after a forced GC
 * before publishing, halfway, and at the end; `growth` (end minus halfway)
 * shows whether memory stays flat once retention is full.
 *
 * Baseline: the same retained log in plain Node, a ring of the newest 10,000
 * message objects built like the broker's.
 */
import { Broker, DEFAULT_TOPIC_OPTIONS } from '@ratatoskr/broker';
import { settledHeap, sized, type RunOutcome, type Scale } from './harness.js';
import { sendInBursts } from './workload.js';

const PAYLOAD = Object.freeze({ order: 123, amount: 99.9, currency: 'USD' });
const PUBLISHERS = 16;

async function publishAll(broker: Broker, topic: string, from: number, to: number) {
  const per = Math.ceil((to - from) / PUBLISHERS);
  await Promise.all(
    Array.from({ length: PUBLISHERS }, async (_, p) => {
      const end = Math.min(to, from + (p + 1) * per);
      for (let i = from + p * per; i < end; i++) await broker.publish(topic, PAYLOAD);
    }),
  );
}

function memoryFigures(h0: number, half: number, end: number, retained: number) {
  return { total: end - h0, perMessage: (end - h0) / retained, growth: end - half };
}

export async function memoryBroker(scale: Scale): Promise<RunOutcome> {
  const n = sized(scale, 1_000_000, 40_000);
  const broker = await Broker.start();
  await broker.createTopic('m');
  const h0 = settledHeap();
  await publishAll(broker, 'm', 0, n / 2);
  const half = settledHeap();
  await publishAll(broker, 'm', n / 2, n);
  const end = settledHeap();
  const stats = await broker.stats('m');
  await broker.stop();
  return {
    figures: memoryFigures(h0, half, end, stats.retainedMessages),
    expected: n,
    delivered: stats.messageCount,
  };
}

interface PlainMessage {
  id: string;
  topic: string;
  payload: unknown;
  metadata: Readonly<Record<string, string>>;
  timestamp: number;
  offset: number;
}

export async function memoryBaseline(scale: Scale): Promise<RunOutcome> {
  const n = sized(scale, 1_000_000, 40_000);
  const capacity = DEFAULT_TOPIC_OPTIONS.retention.maxMessages;
  const ring: PlainMessage[] = [];
  const metadata = Object.freeze({});
  let published = 0;
  const publish = (offset: number): void => {
    const id = `m-${offset.toString(36)}`;
    const message = { id, topic: 'm', payload: PAYLOAD, metadata, timestamp: Date.now(), offset };
    if (ring.length < capacity) ring.push(message);
    else ring[offset % capacity] = message;
    published++;
  };
  const h0 = settledHeap();
  await sendInBursts(n / 2, publish);
  const half = settledHeap();
  await sendInBursts(n / 2, (i) => publish(n / 2 + i));
  const end = settledHeap();
  return { figures: memoryFigures(h0, half, end, ring.length), expected: n, delivered: published };
}
