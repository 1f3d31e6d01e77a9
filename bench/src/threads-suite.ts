/**
 * The threads suite: processes on thread nodes (`Threads` of
 * `@ratatoskr/actors`), each workload beside the same traffic carried by bare
 * `postMessage` (or by comlink) between the same kinds of threads, in the
 * same run:
 *
 * - cross-thread one-way messages, main thread -> a GenServer on a thread
 *   node, and thread -> thread (a source server on one node casting to a
 *   sink server on another); baseline: the same `{ seq }` messages posted
 *   as arrays, one `postMessage` per burst, to a plain worker that counts
 *   them. Both sides send in bursts of 4,096 with a turn of the event loop
 *   between bursts, so the runtime's router (which posts everything sent to
 *   a node during one scheduler turn as one batch) posts batches of the
 *   same size as the baseline; the main-thread workload counts the
 *   `postMessage` calls of both sides to show it;
 * - sequential call round trips to a server on a thread node; baseline:
 *   comlink's sequential calls to a function a worker exposes.
 *
 * Every run starts its threads (or workers) afresh, outside the timed part,
 * and checks that every message arrived in order (the sink counts a message
 * only if it is the next one expected) and that every reply was right.
 */
import { MessageChannel } from 'node:worker_threads';
import * as Comlink from 'comlink';
import type { Pid, Threads } from '@ratatoskr/actors';
import { sized, type Benchmark, type FigureSpec, type RunOutcome, type Scale } from './harness.js';
import { brokerOnThreads } from './threads-broker.js';
import type { EchoProtocol, SinkProtocol, SourceProtocol } from './threads/behaviours.js';
import type { EchoApi } from './threads/comlink-node.js';
import { batchSender, type BatchShape } from './threads/raw-batch.js';
import type { RawGo } from './threads/raw-node.js';
import {
  BEHAVIOURS,
  COMLINK_NODE,
  DEADLINE_MS,
  countingPosts,
  nextMessage,
  startRaw,
  startWorker,
  withThreads,
} from './threads/setup.js';
import { BURST, ratePerSecond, sendInBursts } from './workload.js';

// ---------------------------------------------------------------- main -> thread

function castCount(scale: Scale): number {
  return sized(scale, 1_000_000, 20_000);
}

/**
 * `threads.cast`: casts from the main thread to a sink on a thread node.
 * Figures: `rate`, `batch` (messages per post), `postNs` (main-thread time
 * inside `postMessage` per message) and, with `watchBacklog`, `backlog`: the
 * longest the sink's mailbox was, sampled every 5 ms through `processInfo`.
 */
export async function castToThread(scale: Scale, watchBacklog = false): Promise<RunOutcome> {
  const n = castCount(scale);
  return withThreads(1, async (system, threads) => {
    const sink = await threads.startServer<SinkProtocol>(system, {
      module: BEHAVIOURS,
      export: 'Sink',
    });
    const watch = watchBacklog ? watchMailbox(threads, sink) : null;
    const t0 = performance.now();
    const { posts, ms } = await countingPosts(() =>
      sendInBursts(n, (seq) => system.cast(sink, { seq })),
    );
    const counted = await system.call(sink, 'count', DEADLINE_MS).catch(() => 0);
    const rate = ratePerSecond(n, t0);
    const figures: Record<string, number> = { rate, batch: n / posts, postNs: (ms * 1e6) / n };
    if (watch !== null) figures['backlog'] = await watch.stop();
    return { figures, expected: n, delivered: counted };
  });
}

/** Samples the mailbox length of `pid` every 5 ms until stopped; `stop` resolves with the longest. */
function watchMailbox(threads: Threads, pid: Pid): { stop(): Promise<number> } {
  let longest = 0;
  let watching = true;
  const loop = (async () => {
    while (watching) {
      const info = await threads.processInfo(pid);
      longest = Math.max(longest, info?.mailboxLength ?? 0);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  })();
  return {
    async stop() {
      watching = false;
      await loop;
      return longest;
    },
  };
}

/**
 * The baseline of `threads.cast`: the messages as arrays (in `shape`, see
 * `raw-batch.ts`), one `postMessage` per burst, to a plain worker. Figures:
 * `rate`, `batch` (messages per post) and `postNs` (main-thread time inside
 * `postMessage` per message).
 */
export async function castToRawWorker(scale: Scale, shape: BatchShape = 'bare') {
  const n = castCount(scale);
  const channel = new MessageChannel();
  const worker = await startRaw({ part: 'sink', port: channel.port2, shape }, [channel.port2]);
  try {
    const port = channel.port1;
    const t0 = performance.now();
    const { posts, ms } = await countingPosts(() =>
      sendInBursts(n, batchSender(port, n, BURST, shape)),
    );
    const answer = nextMessage(port, { count: 0 });
    port.postMessage({ t: 'count' });
    const { count } = await answer;
    const rate = ratePerSecond(n, t0);
    const figures = { rate, batch: n / posts, postNs: (ms * 1e6) / n };
    return { figures, expected: n, delivered: count };
  } finally {
    channel.port1.close();
    await worker.terminate();
  }
}

// ---------------------------------------------------------------- thread -> thread

async function castBetweenThreads(scale: Scale): Promise<RunOutcome> {
  const n = castCount(scale);
  return withThreads(2, async (system, threads) => {
    const [a, b] = threads.list();
    const sink = await threads.startServer<SinkProtocol>(system, {
      module: BEHAVIOURS,
      export: 'Sink',
      thread: b!,
    });
    const source = await threads.startServer<SourceProtocol>(system, {
      module: BEHAVIOURS,
      export: 'Source',
      thread: a!,
    });
    const t0 = performance.now();
    const go = { type: 'go', to: sink, n, burst: BURST } as const;
    const counted = await system.call(source, go, DEADLINE_MS).catch(() => 0);
    const rate = ratePerSecond(n, t0);
    return { figures: { rate }, expected: n, delivered: counted };
  });
}

async function castBetweenRawWorkers(scale: Scale): Promise<RunOutcome> {
  const n = castCount(scale);
  const link = new MessageChannel();
  const control = new MessageChannel();
  const sink = await startRaw({ part: 'sink', port: link.port2 }, [link.port2]);
  const source = await startRaw({ part: 'source', control: control.port2, peer: link.port1 }, [
    control.port2,
    link.port1,
  ]);
  try {
    const t0 = performance.now();
    const answer = nextMessage(control.port1, { count: 0 });
    control.port1.postMessage({ t: 'go', n, burst: BURST } satisfies RawGo);
    const { count } = await answer;
    const rate = ratePerSecond(n, t0);
    return { figures: { rate }, expected: n, delivered: count };
  } finally {
    control.port1.close();
    await Promise.all([sink.terminate(), source.terminate()]);
  }
}

// ---------------------------------------------------------------- calls

function callCount(scale: Scale): number {
  return sized(scale, 10_000, 500);
}

/**
 * Untimed calls first, on every side alike: a fresh thread's first few
 * thousand round trips run several times slower (its code is not optimized
 * yet), and a run of 10,000 would mostly time that warm-up.
 */
function warmupCount(scale: Scale): number {
  return sized(scale, 5_000, 100);
}

export async function callThread(scale: Scale): Promise<RunOutcome> {
  const n = callCount(scale);
  return withThreads(1, async (system, threads) => {
    const echo = await threads.startServer<EchoProtocol>(system, {
      module: BEHAVIOURS,
      export: 'Echo',
    });
    for (let i = 0; i < warmupCount(scale); i++) await system.call(echo, i);
    let correct = 0;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      if ((await system.call(echo, i)) === i) correct++;
    }
    const rate = ratePerSecond(n, t0);
    return { figures: { rate }, expected: n, delivered: correct };
  });
}

export async function callComlink(scale: Scale): Promise<RunOutcome> {
  const n = callCount(scale);
  const channel = new MessageChannel();
  const worker = await startWorker(COMLINK_NODE, channel.port2, [channel.port2]);
  const api = Comlink.wrap<EchoApi>(channel.port1 as unknown as Comlink.Endpoint);
  try {
    for (let i = 0; i < warmupCount(scale); i++) await api.echo(i);
    let correct = 0;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      if ((await api.echo(i)) === i) correct++;
    }
    const rate = ratePerSecond(n, t0);
    return { figures: { rate }, expected: n, delivered: correct };
  } finally {
    api[Comlink.releaseProxy]();
    channel.port1.close();
    await worker.terminate();
  }
}

/**
 * The floor under any call to a thread: a bare `postMessage` round trip to a
 * plain worker that posts each message back (not in the suite's table: the
 * threads-anatomy script prints it beside the two above).
 */
export async function callRawEcho(scale: Scale): Promise<RunOutcome> {
  const n = callCount(scale);
  const channel = new MessageChannel();
  const worker = await startRaw({ part: 'echo', port: channel.port2 }, [channel.port2]);
  const port = channel.port1;
  try {
    for (let i = 0; i < warmupCount(scale); i++) {
      const answer = nextMessage(port, -1);
      port.postMessage(i);
      await answer;
    }
    let correct = 0;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      const answer = nextMessage(port, -1);
      port.postMessage(i);
      if ((await answer) === i) correct++;
    }
    const rate = ratePerSecond(n, t0);
    return { figures: { rate }, expected: n, delivered: correct };
  } finally {
    port.close();
    await worker.terminate();
  }
}

// ---------------------------------------------------------------- the suite

const BURST_TEXT = BURST.toLocaleString('en-US');
const BATCHES = `batches of ${BURST_TEXT}`;

/** The figures of a broker-on-threads run, labelled with where its topics run. */
function brokerFigures(where: string): FigureSpec[] {
  return [
    { key: 'rate', label: `broker, ${where}`, unit: 'msg/s', better: 'higher' },
    { key: 'p99', label: `broker, ${where}: publish P99`, unit: 'us', better: 'lower' },
    {
      key: 'eld.p99',
      label: `broker, ${where}: main event-loop delay P99`,
      unit: 'us',
      better: 'lower',
    },
    {
      key: 'eld.max',
      label: `broker, ${where}: main event-loop delay max`,
      unit: 'us',
      better: 'lower',
    },
  ];
}

const BROKER_METHOD =
  "W2's traffic at a fifth of its size: 1,000 topics with one callback subscriber each (on the main thread), 100 concurrent publishers send 2,000 awaited publishes each round-robin over the topics (200,000 messages); rate = messages / time until the last delivery; publish P99 = call to resolve; event-loop delay = how late a 1 ms monitorEventLoopDelay timer fired on the main thread while the load ran";

export const threadsSuite: readonly Benchmark[] = [
  {
    id: 'threads.cast',
    suite: 'threads',
    title: 'cross-thread cast, main -> thread',
    method: `1,000,000 casts of { seq } from the main thread to a GenServer on a thread node, in bursts of ${BURST_TEXT} with a setImmediate between bursts (the router posts each burst as one batch); then a call asks the server how many it counted in order; rate = messages / time until that answer. Batch = messages / postMessage calls during the sends`,
    figures: [
      { key: 'rate', label: 'cross-thread cast, main -> thread', unit: 'msg/s', better: 'higher' },
      {
        key: 'batch',
        label: 'cross-thread cast: messages per postMessage',
        unit: 'msg/post',
        better: 'higher',
      },
    ],
    subject: (scale) => castToThread(scale),
    baseline: {
      label: `raw postMessage to a plain worker, ${BATCHES}`,
      run: (scale) => castToRawWorker(scale),
    },
  },
  {
    id: 'threads.cast-t2t',
    suite: 'threads',
    title: 'cross-thread cast, thread -> thread',
    method: `a GenServer on one thread node casts 1,000,000 { seq } to a GenServer on another, in bursts of ${BURST_TEXT} with a setImmediate between bursts, then calls it for its in-order count and replies to the main thread; rate = messages / time from the main thread's request to that reply`,
    figures: [
      {
        key: 'rate',
        label: 'cross-thread cast, thread -> thread',
        unit: 'msg/s',
        better: 'higher',
      },
    ],
    subject: castBetweenThreads,
    baseline: {
      label: `raw postMessage between two plain workers, ${BATCHES}`,
      run: castBetweenRawWorkers,
    },
  },
  {
    id: 'threads.call',
    suite: 'threads',
    title: 'sequential call to a thread',
    method:
      'after 5,000 untimed calls (a fresh thread runs its first few thousand several times slower; comlink and the raw echo warm up alike), 10,000 awaited system.call(server, i) one after another from the main thread to a GenServer on a thread node that replies with the request (default 5000 ms timeout); each reply is checked',
    figures: [
      { key: 'rate', label: 'sequential call, main -> thread', unit: 'calls/s', better: 'higher' },
    ],
    subject: callThread,
    baseline: {
      label: 'comlink: awaited calls to a function exposed in a worker',
      run: callComlink,
    },
  },
  {
    id: 'threads.broker',
    suite: 'threads',
    title: 'broker, topics on 2 threads vs 1',
    method: `Broker.start({ threads: 2 }), topics placed by hash of name; ${BROKER_METHOD}`,
    figures: brokerFigures('topics on 2 threads'),
    subject: brokerOnThreads(2),
    baseline: { label: 'the same, topics on 1 thread', run: brokerOnThreads(1) },
    runs: 3,
  },
  {
    id: 'threads.broker-1',
    suite: 'threads',
    title: 'broker, topics on 1 thread vs on the main thread',
    method: `Broker.start({ threads: 1 }); ${BROKER_METHOD}`,
    figures: brokerFigures('topics on 1 thread'),
    subject: brokerOnThreads(1),
    baseline: { label: 'the same, topics on the main thread', run: brokerOnThreads(0) },
    runs: 3,
  },
];

/** The subject workloads by name, for the profiling driver. */
export const threadsWorkloads: Readonly<Record<string, (scale: Scale) => Promise<RunOutcome>>> = {
  'threads-cast': (scale) => castToThread(scale),
  'threads-t2t': castBetweenThreads,
  'threads-call': callThread,
  'threads-broker': brokerOnThreads(2),
};
