import { afterEach, describe, expect, it } from 'vitest';
import { SimulatedClock } from '../src/clock.js';
import { ok, stop, type GenServer as Behaviour } from '../src/gen-server.js';
import { DynamicSupervisor, MaxChildrenError } from '../src/dynamic-supervisor.js';
import { Inbox } from '../src/inbox.js';
import { isDown, type DownMessage } from '../src/messages.js';
import type { TelemetryEvent } from '../src/observability.js';
import type { Pid } from '../src/pid.js';
import { InvalidArgumentError, type ExitReason } from '../src/reasons.js';
import {
  ChildNotFoundError,
  ChildStartError,
  Supervisor,
  childSpec,
  supervisionTree,
  type ChildSpec,
  type RestartType,
} from '../src/supervisor.js';
import { ActorSystem } from '../src/system.js';

type Cmd = { type: 'exit'; reason: ExitReason } | { type: 'crash' };

function worker(
  log: string[],
  name: string,
  options: { trap?: boolean; failInit?: () => boolean } = {},
): Behaviour<number, void> {
  return {
    init(_args, ctx) {
      if (options.failInit?.()) throw new Error(`${name} cannot start`);
      if (options.trap) ctx.trapExit(true);
      log.push(`start ${name}`);
      return ok(0);
    },
    handleCast(message, state) {
      const cmd = message as Cmd;
      if (cmd.type === 'crash') throw new Error('crash on request');
      return stop(cmd.reason, state);
    },
    terminate() {
      log.push(`stop ${name}`);
    },
  };
}

function spec(
  log: string[],
  name: string,
  restart: RestartType = 'permanent',
  options: { trap?: boolean; failInit?: () => boolean } = {},
): ChildSpec {
  return childSpec(worker(log, name, options), undefined, { id: name, restart });
}

let system: ActorSystem;
let clock: SimulatedClock;
let events: TelemetryEvent[];

function boot(): void {
  clock = new SimulatedClock();
  events = [];
  system = new ActorSystem({ clock, telemetry: (e) => events.push(e) });
}

afterEach(async () => {
  await system.shutdown(1000);
});

async function pidsOf(sup: Pid): Promise<(Pid | null)[]> {
  return (await DynamicSupervisor.whichChildren(system, sup)).map((c) => c.pid);
}

async function exitChild(sup: Pid, pid: Pid, how: ExitReason | 'crash'): Promise<void> {
  if (how === 'kill') system.exit(pid, 'kill');
  else system.cast(pid, how === 'crash' ? { type: 'crash' } : { type: 'exit', reason: how });
  await system.whenExited(pid);
  await DynamicSupervisor.countChildren(system, sup).catch(() => undefined);
}

describe('DynamicSupervisor', () => {
  it('starts with no children and starts them on demand', async () => {
    boot();
    const log: string[] = [];
    const sup = await DynamicSupervisor.start(system);
    expect(await DynamicSupervisor.whichChildren(system, sup)).toEqual([]);
    const a = (await DynamicSupervisor.startChild(system, sup, spec(log, 'a'))) as Pid;
    const b = (await DynamicSupervisor.startChild(system, sup, spec(log, 'b', 'temporary'))) as Pid;
    expect(system.isAlive(a) && system.isAlive(b)).toBe(true);
    expect(await DynamicSupervisor.whichChildren(system, sup)).toEqual([
      { id: undefined, pid: a, type: 'worker', restart: 'permanent' },
      { id: undefined, pid: b, type: 'worker', restart: 'temporary' },
    ]);
    expect(await DynamicSupervisor.countChildren(system, sup)).toEqual({
      specs: 2,
      active: 2,
      supervisors: 0,
      workers: 2,
    });
  });

  it('enforces maxChildren without calling start', async () => {
    boot();
    const log: string[] = [];
    const sup = await DynamicSupervisor.start(system, { maxChildren: 2 });
    const a = (await DynamicSupervisor.startChild(system, sup, spec(log, 'a'))) as Pid;
    await DynamicSupervisor.startChild(system, sup, spec(log, 'b'));
    const full = await DynamicSupervisor.startChild(system, sup, spec(log, 'c')).catch((e) => e);
    expect(full).toBeInstanceOf(MaxChildrenError);
    expect(full.code).toBe('max_children');
    expect(log).toEqual(['start a', 'start b']);
    // A restarted child still counts once.
    await exitChild(sup, a, 'crash');
    await expect(DynamicSupervisor.startChild(system, sup, spec(log, 'c'))).rejects.toThrow(
      MaxChildrenError,
    );
    await DynamicSupervisor.terminateChild(system, sup, (await pidsOf(sup))[0]!);
    expect(await DynamicSupervisor.startChild(system, sup, spec(log, 'c'))).not.toBe('ignore');
  });

  it('maxChildren 0 refuses every child', async () => {
    boot();
    const sup = await DynamicSupervisor.start(system, { maxChildren: 0 });
    await expect(
      DynamicSupervisor.startChild(system, sup, { id: 'x', start: () => 'ignore' }),
    ).rejects.toThrow(/maximum of 0 children/);
  });

  it('terminateChild stops and forgets a child; an unknown pid is not_found', async () => {
    boot();
    const log: string[] = [];
    const sup = await DynamicSupervisor.start(system);
    const a = (await DynamicSupervisor.startChild(
      system,
      sup,
      spec(log, 'a', 'permanent', { trap: true }),
    )) as Pid;
    await DynamicSupervisor.terminateChild(system, sup, a);
    expect(system.isAlive(a)).toBe(false);
    expect(log).toEqual(['start a', 'stop a']);
    expect(await DynamicSupervisor.whichChildren(system, sup)).toEqual([]);
    const error = await DynamicSupervisor.terminateChild(system, sup, a).catch((e) => e);
    expect(error).toBeInstanceOf(ChildNotFoundError);
    expect(error.code).toBe('not_found');
    await expect(DynamicSupervisor.terminateChild(system, sup, 'a' as never)).rejects.toThrow(
      InvalidArgumentError,
    );
  });

  it('restarts permanent and crashed transient children one_for_one; forgets the rest', async () => {
    boot();
    const log: string[] = [];
    const sup = await DynamicSupervisor.start(system, { maxRestarts: 10 });
    const p = (await DynamicSupervisor.startChild(system, sup, spec(log, 'p'))) as Pid;
    const t = (await DynamicSupervisor.startChild(system, sup, spec(log, 't', 'transient'))) as Pid;
    const tmp = (await DynamicSupervisor.startChild(
      system,
      sup,
      spec(log, 'tmp', 'temporary'),
    )) as Pid;

    await exitChild(sup, p, 'normal'); // permanent: restarted
    await exitChild(sup, t, 'crash'); // transient, abnormal: restarted
    let children = await DynamicSupervisor.whichChildren(system, sup);
    expect(children.map((c) => c.restart).sort()).toEqual(['permanent', 'temporary', 'transient']);
    const t2 = children.find((c) => c.restart === 'transient')!.pid!;
    expect(t2).not.toBe(t);
    expect(children.find((c) => c.restart === 'permanent')!.pid).not.toBe(p);

    await exitChild(sup, t2, 'shutdown'); // transient, orderly: forgotten
    await exitChild(sup, tmp, 'crash'); // temporary: forgotten
    children = await DynamicSupervisor.whichChildren(system, sup);
    expect(children.map((c) => c.restart)).toEqual(['permanent']);
    expect(events.filter((e) => e.type === 'restart')).toHaveLength(2);
  });

  it('gives up past its intensity: stops the children and exits shutdown', async () => {
    boot();
    const log: string[] = [];
    const sup = await DynamicSupervisor.start(system, { maxRestarts: 2, maxSeconds: 5 });
    const inbox = new Inbox(system);
    inbox.monitor(sup);
    await DynamicSupervisor.startChild(
      system,
      sup,
      spec(log, 'other', 'permanent', { trap: true }),
    );
    await DynamicSupervisor.startChild(system, sup, spec(log, 'w'));
    for (let i = 0; i < 3; i++) {
      const children = await DynamicSupervisor.whichChildren(system, sup);
      await exitChild(sup, children.at(-1)!.pid!, 'crash');
      clock.advance(100);
    }
    const down = await inbox.receive<DownMessage>(isDown);
    expect(down.reason).toBe('shutdown');
    expect(log.filter((l) => l === 'start w')).toHaveLength(3);
    expect(log).toContain('stop other');
    expect(events.filter((e) => e.type === 'intensity_exceeded')).toHaveLength(1);
  });

  it('retries a failed restart by messages to self; terminateChild by its last pid ends it', async () => {
    boot();
    const log: string[] = [];
    let failing = false;
    const sup = await DynamicSupervisor.start(system, { maxRestarts: 50, maxSeconds: 1 });
    const a = (await DynamicSupervisor.startChild(
      system,
      sup,
      spec(log, 'a', 'permanent', { failInit: () => failing }),
    )) as Pid;
    failing = true;
    await exitChild(sup, a, 'crash');
    // The retry loop goes on by messages to self; terminateChild by the old pid stops it.
    await DynamicSupervisor.terminateChild(system, sup, a);
    expect(await DynamicSupervisor.whichChildren(system, sup)).toEqual([]);
    expect(system.isAlive(sup)).toBe(true);
  });

  it('startChild reports start failures and ignore; rejects bad specs', async () => {
    boot();
    const log: string[] = [];
    const sup = await DynamicSupervisor.start(system);
    const failed = await DynamicSupervisor.startChild(
      system,
      sup,
      spec(log, 'x', 'permanent', { failInit: () => true }),
    ).catch((e) => e);
    expect(failed).toBeInstanceOf(ChildStartError);
    expect(failed.childId).toBeUndefined();
    expect(
      await DynamicSupervisor.startChild(system, sup, { id: 'i', start: () => 'ignore' }),
    ).toBe('ignore');
    expect(await DynamicSupervisor.whichChildren(system, sup)).toEqual([]);
    await expect(
      DynamicSupervisor.startChild(system, sup, { id: 'i', start: 'nope' as never }),
    ).rejects.toThrow(/spec\.start must be a function/);
    await expect(DynamicSupervisor.start(system, { maxChildren: -1 })).rejects.toThrow(
      /options\.maxChildren must be an integer >= 0 or Infinity/,
    );
  });

  it('stops all children at once when it stops', async () => {
    boot();
    const stops: { name: string; begin: number; end: number }[] = [];
    const slow = (name: string): ChildSpec =>
      childSpec(
        {
          init(_a: void, ctx) {
            ctx.trapExit(true);
            return ok(0);
          },
          async terminate() {
            const begin = clock.now();
            await new Promise((r) => clock.setTimeout(r, 50, undefined));
            stops.push({ name, begin, end: clock.now() });
          },
        },
        undefined,
        { id: name },
      );
    const sup = await DynamicSupervisor.start(system);
    for (const name of ['a', 'b', 'c']) await DynamicSupervisor.startChild(system, sup, slow(name));
    let done = false;
    const stopping = Supervisor.stop(system, sup, 'shutdown').then(() => (done = true));
    for (let t = 0; t < 200 && !done; t++) {
      await new Promise((r) => setImmediate(r));
      clock.advance(1);
    }
    await stopping;
    // One at a time would begin at 0, 50 and 100.
    expect(stops.map((s) => [s.begin, s.end])).toEqual([
      [0, 50],
      [0, 50],
      [0, 50],
    ]);
    expect(stops.map((s) => s.name).sort()).toEqual(['a', 'b', 'c']);
    expect(system.processes()).toEqual([]);
  });

  it('nests under a Supervisor and shows in the supervision tree', async () => {
    boot();
    const log: string[] = [];
    const root = await Supervisor.start(system, [
      DynamicSupervisor.childSpec('pool', { maxChildren: 5 }),
    ]);
    const pool = (await Supervisor.whichChildren(system, root))[0]!.pid!;
    const w = await DynamicSupervisor.startChild(system, pool, spec(log, 'w'));
    const tree = await supervisionTree(system, root);
    expect(tree.children).toEqual([
      {
        id: 'pool',
        pid: pool,
        type: 'supervisor',
        restart: 'permanent',
        children: [{ id: undefined, pid: w, type: 'worker', restart: 'permanent', children: [] }],
      },
    ]);
    expect(await Supervisor.countChildren(system, root)).toMatchObject({ supervisors: 1 });
  });
});
