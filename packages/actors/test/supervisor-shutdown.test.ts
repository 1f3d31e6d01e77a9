import { afterEach, describe, expect, it } from 'vitest';
import { SimulatedClock, systemClock, type Clock, type TimerHandle } from '../src/clock.js';
import { ok, type GenServer as Behaviour } from '../src/gen-server.js';
import type { Logger, LogRecord, SupervisorReport } from '../src/observability.js';
import type { Pid } from '../src/pid.js';
import { Supervisor, childSpec, type Shutdown } from '../src/supervisor.js';
import { ActorSystem } from '../src/system.js';

interface Stopped {
  name: string;
  begin: number;
  end: number;
}

/** A worker that traps exits and takes `ms` of `clock` time in `terminate`. */
function slowStopper(
  name: string,
  clock: Clock,
  ms: number,
  out: Stopped[],
): Behaviour<number, void> {
  return {
    init(_args, ctx) {
      ctx.trapExit(true);
      return ok(0);
    },
    async terminate() {
      const begin = clock.now();
      await new Promise((resolve) => clock.setTimeout(resolve, ms, undefined));
      out.push({ name, begin, end: clock.now() });
    },
  };
}

/** Wraps the real clock and tracks the timers still pending. */
class CountingClock implements Clock {
  readonly live = new Set<TimerHandle>();
  now(): number {
    return systemClock.now();
  }
  setTimeout<A>(callback: (arg: A) => void, ms: number, arg: A): TimerHandle {
    const handle = systemClock.setTimeout(
      (a: A) => {
        this.live.delete(handle);
        callback(a);
      },
      ms,
      arg,
    );
    this.live.add(handle);
    return handle;
  }
  clearTimeout(handle: TimerHandle): void {
    this.live.delete(handle);
    systemClock.clearTimeout(handle);
  }
}

const flush = async (): Promise<void> => {
  for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
};

function capture(): Logger & { records: LogRecord[] } {
  const records: LogRecord[] = [];
  const push = (r: LogRecord) => void records.push(r);
  return { records, error: push, warn: push, info: push, debug: push };
}

function shutdownReports(records: LogRecord[]): SupervisorReport[] {
  return records.filter(
    (r): r is SupervisorReport => r.label === 'supervisor_report' && r.event === 'shutdown',
  );
}

let system: ActorSystem | null = null;
const releases: (() => void)[] = [];

afterEach(async () => {
  for (const release of releases.splice(0)) release();
  await system?.shutdown(1000);
  system = null;
});

/** Advances a simulated clock 1 ms at a time, letting processes run between steps, until `done()`. */
async function runUntil(
  clock: SimulatedClock,
  done: () => boolean,
  limitMs: number,
): Promise<void> {
  for (let t = 0; t <= limitMs && !done(); t++) {
    await flush();
    clock.advance(0); // timers due now fire before time moves on
    await flush();
    if (!done()) clock.advance(1);
  }
  await flush();
}

describe('stopping children', () => {
  it('stops C, B, A one at a time, each after the previous one is gone', async () => {
    const clock = new SimulatedClock();
    system = new ActorSystem({ clock });
    const stopped: Stopped[] = [];
    const sup = await Supervisor.start(
      system,
      ['A', 'B', 'C'].map((name) =>
        childSpec(slowStopper(name, clock, 20, stopped), undefined, { id: name }),
      ),
    );
    const a = (await Supervisor.whichChildren(system, sup))[0]!.pid!;
    const result = { doneAt: -1, aAliveAtDone: true };
    const stopping = Supervisor.stop(system, sup, 'shutdown').then(() => {
      result.doneAt = clock.now();
      result.aAliveAtDone = system!.isAlive(a);
    });

    await runUntil(clock, () => result.doneAt >= 0, 200);
    await stopping;

    expect(stopped).toEqual([
      { name: 'C', begin: 0, end: 20 },
      { name: 'B', begin: 20, end: 40 },
      { name: 'A', begin: 40, end: 60 },
    ]);
    for (let i = 1; i < stopped.length; i++) {
      expect(stopped[i]!.begin).toBeGreaterThanOrEqual(stopped[i - 1]!.end);
    }
    expect(result.doneAt).toBe(60);
    expect(result.aAliveAtDone).toBe(false);
    expect(system.processes()).toEqual([]);
  });

  it('kills a child blocking 10 s in terminate at its 200 ms shutdown (real clock)', async () => {
    const clock = new CountingClock();
    const logger = capture();
    system = new ActorSystem({ clock, logger });
    const blocker: Behaviour<number, void> = {
      init(_args, ctx) {
        ctx.trapExit(true);
        return ok(0);
      },
      terminate() {
        return new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 10_000);
          releases.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      },
    };
    const sup = await Supervisor.start(system, [
      childSpec(blocker, undefined, { id: 'blocker', shutdown: 200 }),
    ]);
    const child = (await Supervisor.whichChildren(system, sup))[0]!.pid!;

    const t0 = performance.now();
    const childExit = system.whenExited(child).then((reason) => ({
      reason,
      at: performance.now() - t0,
    }));
    await Supervisor.stop(system, sup, 'shutdown');
    const total = performance.now() - t0;
    const { reason, at } = await childExit;

    expect(reason).toBe('killed');
    expect(at).toBeGreaterThanOrEqual(190);
    expect(at).toBeLessThan(400);
    expect(total).toBeLessThan(1000);
    expect(system.processes()).toEqual([]);
    expect(clock.live.size).toBe(0);
    expect(shutdownReports(logger.records)).toEqual([
      expect.objectContaining({ childId: 'blocker', reason: 'killed', pid: child.toString() }),
    ]);
  });

  it("'brutal_kill' kills at once: terminate never runs, and nothing is reported", async () => {
    const clock = new SimulatedClock();
    const logger = capture();
    system = new ActorSystem({ clock, logger });
    const stopped: Stopped[] = [];
    const sup = await Supervisor.start(system, [
      childSpec(slowStopper('k', clock, 1000, stopped), undefined, {
        id: 'k',
        shutdown: 'brutal_kill',
      }),
    ]);
    const child = (await Supervisor.whichChildren(system, sup))[0]!.pid!;
    const exit = system.whenExited(child);
    await Supervisor.terminateChild(system, sup, 'k');
    expect(await exit).toBe('killed');
    expect(stopped).toEqual([]);
    expect(shutdownReports(logger.records)).toEqual([]);
    expect(clock.pending()).toBe(0);
  });

  it("'infinity' waits as long as terminate takes", async () => {
    const clock = new SimulatedClock();
    system = new ActorSystem({ clock });
    const stopped: Stopped[] = [];
    const sup = await Supervisor.start(system, [
      childSpec(slowStopper('slow', clock, 10_000, stopped), undefined, {
        id: 'slow',
        shutdown: 'infinity',
      }),
    ]);
    let done = false;
    const stopping = Supervisor.terminateChild(system, sup, 'slow').then(() => (done = true));
    await flush();
    clock.advance(9_999);
    await flush();
    expect(done).toBe(false);
    clock.advance(1);
    await stopping;
    expect(stopped).toEqual([{ name: 'slow', begin: 0, end: 10_000 }]);
  });

  const timeouts: [Shutdown, number][] = [
    [0, 0],
    [50, 50],
    [5000, 5000],
  ];
  for (const [shutdown, killedAt] of timeouts) {
    it(`a child that ignores the shutdown signal is killed after ${shutdown} ms`, async () => {
      const clock = new SimulatedClock();
      const logger = capture();
      system = new ActorSystem({ clock, logger });
      const sup = await Supervisor.start(system, [
        {
          id: 'deaf',
          shutdown,
          // A plain process that traps exits and ignores every message.
          start: (ctx) => ctx.spawnLink(() => {}, { trapExit: true }),
        },
      ]);
      const child = (await Supervisor.whichChildren(system, sup))[0]!.pid!;
      const exit = system.whenExited(child).then((reason) => ({ reason, at: clock.now() }));
      const stopping = Supervisor.terminateChild(system, sup, 'deaf');
      let done = false;
      void stopping.then(() => (done = true));
      await runUntil(clock, () => done, 10_000);
      expect(await exit).toEqual({ reason: 'killed', at: killedAt });
      expect(shutdownReports(logger.records)).toHaveLength(1);
      expect(clock.pending()).toBe(0);
      expect((await Supervisor.whichChildren(system, sup))[0]!.pid).toBeNull();
    });
  }

  it('a child stopped by its supervisor is not restarted by its own EXIT', async () => {
    const clock = new SimulatedClock();
    system = new ActorSystem({ clock });
    let starts = 0;
    const sup = await Supervisor.start(system, [
      {
        id: 'p',
        start: (ctx) => {
          starts++;
          return ctx.spawnLink(() => {});
        },
      },
    ]);
    const child = (await Supervisor.whichChildren(system, sup))[0]!.pid! as Pid;
    await Supervisor.terminateChild(system, sup, 'p');
    await flush();
    await Supervisor.countChildren(system, sup);
    expect(system.isAlive(child)).toBe(false);
    expect(starts).toBe(1);
  });
});
