/**
 * The runtime suite: message passing, calls, process lifecycle and memory of
 * `@ratatoskr/actors`, each beside a plain-Node baseline run in the same
 * process (see baselines.ts).
 *
 * Workloads talk to the runtime from outside any process (`system.cast`,
 * `system.call`), as an application's edge does, except ping-pong, which runs
 * entirely between two servers. Registry and supervisor benchmarks live in
 * their own modules.
 */
import {
  ActorSystem,
  GenServer,
  noreply,
  ok,
  reply,
  type Context,
  type Pid,
  type ProcessHandler,
  type Protocol,
} from '@ratatoskr/actors';
import { MiniActor, MiniScheduler } from './baselines.js';
import { settledHeap, sized, type Benchmark, type RunOutcome, type Scale } from './harness.js';
import { BURST, Countdown, ratePerSecond, sendInBursts } from './workload.js';

type TickProtocol = Protocol<never, Record<never, never>, number>;
type CounterProtocol = Protocol<'next', { next: number }, never>;

const idleHandler: ProcessHandler = () => undefined;
const idleMini = (): void => undefined;

// ---------------------------------------------------------------- cast

async function castRuntime(scale: Scale): Promise<RunOutcome> {
  const n = sized(scale, 2_000_000, 50_000);
  const system = new ActorSystem();
  const received = new Countdown(n);
  const pid = await GenServer.start<number, void, TickProtocol>(
    system,
    {
      init: () => ok(0),
      handleCast: (_message, count) => {
        received.tick();
        return noreply(count + 1);
      },
    },
    undefined,
  );
  const t0 = performance.now();
  await sendInBursts(n, (i) => system.cast(pid, i));
  await received.done;
  const rate = ratePerSecond(n, t0);
  await system.shutdown();
  return { figures: { rate }, expected: n, delivered: received.count };
}

async function castBaseline(scale: Scale): Promise<RunOutcome> {
  const n = sized(scale, 2_000_000, 50_000);
  const received = new Countdown(n);
  let state = 0;
  const actor = new MiniActor(new MiniScheduler(), () => {
    received.tick();
    state += 1;
  });
  const t0 = performance.now();
  await sendInBursts(n, (i) => actor.send(i));
  await received.done;
  return { figures: { rate: ratePerSecond(n, t0) }, expected: n, delivered: state };
}

// ---------------------------------------------------------------- call

function callWorkload(timeoutMs: number | undefined): (scale: Scale) => Promise<RunOutcome> {
  return async (scale) => {
    const n = sized(scale, 300_000, 10_000);
    const system = new ActorSystem();
    const pid = await GenServer.start<number, void, CounterProtocol>(
      system,
      { init: () => ok(0), handleCall: (_request, _from, count) => reply(count, count + 1) },
      undefined,
    );
    let correct = 0;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      const value =
        timeoutMs === undefined
          ? await system.call(pid, 'next')
          : await system.call(pid, 'next', timeoutMs);
      if (value === i) correct++;
    }
    const rate = ratePerSecond(n, t0);
    await system.shutdown();
    return { figures: { rate }, expected: n, delivered: correct };
  };
}

async function asyncIncrement(count: number): Promise<number> {
  return count;
}

async function callBaseline(scale: Scale): Promise<RunOutcome> {
  const n = sized(scale, 300_000, 10_000);
  let correct = 0;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    if ((await asyncIncrement(i)) === i) correct++;
  }
  return { figures: { rate: ratePerSecond(n, t0) }, expected: n, delivered: correct };
}

// ---------------------------------------------------------------- ping-pong

async function pingPongRuntime(scale: Scale): Promise<RunOutcome> {
  const n = sized(scale, 1_000_000, 50_000);
  const system = new ActorSystem();
  const exchanges = new Countdown(n);
  let pingPid: Pid<TickProtocol> | null = null;
  const pongPid = await GenServer.start<null, void, TickProtocol>(
    system,
    {
      init: () => ok(null),
      handleCast: (i, state, ctx) => {
        ctx.cast(pingPid!, i);
        return noreply(state);
      },
    },
    undefined,
  );
  pingPid = await GenServer.start<null, void, TickProtocol>(
    system,
    {
      init: () => ok(null),
      handleCast: (i, state, ctx: Context) => {
        exchanges.tick();
        if (i + 1 < n) ctx.cast(pongPid, i + 1);
        return noreply(state);
      },
    },
    undefined,
  );
  const t0 = performance.now();
  system.cast(pongPid, 0);
  await exchanges.done;
  const rate = ratePerSecond(n, t0);
  await system.shutdown();
  return { figures: { rate }, expected: n, delivered: exchanges.count };
}

async function pingPongBaseline(scale: Scale): Promise<RunOutcome> {
  const n = sized(scale, 1_000_000, 50_000);
  const scheduler = new MiniScheduler();
  const exchanges = new Countdown(n);
  const ping: MiniActor = new MiniActor(scheduler, (i) => {
    exchanges.tick();
    if ((i as number) + 1 < n) pong.send((i as number) + 1);
  });
  const pong: MiniActor = new MiniActor(scheduler, (i) => ping.send(i));
  const t0 = performance.now();
  pong.send(0);
  await exchanges.done;
  return { figures: { rate: ratePerSecond(n, t0) }, expected: n, delivered: exchanges.count };
}

// ---------------------------------------------------------------- spawn + exit

async function spawnRuntime(scale: Scale): Promise<RunOutcome> {
  const n = sized(scale, 1_000_000, 20_000);
  const system = new ActorSystem();
  const exited = new Countdown(n);
  // ctx.stop() is the non-throwing way for a plain process to finish;
  // ctx.exit(reason) throws and costs a V8 throw (about 0.3 us) per process.
  const handler: ProcessHandler = (_message, ctx) => {
    exited.tick();
    ctx.stop();
  };
  const t0 = performance.now();
  await sendInBursts(n, () => system.send(system.spawn(handler), 0));
  await exited.done;
  const rate = ratePerSecond(n, t0);
  const alive = system.processes().length;
  return { figures: { rate }, expected: n, delivered: exited.count - alive };
}

async function spawnBaseline(scale: Scale): Promise<RunOutcome> {
  const n = sized(scale, 1_000_000, 20_000);
  const scheduler = new MiniScheduler();
  const table = new Map<number, MiniActor>();
  const exited = new Countdown(n);
  const handler = (id: unknown): void => {
    exited.tick();
    table.delete(id as number);
  };
  let nextId = 0;
  const t0 = performance.now();
  await sendInBursts(n, () => {
    const id = nextId++;
    const actor = new MiniActor(scheduler, handler);
    table.set(id, actor);
    actor.send(id);
  });
  await exited.done;
  const rate = ratePerSecond(n, t0);
  return { figures: { rate }, expected: n, delivered: exited.count - table.size };
}

async function spawnKillRuntime(scale: Scale): Promise<RunOutcome> {
  const n = sized(scale, 1_000_000, 20_000);
  const system = new ActorSystem();
  const t0 = performance.now();
  await sendInBursts(n, () => system.exit(system.spawn(idleHandler), 'kill'));
  const rate = ratePerSecond(n, t0);
  return { figures: { rate }, expected: n, delivered: n - system.processes().length };
}

async function spawnKillBaseline(scale: Scale): Promise<RunOutcome> {
  const n = sized(scale, 1_000_000, 20_000);
  const scheduler = new MiniScheduler();
  const table = new Map<number, MiniActor>();
  const t0 = performance.now();
  await sendInBursts(n, (id) => {
    table.set(id, new MiniActor(scheduler, idleMini));
    table.delete(id);
  });
  const rate = ratePerSecond(n, t0);
  return { figures: { rate }, expected: n, delivered: n - table.size };
}

// ---------------------------------------------------------------- idle memory

async function idleRuntime(scale: Scale): Promise<RunOutcome> {
  const n = sized(scale, 100_000, 10_000);
  let system: ActorSystem | null = new ActorSystem();
  const before = settledHeap();
  for (let i = 0; i < n; i++) system.spawn(idleHandler);
  const after = settledHeap();
  const alive = system.processes().length;
  system = null;
  return { figures: { bytes: (after - before) / n }, expected: n, delivered: alive };
}

async function idleBaseline(scale: Scale): Promise<RunOutcome> {
  const n = sized(scale, 100_000, 10_000);
  const scheduler = new MiniScheduler();
  const table = new Map<number, MiniActor>();
  const before = settledHeap();
  for (let i = 0; i < n; i++) table.set(i, new MiniActor(scheduler, idleMini));
  const after = settledHeap();
  return { figures: { bytes: (after - before) / n }, expected: n, delivered: table.size };
}

async function idleServers(scale: Scale): Promise<RunOutcome> {
  const n = sized(scale, 100_000, 10_000);
  let system: ActorSystem | null = new ActorSystem();
  const behaviour = { init: () => ok(0) };
  const before = settledHeap();
  const t0 = performance.now();
  for (let start = 0; start < n; start += BURST) {
    const starts: Promise<Pid>[] = [];
    for (let i = start; i < Math.min(n, start + BURST); i++) {
      starts.push(GenServer.start(system, behaviour, undefined));
    }
    await Promise.all(starts);
  }
  const rate = ratePerSecond(n, t0);
  const after = settledHeap();
  const alive = system.processes().length;
  system = null;
  return { figures: { bytes: (after - before) / n, rate }, expected: n, delivered: alive };
}

// ---------------------------------------------------------------- the suite

const MINI = 'minimal array-queue actor';

export const runtimeSuite: readonly Benchmark[] = [
  {
    id: 'runtime.cast',
    suite: 'runtime',
    title: 'cast, one-way',
    method:
      'N casts from outside any process to one GenServer (handleCast returns noreply(count + 1)), sent in bursts of 4,096 with a setImmediate between bursts; rate = N / time until the last is handled',
    figures: [{ key: 'rate', label: 'cast one-way', unit: 'msg/s', better: 'higher' }],
    subject: castRuntime,
    baseline: { label: MINI, run: castBaseline },
  },
  {
    id: 'runtime.call',
    suite: 'runtime',
    title: 'sequential call',
    method:
      'N awaited system.call(server, "next") one after another, default 5000 ms timeout (a timer per call); the reply is checked',
    figures: [{ key: 'rate', label: 'sequential call', unit: 'calls/s', better: 'higher' }],
    subject: callWorkload(undefined),
    baseline: { label: 'awaited async function', run: callBaseline },
  },
  {
    id: 'runtime.call-infinity',
    suite: 'runtime',
    title: 'sequential call, no timeout',
    method: 'as runtime.call, with timeout Infinity (no timer per call)',
    figures: [
      {
        key: 'rate',
        label: 'sequential call, timeout Infinity',
        unit: 'calls/s',
        better: 'higher',
      },
    ],
    subject: callWorkload(Infinity),
    baseline: { label: 'awaited async function', run: callBaseline },
  },
  {
    id: 'runtime.pingpong',
    suite: 'runtime',
    title: 'ping-pong between two servers',
    method:
      'two GenServers cast a counter back and forth (ctx.cast inside handleCast); one exchange = ping + pong',
    figures: [{ key: 'rate', label: 'ping-pong', unit: 'exchanges/s', better: 'higher' }],
    subject: pingPongRuntime,
    baseline: { label: `two ${MINI}s`, run: pingPongBaseline },
  },
  {
    id: 'runtime.spawn',
    suite: 'runtime',
    title: 'spawn + exit',
    counted: 'processes',
    method:
      'spawn a process, send it one message, it calls ctx.stop() (exit normal); N processes in bursts of 4,096; every one must have exited',
    figures: [{ key: 'rate', label: 'spawn + exit', unit: 'proc/s', better: 'higher' }],
    subject: spawnRuntime,
    baseline: { label: `${MINI} created, messaged, removed from a Map`, run: spawnBaseline },
  },
  {
    id: 'runtime.spawn-kill',
    suite: 'runtime',
    title: 'spawn + kill',
    counted: 'processes',
    method:
      'spawn an idle process and kill it at once from outside (system.exit(pid, "kill")), no message and no throw; N processes in bursts of 4,096',
    figures: [{ key: 'rate', label: 'spawn + kill', unit: 'proc/s', better: 'higher' }],
    subject: spawnKillRuntime,
    baseline: { label: `${MINI} created, put in and removed from a Map`, run: spawnKillBaseline },
  },
  {
    id: 'runtime.idle',
    suite: 'runtime',
    title: 'idle process memory',
    counted: 'processes',
    method:
      '100,000 idle processes (system.spawn with a shared handler); heapUsed delta after forced GC / count',
    figures: [{ key: 'bytes', label: 'heap per idle process', unit: 'B/proc', better: 'lower' }],
    subject: idleRuntime,
    baseline: { label: `${MINI} in a Map`, run: idleBaseline },
    runs: 3,
  },
  {
    id: 'runtime.idle-server',
    suite: 'runtime',
    title: 'idle GenServer memory and start rate',
    counted: 'processes',
    method:
      '100,000 GenServers started (4,096 starts in flight at a time), init returns ok(0); heapUsed delta after forced GC / count',
    figures: [
      { key: 'bytes', label: 'heap per idle GenServer', unit: 'B/proc', better: 'lower' },
      {
        key: 'rate',
        label: 'GenServer.start',
        unit: 'starts/s',
        better: 'higher',
        baselineKey: null,
      },
    ],
    subject: idleServers,
    baseline: { label: `${MINI} in a Map`, run: idleBaseline },
    runs: 3,
  },
];

/** The subject workloads by name, for the profiling driver. */
export const runtimeWorkloads: Readonly<Record<string, (scale: Scale) => Promise<RunOutcome>>> = {
  cast: castRuntime,
  call: callWorkload(undefined),
  'call-infinity': callWorkload(Infinity),
  pingpong: pingPongRuntime,
  spawn: spawnRuntime,
  'spawn-kill': spawnKillRuntime,
};
