import { describe, expect, it } from 'vitest';
import {
  ActorSystem,
  GenServer,
  Inbox,
  Registry,
  Supervisor,
  Task,
  TaskSupervisor,
  childSpec,
  isDown,
  ok,
  reply,
  via,
  type DownMessage,
  type GenServer as Behaviour,
  type Pid,
  type Protocol,
} from '@ratatoskr/actors';

/*
 * The registry and the task supervisor as children of a supervision tree,
 * used through the built package as an application would.
 */

type NamedProtocol = Protocol<'whoami', { whoami: string }>;

const Named: Behaviour<string, string, NamedProtocol> = {
  init: (name) => ok(name),
  handleCall: (_request, _from, state, ctx) => reply(`${state}@${ctx.self}`, state),
};

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !check(); i++) await turn();
  expect(check()).toBe(true);
}

describe('Registry and TaskSupervisor under a supervisor', () => {
  for (const strategy of ['one_for_one', 'rest_for_one'] as const) {
    it(`${strategy}: a restarted registry is fresh, and servers named through it register again`, async () => {
      const sys = new ActorSystem();
      const registry = new Registry({ keys: 'unique', name: 'names' });
      const name = via<NamedProtocol>(registry, 'svc');
      const sup = await Supervisor.start(
        sys,
        [registry.childSpec(), childSpec(Named, 'svc', { id: 'svc', name })],
        { strategy },
      );
      const first = await sys.call(name, 'whoami');
      const oldOwner = registry.pid!;
      const oldServer = registry.whereis('svc')!;

      // The owner is killed: the table is dropped at once, the linked server dies with it.
      sys.exit(oldOwner, 'kill');
      expect(registry.pid).toBeUndefined();
      expect(sys.isAlive(oldServer)).toBe(false);

      await until(() => registry.pid !== undefined && registry.count() === 1);
      expect(registry.pid).not.toBe(oldOwner);
      const second = await sys.call(name, 'whoami');
      expect(second).not.toBe(first);
      expect(second.startsWith('svc@')).toBe(true);
      expect(registry.keysOf(registry.whereis('svc')!)).toEqual(['svc']);
      await sys.stop(sup, 'shutdown');
      expect(sys.processes()).toEqual([]);
    });
  }

  it('a crashing named server never takes the registry down; its name is free for its restart', async () => {
    const sys = new ActorSystem();
    const registry = new Registry({ keys: 'unique' });
    const name = via<NamedProtocol>(registry, 'svc');
    await Supervisor.start(sys, [
      registry.childSpec(),
      childSpec(Named, 'svc', { id: 'svc', name }),
    ]);
    const owner = registry.pid;
    const server = registry.whereis('svc')!;
    sys.exit(server, new Error('server crash'));
    expect(registry.whereis('svc')).toBeUndefined();
    await until(() => registry.count() === 1);
    expect(registry.pid).toBe(owner);
    expect(registry.whereis('svc')).not.toBe(server);
  });

  it('stopping the tree stops the task supervisor, which stops its tasks first', async () => {
    const sys = new ActorSystem();
    const sup = await Supervisor.start(sys, [TaskSupervisor.childSpec({ name: 'tasks' })]);
    const inbox = new Inbox(sys);
    const tasks = [1, 2].map(() =>
      TaskSupervisor.asyncNolink(sys, 'tasks', () => new Promise<never>(() => {})),
    );
    const refs = tasks.map((t) => inbox.monitor(t.pid));
    await sys.stop(sup, 'shutdown');
    const downs = await Promise.all(
      refs.map((ref) => inbox.receive<DownMessage>((m) => isDown(m) && m.ref === ref)),
    );
    expect(downs.map((d) => d.reason)).toEqual(['shutdown', 'shutdown']);
    for (const task of tasks)
      await expect(Task.await(task)).rejects.toMatchObject({ code: 'task_exited' });
    const alive: Pid[] = sys.processes();
    expect(alive).toEqual([inbox.pid]);
  });

  it('GenServer.start with a via name of a registry under a tree', async () => {
    const sys = new ActorSystem();
    const registry = new Registry<string, unknown>({ keys: 'unique' });
    await Supervisor.start(sys, [registry.childSpec('reg')]);
    const pid = await GenServer.start(sys, Named, 'free', { name: via(registry, 'free') });
    expect(registry.lookup('free')).toEqual([[pid, undefined]]);
  });
});
