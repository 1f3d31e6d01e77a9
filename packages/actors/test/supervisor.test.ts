import { afterEach, describe, expect, it } from 'vitest';
import { SimulatedClock } from '../src/clock.js';
import { GenServer, ok, stop, type GenServer as Behaviour } from '../src/gen-server.js';
import { Inbox } from '../src/inbox.js';
import { isDown, type DownMessage } from '../src/messages.js';
import type { Logger, LogRecord, TelemetryEvent } from '../src/observability.js';
import type { Pid } from '../src/pid.js';
import { InvalidArgumentError, NoProcError, type ExitReason } from '../src/reasons.js';
import {
  ChildAlreadyPresentError,
  ChildAlreadyStartedError,
  ChildNotFoundError,
  ChildRunningError,
  ChildStartError,
  Supervisor,
  childSpec,
  supervisionTree,
  type ChildSpec,
  type RestartType,
} from '../src/supervisor.js';
import { ActorSystem } from '../src/system.js';

type Cmd = { type: 'exit'; reason: ExitReason } | { type: 'crash' };

/** A worker that logs `start X` / `stop X` and exits on command. */
function worker(name: string, log: string[], options: { failInit?: () => boolean } = {}) {
  const behaviour: Behaviour<number, void> = {
    init() {
      if (options.failInit?.()) throw new Error(`${name} cannot start`);
      log.push(`start ${name}`);
      return ok(0);
    },
    handleCast(message, state) {
      const cmd = message as Cmd;
      if (cmd.type === 'crash') throw new Error(`${name} crashed`);
      return stop(cmd.reason, state);
    },
  };
  return behaviour;
}

function spec(
  name: string,
  log: string[],
  restart: RestartType = 'permanent',
  options: { failInit?: () => boolean } = {},
): ChildSpec {
  return childSpec(worker(name, log, options), undefined, { id: name, restart });
}

function captureLogger(): Logger & { records: LogRecord[] } {
  const records: LogRecord[] = [];
  const push = (record: LogRecord) => void records.push(record);
  return { records, error: push, warn: push, info: push, debug: push };
}

let system: ActorSystem;
let clock: SimulatedClock;
let logger: ReturnType<typeof captureLogger>;
let events: TelemetryEvent[];

function boot(): void {
  clock = new SimulatedClock();
  logger = captureLogger();
  events = [];
  system = new ActorSystem({ clock, logger, telemetry: (e) => events.push(e) });
}

afterEach(async () => {
  await system.shutdown(1000);
});

async function pidOf(sup: Pid, id: string): Promise<Pid | null> {
  const children = await Supervisor.whichChildren(system, sup);
  const child = children.find((c) => c.id === id);
  if (child === undefined) throw new Error(`no child ${id}`);
  return child.pid;
}

/** Makes a child exit with `reason` (or crash) and waits until the supervisor has handled it. */
async function exitChild(sup: Pid, id: string, how: ExitReason | 'crash'): Promise<Pid> {
  const pid = (await pidOf(sup, id))!;
  if (how === 'kill') system.exit(pid, 'kill');
  else system.cast(pid, how === 'crash' ? { type: 'crash' } : { type: 'exit', reason: how });
  await system.whenExited(pid);
  await Supervisor.countChildren(system, sup); // queued behind the EXIT: the restart is done
  return pid;
}

describe('Supervisor start', () => {
  it('starts children in order and reports them in start order', async () => {
    boot();
    const log: string[] = [];
    const sup = await Supervisor.start(system, [spec('a', log), spec('b', log), spec('c', log)]);
    expect(log).toEqual(['start a', 'start b', 'start c']);
    const children = await Supervisor.whichChildren(system, sup);
    expect(children.map((c) => [c.id, c.type, c.restart])).toEqual([
      ['a', 'worker', 'permanent'],
      ['b', 'worker', 'permanent'],
      ['c', 'worker', 'permanent'],
    ]);
    for (const c of children) expect(system.isAlive(c.pid!)).toBe(true);
    expect(await Supervisor.countChildren(system, sup)).toEqual({
      specs: 3,
      active: 3,
      supervisors: 0,
      workers: 3,
    });
  });

  it('a start failure stops the started children in reverse order and rejects with the cause', async () => {
    boot();
    const log: string[] = [];
    const stops: string[] = [];
    const trapping = (name: string): ChildSpec => ({
      id: name,
      start: (ctx) =>
        GenServer.startLink(
          ctx,
          {
            init(_a: void, c) {
              c.trapExit(true);
              log.push(`start ${name}`);
              return ok(0);
            },
            terminate() {
              stops.push(name);
            },
          },
          undefined,
        ),
    });
    const failing = spec('c', log, 'permanent', { failInit: () => true });
    const error = await Supervisor.start(system, [trapping('a'), trapping('b'), failing]).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ChildStartError);
    const startError = error as ChildStartError;
    expect(startError.code).toBe('start_failed');
    expect(startError.childId).toBe('c');
    expect(startError.message).toContain('c cannot start');
    expect((startError.cause as Error & { code: string }).code).toBe('start_failed');
    expect(stops).toEqual(['b', 'a']);
    expect(system.processes()).toEqual([]);
    expect(logger.records).toContainEqual(
      expect.objectContaining({ label: 'supervisor_report', event: 'start_error', childId: 'c' }),
    );
  });

  it("'ignore' keeps the spec with pid null; a temporary ignored child is dropped", async () => {
    boot();
    const log: string[] = [];
    const ignoring = (id: string, restart: RestartType): ChildSpec => ({
      id,
      restart,
      start: () => 'ignore',
    });
    const viaInit: ChildSpec = childSpec({ init: () => ({ kind: 'ignore' }) }, undefined, {
      id: 'init-ignore',
    });
    const sup = await Supervisor.start(system, [
      spec('a', log),
      ignoring('b', 'permanent'),
      ignoring('t', 'temporary'),
      viaInit,
    ]);
    const children = await Supervisor.whichChildren(system, sup);
    expect(children.map((c) => [c.id, c.pid === null])).toEqual([
      ['a', false],
      ['b', true],
      ['init-ignore', true],
    ]);
  });

  it('rejects bad specs and options before starting anything', async () => {
    boot();
    const log: string[] = [];
    await expect(Supervisor.start(system, [spec('a', log), spec('a', log)])).rejects.toThrow(
      /children\[1\]\.id "a" is used twice/,
    );
    await expect(
      Supervisor.start(system, [{ id: 'x', start: () => 'ignore', restart: 'sometimes' as never }]),
    ).rejects.toThrow(
      /children\[0\]\.restart must be one of 'permanent', 'transient', 'temporary'/,
    );
    await expect(
      Supervisor.start(system, [{ id: 'x', start: () => 'ignore', shutdown: -1 }]),
    ).rejects.toThrow(InvalidArgumentError);
    await expect(Supervisor.start(system, [], { maxRestarts: 1.5 })).rejects.toThrow(
      /options\.maxRestarts must be an integer >= 0, got 1\.5/,
    );
    await expect(Supervisor.start(system, [], { maxSeconds: 0 })).rejects.toThrow(
      /options\.maxSeconds must be a finite number > 0/,
    );
    await expect(
      Supervisor.start(system, [], { strategy: 'all_for_one' as never }),
    ).rejects.toThrow(/options\.strategy must be one of/);
    await expect(
      Supervisor.start(system, [], { backoff: { initialMs: 100, maxMs: 10 } }),
    ).rejects.toThrow(/options\.backoff must be/);
    expect(() => Supervisor.childSpec('s', [], { maxRestarts: -1 })).toThrow(InvalidArgumentError);
    expect(log).toEqual([]);
    expect(system.processes()).toEqual([]);
  });

  it('a start that returns something other than a pid or ignore is a start failure', async () => {
    boot();
    const error = await Supervisor.start(system, [
      { id: 'odd', start: () => 42 as unknown as Pid },
    ]).catch((e) => e);
    expect(error).toBeInstanceOf(ChildStartError);
    expect(error.cause).toBeInstanceOf(InvalidArgumentError);
    expect(error.message).toContain("start returned 42; expected a pid or 'ignore'");
  });

  it('startLink: when its parent exits, the supervisor stops its children in reverse order', async () => {
    boot();
    const stops: string[] = [];
    const trapping = (id: string): ChildSpec =>
      childSpec(
        {
          init(_a: void, ctx) {
            ctx.trapExit(true);
            return ok(0);
          },
          terminate() {
            stops.push(id);
          },
        },
        undefined,
        { id },
      );
    const ready = new Promise<Pid>((resolve) => {
      const parent = system.spawn(async (_m, ctx) => {
        resolve(await Supervisor.startLink(ctx, [trapping('a'), trapping('b')]));
      });
      system.send(parent, 'go');
    });
    const sup = await ready;
    const parent = system.processInfo(sup)!.parent!;
    const gone = system.whenExited(sup);
    system.exit(parent, 'shutdown');
    expect(await gone).toBe('shutdown');
    expect(stops).toEqual(['b', 'a']);
    await expect(Supervisor.startLink(system as never, [])).rejects.toThrow(
      /needs a process context/,
    );
  });

  it('registers under a name usable for every operation', async () => {
    boot();
    const log: string[] = [];
    const sup = await Supervisor.start(system, [spec('a', log)], { name: 'root' });
    expect(system.whereis('root')).toBe(sup);
    expect(await Supervisor.countChildren(system, 'root')).toMatchObject({ specs: 1, active: 1 });
  });
});

describe('restart types', () => {
  const cases: [RestartType, ExitReason | 'crash', 'restarted' | 'kept' | 'removed'][] = [
    ['permanent', 'normal', 'restarted'],
    ['permanent', 'shutdown', 'restarted'],
    ['permanent', 'crash', 'restarted'],
    ['permanent', 'kill', 'restarted'],
    ['transient', 'normal', 'kept'],
    ['transient', 'shutdown', 'kept'],
    ['transient', { shutdown: 'done' }, 'kept'],
    ['transient', 'crash', 'restarted'],
    ['transient', 'kill', 'restarted'],
    ['temporary', 'normal', 'removed'],
    ['temporary', 'crash', 'removed'],
    ['temporary', 'kill', 'removed'],
  ];
  for (const [restart, how, outcome] of cases) {
    it(`${restart} child exiting with ${JSON.stringify(how)} is ${outcome}`, async () => {
      boot();
      const log: string[] = [];
      const sup = await Supervisor.start(system, [spec('a', log), spec('b', log, restart)]);
      const a = await pidOf(sup, 'a');
      const old = await exitChild(sup, 'b', how);
      const children = await Supervisor.whichChildren(system, sup);
      expect(children[0]!.pid).toBe(a);
      if (outcome === 'removed') {
        expect(children.map((c) => c.id)).toEqual(['a']);
      } else {
        expect(children.map((c) => c.id)).toEqual(['a', 'b']);
        const b = children[1]!.pid;
        if (outcome === 'kept') expect(b).toBeNull();
        else {
          expect(b).not.toBeNull();
          expect(b).not.toBe(old);
          expect(system.isAlive(b!)).toBe(true);
        }
      }
      expect(log.filter((l) => l === 'start b').length).toBe(outcome === 'restarted' ? 2 : 1);
    });
  }

  it('logs child_terminated and child_restarted and emits restart telemetry', async () => {
    boot();
    const log: string[] = [];
    const sup = await Supervisor.start(system, [spec('a', log)]);
    const old = await exitChild(sup, 'a', 'crash');
    const pid = await pidOf(sup, 'a');
    const reports = logger.records.filter((r) => r.label === 'supervisor_report');
    expect(reports.map((r) => 'event' in r && r.event)).toEqual([
      'child_terminated',
      'child_restarted',
    ]);
    expect(reports[0]).toMatchObject({
      childId: 'a',
      pid: old.toString(),
      supervisor: String(sup),
    });
    expect(reports[1]).toMatchObject({ childId: 'a', pid: pid!.toString() });
    const restarts = events.filter((e) => e.type === 'restart');
    expect(restarts).toHaveLength(1);
    expect(restarts[0]).toMatchObject({ supervisor: sup, childId: 'a', pid });
    expect((restarts[0] as { reason: Error }).reason.message).toBe('a crashed');
  });
});

describe('child operations', () => {
  it('startChild appends a child, refuses a taken id, and reports a failed start', async () => {
    boot();
    const log: string[] = [];
    const sup = await Supervisor.start(system, [spec('a', log)]);
    const b = await Supervisor.startChild(system, sup, spec('b', log));
    expect(system.isAlive(b as Pid)).toBe(true);
    await expect(Supervisor.startChild(system, sup, spec('b', log))).rejects.toBeInstanceOf(
      ChildAlreadyStartedError,
    );
    await Supervisor.terminateChild(system, sup, 'b');
    const present = await Supervisor.startChild(system, sup, spec('b', log)).catch((e) => e);
    expect(present).toBeInstanceOf(ChildAlreadyPresentError);
    expect(present.code).toBe('already_present');
    const failed = await Supervisor.startChild(
      system,
      sup,
      spec('c', log, 'permanent', { failInit: () => true }),
    ).catch((e) => e);
    expect(failed).toBeInstanceOf(ChildStartError);
    expect(failed.code).toBe('start_failed');
    expect(failed.cause.cause.message).toBe('c cannot start');
    expect((await Supervisor.whichChildren(system, sup)).map((c) => c.id)).toEqual(['a', 'b']);
    await expect(
      Supervisor.startChild(system, sup, { id: '', start: () => 'ignore' }),
    ).rejects.toThrow(/spec\.id must be a non-empty string/);
  });

  it('terminateChild stops a child without restart; restartChild starts it again', async () => {
    boot();
    const log: string[] = [];
    const sup = await Supervisor.start(system, [spec('a', log), spec('b', log)]);
    const a = await pidOf(sup, 'a');
    await Supervisor.terminateChild(system, sup, 'a');
    expect(system.isAlive(a!)).toBe(false);
    expect(await pidOf(sup, 'a')).toBeNull();
    expect(await Supervisor.countChildren(system, sup)).toEqual({
      specs: 2,
      active: 1,
      supervisors: 0,
      workers: 2,
    });
    const again = await Supervisor.restartChild(system, sup, 'a');
    expect(again).not.toBe(a);
    expect(await pidOf(sup, 'a')).toBe(again);
    const running = await Supervisor.restartChild(system, sup, 'a').catch((e) => e);
    expect(running).toBeInstanceOf(ChildRunningError);
    expect(running.code).toBe('running');
    // Manual restarts do not count toward the intensity.
    expect(events.filter((e) => e.type === 'restart')).toEqual([]);
  });

  it('deleteChild removes a stopped child only', async () => {
    boot();
    const log: string[] = [];
    const sup = await Supervisor.start(system, [spec('a', log), spec('b', log)]);
    const refused = await Supervisor.deleteChild(system, sup, 'a').catch((e) => e);
    expect(refused.code).toBe('running');
    await Supervisor.terminateChild(system, sup, 'a');
    await Supervisor.deleteChild(system, sup, 'a');
    expect((await Supervisor.whichChildren(system, sup)).map((c) => c.id)).toEqual(['b']);
    for (const op of [
      () => Supervisor.deleteChild(system, sup, 'a'),
      () => Supervisor.terminateChild(system, sup, 'zz'),
      () => Supervisor.restartChild(system, sup, 'zz'),
    ]) {
      const error = await op().catch((e) => e);
      expect(error).toBeInstanceOf(ChildNotFoundError);
      expect(error.code).toBe('not_found');
    }
  });

  it('terminateChild removes a temporary child spec', async () => {
    boot();
    const log: string[] = [];
    const sup = await Supervisor.start(system, [spec('t', log, 'temporary')]);
    await Supervisor.terminateChild(system, sup, 't');
    expect(await Supervisor.whichChildren(system, sup)).toEqual([]);
  });

  it('operations on a dead supervisor reject with noproc', async () => {
    boot();
    const sup = await Supervisor.start(system, []);
    await Supervisor.stop(system, sup);
    await expect(Supervisor.whichChildren(system, sup)).rejects.toBeInstanceOf(NoProcError);
    await expect(Supervisor.stop(system, sup)).rejects.toBeInstanceOf(NoProcError);
  });

  it('works from a process context as well as from the system', async () => {
    boot();
    const log: string[] = [];
    const sup = await Supervisor.start(system, [spec('a', log)]);
    const seen: unknown[] = [];
    const done = new Promise<void>((resolve) => {
      system.spawn(async (_m, ctx) => {
        seen.push(await Supervisor.countChildren(ctx, sup));
        seen.push(await Supervisor.startChild(ctx, sup, spec('b', log)));
        resolve();
      });
    });
    system.send(system.processes().at(-1)!, 'go');
    await done;
    expect(seen[0]).toMatchObject({ active: 1 });
    expect(await pidOf(sup, 'b')).toBe(seen[1]);
  });
});

describe('nesting and the tree as data', () => {
  it('supervisionTree shows nested supervisors with their children', async () => {
    boot();
    const log: string[] = [];
    const sup = await Supervisor.start(system, [
      spec('a', log),
      Supervisor.childSpec('inner', [spec('x', log), spec('y', log, 'transient')], {
        strategy: 'one_for_all',
      }),
    ]);
    const tree = await supervisionTree(system, sup);
    const inner = await pidOf(sup, 'inner');
    const shape = (n: typeof tree): unknown => ({
      id: n.id,
      type: n.type,
      restart: n.restart,
      alive: n.pid !== null && system.isAlive(n.pid),
      children: n.children.map(shape),
    });
    expect(tree.pid).toBe(sup);
    expect(tree.children[1]!.pid).toBe(inner);
    expect(shape(tree)).toEqual({
      id: undefined,
      type: 'supervisor',
      restart: undefined,
      alive: true,
      children: [
        { id: 'a', type: 'worker', restart: 'permanent', alive: true, children: [] },
        {
          id: 'inner',
          type: 'supervisor',
          restart: 'permanent',
          alive: true,
          children: [
            { id: 'x', type: 'worker', restart: 'permanent', alive: true, children: [] },
            { id: 'y', type: 'worker', restart: 'transient', alive: true, children: [] },
          ],
        },
      ],
    });
    expect(await Supervisor.countChildren(system, sup)).toEqual({
      specs: 2,
      active: 2,
      supervisors: 1,
      workers: 1,
    });
    await expect(supervisionTree(system, 'nobody')).rejects.toBeInstanceOf(NoProcError);
  });

  it('a nested supervisor that gives up is restarted by its parent', async () => {
    boot();
    const log: string[] = [];
    const sup = await Supervisor.start(system, [
      Supervisor.childSpec('inner', [spec('x', log)], { maxRestarts: 0 }),
    ]);
    const inner = (await pidOf(sup, 'inner'))!;
    const inbox = new Inbox(system);
    inbox.monitor(inner);
    const x = (await Supervisor.whichChildren(system, inner))[0]!.pid!;
    system.cast(x, { type: 'crash' });
    const down = await inbox.receive<DownMessage>(isDown);
    expect(down.reason).toBe('shutdown');
    await Supervisor.countChildren(system, sup);
    const newInner = await pidOf(sup, 'inner');
    expect(newInner).not.toBe(inner);
    expect(system.isAlive(newInner!)).toBe(true);
    expect(log).toEqual(['start x', 'start x']);
  });

  it('a nested start failure rejects the outer start with a chained cause', async () => {
    boot();
    const log: string[] = [];
    const error = await Supervisor.start(system, [
      spec('a', log),
      Supervisor.childSpec('inner', [spec('x', log, 'permanent', { failInit: () => true })]),
    ]).catch((e) => e);
    expect(error).toBeInstanceOf(ChildStartError);
    expect(error.childId).toBe('inner');
    expect(error.cause).toBeInstanceOf(ChildStartError);
    expect(error.cause.childId).toBe('x');
    expect(system.processes()).toEqual([]);
  });
});
