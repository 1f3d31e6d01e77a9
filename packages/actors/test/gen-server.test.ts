import { describe, expect, expectTypeOf, it } from 'vitest';
import { SimulatedClock } from '../src/clock.js';
import {
  BadReturnError,
  GenServer,
  ignore,
  noreply,
  ok,
  reply,
  stop,
  type GenServer as Behaviour,
} from '../src/gen-server.js';
import { Inbox } from '../src/inbox.js';
import { isDown, isExit, type DownMessage } from '../src/messages.js';
import type { Protocol } from '../src/protocol.js';
import type { From } from '../src/call.js';
import {
  CallExitError,
  CallSelfError,
  CallTimeoutError,
  NoProcError,
  StartError,
  type ExitReason,
} from '../src/reasons.js';
import { ActorSystem } from '../src/system.js';
import type { Context } from '../src/process.js';

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

type CounterCall = 'get' | { type: 'add'; by: number };
type CounterProtocol = Protocol<CounterCall, { get: number; add: number }, 'inc'>;

const Counter: Behaviour<{ n: number }, number, CounterProtocol> = {
  init: (n) => ok({ n }),
  handleCall(request, _from, state) {
    if (request === 'get') return reply(state.n, state);
    return reply(state.n + request.by, (draft) => {
      draft.n += request.by;
    });
  },
  handleCast(_message, state) {
    return noreply({ n: state.n + 1 });
  },
};

describe('GenServer basics', () => {
  it('starts after init, answers calls and casts in order', async () => {
    const sys = new ActorSystem();
    const pid = await GenServer.start(sys, Counter, 10, { name: 'counter' });
    sys.cast(pid, 'inc');
    sys.cast('counter', 'inc');
    expect(await sys.call(pid, 'get')).toBe(12);
    expect(await sys.call(pid, { type: 'add', by: 5 })).toBe(17);
  });

  it('types each reply from its request at compile time', async () => {
    const sys = new ActorSystem();
    const pid = await GenServer.start(sys, Counter, 0);
    const got = sys.call(pid, 'get');
    expectTypeOf(got).toEqualTypeOf<Promise<number>>();
    // Compile-time checks only: this function is type-checked, never run.
    const neverRun = () => {
      // @ts-expect-error: 'nope' is not a request of CounterProtocol
      void sys.call(pid, 'nope');
      // @ts-expect-error: a cast of the wrong type
      sys.cast(pid, 'dec');
      // @ts-expect-error: add needs its `by`
      void sys.call(pid, { type: 'add' });
    };
    expect(typeof neverRun).toBe('function');
    expect(await got).toBe(0);
  });

  it('immer recipes update the state; a throwing handler leaves the committed state untouched', async () => {
    const sys = new ActorSystem();
    const seenInTerminate: unknown[] = [];
    const S: Behaviour<{ items: string[] }, void> = {
      init: () => ok({ items: ['a'] }),
      handleCast(message) {
        if (message === 'add') {
          return noreply((d) => {
            d.items.push('b');
          });
        }
        return noreply((d) => {
          d.items.push('half-applied');
          throw new Error('bad update');
        });
      },
      handleCall: (_r, _f, state) => reply(state.items, state),
      terminate(_reason, state) {
        seenInTerminate.push(state);
      },
    };
    const pid = await GenServer.start(sys, S, undefined);
    sys.cast(pid, 'add');
    const items = (await sys.call(pid, 'get')) as string[];
    expect(items).toEqual(['a', 'b']);
    expect(Object.isFrozen(items)).toBe(true);
    sys.cast(pid, 'break');
    await sys.whenExited(pid);
    expect(seenInTerminate).toEqual([{ items: ['a', 'b'] }]);
  });

  it('handleContinue runs before any other message', async () => {
    const sys = new ActorSystem();
    const log: string[] = [];
    const S: Behaviour<null, void> = {
      init: () => ok(null, { continue: 'warm' }),
      handleContinue(arg, state) {
        log.push(`continue ${String(arg)}`);
        return noreply(state);
      },
      handleCast(m, state) {
        log.push(`cast ${String(m)}`);
        return m === 'twice' ? noreply(state, { continue: 'again' }) : noreply(state);
      },
    };
    const pid = await GenServer.start(sys, S, undefined);
    sys.cast(pid, 'twice');
    sys.cast(pid, 'last');
    await tick();
    expect(log).toEqual(['continue warm', 'cast twice', 'continue again', 'cast last']);
  });

  it('deferred replies with noreply + GenServer.reply', async () => {
    const sys = new ActorSystem();
    const waiting: From[] = [];
    const S: Behaviour<null, void> = {
      init: () => ok(null),
      handleCall(request, from, state) {
        if (request === 'wait') {
          waiting.push(from);
          return noreply(state);
        }
        for (const f of waiting.splice(0)) GenServer.reply(f, 'released');
        return reply('done', state);
      },
    };
    const pid = await GenServer.start(sys, S, undefined);
    const w1 = sys.call(pid, 'wait');
    const w2 = sys.call(pid, 'wait');
    expect(await sys.call(pid, 'release')).toBe('done');
    expect(await Promise.all([w1, w2])).toEqual(['released', 'released']);
  });

  it('async callbacks suspend the server only', async () => {
    const sys = new ActorSystem();
    const S: Behaviour<number, void> = {
      init: async () => {
        await tick();
        return ok(1);
      },
      async handleCall(_r, _f, state) {
        await tick();
        return reply(state, state + 1);
      },
    };
    const pid = await GenServer.start(sys, S, undefined);
    expect(await Promise.all([sys.call(pid, 'x'), sys.call(pid, 'x'), sys.call(pid, 'x')])).toEqual(
      [1, 2, 3],
    );
  });

  it('a callback returning something undocumented crashes with BadReturnError', async () => {
    const sys = new ActorSystem();
    const S: Behaviour<null, void> = {
      init: () => ok(null),
      handleCall: () => ({ kind: 'whatever' }) as never,
    };
    const pid = await GenServer.start(sys, S, undefined);
    const error = await sys.call(pid, 'x').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CallExitError);
    expect((error as CallExitError).reason).toBeInstanceOf(BadReturnError);
  });

  it('a call or cast the server does not handle crashes it with a clear code', async () => {
    const sys = new ActorSystem();
    const pid = await GenServer.start(sys, { init: () => ok(null) }, undefined);
    const error = (await sys.call(pid, 'x').catch((e: unknown) => e)) as CallExitError;
    expect((error.reason as Error & { code: string }).code).toBe('unexpected_call');
  });
});

describe('GenServer calls', () => {
  it('a call with 100 ms timeout to a server replying at 150 ms rejects at 100 ms; the late reply is discarded', async () => {
    const clock = new SimulatedClock();
    const sys = new ActorSystem({ clock });
    const Slow: Behaviour<null, void> = {
      init: () => ok(null),
      handleCall(request, from, state, ctx) {
        if (request === 'slow') {
          ctx.sendAfter(ctx.self, { answer: from }, 150);
          return noreply(state);
        }
        return reply(`fast ${String(request)}`, state);
      },
      handleInfo(message, state) {
        const { answer } = message as { answer: From };
        GenServer.reply(answer, 'late');
        return noreply(state);
      },
    };
    const server = await GenServer.start(sys, Slow, undefined);
    // The caller is a process, to show the late reply never reaches its mailbox.
    const callerInfo: unknown[] = [];
    const results: unknown[] = [];
    const Caller: Behaviour<null, void> = {
      init: () => ok(null),
      async handleCast(_m, state, ctx) {
        results.push(await ctx.call(server, 'slow', 100).catch((e: unknown) => e));
        results.push(await ctx.call(server, 'next', 100));
        return noreply(state);
      },
      handleInfo(message, state) {
        callerInfo.push(message);
        return noreply(state);
      },
    };
    const caller = await GenServer.start(sys, Caller, undefined);
    sys.cast(caller, 'go');
    await tick();
    clock.advance(99);
    await tick();
    expect(results).toEqual([]);
    clock.advance(1);
    await tick();
    expect(results[0]).toBeInstanceOf(CallTimeoutError);
    expect((results[0] as CallTimeoutError).timeoutMs).toBe(100);
    clock.advance(100);
    await tick();
    expect(results[1]).toBe('fast next');
    expect(callerInfo).toEqual([]);
    expect(clock.pending()).toBe(0);
  });

  it('a call with infinite timeout to a server that crashes rejects at once with its reason', async () => {
    const sys = new ActorSystem();
    const boom = new Error('crashed mid-call');
    const S: Behaviour<null, void> = {
      init: () => ok(null),
      handleCall(_r, _from, state, ctx) {
        ctx.sendAfter(ctx.self, 'die', 5);
        return noreply(state);
      },
      handleInfo() {
        throw boom;
      },
    };
    const pid = await GenServer.start(sys, S, undefined);
    const started = performance.now();
    const error = (await sys.call(pid, 'x', Infinity).catch((e: unknown) => e)) as CallExitError;
    expect(performance.now() - started).toBeLessThan(1000);
    expect(error).toBeInstanceOf(CallExitError);
    expect(error.reason).toBe(boom);
    expect(error.cause).toBe(boom);
  });

  it('a call to a dead pid or an unknown name rejects at once with noproc', async () => {
    const sys = new ActorSystem();
    const pid = await GenServer.start(sys, Counter, 0);
    await GenServer.stop(sys, pid);
    await expect(sys.call(pid, 'get')).rejects.toBeInstanceOf(NoProcError);
    await expect(sys.call('missing', 'get')).rejects.toMatchObject({ code: 'noproc' });
  });

  it('a call to oneself fails at once with a clear error', async () => {
    const sys = new ActorSystem();
    let caught: unknown;
    const S: Behaviour<null, void> = {
      init: () => ok(null),
      async handleCast(_m, state, ctx) {
        caught = await ctx.call(ctx.self, 'me').catch((e: unknown) => e);
        return noreply(state);
      },
    };
    const pid = await GenServer.start(sys, S, undefined);
    sys.cast(pid, 'go');
    await tick();
    await tick();
    expect(caught).toBeInstanceOf(CallSelfError);
    expect((caught as CallSelfError).code).toBe('calling_self');
  });

  it('rejects a bad timeout value with a typed error', async () => {
    const sys = new ActorSystem();
    const pid = await GenServer.start(sys, Counter, 0);
    await expect(sys.call(pid, 'get', -1)).rejects.toMatchObject({ code: 'invalid_argument' });
  });
});

describe('GenServer start and stop', () => {
  async function startUnderParent(
    sys: ActorSystem,
    behaviour: Behaviour<unknown, void>,
    name?: string,
  ) {
    const parentInbox = new Inbox(sys);
    parentInbox.trapExit(true);
    let outcome: unknown;
    const parent = await GenServer.start(
      sys,
      {
        init: () => ok(null),
        async handleCall(_r, _f, state, ctx: Context) {
          outcome = await GenServer.startLink(ctx, behaviour, undefined, {
            name,
            timeout: 50,
          }).catch((e: unknown) => e);
          return reply(outcome, state);
        },
        handleInfo(message, state) {
          parentInbox.accept(message);
          return noreply(state);
        },
      },
      undefined,
      { trapExit: true },
    );
    const result = await sys.call(parent, 'start');
    await tick();
    return { result, parentMessages: parentInbox.messages };
  }

  it('init that throws: start rejects, the name is free, no EXIT reaches the parent', async () => {
    const sys = new ActorSystem();
    const { result, parentMessages } = await startUnderParent(
      sys,
      {
        init: () => {
          throw new Error('no db');
        },
      },
      'svc',
    );
    expect(result).toBeInstanceOf(StartError);
    expect((result as StartError).code).toBe('start_failed');
    expect(((result as StartError).reason as Error).message).toBe('no db');
    expect(sys.whereis('svc')).toBeUndefined();
    expect(parentMessages.filter(isExit)).toEqual([]);
  });

  it('init returning stop or ignore', async () => {
    const sys = new ActorSystem();
    const stopped = await startUnderParent(sys, { init: () => stop({ shutdown: 'nope' }) }, 'a');
    expect((stopped.result as StartError).reason).toEqual({ shutdown: 'nope' });
    const ignored = await startUnderParent(sys, { init: () => ignore() }, 'a');
    expect((ignored.result as StartError).code).toBe('start_ignored');
    expect(sys.whereis('a')).toBeUndefined();
    expect([...stopped.parentMessages, ...ignored.parentMessages].filter(isExit)).toEqual([]);
  });

  it('init exceeding its timeout: the process is killed, start rejects init_timeout', async () => {
    const sys = new ActorSystem();
    const { result, parentMessages } = await startUnderParent(
      sys,
      { init: () => new Promise(() => {}) },
      'slow',
    );
    expect((result as StartError).code).toBe('init_timeout');
    expect(sys.whereis('slow')).toBeUndefined();
    expect(parentMessages.filter(isExit)).toEqual([]);
    // Only the parent and the inbox remain.
    expect(sys.processes()).toHaveLength(2);
  });

  it('a taken name refuses the start and leaves nothing behind', async () => {
    const sys = new ActorSystem();
    await GenServer.start(sys, Counter, 0, { name: 'c' });
    const before = sys.processes().length;
    await expect(GenServer.start(sys, Counter, 0, { name: 'c' })).rejects.toMatchObject({
      code: 'already_registered',
    });
    expect(sys.processes()).toHaveLength(before);
  });

  it('stop runs terminate with the reason and resolves once the server is gone', async () => {
    const sys = new ActorSystem();
    const log: ExitReason[] = [];
    const S: Behaviour<null, void> = {
      init: () => ok(null),
      async terminate(reason) {
        await tick();
        log.push(reason);
      },
    };
    const pid = await GenServer.start(sys, S, undefined);
    await GenServer.stop(sys, pid, { shutdown: 'bye' });
    expect(log).toEqual([{ shutdown: 'bye' }]);
    expect(sys.isAlive(pid)).toBe(false);
    await expect(GenServer.stop(sys, pid)).rejects.toBeInstanceOf(NoProcError);
  });

  it('terminate runs on an EXIT from the parent when trapping, not on kill', async () => {
    const sys = new ActorSystem();
    const log: ExitReason[] = [];
    const S: Behaviour<null, void> = {
      init: () => ok(null),
      terminate(reason) {
        log.push(reason);
      },
    };
    const a = await GenServer.start(sys, S, undefined, { trapExit: true });
    sys.exit(a, 'shutdown'); // from outside: parent is null, signal from null
    await sys.whenExited(a);
    const b = await GenServer.start(sys, S, undefined, { trapExit: true });
    sys.exit(b, 'kill');
    expect(await sys.whenExited(b)).toBe('noproc');
    expect(log).toEqual(['shutdown']);
  });

  it('a crash report names the process, its last message and its formatted state', async () => {
    const records: unknown[] = [];
    const logger = {
      error: (r: unknown) => records.push(r),
      warn() {},
      info() {},
      debug() {},
    };
    const sys = new ActorSystem({ logger });
    const S: Behaviour<{ secret: string }, void> = {
      init: () => ok({ secret: 'hunter2' }),
      handleCast() {
        throw new Error('kaput');
      },
      formatState: () => ({ secret: '[redacted]' }),
    };
    const pid = await GenServer.start(sys, S, undefined, { name: 'vault' });
    const inbox = new Inbox(sys);
    inbox.monitor(pid);
    sys.cast(pid, { op: 'open' });
    await inbox.receive<DownMessage>(isDown);
    expect(records).toEqual([
      expect.objectContaining({
        label: 'crash_report',
        pid: pid.toString(),
        name: 'vault',
        lastMessage: { op: 'open' },
        state: { secret: '[redacted]' },
      }),
    ]);
  });
});

describe('caller stacks', () => {
  it('with callerStacks on, a call that times out shows where it was made', async () => {
    const clock = new SimulatedClock();
    const sys = new ActorSystem({ clock, callerStacks: true });
    const pid = await GenServer.start(
      sys,
      { init: () => ok(null), handleCall: (_r, _f, s) => noreply(s) },
      undefined,
    );
    async function someDistinctiveCaller() {
      return sys.call(pid, 'hang', 10);
    }
    const pending = someDistinctiveCaller().catch((e: unknown) => e);
    clock.advance(10);
    const error = (await pending) as CallTimeoutError;
    expect(error).toBeInstanceOf(CallTimeoutError);
    expect(error.stack).toContain('call made at');
    expect(error.stack).toContain('someDistinctiveCaller');
  });
});

describe('call timeouts are reported', () => {
  it('a timed-out call writes a call_timeout record and a telemetry event', async () => {
    const clock = new SimulatedClock();
    const records: unknown[] = [];
    const events: unknown[] = [];
    const logger = {
      error() {},
      warn: (r: unknown) => records.push(r),
      info() {},
      debug() {},
    };
    const sys = new ActorSystem({ clock, logger, telemetry: (e) => events.push(e) });
    const pid = await GenServer.start(
      sys,
      { init: () => ok(null), handleCall: (_r, _f, s) => noreply(s) },
      undefined,
      { name: 'silent' },
    );
    const pending = sys.call('silent', 'x', 20).catch((e: unknown) => e);
    const request = sys.sendRequest(pid, 'y');
    const response = sys.receiveResponse(request, 30).catch((e: unknown) => e);
    clock.advance(30);
    expect(await pending).toBeInstanceOf(CallTimeoutError);
    expect(await response).toBeInstanceOf(CallTimeoutError);
    expect(records).toEqual([
      { label: 'call_timeout', target: 'name "silent"', timeoutMs: 20 },
      { label: 'call_timeout', target: pid.toString(), timeoutMs: 30 },
    ]);
    expect(events).toContainEqual({ type: 'call_timeout', target: 'name "silent"', timeoutMs: 20 });
    expect(events).toContainEqual({ type: 'call_timeout', target: pid.toString(), timeoutMs: 30 });
  });
});
