import { afterEach, describe, expect, it } from 'vitest';
import { SimulatedClock } from '../src/clock.js';
import { ok, stop, type GenServer as Behaviour } from '../src/gen-server.js';
import type { Pid } from '../src/pid.js';
import type { ExitReason } from '../src/reasons.js';
import {
  Supervisor,
  childSpec,
  type ChildSpec,
  type RestartType,
  type Strategy,
} from '../src/supervisor.js';
import { ActorSystem } from '../src/system.js';

type Cmd = { type: 'exit'; reason: ExitReason } | { type: 'crash' };

/**
 * A worker that traps exits, so that the supervisor's `shutdown` runs its
 * `terminate`: every start and stop lands in `log`, in the order it happened.
 */
function tracked(name: string, log: string[]): Behaviour<number, void> {
  return {
    init(_args, ctx) {
      ctx.trapExit(true);
      log.push(`start ${name}`);
      return ok(0);
    },
    handleCast(message, state) {
      const cmd = message as Cmd;
      if (cmd.type === 'crash') throw new Error(`${name} crashed`);
      return stop(cmd.reason, state);
    },
    terminate(reason) {
      log.push(reason === 'shutdown' ? `stop ${name}` : `exit ${name}`);
    },
  };
}

function spec(name: string, log: string[], restart: RestartType = 'permanent'): ChildSpec {
  return childSpec(tracked(name, log), undefined, { id: name, restart });
}

let system: ActorSystem;

function boot(): void {
  system = new ActorSystem({ clock: new SimulatedClock() });
}

afterEach(async () => {
  await system.shutdown(1000);
});

async function pids(sup: Pid): Promise<Record<string, Pid | null>> {
  const children = await Supervisor.whichChildren(system, sup);
  return Object.fromEntries(children.map((c) => [c.id, c.pid]));
}

/** Kills (untrappable: no terminate runs) or crashes a child and waits for the supervisor to react. */
async function hit(sup: Pid, id: string, how: 'kill' | 'crash' | ExitReason): Promise<void> {
  const pid = (await pids(sup))[id]!;
  if (how === 'kill') system.exit(pid, 'kill');
  else system.cast(pid, how === 'crash' ? { type: 'crash' } : { type: 'exit', reason: how });
  await system.whenExited(pid);
  await Supervisor.countChildren(system, sup);
}

async function startWith(strategy: Strategy, specs: ChildSpec[]): Promise<Pid> {
  return Supervisor.start(system, specs, { strategy, maxRestarts: 100 });
}

describe('rest_for_one', () => {
  it('static A, B and dynamic C: killing B stops C, then starts B, C; A keeps its pid', async () => {
    boot();
    const log: string[] = [];
    const sup = await startWith('rest_for_one', [spec('A', log), spec('B', log)]);
    await Supervisor.startChild(system, sup, spec('C', log));
    const before = await pids(sup);
    log.length = 0;

    await hit(sup, 'B', 'kill');

    expect(log).toEqual(['stop C', 'start B', 'start C']);
    const after = await pids(sup);
    expect(after.A).toBe(before.A);
    expect(after.B).not.toBe(before.B);
    expect(after.C).not.toBe(before.C);
    expect(system.isAlive(before.C!)).toBe(false);
  });

  it('a crashing B runs its own terminate first, then C is stopped: B, C stop; B, C start', async () => {
    boot();
    const log: string[] = [];
    const sup = await startWith('rest_for_one', [spec('A', log), spec('B', log)]);
    await Supervisor.startChild(system, sup, spec('C', log));
    log.length = 0;

    await hit(sup, 'B', 'crash');

    expect(log).toEqual(['exit B', 'stop C', 'start B', 'start C']);
  });

  it('the last child restarts alone; the first restarts everyone', async () => {
    boot();
    const log: string[] = [];
    const sup = await startWith('rest_for_one', [spec('A', log), spec('B', log), spec('C', log)]);
    log.length = 0;
    await hit(sup, 'C', 'kill');
    expect(log).toEqual(['start C']);
    log.length = 0;
    await hit(sup, 'A', 'kill');
    expect(log).toEqual(['stop C', 'stop B', 'start A', 'start B', 'start C']);
  });
});

describe('one_for_all', () => {
  it('killing C stops B, A (reverse order) then starts A, B, C', async () => {
    boot();
    const log: string[] = [];
    const sup = await startWith('one_for_all', [spec('A', log), spec('B', log), spec('C', log)]);
    const before = await pids(sup);
    log.length = 0;

    await hit(sup, 'C', 'kill');

    expect(log).toEqual(['stop B', 'stop A', 'start A', 'start B', 'start C']);
    const after = await pids(sup);
    for (const id of ['A', 'B', 'C']) {
      expect(after[id]).not.toBe(before[id]);
      expect(system.isAlive(after[id]!)).toBe(true);
      expect(system.isAlive(before[id]!)).toBe(false);
    }
  });

  it('a crashing middle child: its terminate, then C, A stop; all start in order', async () => {
    boot();
    const log: string[] = [];
    const sup = await startWith('one_for_all', [spec('A', log), spec('B', log), spec('C', log)]);
    log.length = 0;
    await hit(sup, 'B', 'crash');
    expect(log).toEqual(['exit B', 'stop C', 'stop A', 'start A', 'start B', 'start C']);
  });

  it('temporary siblings are stopped and removed; stopped transient ones start again', async () => {
    boot();
    const log: string[] = [];
    const sup = await startWith('one_for_all', [
      spec('A', log),
      spec('T', log, 'temporary'),
      spec('R', log, 'transient'),
      spec('C', log),
    ]);
    await hit(sup, 'R', 'normal'); // transient, orderly: not restarted, spec kept
    expect((await pids(sup)).R).toBeNull();
    log.length = 0;

    await hit(sup, 'C', 'kill');

    expect(log).toEqual(['stop T', 'stop A', 'start A', 'start R', 'start C']);
    expect(Object.keys(await pids(sup))).toEqual(['A', 'R', 'C']);
  });

  it('a temporary child that crashes is only removed: its siblings are untouched', async () => {
    boot();
    const log: string[] = [];
    const sup = await startWith('one_for_all', [spec('A', log), spec('T', log, 'temporary')]);
    const before = await pids(sup);
    log.length = 0;
    await hit(sup, 'T', 'kill');
    expect(log).toEqual([]);
    expect(await pids(sup)).toEqual({ A: before.A });
  });
});

describe('one_for_one', () => {
  it('restarts only the child that exited', async () => {
    boot();
    const log: string[] = [];
    const sup = await startWith('one_for_one', [spec('A', log), spec('B', log), spec('C', log)]);
    const before = await pids(sup);
    log.length = 0;
    await hit(sup, 'B', 'crash');
    expect(log).toEqual(['exit B', 'start B']);
    const after = await pids(sup);
    expect(after.A).toBe(before.A);
    expect(after.C).toBe(before.C);
    expect(after.B).not.toBe(before.B);
  });
});

describe('stopping the supervisor', () => {
  it('stops children in reverse start order, dynamic ones included', async () => {
    boot();
    const log: string[] = [];
    const sup = await startWith('one_for_one', [spec('A', log), spec('B', log)]);
    await Supervisor.startChild(system, sup, spec('C', log));
    log.length = 0;
    await Supervisor.stop(system, sup, 'shutdown');
    expect(log).toEqual(['stop C', 'stop B', 'stop A']);
    expect(system.processes()).toEqual([]);
  });

  it('an exit signal to a root supervisor stops it in order too', async () => {
    boot();
    const log: string[] = [];
    const sup = await startWith('one_for_one', [spec('A', log), spec('B', log)]);
    log.length = 0;
    const gone = system.whenExited(sup);
    system.exit(sup, 'shutdown');
    expect(await gone).toBe('shutdown');
    expect(log).toEqual(['stop B', 'stop A']);
  });
});
