import { describe, expect, it } from 'vitest';
import { SimulatedClock } from '../src/clock.js';
import { Inbox } from '../src/inbox.js';
import { isDown, isExit, type DownMessage, type ExitMessage } from '../src/messages.js';
import {
  CallExitError,
  CallTimeoutError,
  InvalidArgumentError,
  NoProcError,
} from '../src/reasons.js';
import { ActorSystem } from '../src/system.js';
import { gate, host, tick } from './task-helpers.js';
import { Task, TaskExitError, type Task as TaskHandle } from '../src/task.js';

describe('Task.async and Task.await', () => {
  it('returns what the function returned, sync or async, and leaves no DOWN message', async () => {
    const sys = new ActorSystem();
    const h = host(sys);
    const results = await h.run(async (ctx) => {
      const a = Task.async(ctx, () => 21 * 2);
      const b = Task.async(ctx, async (taskCtx) => {
        await tick();
        return `ran in ${String(taskCtx.self !== ctx.self)} own process`;
      });
      return [await Task.await(a), await Task.await(b)];
    });
    expect(results).toEqual([42, 'ran in true own process']);
    sys.send(h.pid, 'probe');
    await tick();
    expect(h.received).toEqual(['probe']);
    expect(sys.processes()).toEqual([h.pid]);
  });

  it('links and monitors: the task is linked to its owner and knows it', async () => {
    const sys = new ActorSystem();
    const h = host(sys);
    const release = gate();
    const task = await h.run((ctx) => Task.async(ctx, () => release.promise));
    expect(task.owner).toBe(h.pid);
    expect(sys.processInfo(task.pid)?.links).toEqual([h.pid]);
    expect(sys.processInfo(task.pid)?.monitoredBy).toEqual([h.pid]);
    expect(sys.processInfo(task.pid)?.parent).toBe(h.pid);
    release.open();
    expect(await Task.await(task)).toBeUndefined();
  });

  it('a crash propagates through the link and kills the owner', async () => {
    const sys = new ActorSystem();
    const h = host(sys);
    const inbox = new Inbox(sys);
    inbox.monitor(h.pid);
    const boom = new Error('task failed');
    h.run((ctx) => {
      Task.async(ctx, () => {
        throw boom;
      });
    }).catch(() => undefined);
    const down = await inbox.receive<DownMessage>(isDown);
    expect(down.pid).toBe(h.pid);
    expect(down.reason).toBe(boom);
    expect(sys.processes()).toEqual([inbox.pid]);
  });

  it('an owner that traps exits sees await reject with the exit reason, and an EXIT message', async () => {
    const sys = new ActorSystem();
    const h = host(sys, { trapExit: true });
    const boom = new Error('task failed');
    const error = await h
      .run((ctx) =>
        Task.await(
          Task.async(ctx, async () => {
            await tick();
            throw boom;
          }),
        ),
      )
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TaskExitError);
    expect(error).toMatchObject({ code: 'task_exited', reason: boom, cause: boom });
    expect((error as Error).message).toContain('exited without a result: Error: task failed');
    await tick();
    expect(h.received).toHaveLength(1);
    expect(isExit(h.received[0])).toBe(true);
    expect((h.received[0] as ExitMessage).reason).toBe(boom);
  });

  it('a task never awaited reports its end as DOWN with task.ref; a later await still gets the value', async () => {
    const sys = new ActorSystem();
    const h = host(sys);
    const task = await h.run((ctx) => Task.async(ctx, () => 'done'));
    await tick();
    expect(h.received).toHaveLength(1);
    const down = h.received[0] as DownMessage;
    expect(isDown(down)).toBe(true);
    expect(down.ref).toBe(task.ref);
    expect(down.reason).toBe('normal');
    expect(await Task.await(task)).toBe('done');
    expect(await Task.await(task)).toBe('done');
  });

  it('reading the result removes a DOWN message still queued in the owner’s mailbox', async () => {
    const sys = new ActorSystem();
    const h = host(sys);
    const busy = gate();
    let task!: TaskHandle<number>;
    // The owner starts a task, then stays busy: the task's DOWN waits in its mailbox.
    void h.run(async (ctx) => {
      task = Task.async(ctx, () => 7);
      await busy.promise;
    });
    await tick();
    expect(sys.isAlive(task.pid)).toBe(false);
    expect(sys.processInfo(h.pid)?.mailboxLength).toBe(1);
    expect(await Task.yield(task, 0)).toEqual({ ok: 7 });
    expect(sys.processInfo(h.pid)?.mailboxLength).toBe(0);
    busy.open();
    await tick();
    expect(h.received).toEqual([]);
  });

  it('await rejects with CallTimeoutError after the timeout and kills the task, not the owner', async () => {
    const clock = new SimulatedClock();
    const sys = new ActorSystem({ clock });
    const h = host(sys);
    const never = gate();
    let task!: TaskHandle<void>;
    const awaited = h.run((ctx) => {
      task = Task.async(ctx, () => never.promise);
      return Task.await(task, 100);
    });
    await tick();
    clock.advance(99);
    await tick();
    expect(sys.isAlive(task.pid)).toBe(true);
    clock.advance(1);
    const error = await awaited.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CallTimeoutError);
    expect((error as Error).message).toBe(`call to task ${task.pid} got no reply within 100 ms`);
    expect(sys.isAlive(task.pid)).toBe(false);
    expect(sys.isAlive(h.pid)).toBe(true);
    // regression: a second await gave task_exited (the task had been killed for the timeout).
    await expect(Task.await(task, 100)).rejects.toBe(error);
    await expect(Task.await(task, Infinity)).rejects.toBe(error);
    await tick();
    expect(h.received).toEqual([]);
    expect(clock.pending()).toBe(0);
    // Task.yield reports what became of it.
    expect(await Task.yield(task, 0)).toEqual({ exit: 'killed' });
  });

  it('await with Infinity waits as long as it takes, with no timer', async () => {
    const clock = new SimulatedClock();
    const sys = new ActorSystem({ clock });
    const h = host(sys);
    const release = gate<string>();
    const awaited = h.run((ctx) =>
      Task.await(
        Task.async(ctx, () => release.promise),
        Infinity,
      ),
    );
    await tick();
    expect(clock.pending()).toBe(0);
    clock.advance(1_000_000);
    release.open('late');
    expect(await awaited).toBe('late');
  });

  it('validates its arguments', async () => {
    const sys = new ActorSystem();
    const h = host(sys);
    expect(() => Task.async(sys as never, () => 1)).toThrow(InvalidArgumentError);
    expect(() => Task.async(sys as never, () => 1)).toThrow(
      "Task.async needs the calling process's context",
    );
    await expect(Task.await({ pid: h.pid } as never)).rejects.toBeInstanceOf(InvalidArgumentError);
    const task = await h.run((ctx) => Task.async(ctx, () => 1));
    await expect(Task.await(task, -1)).rejects.toThrow(
      'Task.await timeoutMs must be a number of ms >= 0, or Infinity, got -1',
    );
    await expect(h.run((ctx) => Task.async(ctx, 'nope' as never))).rejects.toThrow(
      'Task.async fn must be a function',
    );
    const dead = await h.run((ctx) => ctx);
    sys.exit(h.pid, 'kill');
    expect(() => Task.async(dead, () => 1)).toThrow(NoProcError);
    expect(sys.processes()).toEqual([]);
  });

  it('messages to a task are never handled; a call to it fails when it exits', async () => {
    const sys = new ActorSystem();
    const h = host(sys);
    const release = gate();
    let handled = 0;
    const task = await h.run((ctx) =>
      Task.async(ctx, async () => {
        await release.promise;
        handled++;
        return 'finished';
      }),
    );
    sys.send(task.pid, 'hello');
    const call = sys.call(task.pid, 'hi').catch((e: unknown) => e);
    release.open();
    expect(await Task.await(task)).toBe('finished');
    expect(handled).toBe(1);
    expect(await call).toBeInstanceOf(CallExitError);
    expect(await call).toMatchObject({ reason: 'normal' });
  });
});

describe('Task.yield', () => {
  it('resolves null on timeout and leaves the task running; later it gives the result', async () => {
    const clock = new SimulatedClock();
    const sys = new ActorSystem({ clock });
    const h = host(sys);
    const release = gate<number>();
    const task = await h.run((ctx) => Task.async(ctx, () => release.promise));
    const first = Task.yield(task, 50);
    clock.advance(50);
    expect(await first).toBeNull();
    expect(sys.isAlive(task.pid)).toBe(true);
    expect(clock.pending()).toBe(0);
    release.open(5);
    expect(await Task.yield(task, 50)).toEqual({ ok: 5 });
    expect(clock.pending()).toBe(0);
    await tick();
    expect(h.received).toEqual([]);
  });

  it('gives { exit: reason } for a task that crashed under a trapping owner', async () => {
    const sys = new ActorSystem();
    const h = host(sys, { trapExit: true });
    const boom = new Error('x');
    const task = await h.run((ctx) =>
      Task.async(ctx, () => {
        throw boom;
      }),
    );
    expect(await Task.yield(task)).toEqual({ exit: boom });
  });
});

describe('Task.shutdown', () => {
  it('stops a running task without touching its owner and resolves null', async () => {
    const sys = new ActorSystem();
    const h = host(sys);
    const never = gate();
    const task = await h.run((ctx) => Task.async(ctx, () => never.promise));
    expect(await Task.shutdown(task)).toBeNull();
    expect(sys.isAlive(task.pid)).toBe(false);
    expect(sys.isAlive(h.pid)).toBe(true);
    await tick();
    expect(h.received).toEqual([]);
    expect(sys.processInfo(h.pid)?.links).toEqual([]);
  });

  it('brutal_kill kills at once', async () => {
    const sys = new ActorSystem();
    const h = host(sys);
    const never = gate();
    const task = await h.run((ctx) => Task.async(ctx, () => never.promise));
    const result = Task.shutdown(task, 'brutal_kill');
    expect(sys.isAlive(task.pid)).toBe(false);
    expect(await result).toBeNull();
  });

  it('gives the result of a task that already finished, or its exit reason', async () => {
    const sys = new ActorSystem();
    const h = host(sys, { trapExit: true });
    const done = await h.run((ctx) => Task.async(ctx, () => 'v'));
    await tick();
    expect(await Task.shutdown(done)).toEqual({ ok: 'v' });
    const crashed = await h.run((ctx) =>
      Task.async(ctx, () => {
        throw new Error('own reason');
      }),
    );
    await tick();
    const outcome = await Task.shutdown(crashed);
    expect((outcome as { exit: Error }).exit.message).toBe('own reason');
  });

  it('a task that traps exits gets until the deadline, then is killed', async () => {
    const clock = new SimulatedClock();
    const sys = new ActorSystem({ clock });
    const h = host(sys);
    const never = gate();
    const task = await h.run((ctx) =>
      Task.async(ctx, (taskCtx) => {
        taskCtx.trapExit(true);
        return never.promise;
      }),
    );
    await tick();
    const result = Task.shutdown(task, 200);
    await tick();
    clock.advance(199);
    expect(sys.isAlive(task.pid)).toBe(true);
    clock.advance(1);
    expect(await result).toBeNull();
    expect(sys.isAlive(task.pid)).toBe(false);
    expect(clock.pending()).toBe(0);
  });

  it('a task that finishes while being shut down gives its result', async () => {
    const clock = new SimulatedClock();
    const sys = new ActorSystem({ clock });
    const h = host(sys);
    const release = gate<string>();
    const task = await h.run((ctx) =>
      Task.async(ctx, (taskCtx) => {
        taskCtx.trapExit(true);
        return release.promise;
      }),
    );
    await tick();
    const result = Task.shutdown(task, 200);
    release.open('just in time');
    expect(await result).toEqual({ ok: 'just in time' });
    expect(clock.pending()).toBe(0);
  });

  it('validates how', async () => {
    const sys = new ActorSystem();
    const h = host(sys);
    const task = await h.run((ctx) => Task.async(ctx, () => 1));
    await expect(Task.shutdown(task, 'gently' as never)).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
  });
});

describe('Task.await outcomes are shared', () => {
  it('regression: concurrent awaits, one of which times out, both reject with its CallTimeoutError', async () => {
    const clock = new SimulatedClock();
    const sys = new ActorSystem({ clock });
    const h = host(sys);
    const never = gate();
    const outcomes = h.run(async (ctx) => {
      const task = Task.async(ctx, () => never.promise);
      return Promise.allSettled([Task.await(task, 1000), Task.await(task, 10)]);
    });
    await tick();
    clock.advance(10);
    const [long, short] = await outcomes;
    expect(short).toMatchObject({ status: 'rejected' });
    expect((short as PromiseRejectedResult).reason).toBeInstanceOf(CallTimeoutError);
    expect((long as PromiseRejectedResult).reason).toBe((short as PromiseRejectedResult).reason);
    await sys.shutdown();
  });
});
