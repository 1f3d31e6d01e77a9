import { afterEach, describe, expect, it } from 'vitest';
import { SimulatedClock } from '../src/clock.js';
import { ok, type GenServer as Behaviour } from '../src/gen-server.js';
import { Inbox } from '../src/inbox.js';
import { isDown, type DownMessage } from '../src/messages.js';
import type { Logger, LogRecord, SupervisorReport, TelemetryEvent } from '../src/observability.js';
import type { Pid } from '../src/pid.js';
import {
  ChildRestartingError,
  Supervisor,
  childSpec,
  type ChildSpec,
  type SupervisorOptions,
} from '../src/supervisor.js';
import { ActorSystem } from '../src/system.js';

/** A worker that counts its starts and fails to start whenever `failing()` says so. */
function counted(counter: { starts: number; failing?: () => boolean }): Behaviour<number, void> {
  return {
    init() {
      counter.starts++;
      if (counter.failing?.()) throw new Error('cannot start now');
      return ok(0);
    },
    handleCast() {
      throw new Error('crash on request');
    },
  };
}

let system: ActorSystem;
let clock: SimulatedClock;
let records: LogRecord[];
let events: TelemetryEvent[];

function boot(): void {
  clock = new SimulatedClock();
  records = [];
  events = [];
  const push = (r: LogRecord) => void records.push(r);
  const logger: Logger = { error: push, warn: push, info: push, debug: push };
  system = new ActorSystem({ clock, logger, telemetry: (e) => events.push(e) });
}

afterEach(async () => {
  await system.shutdown(1000);
});

function reports(event: SupervisorReport['event']): SupervisorReport[] {
  return records.filter(
    (r): r is SupervisorReport => r.label === 'supervisor_report' && r.event === event,
  );
}

interface Setup {
  sup: Pid;
  counter: { starts: number; failing?: () => boolean };
  down: Promise<DownMessage>;
  inbox: Inbox;
}

async function setup(options: SupervisorOptions, extra: ChildSpec[] = []): Promise<Setup> {
  const counter = { starts: 0 };
  const sup = await Supervisor.start(
    system,
    [childSpec(counted(counter), undefined, { id: 'w' }), ...extra],
    options,
  );
  const inbox = new Inbox(system);
  inbox.monitor(sup);
  const down = inbox.receive<DownMessage>(isDown, Infinity);
  // Some tests never await it; closing the inbox at teardown rejects it.
  down.catch(() => undefined);
  return { sup, counter, inbox, down };
}

/** Crashes the worker; resolves true while the supervisor is alive after handling it. */
async function crash(sup: Pid): Promise<boolean> {
  const [child] = await Supervisor.whichChildren(system, sup);
  system.cast(child!.pid!, 'crash');
  await system.whenExited(child!.pid!);
  // Queued behind the EXIT: settles once the supervisor has acted on it (it
  // rejects if the supervisor gave up and exited meanwhile).
  await Supervisor.countChildren(system, sup).catch(() => undefined);
  return system.isAlive(sup);
}

describe('restart intensity', () => {
  it('maxRestarts 5 in 5 s: six crashes 20 ms apart give exactly 5 restarts, then shutdown', async () => {
    boot();
    const { sup, counter, down, inbox } = await setup({ maxRestarts: 5, maxSeconds: 5 });
    const alive: boolean[] = [];
    for (let i = 0; i < 6; i++) {
      alive.push(await crash(sup));
      clock.advance(20);
    }
    expect(alive).toEqual([true, true, true, true, true, false]);
    expect(counter.starts).toBe(1 + 5);
    expect((await down).reason).toBe('shutdown');
    expect(events.filter((e) => e.type === 'restart')).toHaveLength(5);
    expect(events.filter((e) => e.type === 'intensity_exceeded')).toEqual([
      { type: 'intensity_exceeded', supervisor: sup, restarts: 6, withinMs: 5000 },
    ]);
    expect(reports('intensity_exceeded')).toHaveLength(1);
    expect(system.processes()).toEqual([inbox.pid]);
  });

  it('survives five crashes within the window', async () => {
    boot();
    const { sup, counter } = await setup({ maxRestarts: 5, maxSeconds: 5 });
    for (let i = 0; i < 5; i++) {
      expect(await crash(sup)).toBe(true);
      clock.advance(20);
    }
    expect(counter.starts).toBe(6);
    expect(system.isAlive(sup)).toBe(true);
  });

  it('with a 1 s window, ten crashes 1.2 s apart are survived', async () => {
    boot();
    const { sup, counter } = await setup({ maxRestarts: 1, maxSeconds: 1 });
    for (let i = 0; i < 10; i++) {
      expect(await crash(sup)).toBe(true);
      clock.advance(1200);
    }
    expect(counter.starts).toBe(11);
  });

  it('a restart exactly maxSeconds old still counts; one ms older does not', async () => {
    boot();
    const a = await setup({ maxRestarts: 1, maxSeconds: 1 });
    expect(await crash(a.sup)).toBe(true);
    clock.advance(1000);
    expect(await crash(a.sup)).toBe(false);

    const b = await setup({ maxRestarts: 1, maxSeconds: 1 });
    expect(await crash(b.sup)).toBe(true);
    clock.advance(1001);
    expect(await crash(b.sup)).toBe(true);
  });

  it('maxRestarts 0 gives up on the first exit that asks for a restart', async () => {
    boot();
    const { sup, down } = await setup({ maxRestarts: 0 });
    expect(await crash(sup)).toBe(false);
    expect((await down).reason).toBe('shutdown');
  });

  it('on giving up, the other children stop in reverse order before the supervisor exits', async () => {
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
    const { sup, down } = await setup({ maxRestarts: 0 }, [trapping('x'), trapping('y')]);
    await crash(sup);
    expect((await down).reason).toBe('shutdown');
    expect(stops).toEqual(['y', 'x']);
  });
});

describe('failed restarts', () => {
  it("a child's failed init counts once per attempt: a retry that succeeds stays within 2", async () => {
    boot();
    let failures = 1;
    const { sup, counter } = await setup({ maxRestarts: 2 });
    counter.failing = () => counter.starts > 1 && failures-- > 0;
    expect(await crash(sup)).toBe(true); // restart 1 fails, retry (restart 2) succeeds
    await Supervisor.countChildren(system, sup); // the retry is a message the supervisor sent itself
    expect(counter.starts).toBe(3);
    const [child] = await Supervisor.whichChildren(system, sup);
    expect(system.isAlive(child!.pid!)).toBe(true);
    expect(system.isAlive(sup)).toBe(true);
    expect(reports('start_error')).toHaveLength(1);
    expect(events.filter((e) => e.type === 'restart')).toHaveLength(1);
  });

  it('a child that never starts again is retried until the intensity is exceeded', async () => {
    boot();
    const { sup, counter, down } = await setup({ maxRestarts: 3 });
    counter.failing = () => counter.starts > 1;
    await crash(sup);
    expect((await down).reason).toBe('shutdown');
    // The crash and two retries fit in 3; the third retry is the fourth restart.
    expect(counter.starts).toBe(1 + 3);
    expect(reports('start_error')).toHaveLength(3);
    expect(reports('intensity_exceeded')).toHaveLength(1);
  });
});

describe('backoff', () => {
  it('delays restarts exponentially, capped, on the system clock', async () => {
    boot();
    const { sup, counter } = await setup({
      maxRestarts: 10,
      maxSeconds: 60,
      backoff: { initialMs: 100, maxMs: 300, factor: 2 },
    });
    const waits: number[] = [];
    for (let i = 0; i < 4; i++) {
      await crash(sup);
      const startsBefore = counter.starts;
      let waited = 0;
      while (counter.starts === startsBefore) {
        clock.advance(10);
        waited += 10;
        await Supervisor.countChildren(system, sup);
        if (waited > 1000) throw new Error('no restart within 1 s');
      }
      waits.push(waited);
    }
    expect(waits).toEqual([100, 200, 300, 300]);
  });

  it('a restart waiting out its delay refuses restartChild; stopping cancels the timer', async () => {
    boot();
    const { sup, inbox } = await setup({ backoff: { initialMs: 500, maxMs: 500 } });
    await crash(sup);
    const [child] = await Supervisor.whichChildren(system, sup);
    expect(child!.pid).toBeNull();
    const refused = await Supervisor.restartChild(system, sup, 'w').catch((e) => e);
    expect(refused).toBeInstanceOf(ChildRestartingError);
    expect(refused.code).toBe('restarting');
    await Supervisor.stop(system, sup);
    expect(clock.pending()).toBe(0);
    expect(system.processes()).toEqual([inbox.pid]);
  });

  it('terminateChild during the delay cancels the restart', async () => {
    boot();
    const { sup, counter } = await setup({ backoff: { initialMs: 500, maxMs: 500 } });
    await crash(sup);
    await Supervisor.terminateChild(system, sup, 'w');
    clock.advance(1000);
    await Supervisor.countChildren(system, sup);
    expect(counter.starts).toBe(1);
    expect((await Supervisor.whichChildren(system, sup))[0]!.pid).toBeNull();
  });

  it('one_for_all: siblings stop at once, everyone starts after the delay', async () => {
    boot();
    const other = { starts: 0 };
    const { sup, counter } = await setup(
      { strategy: 'one_for_all', backoff: { initialMs: 250, maxMs: 1000 } },
      [childSpec(counted(other), undefined, { id: 'other' })],
    );
    await crash(sup);
    expect((await Supervisor.countChildren(system, sup)).active).toBe(0);
    clock.advance(249);
    expect((await Supervisor.countChildren(system, sup)).active).toBe(0);
    clock.advance(1);
    expect((await Supervisor.countChildren(system, sup)).active).toBe(2);
    expect([counter.starts, other.starts]).toEqual([2, 2]);
  });
});
