/**
 * Supervisor restart time: a `one_for_one` supervisor with one named
 * GenServer child; the child is killed (`system.exit(pid, 'kill')`) and the
 * clock stops when the runtime's `restart` telemetry event reports the new
 * child started. The name must then point to a new, live process.
 */
import { ActorSystem, GenServer, Supervisor, ok, type TelemetryEvent } from '@ratatoskr/actors';
import { MiniActor, MiniScheduler } from './baselines.js';
import { sized, type Benchmark, type RunOutcome, type Scale } from './harness.js';
import { percentileOfSorted } from './stats.js';

const NAME = 'bench-worker';

/** Waits for successive telemetry `restart` events. */
class RestartWatch {
  private waiter: ((at: number) => void) | null = null;

  readonly hook = (event: TelemetryEvent): void => {
    if (event.type !== 'restart' || this.waiter === null) return;
    const w = this.waiter;
    this.waiter = null;
    w(performance.now());
  };

  next(): Promise<number> {
    return new Promise((resolve) => {
      this.waiter = resolve;
    });
  }
}

function latencyFigures(samples: Float64Array): Record<string, number> {
  samples.sort();
  return { p50: percentileOfSorted(samples, 50), p99: percentileOfSorted(samples, 99) };
}

async function restartRuntime(scale: Scale): Promise<RunOutcome> {
  const n = sized(scale, 2_000, 100);
  const watch = new RestartWatch();
  const system = new ActorSystem({ telemetry: watch.hook });
  const worker = { init: () => ok(0) };
  await Supervisor.start(
    system,
    [{ id: 'worker', start: (ctx) => GenServer.startLink(ctx, worker, undefined, { name: NAME }) }],
    { maxRestarts: 10 * n, maxSeconds: 3600 },
  );
  const samples = new Float64Array(n);
  let replaced = 0;
  for (let i = 0; i < n; i++) {
    const old = system.whereis(NAME)!;
    const restarted = watch.next();
    const t0 = performance.now();
    system.exit(old, 'kill');
    samples[i] = ((await restarted) - t0) * 1000;
    const now = system.whereis(NAME);
    if (now !== undefined && now !== old && system.isAlive(now)) replaced++;
  }
  await system.shutdown();
  return { figures: latencyFigures(samples), expected: n, delivered: replaced };
}

async function startMini(scheduler: MiniScheduler): Promise<MiniActor> {
  return new MiniActor(scheduler, () => undefined);
}

async function restartBaseline(scale: Scale): Promise<RunOutcome> {
  const n = sized(scale, 2_000, 100);
  const scheduler = new MiniScheduler();
  const table = new Map<string, MiniActor>([[NAME, await startMini(scheduler)]]);
  const samples = new Float64Array(n);
  let replaced = 0;
  for (let i = 0; i < n; i++) {
    const old = table.get(NAME);
    const t0 = performance.now();
    table.delete(NAME);
    const restarted = new Promise<void>((resolve) => {
      queueMicrotask(async () => {
        table.set(NAME, await startMini(scheduler));
        resolve();
      });
    });
    await restarted;
    samples[i] = (performance.now() - t0) * 1000;
    if (table.get(NAME) !== old) replaced++;
  }
  return { figures: latencyFigures(samples), expected: n, delivered: replaced };
}

export const supervisorSuite: readonly Benchmark[] = [
  {
    id: 'runtime.restart',
    suite: 'runtime',
    title: 'supervisor restart',
    method:
      'one_for_one supervisor, one named GenServer child; kill the child, time until the restart telemetry event; the name must then point to a new live process; 2,000 restarts per run',
    figures: [
      { key: 'p50', label: 'supervisor restart P50', unit: 'us', better: 'lower' },
      { key: 'p99', label: 'supervisor restart P99', unit: 'us', better: 'lower' },
    ],
    subject: restartRuntime,
    baseline: { label: 'async re-create into a Map', run: restartBaseline },
    runs: 3,
  },
];
