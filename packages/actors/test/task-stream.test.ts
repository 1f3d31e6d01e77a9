import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { SimulatedClock } from '../src/clock.js';
import type { Context } from '../src/process.js';
import { CallTimeoutError, InvalidArgumentError } from '../src/reasons.js';
import { ActorSystem } from '../src/system.js';
import {
  TaskExitError,
  TaskSupervisor,
  TaskSupervisorFullError,
  asyncStream,
  type TaskResult,
} from '../src/task.js';

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Counts how many calls of a function run at once, and the most ever seen. */
function concurrencyProbe() {
  const probe = {
    now: 0,
    max: 0,
    async around<X>(body: () => Promise<X>): Promise<X> {
      probe.now++;
      probe.max = Math.max(probe.max, probe.now);
      try {
        return await body();
      } finally {
        probe.now--;
      }
    },
  };
  return probe;
}

async function collect<X>(iterable: AsyncIterable<X>): Promise<X[]> {
  const out: X[] = [];
  for await (const x of iterable) out.push(x);
  return out;
}

describe('asyncStream', () => {
  it('gives results in input order, never running more than maxConcurrency tasks', async () => {
    const sys = new ActorSystem();
    const probe = concurrencyProbe();
    const items = Array.from({ length: 24 }, (_, i) => i);
    const results = await collect(
      asyncStream(sys, items, (i) => probe.around(async () => (await sleep((i * 7) % 5), i * i)), {
        maxConcurrency: 3,
      }),
    );
    expect(results).toEqual(items.map((i) => i * i));
    expect(probe.max).toBe(3);
    expect(probe.now).toBe(0);
    expect(sys.processes()).toEqual([]);
  });

  it('with ordered: false gives results as they complete', async () => {
    const sys = new ActorSystem();
    const probe = concurrencyProbe();
    const results = await collect(
      asyncStream(sys, [30, 1, 15, 2], (ms) => probe.around(async () => (await sleep(ms), ms)), {
        ordered: false,
        maxConcurrency: 4,
      }),
    );
    expect(results).toEqual([1, 2, 15, 30]);
    expect(probe.max).toBe(4);
  });

  it('defaults to 2 × availableParallelism concurrent tasks', async () => {
    const sys = new ActorSystem();
    const probe = concurrencyProbe();
    const bound = 2 * availableParallelism();
    const items = Array.from({ length: bound * 3 }, (_, i) => i);
    const results = await collect(
      asyncStream(sys, items, (i) => probe.around(async () => (await sleep(2), i))),
    );
    expect(results).toEqual(items);
    expect(probe.max).toBe(bound);
  });

  it('passes each task its own context, as a child of the calling process', async () => {
    const sys = new ActorSystem();
    let seen: Array<{ self: string; parent: unknown }> = [];
    let callerPid: unknown;
    const caller = sys.spawn(async (_m, ctx) => {
      callerPid = ctx.self;
      seen = await collect(
        asyncStream(ctx, ['a', 'b'], (item, taskCtx: Context) => ({
          self: `${item}:${String(taskCtx.self !== ctx.self)}`,
          parent: sys.processInfo(taskCtx.self)?.parent,
        })),
      );
    });
    sys.send(caller, 'go');
    for (let i = 0; i < 5; i++) await tick();
    expect(seen).toEqual([
      { self: 'a:true', parent: callerPid },
      { self: 'b:true', parent: callerPid },
    ]);
  });

  it('leaves no process and no timer behind once it completes', async () => {
    const clock = new SimulatedClock();
    const sys = new ActorSystem({ clock });
    const stream = asyncStream(sys, [1, 2, 3, 4, 5], async (i) => (await tick(), i + 1), {
      maxConcurrency: 2,
      timeout: 1000,
    });
    expect(await collect(stream)).toEqual([2, 3, 4, 5, 6]);
    expect(sys.processes()).toEqual([]);
    expect(clock.pending()).toBe(0);
    expect(await stream.next()).toEqual({ done: true, value: undefined });
  });

  it('an empty source ends at once', async () => {
    const sys = new ActorSystem();
    expect(await collect(asyncStream(sys, [], (x: number) => x))).toEqual([]);
  });

  it('a failing item rejects the iteration (default) and kills every other task', async () => {
    const sys = new ActorSystem();
    const boom = new Error('item 3 failed');
    const seen: number[] = [];
    let error: unknown;
    try {
      for await (const r of asyncStream(
        sys,
        [0, 1, 2, 3, 4, 5, 6, 7],
        async (i) => {
          if (i === 3) throw boom;
          if (i > 3) await new Promise(() => {});
          await sleep(1);
          return i;
        },
        { maxConcurrency: 5 },
      )) {
        seen.push(r);
      }
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(TaskExitError);
    expect((error as TaskExitError).reason).toBe(boom);
    expect(seen.every((i) => i < 3)).toBe(true);
    expect(sys.processes()).toEqual([]);
  });

  it("with onExit: 'yield' every item yields { ok } or { exit } and the stream goes on", async () => {
    const sys = new ActorSystem();
    const results: TaskResult<number>[] = await collect(
      asyncStream(
        sys,
        [1, 2, 3, 4],
        (i) => {
          if (i % 2 === 0) throw new Error(`even ${i}`);
          return i * 10;
        },
        { onExit: 'yield' },
      ),
    );
    expect(results.map((r) => ('ok' in r ? r.ok : (r.exit as Error).message))).toEqual([
      10,
      'even 2',
      30,
      'even 4',
    ]);
  });

  it('an item that outlives the timeout is killed: the iteration rejects, or yields the timeout', async () => {
    const clock = new SimulatedClock();
    const sys = new ActorSystem({ clock });
    const never = new Promise<number>(() => {});
    const fn = (i: number) => (i === 1 ? never : i);

    const throwing = asyncStream(sys, [0, 1, 2], fn, { timeout: 1000, maxConcurrency: 2 });
    expect(await throwing.next()).toEqual({ done: false, value: 0 });
    const stuck = throwing.next();
    await tick();
    clock.advance(1000);
    const error = await stuck.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CallTimeoutError);
    expect((error as CallTimeoutError).timeoutMs).toBe(1000);
    expect(await throwing.next()).toEqual({ done: true, value: undefined });
    expect(sys.processes()).toEqual([]);
    expect(clock.pending()).toBe(0);

    const yielding = asyncStream(sys, [0, 1, 2], fn, { timeout: 1000, onExit: 'yield' });
    const pending = collect(yielding);
    await tick();
    clock.advance(1000);
    const results = await pending;
    expect(results[0]).toEqual({ ok: 0 });
    expect((results[1] as { exit: unknown }).exit).toBeInstanceOf(CallTimeoutError);
    expect(results[2]).toEqual({ ok: 2 });
    expect(sys.processes()).toEqual([]);
    expect(clock.pending()).toBe(0);
  });

  it('abandoning the stream with break kills running tasks, clears timers and closes the source', async () => {
    const clock = new SimulatedClock();
    const sys = new ActorSystem({ clock });
    let closed = false;
    function* source() {
      try {
        for (let i = 0; ; i++) yield i;
      } finally {
        closed = true;
      }
    }
    const release: Array<() => void> = [];
    const got: number[] = [];
    for await (const r of asyncStream(
      sys,
      source(),
      (i) => (i < 2 ? i : new Promise<number>((resolve) => release.push(() => resolve(i)))),
      { maxConcurrency: 4, timeout: 60_000 },
    )) {
      got.push(r);
      if (got.length === 2) break;
    }
    expect(got).toEqual([0, 1]);
    expect(closed).toBe(true);
    expect(sys.processes()).toEqual([]);
    expect(clock.pending()).toBe(0);
    // Tasks killed mid-flight: releasing their promises later changes nothing.
    for (const r of release) r();
    await tick();
    expect(sys.processes()).toEqual([]);
  });

  it('pulls an async source lazily and starts tasks only while the consumer waits', async () => {
    const sys = new ActorSystem();
    let pulled = 0;
    let closed = false;
    async function* endless() {
      try {
        for (let i = 0; ; i++) {
          pulled++;
          await tick();
          yield i;
        }
      } finally {
        closed = true;
      }
    }
    let started = 0;
    const got: number[] = [];
    for await (const r of asyncStream(
      sys,
      endless(),
      async (i) => {
        started++;
        await sleep(1);
        return i;
      },
      { maxConcurrency: 3 },
    )) {
      got.push(r);
      // While the consumer is busy, no new task starts.
      const before = started;
      await sleep(10);
      expect(started).toBe(before);
      if (got.length === 5) break;
    }
    expect(got).toEqual([0, 1, 2, 3, 4]);
    expect(closed).toBe(true);
    // At most maxConcurrency running plus maxConcurrency finished-but-unread per read.
    expect(pulled).toBeLessThanOrEqual(5 + 2 * 3);
    expect(sys.processes()).toEqual([]);
  });

  it('a source that throws rejects the iteration with its error', async () => {
    const sys = new ActorSystem();
    function* source() {
      yield 1;
      throw new Error('source broke');
    }
    await expect(collect(asyncStream(sys, source(), (i) => i))).rejects.toThrow('source broke');
    expect(sys.processes()).toEqual([]);
  });

  it('ends with its calling process: the tasks die with it', async () => {
    const sys = new ActorSystem();
    let started = 0;
    const caller = sys.spawn(async (_m, ctx) => {
      await collect(
        asyncStream(ctx, [1, 2, 3, 4], () => {
          started++;
          return new Promise(() => {});
        }),
      );
    });
    sys.send(caller, 'go');
    for (let i = 0; i < 5; i++) await tick();
    expect(started).toBe(4);
    expect(sys.processes()).toHaveLength(5);
    sys.exit(caller, 'kill');
    expect(sys.processes()).toEqual([]);
  });

  it('validates its arguments at once', () => {
    const sys = new ActorSystem();
    expect(() => asyncStream(sys, [1], (x) => x, { maxConcurrency: 0 })).toThrow(
      'options.maxConcurrency must be an integer >= 1, got 0',
    );
    expect(() => asyncStream(sys, [1], (x) => x, { onExit: 'ignore' as never })).toThrow(
      InvalidArgumentError,
    );
    expect(() => asyncStream(sys, 42 as never, (x) => x)).toThrow(
      'asyncStream items must be an iterable or an async iterable, got 42',
    );
    expect(() => asyncStream(sys, [1], null as never)).toThrow(InvalidArgumentError);
  });
});

describe('TaskSupervisor.asyncStreamNolink', () => {
  it('runs every item under the supervisor', async () => {
    const sys = new ActorSystem();
    const sup = await TaskSupervisor.start(sys);
    const parents = await collect(
      TaskSupervisor.asyncStreamNolink(sys, sup, [1, 2, 3], (_i, ctx) => [
        sys.processInfo(ctx.self)?.parent,
        sys.processInfo(ctx.self)?.links,
      ]),
    );
    expect(parents).toEqual([
      [sup, [sup]],
      [sup, [sup]],
      [sup, [sup]],
    ]);
    expect(sys.processes()).toEqual([sup]);
  });

  it('a full supervisor fails the stream with TaskSupervisorFullError', async () => {
    const sys = new ActorSystem();
    const sup = await TaskSupervisor.start(sys, { maxChildren: 2 });
    const stream = TaskSupervisor.asyncStreamNolink(
      sys,
      sup,
      [1, 2, 3],
      () => new Promise<never>(() => {}),
      { maxConcurrency: 3 },
    );
    await expect(stream.next()).rejects.toBeInstanceOf(TaskSupervisorFullError);
    expect(TaskSupervisor.children(sys, sup)).toEqual([]);
  });
});
