/**
 * The broker suite: the workloads of issue 6 (W1-W5 and M), each against a
 * fresh `@ratatoskr/broker` with default options, beside a plain-Node
 * equivalent measured in the same run and the Elixir original's figure.
 */
import type { Benchmark } from './harness.js';
import { w4Baseline, w4Broker, w5Broker } from './broker-latency.js';
import { memoryBaseline, memoryBroker } from './broker-memory.js';
import {
  w1Baseline,
  w1Broker,
  w2Baseline,
  w2Broker,
  w3Baseline,
  w3Broker,
} from './broker-throughput.js';

const AWAITED_EMIT = 'EventEmitter behind an awaited async publish';

export const brokerSuite: readonly Benchmark[] = [
  {
    id: 'W1',
    suite: 'broker',
    title: 'sync publish',
    counted: 'messages',
    method:
      '1 topic, 1 callback subscriber, 200,000 publishes each awaited before the next; rate = messages / time until the last is delivered',
    figures: [
      {
        key: 'rate',
        label: 'W1 sync publish',
        unit: 'msg/s',
        better: 'higher',
        original: 'W1.rate',
      },
    ],
    subject: w1Broker,
    baseline: { label: AWAITED_EMIT, run: w1Baseline },
  },
  {
    id: 'W2',
    suite: 'broker',
    title: 'large scale',
    counted: 'messages',
    method:
      '1,000 topics with one callback subscriber each; 100 concurrent publishers send 10,000 awaited publishes each, round-robin over the topics; latency = call to resolve of each publish',
    figures: [
      {
        key: 'rate',
        label: 'W2 1,000 topics',
        unit: 'msg/s',
        better: 'higher',
        original: 'W2.rate',
      },
      { key: 'p50', label: 'W2 publish P50', unit: 'us', better: 'lower', original: 'W2.p50' },
      { key: 'p99', label: 'W2 publish P99', unit: 'us', better: 'lower', original: 'W2.p99' },
    ],
    subject: w2Broker,
    baseline: { label: AWAITED_EMIT, run: w2Baseline },
    runs: 3,
  },
  {
    id: 'W3',
    suite: 'broker',
    title: 'fan-out',
    counted: 'deliveries',
    method:
      '500 callback subscribers on one topic, 10,000 awaited publishes; rate = deliveries / time until the last delivery; memory = heap after forced GC with 500 more idle subscriptions minus before them, median of 3 rounds each on a topic of its own',
    figures: [
      {
        key: 'rate',
        label: 'W3 fan-out x500',
        unit: 'deliveries/s',
        better: 'higher',
        original: 'W3.rate',
      },
      {
        key: 'memory',
        label: 'W3 500 subscribers add',
        unit: 'B',
        better: 'lower',
        original: 'W3.memory',
      },
    ],
    subject: w3Broker,
    baseline: { label: 'raw EventEmitter, 500 listeners', run: w3Baseline },
  },
  {
    id: 'W4',
    suite: 'broker',
    title: 'end-to-end latency',
    counted: 'messages',
    method:
      'publish -> subscriber callback, 10,000 messages back-to-back (next sent once the previous arrived), then 10,000 paced at 10,000 msg/s (one event-loop turn between messages, the rest of each 100 us slot slept with Atomics.wait)',
    figures: [
      {
        key: 'b2b.p50',
        label: 'W4 back-to-back P50',
        unit: 'us',
        better: 'lower',
        original: 'W4.b2b.p50',
      },
      {
        key: 'b2b.p99',
        label: 'W4 back-to-back P99',
        unit: 'us',
        better: 'lower',
        original: 'W4.b2b.p99',
      },
      {
        key: 'paced.p50',
        label: 'W4 paced P50',
        unit: 'us',
        better: 'lower',
        original: 'W4.paced.p50',
      },
      {
        key: 'paced.p99',
        label: 'W4 paced P99',
        unit: 'us',
        better: 'lower',
        original: 'W4.paced.p99',
      },
    ],
    subject: w4Broker,
    baseline: { label: 'two minimal array-queue actors, topic -> subscriber', run: w4Baseline },
    runs: 3,
    // Tail latency settles only after several runs: each run is a new broker,
    // and a tier-up or a deopt landing in a run shows up as its P99.
    warmups: 3,
  },
  {
    id: 'W5',
    suite: 'broker',
    title: 'recovery',
    counted: 'deliveries',
    method:
      'a topic with 10 subscribers, 10,000 retained messages and 4 publishers running; kill its process, time until a publish succeeds again (retrying each event-loop turn); subscribers, retained messages and the restart count are checked after each of 20 kills; deliveries = every accepted publish (resolved) received by every subscriber in offset order',
    figures: [
      {
        key: 'recovery',
        label: 'W5 serve again after kill (median)',
        unit: 'us',
        better: 'lower',
        original: 'W5.recovery',
      },
      {
        key: 'worst',
        label: 'W5 serve again after kill (worst)',
        unit: 'us',
        better: 'lower',
      },
    ],
    subject: w5Broker,
    runs: 3,
  },
  {
    id: 'M',
    suite: 'broker',
    title: 'memory after 1,000,000 publishes',
    counted: 'publishes',
    method:
      'one topic, default retention, no subscriber, 1,000,000 publishes of one shared payload object by 16 concurrent awaited publishers; heap after forced GC before, halfway and at the end',
    figures: [
      {
        key: 'total',
        label: 'M heap held after 1 M publishes',
        unit: 'B',
        better: 'lower',
        original: 'M.total',
      },
      {
        key: 'perMessage',
        label: 'M per retained message',
        unit: 'B/msg',
        better: 'lower',
        original: 'M.perMessage',
      },
      { key: 'growth', label: 'M growth, 2nd half of publishes', unit: 'B', better: 'lower' },
    ],
    subject: memoryBroker,
    baseline: { label: 'ring of the newest 10,000 plain message objects', run: memoryBaseline },
    runs: 3,
  },
];
