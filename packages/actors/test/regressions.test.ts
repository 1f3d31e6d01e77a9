/**
 * Bugs found by reviewing the runtime as a new user would; each test states
 * the bug it keeps fixed.
 */
import { describe, expect, it } from 'vitest';
import type { From } from '../src/call.js';
import { SimulatedClock } from '../src/clock.js';
import { GenServer, noreply, ok, reply, stop } from '../src/gen-server.js';
import { Inbox } from '../src/inbox.js';
import { isDown, type DownMessage } from '../src/messages.js';
import { Registry } from '../src/registry.js';
import {
  CallSelfError,
  InvalidArgumentError,
  MailboxFullError,
  NoProcError,
  StartError,
  UnexpectedExitError,
  formatReason,
  type ExitReason,
} from '../src/reasons.js';
import { Supervisor, childSpec } from '../src/supervisor.js';
import { TaskSupervisor } from '../src/task.js';
import { ActorSystem } from '../src/system.js';
import { Application } from '../src/application.js';
import { via } from '../src/protocol.js';
import type { Context } from '../src/process.js';

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

describe('exit reasons outside the vocabulary', () => {
  it('null (or any non-reason) is refused with InvalidArgumentError instead of breaking the exit path', async () => {
    const sys = new ActorSystem();
    const pid = sys.spawn(() => {});
    expect(() => sys.exit(pid, null as never)).toThrow(InvalidArgumentError);
    expect(() => sys.exit(pid, 42 as never)).toThrow(/expects an exit reason/);
    await expect(sys.stop(pid, null as never)).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(sys.isAlive(pid)).toBe(true);
  });

  it('ctx.exit(null) and a stop(null) result crash the process with InvalidArgumentError', async () => {
    const sys = new ActorSystem();
    const inbox = new Inbox(sys);
    const raw = sys.spawn((_m, ctx) => ctx.exit(null as never));
    const server = await GenServer.start(
      sys,
      { init: () => ok(0), handleCast: (_m, s) => stop(null as never, s) },
      undefined,
    );
    inbox.monitor(raw);
    inbox.monitor(server);
    sys.send(raw, 'go');
    sys.cast(server, 'go');
    const downs = [
      await inbox.receive<DownMessage>(isDown),
      await inbox.receive<DownMessage>(isDown),
    ];
    for (const down of downs) expect(down.reason).toBeInstanceOf(InvalidArgumentError);
    expect(sys.processes()).toEqual([inbox.pid]);
  });
});

describe('a server killed while its async init is pending', () => {
  it('its start rejects at once instead of never settling', async () => {
    const sys = new ActorSystem();
    const started = GenServer.start(
      sys,
      {
        async init() {
          await sleep(200);
          return ok(null);
        },
      },
      undefined,
      { name: 'slow', timeout: 1000 },
    );
    await tick();
    sys.exit(sys.whereis('slow')!, 'kill');
    const error = (await started.catch((e: unknown) => e)) as StartError;
    expect(error).toBeInstanceOf(StartError);
    expect(error.code).toBe('start_failed');
    expect(error.reason).toBe('killed');
    expect(sys.whereis('slow')).toBeUndefined();
  });

  it('a supervisor restarting such a child is not wedged', async () => {
    const sys = new ActorSystem();
    let starts = 0;
    const Worker = {
      async init() {
        starts++;
        await sleep(30);
        return ok(null);
      },
      handleCast(): never {
        throw new Error('boom');
      },
    };
    const sup = await Supervisor.start(sys, [childSpec(Worker, null, { id: 'w', name: 'w' })]);
    sys.cast('w', 'crash');
    await sleep(5);
    sys.exit(sys.whereis('w')!, 'kill');
    await sleep(150);
    const children = await Supervisor.whichChildren(sys, sup);
    expect(children[0]!.pid).not.toBeNull();
    expect(starts).toBeGreaterThanOrEqual(3);
  });
});

describe('hooks that throw', () => {
  it('a throwing logger or telemetry hook never breaks an exit or a spawn', async () => {
    const sys = new ActorSystem({
      logger: {
        error() {
          throw new Error('log transport failed');
        },
        warn() {},
        info() {},
        debug() {},
      },
      telemetry() {
        throw new Error('metrics backend down');
      },
    });
    const a = sys.spawn(() => {
      throw new Error('crash');
    });
    const b = sys.spawn(() => {}, { link: a });
    const c = sys.spawn(() => {}, { link: b });
    sys.send(a, 'go');
    await tick();
    expect([sys.isAlive(a), sys.isAlive(b), sys.isAlive(c)]).toEqual([false, false, false]);
    const server = await GenServer.start(sys, { init: () => ok(0) }, undefined, { name: 'svc' });
    expect(sys.whereis('svc')).toBe(server);
    expect(sys.hookFailures.count).toBeGreaterThan(0);
  });
});

describe('shutdown', () => {
  it('whenExited and Application.exited settle; the watchers outlive what they watch', async () => {
    const sys = new ActorSystem();
    const app = await Application.start(
      sys,
      [childSpec({ init: () => ok(0) }, undefined, { id: 'a' })],
      {
        signals: [],
      },
    );
    const [child] = await Supervisor.whichChildren(sys, app.pid);
    const exited = sys.whenExited(child!.pid!);
    await sys.shutdown();
    expect(await exited).toBe('shutdown');
    expect(await app.exited).toBe('shutdown');
    expect(sys.processes()).toEqual([]);
  });

  it('regression: whenExited and stop settle for a process shutdown had to kill (its terminate never returned)', async () => {
    const sys = new ActorSystem();
    const stuck = await GenServer.start(
      sys,
      { init: () => ok(null), terminate: () => new Promise<void>(() => {}) },
      undefined,
    );
    const exited = sys.whenExited(stuck);
    const stopped = GenServer.stop(sys, stuck, 'normal', 60_000).then(
      () => 'resolved',
      (error: { code?: string }) => error.code,
    );
    const t0 = performance.now();
    await sys.shutdown(50);
    expect(await exited).toBe('killed');
    expect(await stopped).not.toBe('call_timeout');
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(sys.processes()).toEqual([]);
  });

  it('a helper linked with spawnLink is stopped with its parent, not restarted mid-shutdown', async () => {
    const sys = new ActorSystem();
    let inits = 0;
    const Server = {
      init: (_: unknown, ctx: Context) => {
        inits++;
        ctx.spawnLink(() => {});
        return ok(null);
      },
    };
    await Supervisor.start(sys, [childSpec(Server, null, { id: 's' })]);
    expect(inits).toBe(1);
    await sys.shutdown();
    expect(inits).toBe(1);
  });
});

describe('Application start that fails', () => {
  it('refuses uncatchable or unknown signals and leaves no handler and no process', async () => {
    const sys = new ActorSystem();
    const before = process.listenerCount('SIGINT');
    await expect(
      Application.start(sys, [], { signals: ['SIGINT', 'SIGKILL'] }),
    ).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(
      Application.start(sys, [], { signals: ['SIGFOO' as NodeJS.Signals] }),
    ).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(process.listenerCount('SIGINT')).toBe(before);
    expect(sys.processes()).toEqual([]);
  });
});

describe('bounded mailbox with the crash policy', () => {
  it('the process ends at once, and terminate never runs alongside its handler', async () => {
    const sys = new ActorSystem();
    const log: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const pid = await GenServer.start(
      sys,
      {
        init: () => ok(0),
        async handleCast(m, s) {
          log.push(`start ${String(m)}`);
          await gate;
          log.push(`end ${String(m)}`);
          return noreply(s);
        },
        terminate(reason: ExitReason) {
          log.push(`terminate ${(reason as Error).name}`);
        },
      },
      undefined,
      { mailbox: { capacity: 1, overflow: 'crash' } },
    );
    sys.cast(pid, 'a');
    await tick();
    sys.cast(pid, 'b');
    sys.cast(pid, 'c'); // overflows
    expect(sys.isAlive(pid)).toBe(false);
    release();
    await tick();
    expect(log).toEqual(['start a', 'end a']);
  });
});

describe('odd inputs', () => {
  it('immer recipes work on Map and Set state', async () => {
    const sys = new ActorSystem();
    const pid = await GenServer.start(
      sys,
      {
        init: () => ok({ seen: new Map<string, number>(), tags: new Set<string>() }),
        handleCall(request: string, _from, state) {
          return reply(state.seen.size + state.tags.size, (d) => {
            d.seen.set(request, 1);
            d.tags.add(request);
          });
        },
      },
      undefined,
    );
    await sys.call(pid, 'x');
    expect(await sys.call(pid, 'y')).toBe(2);
  });

  it('a call timeout of any value leaves no lasting state behind', async () => {
    const clock = new SimulatedClock();
    const sys = new ActorSystem({ clock });
    const pid = await GenServer.start(
      sys,
      { init: () => ok(0), handleCall: (_r, _f, s) => reply(s, s) },
      undefined,
    );
    for (let i = 1; i <= 200; i++) await sys.call(pid, 'x', 1000 + i);
    clock.advance(2000);
    expect((sys as unknown as { deadlineLists: Map<number, unknown> }).deadlineLists.size).toBe(0);
  });

  it('an inbox whose process dies rejects a receive still waiting', async () => {
    const sys = new ActorSystem();
    const inbox = new Inbox(sys);
    const waiting = inbox.receive(() => true, Infinity);
    sys.exit(inbox.pid, 'kill');
    await expect(waiting).rejects.toMatchObject({ code: 'inbox_closed' });
  });

  it('every timeout option is validated', async () => {
    const sys = new ActorSystem();
    const pid = sys.spawn(() => {});
    const inbox = new Inbox(sys);
    await expect(sys.receiveResponse(sys.sendRequest(pid, 'x'), Number.NaN)).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
    await expect(sys.stop(pid, 'normal', -1)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(sys.whenExited(pid, Number.NaN)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(inbox.receive(() => true, -5)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(inbox.receive('not a function' as never)).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
    await expect(sys.shutdown(-1)).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it('a call or monitor through a registry that is not running rejects / gives DOWN noproc', async () => {
    const sys = new ActorSystem();
    const registry = new Registry({ keys: 'unique' });
    const calling = sys.call(via(registry, 'k'), 'x');
    await expect(calling).rejects.toMatchObject({ code: 'registry_not_running' });
    const inbox = new Inbox(sys);
    inbox.monitor(via(registry, 'k'));
    expect((await inbox.receive<DownMessage>(isDown)).reason).toBe('noproc');
    await expect(sys.call(42 as never, 'x')).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it('priority names only: toString and constructor are refused', () => {
    const sys = new ActorSystem();
    expect(() => sys.spawn(() => {}, { priority: 'toString' as never })).toThrow(
      InvalidArgumentError,
    );
    expect(() => sys.spawn(() => {}, { priority: 'constructor' as never })).toThrow(
      InvalidArgumentError,
    );
  });

  it('error messages show NaN and Infinity as themselves', () => {
    expect(() => new ActorSystem({ processBudget: Number.NaN })).toThrow(/got NaN/);
  });

  it('reply and noreply without the state are refused (the state would silently become undefined)', async () => {
    expect(() => (reply as (v: unknown) => unknown)(1)).toThrow(InvalidArgumentError);
    expect(() => (noreply as () => unknown)()).toThrow(InvalidArgumentError);
    expect(reply(1, undefined)).toMatchObject({ kind: 'reply', state: undefined });
  });

  it('SimulatedClock.advance refuses negative and NaN; sendAfter refuses a non-destination', () => {
    const clock = new SimulatedClock();
    expect(() => clock.advance(-1)).toThrow(InvalidArgumentError);
    expect(() => clock.advance(Number.NaN)).toThrow(InvalidArgumentError);
    const sys = new ActorSystem({ clock });
    expect(() => sys.sendAfter(42 as never, 'x', 10)).toThrow(InvalidArgumentError);
    expect(() => sys.cancelTimer(undefined as never)).toThrow(InvalidArgumentError);
  });

  it('a stop request to a dead pid rejects with noproc', async () => {
    const sys = new ActorSystem();
    const pid = sys.spawn(() => {});
    sys.exit(pid, 'kill');
    await expect(sys.stop(pid)).rejects.toBeInstanceOf(NoProcError);
  });
});

describe('bad options are typed errors, not TypeErrors', () => {
  it('spawn and start options of the wrong shape', async () => {
    const sys = new ActorSystem();
    expect(() => sys.spawn(() => {}, null as never)).toThrow(InvalidArgumentError);
    expect(() => sys.spawn(() => {}, { mailbox: null as never })).toThrow(/options.mailbox/);
    expect(() => sys.spawn(() => {}, { trapExit: 'yes' as never })).toThrow(/options.trapExit/);
    await expect(
      GenServer.start(sys, { init: () => ok(0) }, undefined, { name: 5 as never }),
    ).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(
      GenServer.start(sys, { init: () => ok(0) }, undefined, null as never),
    ).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(() => sys.isAlive('name' as never)).toThrow(InvalidArgumentError);
    const pid = sys.spawn((_m, ctx) => void ctx.trapExit('no' as never));
    const inbox = new Inbox(sys);
    inbox.monitor(pid);
    sys.send(pid, 'go');
    expect((await inbox.receive<DownMessage>(isDown)).reason).toBeInstanceOf(InvalidArgumentError);
  });
});

describe('second review: callers that exit, odd resolvers, odd options', () => {
  it('a caller killed mid-call no longer counts as waiting: pending is false, reply returns false, no call_timeout is logged', async () => {
    const warnings: unknown[] = [];
    const logger = {
      error: () => {},
      info: () => {},
      debug: () => {},
      warn: (record: unknown) => warnings.push(record),
    };
    const sys = new ActorSystem({ logger });
    let held: From<number> | null = null;
    const server = await GenServer.start<null, null, { call: 'x'; reply: number }>(
      sys,
      {
        init: () => ok(null),
        handleCall: (_request, from, state) => {
          held = from as never;
          return noreply(state);
        },
      },
      null,
    );
    const caller = sys.spawn(async (_m, ctx) => {
      await ctx.call(server, 'x', 30);
    });
    sys.send(caller, 'go');
    await sleep(5);
    expect(held!.pending).toBe(true);
    sys.exit(caller, 'kill');
    expect(held!.pending).toBe(false);
    expect(GenServer.reply(held!, 1)).toBe(false);
    // A second deferred call from a live caller still gets its reply.
    const live = sys.call(server, 'x');
    await tick();
    expect(held!.pending).toBe(true);
    expect(GenServer.reply(held!, 7)).toBe(true);
    await expect(live).resolves.toBe(7);
    await sleep(60);
    expect(warnings).toEqual([]);
    await sys.shutdown();
  });

  it('a caller killed while its call waits for a timeout logs no call_timeout when it expires', async () => {
    const warnings: unknown[] = [];
    const logger = { error() {}, info() {}, debug() {}, warn: (r: unknown) => warnings.push(r) };
    const sys = new ActorSystem({ logger });
    const silent = sys.spawn(() => {});
    const caller = sys.spawn(async (_m, ctx) => {
      await ctx.call(silent, 'x', 20);
    });
    sys.send(caller, 'go');
    await sleep(5);
    sys.exit(caller, 'kill');
    await sleep(40);
    expect(warnings).toEqual([]);
    // A live caller's timeout is still reported.
    await expect(sys.call(silent, 'x', 10)).rejects.toMatchObject({ code: 'call_timeout' });
    expect(warnings).toEqual([expect.objectContaining({ label: 'call_timeout', timeoutMs: 10 })]);
    await sys.shutdown();
  });

  it('GenServer.reply with something that is not a from is an InvalidArgumentError', () => {
    expect(() => GenServer.reply({} as never, 1)).toThrow(InvalidArgumentError);
    expect(() => GenServer.reply(null as never, 1)).toThrow(/expects the from given to handleCall/);
  });

  it('a via resolver that is not one, or answers something that is not a pid, fails with InvalidArgumentError', async () => {
    const sys = new ActorSystem();
    expect(() => via({} as never, 'k')).toThrow(/via expects a name resolver/);
    const liar = { whereis: () => 'not a pid' as never };
    await expect(sys.call(via(liar, 'k'), 'x')).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(() => sys.send(via(liar, 'k'), 'x')).toThrow(/answered "not a pid", not a pid/);
    expect(() => sys.cast(via(liar, 'k'), 'x')).toThrow(InvalidArgumentError);
    // Built by hand, without via(): the same typed error.
    await expect(sys.call({ via: {}, key: 'k' } as never, 'x')).rejects.toThrow(
      /needs a resolver with a whereis method/,
    );
    await sys.shutdown();
  });

  it('supervisor requests to a server that is not a supervisor reject with InvalidArgumentError', async () => {
    const sys = new ActorSystem();
    const plain = await GenServer.start(
      sys,
      { init: () => ok(0), handleCall: (_r: unknown, _f, s: number) => reply(undefined, s) },
      undefined,
    );
    await expect(Supervisor.whichChildren(sys, plain)).rejects.toThrow(/is not a supervisor/);
    await expect(Supervisor.countChildren(sys, plain)).rejects.toBeInstanceOf(InvalidArgumentError);
    await sys.shutdown();
  });

  it('an ActorSystem refuses a clock, logger or telemetry hook that is not one', () => {
    expect(() => new ActorSystem({ clock: {} as never })).toThrow(
      /option clock must be an object with the methods now, setTimeout, clearTimeout/,
    );
    expect(() => new ActorSystem({ logger: 5 as never })).toThrow(/option logger/);
    expect(() => new ActorSystem({ logger: { error() {} } as never })).toThrow(
      /missing warn, info, debug/,
    );
    expect(() => new ActorSystem({ telemetry: 5 as never })).toThrow(
      /telemetry must be a function/,
    );
    expect(() => new ActorSystem({ clock: new SimulatedClock() })).not.toThrow();
  });

  it('a DynamicSupervisor refuses any strategy but one_for_one', async () => {
    const { DynamicSupervisor } = await import('../src/dynamic-supervisor.js');
    const sys = new ActorSystem();
    await expect(
      DynamicSupervisor.start(sys, { strategy: 'one_for_all' as never }),
    ).rejects.toThrow(/options.strategy must be 'one_for_one'/);
    const sup = await DynamicSupervisor.start(sys, { strategy: 'one_for_one' });
    expect(sys.isAlive(sup)).toBe(true);
    await sys.shutdown();
  });
});

describe('sixth review: stopping oneself, stop outcomes, inbox predicates, clock input', () => {
  it('a server stopping itself through GenServer.stop from its own handler fails at once with CallSelfError', async () => {
    const sys = new ActorSystem();
    const outcome: unknown[] = [];
    const server = await GenServer.start(
      sys,
      {
        init: () => ok(0),
        handleCast: async (_m, n, ctx) => {
          outcome.push(await GenServer.stop(ctx.system, ctx.self).catch((e: unknown) => e));
          return noreply(n);
        },
        handleCall: (_r, _f, n) => reply(n, n),
      },
      undefined,
    );
    sys.cast(server, 'stop yourself');
    expect(await sys.call(server, 'still serving?', 1000)).toBe(0);
    expect(outcome[0]).toBeInstanceOf(CallSelfError);
    expect((outcome[0] as CallSelfError).code).toBe('calling_self');
    expect(sys.isAlive(server)).toBe(true);
  });

  it('system.call to itself from its own handler fails at once with CallSelfError, not after its timeout', async () => {
    const sys = new ActorSystem();
    const seen: unknown[] = [];
    const server = await GenServer.start(
      sys,
      {
        init: () => ok(0),
        handleCast: async (_m, n, ctx) => {
          const started = Date.now();
          seen.push(await ctx.system.call(ctx.self, 'x', 5000).catch((e: unknown) => e));
          seen.push(Date.now() - started);
          return noreply(n);
        },
        handleCall: (_r, _f, n) => reply(n, n),
      },
      undefined,
    );
    sys.cast(server, 'go');
    await sys.call(server, 'sync');
    expect(seen[0]).toBeInstanceOf(CallSelfError);
    expect(seen[1]).toBeLessThan(1000);
  });

  it('stop rejects with UnexpectedExitError when the server crashed before it handled the stop', async () => {
    const sys = new ActorSystem();
    const server = await GenServer.start(
      sys,
      {
        init: () => ok(0),
        handleCast: async () => {
          await sleep(10);
          throw new Error('crashed first');
        },
      },
      undefined,
    );
    sys.cast(server, 'crash');
    const error = await GenServer.stop(sys, server, 'normal', 1000).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnexpectedExitError);
    expect((error as UnexpectedExitError).code).toBe('unexpected_exit');
    expect((error as UnexpectedExitError).requested).toBe('normal');
    expect(String((error as UnexpectedExitError).reason)).toBe('Error: crashed first');
  });

  it('stop rejects with UnexpectedExitError when the server is killed during terminate', async () => {
    const sys = new ActorSystem();
    const server = await GenServer.start(
      sys,
      { init: () => ok(0), terminate: () => sleep(50) },
      undefined,
    );
    const stopping = GenServer.stop(sys, server, 'shutdown').catch((e: unknown) => e);
    await sleep(5);
    sys.exit(server, 'kill');
    const error = await stopping;
    expect(error).toBeInstanceOf(UnexpectedExitError);
    expect((error as UnexpectedExitError).reason).toBe('killed');
  });

  it('stop resolves for the reason asked for: normal, shutdown, { shutdown } and kill', async () => {
    const sys = new ActorSystem();
    const start = () => GenServer.start(sys, { init: () => ok(0) }, undefined);
    await expect(sys.stop(await start(), 'normal')).resolves.toBeUndefined();
    await expect(sys.stop(await start(), 'shutdown')).resolves.toBeUndefined();
    await expect(sys.stop(await start(), { shutdown: 'done' })).resolves.toBeUndefined();
    const error = new Error('asked for');
    await expect(sys.stop(await start(), error)).resolves.toBeUndefined();
    await expect(sys.stop(new Inbox(sys).pid, 'shutdown')).resolves.toBeUndefined();
  });

  it('an Inbox predicate that throws rejects that receive with its error; the message stays and the inbox stays open', async () => {
    const sys = new ActorSystem();
    const inbox = new Inbox(sys);
    const bug = new TypeError('bug in my predicate');
    const waiting = inbox.receive(() => {
      throw bug;
    }, 1000);
    sys.send(inbox.pid, 'important');
    await expect(waiting).rejects.toBe(bug);
    expect(sys.isAlive(inbox.pid)).toBe(true);
    expect(inbox.messages).toEqual(['important']);
    // Already queued: the predicate runs in receive itself, which rejects too.
    await expect(
      inbox.receive(() => {
        throw bug;
      }),
    ).rejects.toBe(bug);
    expect(() =>
      inbox.tryReceive(() => {
        throw bug;
      }),
    ).toThrow(bug);
    expect(await inbox.receive()).toBe('important');
    expect(() => inbox.tryReceive(5 as never)).toThrow(InvalidArgumentError);
  });

  it('a throwing predicate does not keep the message from a later waiter', async () => {
    const sys = new ActorSystem();
    const inbox = new Inbox(sys);
    const failing = inbox.receive(() => {
      throw new Error('first waiter fails');
    }, 1000);
    const second = inbox.receive((m) => m === 'm', 1000);
    sys.send(inbox.pid, 'm');
    await expect(failing).rejects.toThrow('first waiter fails');
    expect(await second).toBe('m');
    expect(inbox.messages).toEqual([]);
  });

  it('SimulatedClock refuses a start that is not a finite number; a NaN delay fires at once', () => {
    expect(() => new SimulatedClock(Number.NaN)).toThrow(InvalidArgumentError);
    expect(() => new SimulatedClock('5' as never)).toThrow(/finite start time/);
    expect(() => new SimulatedClock(Infinity)).toThrow(InvalidArgumentError);
    const clock = new SimulatedClock(100);
    const fired: number[] = [];
    clock.setTimeout((n: number) => fired.push(n), Number.NaN, 1);
    clock.advance(0);
    expect(fired).toEqual([1]);
    expect(clock.now()).toBe(100);
  });
});

describe('sixth review: runtime entries in bounded mailboxes, low priority, ctx.exit in init', () => {
  const gate = () => {
    let open!: () => void;
    const promise = new Promise<void>((resolve) => (open = resolve));
    return { promise, open };
  };

  it('drop_oldest never discards a DOWN, an EXIT or a stop request: it drops the oldest message', async () => {
    const sys = new ActorSystem();
    const hold = gate();
    const seen: string[] = [];
    const target = sys.spawn(() => {});
    const linked = sys.spawn(() => {});
    const pid = sys.spawn(
      async (m, ctx) => {
        if (m === 'block') {
          ctx.trapExit(true);
          ctx.monitor(target);
          ctx.link(linked);
          await hold.promise;
        } else seen.push(typeof m === 'string' ? m : (m as { type: string }).type);
      },
      { mailbox: { capacity: 2, overflow: 'drop_oldest' } },
    );
    sys.send(pid, 'block');
    await tick();
    sys.exit(target, 'kill'); // a DOWN queued
    sys.exit(linked, 'shutdown'); // an EXIT queued
    for (const m of ['m1', 'm2', 'm3', 'm4']) sys.send(pid, m);
    const stopped = sys.stop(pid, 'normal', 1000);
    sys.send(pid, 'm5');
    hold.open();
    await stopped;
    // m3, m4 and m5 found it full and pushed out m1, m2 and m3, the oldest
    // messages; the stop request, queued before m5, ends it before m5.
    expect(seen).toEqual(['DOWN', 'EXIT', 'm4']);
    expect(sys.processInfo(pid)).toBeUndefined();
  });

  it('runtime entries do not count against capacity: a message after three DOWNs is accepted', async () => {
    const sys = new ActorSystem();
    for (const overflow of ['reject', 'crash'] as const) {
      const hold = gate();
      const got: unknown[] = [];
      const targets = [sys.spawn(() => {}), sys.spawn(() => {}), sys.spawn(() => {})];
      const pid = sys.spawn(
        async (m, ctx) => {
          if (m === 'block') {
            for (const t of targets) ctx.monitor(t);
            await hold.promise;
          } else got.push(isDown(m) ? 'DOWN' : m);
        },
        { mailbox: { capacity: 2, overflow } },
      );
      sys.send(pid, 'block');
      await tick();
      for (const t of targets) sys.exit(t, 'kill');
      sys.send(pid, 'one');
      sys.send(pid, 'two');
      expect(sys.processInfo(pid)).toMatchObject({ mailboxLength: 5, messagesDropped: 0 });
      // The third message is the one past the bound.
      if (overflow === 'reject') {
        expect(() => sys.send(pid, 'three')).toThrow(MailboxFullError);
        hold.open();
        await tick();
        expect(got).toEqual(['DOWN', 'DOWN', 'DOWN', 'one', 'two']);
        expect(sys.processInfo(pid)?.messagesDropped).toBe(1);
      } else {
        sys.send(pid, 'three');
        expect(sys.isAlive(pid)).toBe(false);
        hold.open();
      }
    }
  });

  it('a busy low-priority process gets about an eighth of what a busy normal one gets, not as much or more', async () => {
    // Per process, as Erlang: a low process runs one time in eight.
    for (const [normals, lows] of [
      [1, 1],
      [4, 1],
      [1, 4],
    ] as const) {
      const sys = new ActorSystem();
      const normalCounts = new Array<number>(normals).fill(0);
      const lowCounts = new Array<number>(lows).fill(0);
      const busy = (counts: number[], i: number, priority: 'normal' | 'low') =>
        sys.spawn(
          (m, ctx) => {
            counts[i]!++;
            ctx.send(ctx.self, m);
          },
          { priority },
        );
      const pids = [
        ...normalCounts.map((_, i) => busy(normalCounts, i, 'normal')),
        ...lowCounts.map((_, i) => busy(lowCounts, i, 'low')),
      ];
      for (const p of pids) sys.send(p, 'go');
      while (normalCounts.reduce((a, b) => a + b, 0) < 400_000) await tick();
      const perNormal = normalCounts.reduce((a, b) => a + b, 0) / normals;
      for (const count of lowCounts) {
        expect(count / perNormal).toBeGreaterThan(1 / 16);
        expect(count / perNormal).toBeLessThan(1 / 4);
      }
      await sys.shutdown();
    }
  });

  it('a burst of many short-lived normal processes delays a busy low one by about one round of the queue, not for seconds', async () => {
    const sys = new ActorSystem();
    let normal = 0;
    let low = 0;
    const busy = (priority: 'normal' | 'low') =>
      sys.spawn(
        (m, ctx) => {
          if (priority === 'low') low++;
          else normal++;
          ctx.send(ctx.self, m);
        },
        { priority },
      );
    sys.send(busy('normal'), 'go');
    sys.send(busy('low'), 'go');
    while (normal < 50_000) await tick();
    // Short-lived: each handles one message and ends.
    for (let i = 0; i < 20_000; i++)
      sys.send(
        sys.spawn((_m, ctx) => ctx.stop()),
        'once',
      );
    const [normalAt, lowAt] = [normal, low];
    while (normal - normalAt < 400_000) await tick();
    // After the burst the 1:8 share comes back (it stayed near 0 for seconds).
    expect((low - lowAt) / (normal - normalAt)).toBeGreaterThan(1 / 16);
    await sys.shutdown();
  });

  it('a busy high-priority process runs before normal and low ones alike; low never runs ahead of waiting normal work', async () => {
    // Final review: low processes got rounds while high work starved normal ones.
    const sys = new ActorSystem();
    const counts = { high: 0, normal: 0, low: 0 };
    let duringHigh = { ...counts };
    const pids = (['high', 'normal', 'low'] as const).map((priority) =>
      sys.spawn(
        (m, ctx) => {
          counts[priority]++;
          if (priority === 'high' && counts.high >= 200_000) {
            duringHigh = { ...counts }; // the burst ends here
            return;
          }
          ctx.send(ctx.self, m);
        },
        { priority },
      ),
    );
    for (const pid of pids) sys.send(pid, 'go');
    while (counts.high < 200_000) await tick();
    expect(duringHigh).toEqual({ high: 200_000, normal: 0, low: 0 });
    // Once the high work is done, normal and low share as documented (1 : 1/8).
    const [normalAt, lowAt] = [counts.normal, counts.low];
    while (counts.normal - normalAt < 200_000) await tick();
    const ratio = (counts.low - lowAt) / (counts.normal - normalAt);
    expect(ratio).toBeGreaterThan(1 / 16);
    expect(ratio).toBeLessThan(1 / 4);
    await sys.shutdown();
  });

  it('ctx.exit(reason) in init ends the start with that reason, as returning stop(reason) does', async () => {
    const sys = new ActorSystem();
    const reasons: unknown[] = [];
    for (const reason of ['shutdown', new Error('bad config')] as const) {
      const error = await GenServer.start(
        sys,
        { init: (_a, ctx) => ctx.exit(reason) },
        undefined,
      ).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StartError);
      reasons.push((error as StartError).reason);
    }
    expect(reasons[0]).toBe('shutdown');
    expect(reasons[1]).toBeInstanceOf(Error);
    expect((reasons[1] as Error).message).toBe('bad config');
  });
});

describe('sixth review: bad input to helpers is a typed error', () => {
  it('receiveResponse, new Inbox, childSpec, Supervisor and TaskSupervisor child ops, formatReason', async () => {
    const sys = new ActorSystem();
    await expect(sys.receiveResponse(undefined as never, 10)).rejects.toThrow(
      /receiveResponse expects what sendRequest returned/,
    );
    await expect(sys.receiveResponse({} as never, 10)).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(() => new Inbox(undefined as never)).toThrow(/new Inbox expects an ActorSystem/);
    expect(() => childSpec({ init: () => ok(0) }, null, undefined as never)).toThrow(
      /childSpec expects options/,
    );
    const sup = await Supervisor.start(sys, []);
    await expect(Supervisor.terminateChild(sys, sup, 42 as never)).rejects.toThrow(
      /Supervisor.terminateChild expects a child id/,
    );
    await expect(Supervisor.restartChild(sys, sup, null as never)).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
    await expect(Supervisor.deleteChild(sys, sup, {} as never)).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
    const tasks = await TaskSupervisor.start(sys);
    await expect(TaskSupervisor.terminateChild(sys, tasks, 'x' as never)).rejects.toThrow(
      /expects a task's pid/,
    );
    expect(formatReason(undefined as never)).toBe('undefined');
    expect(formatReason(5 as never)).toBe('5');
    expect(formatReason({ shutdown: 'x' })).toBe('{shutdown: x}');
    await sys.shutdown();
  });

  it('GenServer.stop from a process context stops the server, not the caller', async () => {
    const sys = new ActorSystem();
    const server = await GenServer.start(sys, { init: () => ok(0) }, undefined);
    const done: unknown[] = [];
    const caller = sys.spawn(async (_m, ctx) => {
      done.push(
        await GenServer.stop(ctx, server).then(
          () => 'stopped',
          (e: unknown) => e,
        ),
      );
    });
    sys.send(caller, 'go');
    await sleep(20);
    expect(done).toEqual(['stopped']);
    expect(sys.isAlive(server)).toBe(false);
    expect(sys.isAlive(caller)).toBe(true);
    await expect(GenServer.stop({} as never, server)).rejects.toBeInstanceOf(InvalidArgumentError);
  });
});
