import { describe, expect, it } from 'vitest';
import { SimulatedClock } from '../src/clock.js';
import { Inbox } from '../src/inbox.js';
import { isDown, type DownMessage } from '../src/messages.js';
import { InvalidArgumentError, NameTakenError, NoProcError } from '../src/reasons.js';
import { ActorSystem } from '../src/system.js';
import { gate, host, tick } from './task-helpers.js';
import {
  Task,
  TaskExitError,
  TaskSupervisor,
  TaskSupervisorFullError,
  type Task as TaskHandle,
} from '../src/task.js';

describe('TaskSupervisor', () => {
  it('asyncNolink isolates the caller: a crash is reported as DOWN and by await, not propagated', async () => {
    const sys = new ActorSystem();
    const sup = await TaskSupervisor.start(sys, { name: 'tasks' });
    const h = host(sys);
    const boom = new Error('isolated');
    const task = await h.run((ctx) =>
      TaskSupervisor.asyncNolink(ctx, 'tasks', async () => {
        await tick();
        throw boom;
      }),
    );
    expect(task.owner).toBe(h.pid);
    expect(sys.processInfo(task.pid)?.links).toEqual([sup]);
    expect(sys.processInfo(task.pid)?.parent).toBe(sup);
    await tick();
    await tick();
    expect(sys.isAlive(task.pid)).toBe(false);
    expect(sys.isAlive(h.pid)).toBe(true);
    expect(sys.isAlive(sup)).toBe(true);
    // The task's end never reaches the supervisor as a message.
    expect(sys.processInfo(sup)?.messagesHandled).toBe(0);
    expect(sys.processInfo(sup)?.links).toEqual([]);
    expect(h.received).toHaveLength(1);
    const down = h.received[0] as DownMessage;
    expect(isDown(down) && down.ref === task.ref && down.reason === boom).toBe(true);
    const error = await Task.await(task).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TaskExitError);
    expect((error as TaskExitError).reason).toBe(boom);
  });

  it('asyncNolink from outside any process: no owner, await still works', async () => {
    const sys = new ActorSystem();
    const sup = await TaskSupervisor.start(sys);
    const task = TaskSupervisor.asyncNolink(sys, sup, async () => 'from outside');
    expect(task.owner).toBeNull();
    expect(await Task.await(task)).toBe('from outside');
    expect(sys.processes()).toEqual([sup]);
  });

  it('async links the task to the caller too: a crash takes the caller down', async () => {
    const sys = new ActorSystem();
    const sup = await TaskSupervisor.start(sys);
    const h = host(sys);
    const inbox = new Inbox(sys);
    inbox.monitor(h.pid);
    const boom = new Error('linked');
    void h.run((ctx) =>
      TaskSupervisor.async(ctx, sup, () => {
        throw boom;
      }),
    );
    const down = await inbox.receive<DownMessage>(isDown);
    expect(down.reason).toBe(boom);
    expect(sys.isAlive(sup)).toBe(true);
  });

  it('async returns a result like Task.async', async () => {
    const sys = new ActorSystem();
    const sup = await TaskSupervisor.start(sys);
    const h = host(sys);
    const result = await h.run(async (ctx) => {
      const task = TaskSupervisor.async(ctx, sup, () => 5);
      expect(sys.processInfo(task.pid)?.links.sort()).toEqual([sup, h.pid].sort());
      return Task.await(task);
    });
    expect(result).toBe(5);
  });

  it('startChild runs fire-and-forget tasks; children lists the running ones', async () => {
    const sys = new ActorSystem();
    const sup = await TaskSupervisor.start(sys);
    const release = gate();
    let ran = 0;
    const a = TaskSupervisor.startChild(sys, sup, async () => {
      await release.promise;
      ran++;
    });
    const b = TaskSupervisor.startChild(sys, sup, () => {
      ran++;
    });
    expect(TaskSupervisor.children(sys, sup)).toEqual([a, b]);
    await tick();
    expect(TaskSupervisor.children(sys, sup)).toEqual([a]);
    release.open();
    await tick();
    expect(TaskSupervisor.children(sys, sup)).toEqual([]);
    expect(ran).toBe(2);
  });

  it('refuses a task past maxChildren, starting nothing', async () => {
    const sys = new ActorSystem();
    const sup = await TaskSupervisor.start(sys, { maxChildren: 2 });
    const never = gate();
    TaskSupervisor.startChild(sys, sup, () => never.promise);
    TaskSupervisor.asyncNolink(sys, sup, () => never.promise);
    const before = sys.processes();
    let error: unknown;
    try {
      TaskSupervisor.asyncNolink(sys, sup, () => 1);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(TaskSupervisorFullError);
    expect(error).toMatchObject({ code: 'max_children', maxChildren: 2, supervisor: sup });
    expect(sys.processes()).toEqual(before);
  });

  it('stopping the supervisor shuts down its tasks first', async () => {
    const sys = new ActorSystem();
    const sup = await TaskSupervisor.start(sys);
    const never = gate();
    const tasks: TaskHandle<void>[] = [1, 2, 3].map(() =>
      TaskSupervisor.asyncNolink(sys, sup, () => never.promise),
    );
    await sys.stop(sup, 'shutdown');
    for (const task of tasks) {
      expect(sys.isAlive(task.pid)).toBe(false);
      await expect(Task.await(task)).rejects.toMatchObject({ reason: 'shutdown' });
    }
    expect(sys.processes()).toEqual([]);
  });

  it('a task that traps exits is killed after the shutdown option; brutal_kill does not wait', async () => {
    const clock = new SimulatedClock();
    const sys = new ActorSystem({ clock });
    const sup = await TaskSupervisor.start(sys, { shutdown: 300 });
    const never = gate();
    const stubborn = TaskSupervisor.asyncNolink(sys, sup, (ctx) => {
      ctx.trapExit(true);
      return never.promise;
    });
    await tick();
    let stopped = false;
    void sys.stop(sup).then(() => (stopped = true));
    await tick();
    clock.advance(299);
    await tick();
    expect(sys.isAlive(stubborn.pid)).toBe(true);
    expect(stopped).toBe(false);
    // While it stops, it takes no new task.
    expect(() => TaskSupervisor.asyncNolink(sys, sup, () => 1)).toThrow(NoProcError);
    clock.advance(1);
    await tick();
    expect(stopped).toBe(true);
    expect(sys.isAlive(stubborn.pid)).toBe(false);
    expect(clock.pending()).toBe(0);

    const brutal = await TaskSupervisor.start(sys, { shutdown: 'brutal_kill' });
    const t = TaskSupervisor.asyncNolink(sys, brutal, (ctx) => {
      ctx.trapExit(true);
      return never.promise;
    });
    await tick();
    await sys.stop(brutal);
    await expect(Task.await(t)).rejects.toMatchObject({ reason: 'killed' });
  });

  it('an exit signal from its parent stops it (as a supervisor child); others are ignored', async () => {
    const sys = new ActorSystem();
    const parent = host(sys, { trapExit: true });
    const spec = TaskSupervisor.childSpec({ name: 'ts', maxChildren: 10 });
    expect(spec).toMatchObject({
      id: 'ts',
      restart: 'permanent',
      shutdown: 'infinity',
      type: 'supervisor',
    });
    expect(TaskSupervisor.childSpec().id).toBe('task_supervisor');
    const sup = await parent.run((ctx) => spec.start(ctx));
    expect(sys.whereis('ts')).toBe(sup);
    expect(sys.processInfo(sup)?.parent).toBe(parent.pid);
    const never = gate();
    const task = TaskSupervisor.asyncNolink(sys, sup, () => never.promise);
    // A stranger's exit signal is ignored by the trapping supervisor.
    sys.exit(sup, 'shutdown');
    await tick();
    expect(sys.isAlive(sup)).toBe(true);
    await parent.run((ctx) => ctx.exit(sup, 'shutdown'));
    await tick();
    expect(sys.isAlive(sup)).toBe(false);
    expect(sys.isAlive(task.pid)).toBe(false);
  });

  it('terminateChild stops one task and says whether it was one', async () => {
    const sys = new ActorSystem();
    const sup = await TaskSupervisor.start(sys);
    const never = gate();
    const a = TaskSupervisor.startChild(sys, sup, () => never.promise);
    const b = TaskSupervisor.startChild(sys, sup, () => never.promise);
    expect(await TaskSupervisor.terminateChild(sys, sup, a)).toBe(true);
    expect(sys.isAlive(a)).toBe(false);
    expect(await TaskSupervisor.terminateChild(sys, sup, a)).toBe(false);
    expect(TaskSupervisor.children(sys, sup)).toEqual([b]);
  });

  it('validates its arguments and targets', async () => {
    const sys = new ActorSystem();
    await expect(TaskSupervisor.start(sys, { maxChildren: 0 })).rejects.toThrow(
      'options.maxChildren must be an integer >= 1, or Infinity, got 0',
    );
    await expect(TaskSupervisor.start(sys, { shutdown: -5 })).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
    const sup = await TaskSupervisor.start(sys, { name: 'one' });
    await expect(TaskSupervisor.start(sys, { name: 'one' })).rejects.toBeInstanceOf(NameTakenError);
    const plain = sys.spawn(() => {});
    expect(() => TaskSupervisor.startChild(sys, plain, () => 1)).toThrow(
      'is another kind of process',
    );
    expect(() => TaskSupervisor.startChild(sys, 'nobody', () => 1)).toThrow(NoProcError);
    expect(() => TaskSupervisor.asyncNolink(sys, sup, 42 as never)).toThrow(InvalidArgumentError);
    await sys.stop(sup);
    expect(() => TaskSupervisor.asyncNolink(sys, sup, () => 1)).toThrow(NoProcError);
  });
});
