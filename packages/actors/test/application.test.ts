import { afterEach, describe, expect, it } from 'vitest';
import { Application, type ApplicationHandle } from '../src/application.js';
import { SimulatedClock } from '../src/clock.js';
import { ok, type GenServer as Behaviour } from '../src/gen-server.js';
import { InvalidArgumentError } from '../src/reasons.js';
import { ChildStartError, Supervisor, childSpec, type ChildSpec } from '../src/supervisor.js';
import { ActorSystem } from '../src/system.js';

function tracked(name: string, log: string[], failInit = false): ChildSpec {
  const behaviour: Behaviour<number, void> = {
    init(_args, ctx) {
      if (failInit) throw new Error(`${name} cannot start`);
      ctx.trapExit(true);
      log.push(`start ${name}`);
      return ok(0);
    },
    handleCast() {
      throw new Error('crash on request');
    },
    terminate() {
      log.push(`stop ${name}`);
    },
  };
  return childSpec(behaviour, undefined, { id: name });
}

const listeners = () => ({
  SIGINT: process.listenerCount('SIGINT'),
  SIGTERM: process.listenerCount('SIGTERM'),
  SIGUSR2: process.listenerCount('SIGUSR2'),
});

let system: ActorSystem;
let app: ApplicationHandle | null = null;

afterEach(async () => {
  await app?.stop();
  app = null;
  await system.shutdown(1000);
});

describe('Application', () => {
  it('stop() stops the whole tree in order and removes its signal handlers', async () => {
    system = new ActorSystem({ clock: new SimulatedClock() });
    const before = listeners();
    const log: string[] = [];
    app = await Application.start(system, [
      tracked('db', log),
      Supervisor.childSpec('web', [tracked('router', log), tracked('handler', log)]),
      tracked('metrics', log),
    ]);
    expect(listeners()).toEqual({
      ...before,
      SIGINT: before.SIGINT + 1,
      SIGTERM: before.SIGTERM + 1,
    });
    expect(log).toEqual(['start db', 'start router', 'start handler', 'start metrics']);
    log.length = 0;

    const first = app.stop();
    expect(app.stop()).toBe(first);
    await first;

    expect(log).toEqual(['stop metrics', 'stop handler', 'stop router', 'stop db']);
    expect(await app.exited).toBe('shutdown');
    expect(system.isAlive(app.pid)).toBe(false);
    expect(system.processes()).toEqual([]);
    expect(listeners()).toEqual(before);
  });

  it('SIGTERM stops the tree gracefully and removes the handlers', async () => {
    system = new ActorSystem({ clock: new SimulatedClock() });
    const before = listeners();
    const log: string[] = [];
    app = await Application.start(system, [tracked('a', log), tracked('b', log)], {
      exitOnSignal: false,
    });
    log.length = 0;
    process.emit('SIGTERM', 'SIGTERM');
    expect(await app.exited).toBe('shutdown');
    expect(log).toEqual(['stop b', 'stop a']);
    expect(listeners()).toEqual(before);
  });

  it('listens to the signals it is given, and to none with []', async () => {
    system = new ActorSystem({ clock: new SimulatedClock() });
    const before = listeners();
    const log: string[] = [];
    app = await Application.start(system, [tracked('a', log)], {
      signals: ['SIGUSR2'],
      exitOnSignal: false,
    });
    expect(listeners()).toEqual({ ...before, SIGUSR2: before.SIGUSR2 + 1 });
    process.emit('SIGUSR2', 'SIGUSR2');
    await app.exited;
    expect(log).toEqual(['start a', 'stop a']);
    expect(listeners()).toEqual(before);

    const quiet = await Application.start(system, [], { signals: [] });
    expect(listeners()).toEqual(before);
    await quiet.stop();
  });

  it('a root that gives up removes the handlers and reports its reason', async () => {
    system = new ActorSystem({ clock: new SimulatedClock() });
    const before = listeners();
    const log: string[] = [];
    app = await Application.start(system, [tracked('a', log)], { maxRestarts: 0 });
    const [child] = await Supervisor.whichChildren(system, app.pid);
    system.cast(child!.pid!, 'crash');
    expect(await app.exited).toBe('shutdown');
    expect(listeners()).toEqual(before);
    await app.stop(); // already gone: resolves
  });

  it('a failed start rejects and installs nothing; bad options are refused', async () => {
    system = new ActorSystem({ clock: new SimulatedClock() });
    const before = listeners();
    const log: string[] = [];
    await expect(
      Application.start(system, [tracked('a', log), tracked('b', log, true)]),
    ).rejects.toBeInstanceOf(ChildStartError);
    expect(log).toEqual(['start a', 'stop a']);
    await expect(
      Application.start(system, [], { signals: 'SIGINT' as never }),
    ).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(Application.start(system, [], { signals: ['SIGINT', 'SIGINT'] })).rejects.toThrow(
      /lists a signal twice/,
    );
    await expect(Application.start(system, [], { exitOnSignal: 1 as never })).rejects.toThrow(
      /options\.exitOnSignal must be a boolean/,
    );
    expect(listeners()).toEqual(before);
    expect(system.processes()).toEqual([]);
  });
});
