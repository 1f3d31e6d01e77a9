/**
 * Registry lookups, measured with tinybench: a unique-key `Registry` holding
 * 10,000 processes, read with `lookup(key)` and `whereis(key)` (what every
 * `via` name resolves through), beside a plain `Map.get` over the same keys.
 */
import { ActorSystem, Registry, type Pid, type ProcessHandler } from '@ratatoskr/actors';
import { sized, type Benchmark, type RunOutcome, type Scale } from './harness.js';
import { microRates } from './micro.js';

const BATCH = 1000;
const idle: ProcessHandler = () => undefined;

function keysOf(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `topic-${i}`);
}

/** Counts lookup hits: keeps the results alive (the JIT cannot drop the lookups) and is checked. */
let hits = 0;

function checkHits(): void {
  if (hits === 0) throw new Error('the timed lookups found nothing');
  hits = 0;
}

async function registryRuntime(scale: Scale): Promise<RunOutcome> {
  const n = sized(scale, 10_000, 1_000);
  const system = new ActorSystem();
  const registry = new Registry<string, undefined>({ keys: 'unique' });
  await registry.start(system);
  const keys = keysOf(n);
  const pids = new Map<string, Pid>();
  for (const key of keys) {
    const pid = system.spawn(idle);
    registry.registerName(key, pid);
    pids.set(key, pid);
  }
  const found = keys.filter((k) => registry.whereis(k) === pids.get(k)).length;
  let cursor = 0;
  const rates = await microRates(scale, [
    {
      name: 'lookup',
      batch: BATCH,
      fn: () => {
        for (let i = 0; i < BATCH; i++) {
          hits += registry.lookup(keys[cursor]!).length;
          cursor = cursor + 1 === n ? 0 : cursor + 1;
        }
      },
    },
    {
      name: 'whereis',
      batch: BATCH,
      fn: () => {
        for (let i = 0; i < BATCH; i++) {
          if (registry.whereis(keys[cursor]!) !== undefined) hits++;
          cursor = cursor + 1 === n ? 0 : cursor + 1;
        }
      },
    },
  ]);
  checkHits();
  await system.shutdown();
  return { figures: rates, expected: n, delivered: found };
}

async function mapBaseline(scale: Scale): Promise<RunOutcome> {
  const n = sized(scale, 10_000, 1_000);
  const keys = keysOf(n);
  const table = new Map<string, { pid: number; value: undefined }>();
  keys.forEach((key, i) => table.set(key, { pid: i, value: undefined }));
  let cursor = 0;
  const rates = await microRates(scale, [
    {
      name: 'get',
      batch: BATCH,
      fn: () => {
        for (let i = 0; i < BATCH; i++) {
          if (table.get(keys[cursor]!) !== undefined) hits++;
          cursor = cursor + 1 === n ? 0 : cursor + 1;
        }
      },
    },
  ]);
  checkHits();
  return { figures: rates, expected: n, delivered: table.size };
}

export const registrySuite: readonly Benchmark[] = [
  {
    id: 'runtime.registry',
    suite: 'runtime',
    title: 'registry lookup',
    method:
      'a unique-key Registry with 10,000 processes registered; tinybench times batches of 1,000 lookup(key) / whereis(key) calls cycling through the keys; figure at the median batch time',
    figures: [
      {
        key: 'lookup',
        label: 'Registry.lookup',
        unit: 'ops/s',
        better: 'higher',
        baselineKey: 'get',
      },
      {
        key: 'whereis',
        label: 'Registry.whereis (via names)',
        unit: 'ops/s',
        better: 'higher',
        baselineKey: 'get',
      },
    ],
    subject: registryRuntime,
    baseline: { label: 'Map.get', run: mapBaseline },
    runs: 3,
  },
];
