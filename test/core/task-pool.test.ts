import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ActorError,
  ActorSystem,
  GenServer,
  Inbox,
  PoolWorkerExitError,
  TaskPool,
  UncloneableError,
  isDown,
  noreply,
  ok,
  reply,
  type Context,
  type DownMessage,
  type Pid,
} from '@ratatoskr/actors';

const tasks = fileURLToPath(new URL('../fixtures/pool-tasks.mjs', import.meta.url));
let pools: TaskPool[] = [];
function pool(maxThreads = 2): TaskPool {
  const p = new TaskPool({ minThreads: 1, maxThreads });
  pools.push(p);
  return p;
}
afterEach(async () => {
  await Promise.all(pools.map((p) => p.destroy()));
  pools = [];
});

function expectedHash(input: string, rounds: number): string {
  let digest = input;
  for (let i = 0; i < rounds; i++) digest = createHash('sha256').update(digest).digest('hex');
  return digest;
}

describe('TaskPool', () => {
  it('runs a module function on a worker and keeps the main thread responsive', async () => {
    const p = pool();
    let ticks = 0;
    const interval = setInterval(() => ticks++, 5);
    const results = await Promise.all(
      [1, 2, 3, 4].map((i) =>
        p.run<string>({ module: tasks, export: 'hash', arg: { input: `x${i}`, rounds: 60_000 } }),
      ),
    );
    clearInterval(interval);
    expect(results).toEqual([1, 2, 3, 4].map((i) => expectedHash(`x${i}`, 60_000)));
    // The main thread kept running its timers while the workers hashed.
    expect(ticks).toBeGreaterThan(3);
  });

  it('a worker that exits mid-task rejects that task with its exit code; the queue keeps going', async () => {
    const p = pool(1);
    const results = await Promise.allSettled([
      p.run({ module: tasks, export: 'double', arg: 1 }),
      p.run({ module: tasks, export: 'exitWith', arg: 7 }),
      p.run({ module: tasks, export: 'double', arg: 21 }),
    ]);
    expect(results[0]).toEqual({ status: 'fulfilled', value: 2 });
    expect(results[1]!.status).toBe('rejected');
    const error = (results[1] as PromiseRejectedResult).reason as PoolWorkerExitError;
    expect(error).toBeInstanceOf(PoolWorkerExitError);
    expect(error.exitCode).toBe(7);
    expect(error.code).toBe('worker_exited');
    expect(results[2]).toEqual({ status: 'fulfilled', value: 42 });
    expect(await p.run({ module: tasks, export: 'double', arg: 5 })).toBe(10);
  });

  it('errors thrown by a task keep their name, message and code', async () => {
    const p = pool(1);
    const error = (await p
      .run({ module: tasks, export: 'fail', arg: 'abc' })
      .catch((e: unknown) => e)) as Error & {
      code: string;
    };
    expect(error.name).toBe('PoolTaskFailure');
    expect(error.message).toBe('failed: abc');
    expect(error.code).toBe('pool_task_failure');
  });

  it('a missing export fails clearly', async () => {
    const p = pool(1);
    await expect(p.run({ module: tasks, export: 'nope' })).rejects.toThrow(
      /no function export "nope"/,
    );
  });

  it('killing a pool task process cancels the work on the pool', async () => {
    const sys = new ActorSystem();
    const p = pool(1);
    let task: { pid: Pid } | undefined;
    const owner = await GenServer.start(
      sys,
      {
        init: () => ok(null),
        handleCall(_r, _f, state, ctx: Context) {
          task = p.async(ctx, { module: tasks, export: 'spin', arg: 20_000 });
          return reply('started', state);
        },
        handleInfo: (_m, s) => noreply(s),
      },
      undefined,
      { trapExit: true },
    );
    await sys.call(owner, 'start');
    const inbox = new Inbox(sys);
    inbox.monitor(task!.pid);
    await new Promise((r) => setTimeout(r, 100));
    sys.exit(task!.pid, 'kill');
    expect((await inbox.receive<DownMessage>(isDown)).reason).toBe('killed');
    // The single worker is free again long before the 20 s spin would end.
    const started = performance.now();
    expect(await p.run({ module: tasks, export: 'double', arg: 4 })).toBe(8);
    expect(performance.now() - started).toBeLessThan(10_000);
    await sys.shutdown();
  });

  it('stream maps a collection over the pool with bounded concurrency, in order', async () => {
    const sys = new ActorSystem();
    const p = pool(2);
    const collected: number[] = [];
    const runner = await GenServer.start(
      sys,
      {
        init: () => ok(null),
        async handleCall(_r, _f, state, ctx: Context) {
          for await (const value of p.stream<number, number>(
            ctx,
            Array.from({ length: 20 }, (_, i) => i),
            (n) => ({ module: tasks, export: 'double', arg: n }),
            { maxConcurrency: 3 },
          )) {
            collected.push(value);
          }
          return reply(collected.length, state);
        },
      },
      undefined,
    );
    expect(await sys.call(runner, 'go', 30_000)).toBe(20);
    expect(collected).toEqual(Array.from({ length: 20 }, (_, i) => i * 2));
    await sys.shutdown();
  });
});

describe('review regressions: TaskPool errors', () => {
  it('a result that cannot cross fails with UncloneableError; an error with a function field keeps its message and code', async () => {
    const p = pool(1);
    await expect(p.run({ module: tasks, export: 'giveFunction' })).rejects.toBeInstanceOf(
      UncloneableError,
    );
    // regression: a Proxy passes the codec and used to reject with a bare object.
    await expect(p.run({ module: tasks, export: 'giveProxy' })).rejects.toMatchObject({
      name: 'UncloneableError',
      code: 'uncloneable',
      path: 'result',
    });
    const error = (await p
      .run({ module: tasks, export: 'failWithFunctionField' })
      .catch((e: unknown) => e)) as Error & {
      code: string;
    };
    expect(error.message).toBe('client failed');
    expect(error.code).toBe('client_failed');
  });

  it('an argument that cannot cross, a missing module, and a pool that was destroyed are typed errors', async () => {
    const p = pool(1);
    await expect(p.run({ module: tasks, export: 'double', arg: () => 1 })).rejects.toBeInstanceOf(
      UncloneableError,
    );
    await expect(p.run({ module: '/no/such/module.mjs', export: 'x' })).rejects.toMatchObject({
      code: 'module_not_found',
    });
    await p.destroy();
    await expect(p.run({ module: tasks, export: 'double', arg: 1 })).rejects.toMatchObject({
      code: 'pool_destroyed',
    });
  });
});

describe('TaskPool options', () => {
  it('regression: counts piscina would refuse with its own TypeError are InvalidArgumentErrors naming the option', () => {
    expect(() => new TaskPool({ maxThreads: 0 })).toThrow(
      /maxThreads must be an integer >= 1, got 0/,
    );
    expect(() => new TaskPool({ minThreads: -1 })).toThrow(/minThreads must be an integer >= 0/);
    expect(() => new TaskPool({ minThreads: 3, maxThreads: 2 })).toThrow(
      /minThreads \(3\) must not exceed maxThreads \(2\)/,
    );
    expect(() => new TaskPool({ idleTimeoutMs: -5 })).toThrow(
      /idleTimeoutMs must be a number >= 0/,
    );
    let thrown: unknown;
    try {
      new TaskPool({ maxThreads: 1.5 });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toMatchObject({ name: 'InvalidArgumentError', code: 'invalid_argument' });
  });
});

describe('TaskPool: errors piscina reports on the pool, and destroy (review regressions)', () => {
  it('an error piscina emits on the pool (not on a task) is counted and heard, and does not end the process', async () => {
    const heard: unknown[] = [];
    const p = new TaskPool({ minThreads: 1, maxThreads: 1, onError: (e) => void heard.push(e) });
    pools.push(p);
    // What piscina emits when a result arrives for a task aborted meanwhile.
    const internal = (p as unknown as { pool: { emit(event: string, error: Error): boolean } })
      .pool;
    const error = new Error('Unexpected message from Worker: { taskId: 26 }');
    expect(internal.emit('error', error)).toBe(true);
    expect(heard).toEqual([error]);
    expect(p.stats().poolErrors).toBe(1);
    // The pool keeps working.
    expect(await p.run({ module: tasks, export: 'double', arg: 21 })).toBe(42);
    expect(() => new TaskPool({ onError: 'log' as never })).toThrow(/onError must be a function/);
  });

  it('a task pending when the pool is destroyed rejects with pool_destroyed, an ActorError', async () => {
    const p = new TaskPool({ minThreads: 1, maxThreads: 1 });
    const pending = p.run({ module: tasks, export: 'spin', arg: 2000 }).catch((e: unknown) => e);
    const queued = p.run({ module: tasks, export: 'double', arg: 1 }).catch((e: unknown) => e);
    await new Promise((resolve) => setTimeout(resolve, 100));
    await p.destroy();
    for (const error of [await pending, await queued]) {
      expect(error).toBeInstanceOf(ActorError);
      expect(error).toMatchObject({ code: 'pool_destroyed' });
    }
  });
});
