import { describe, expect, it } from 'vitest';
import { isDown, type DownMessage } from '../src/messages.js';
import type { Pid } from '../src/pid.js';
import type { Context } from '../src/process.js';
import {
  KeyNotHeldError,
  KeyTakenError,
  Registry,
  RegistryAlreadyStartedError,
  RegistryKeysError,
  RegistryNotRunningError,
} from '../src/registry.js';
import { InvalidArgumentError, NameTakenError } from '../src/reasons.js';
import { ActorSystem } from '../src/system.js';

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * A process that hands out its context and obeys a few commands:
 * 'crash' throws, 'stop' exits normally, a function runs with the context.
 */
async function spawnCtx(sys: ActorSystem): Promise<Context> {
  let ctx: Context | undefined;
  const pid = sys.spawn((message, c) => {
    if (message === 'hello') ctx = c;
    else if (message === 'crash') throw new Error('boom');
    else if (message === 'stop') c.exit('normal');
    else if (typeof message === 'function') (message as (c: Context) => void)(c);
  });
  sys.send(pid, 'hello');
  await tick();
  return ctx!;
}

async function started<K = string, V = unknown>(
  keys: 'unique' | 'duplicate',
  name?: string,
): Promise<{ sys: ActorSystem; reg: Registry<K, V> }> {
  const sys = new ActorSystem();
  const reg = new Registry<K, V>({ keys, name });
  await reg.start(sys);
  return { sys, reg };
}

function hooksOf(pid: Pid): number {
  return pid._proc?.exitHooks?.length ?? 0;
}

function linksOf(pid: Pid): Pid[] {
  return [...(pid._proc?.links ?? [])];
}

describe('Registry options and lifetime', () => {
  it('validates its options from one table', () => {
    expect(() => new Registry({} as never)).toThrow(InvalidArgumentError);
    expect(() => new Registry({ keys: 'many' } as never)).toThrow(
      "options.keys must be 'unique' or 'duplicate', got \"many\"",
    );
    expect(() => new Registry({ keys: 'unique', name: '' })).toThrow(
      'options.name must be a non-empty string, got ""',
    );
    expect(() => new Registry(null as never)).toThrow(InvalidArgumentError);
    expect(new Registry({ keys: 'duplicate' }).keys).toBe('duplicate');
  });

  it('throws registry_not_running before start, naming the operation', async () => {
    const sys = new ActorSystem();
    const ctx = await spawnCtx(sys);
    const reg = new Registry({ keys: 'unique', name: 'r' });
    expect(reg.pid).toBeUndefined();
    const ops: Array<() => unknown> = [
      () => reg.register(ctx, 'a', 1),
      () => reg.registerName('a', ctx.self),
      () => reg.unregister(ctx, 'a'),
      () => reg.unregisterMatch(ctx, 'a', () => true),
      () => reg.updateValue(ctx, 'a', (v) => v),
      () => reg.lookup('a'),
      () => reg.whereis('a'),
      () => reg.keysOf(ctx.self),
      () => reg.values('a', ctx.self),
      () => reg.count(),
      () => reg.countMatch('a'),
      () => reg.match('a', () => true),
      () => reg.select(() => true),
      () => reg.dispatch('a', () => {}),
    ];
    for (const op of ops) {
      expect(op).toThrow(RegistryNotRunningError);
    }
    try {
      reg.lookup('a');
    } catch (error) {
      expect((error as RegistryNotRunningError).code).toBe('registry_not_running');
      expect((error as Error).message).toContain('lookup needs a running registry');
      expect((error as Error).message).toContain('registry "r"');
    }
    // describe is for error messages and works at any time.
    expect(reg.describe('a')).toBe('"a" in registry "r"');
  });

  it('start registers the owner under its name; a second start is refused', async () => {
    const { sys, reg } = await started('unique', 'topics');
    expect(sys.whereis('topics')).toBe(reg.pid);
    await expect(reg.start(sys)).rejects.toBeInstanceOf(RegistryAlreadyStartedError);
    await expect(reg.start(sys)).rejects.toMatchObject({ code: 'already_started' });
    const other = new Registry({ keys: 'unique', name: 'topics' });
    await expect(other.start(sys)).rejects.toBeInstanceOf(NameTakenError);
    expect(other.pid).toBeUndefined();
    await expect(other.start({} as never)).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it('drops every entry when the owner exits, and a restart gives a fresh empty table', async () => {
    const { sys, reg } = await started('unique', 'r');
    const a = await spawnCtx(sys);
    reg.register(a, 'k', 1);
    const owner = reg.pid!;
    await sys.stop(owner);
    expect(reg.pid).toBeUndefined();
    expect(() => reg.lookup('k')).toThrow(RegistryNotRunningError);
    // An orderly owner exit does not take registered processes down.
    expect(sys.isAlive(a.self)).toBe(true);
    expect(hooksOf(a.self)).toBe(0);
    expect(linksOf(a.self)).toEqual([]);

    const again = await reg.start(sys);
    expect(again).not.toBe(owner);
    expect(reg.count()).toBe(0);
    expect(reg.lookup('k')).toEqual([]);
    reg.register(a, 'k', 2);
    expect(reg.lookup('k')).toEqual([[a.self, 2]]);
  });

  it('an owner that dies abnormally takes its registered processes with it (they are linked)', async () => {
    const { sys, reg } = await started('duplicate');
    const a = await spawnCtx(sys);
    const b = await spawnCtx(sys);
    const bystander = await spawnCtx(sys);
    reg.register(a, 'k', 1);
    reg.register(b, 'j', 1);
    expect(linksOf(a.self)).toEqual([reg.pid]);
    sys.exit(reg.pid!, 'kill');
    expect(sys.isAlive(a.self)).toBe(false);
    expect(sys.isAlive(b.self)).toBe(false);
    expect(sys.isAlive(bystander.self)).toBe(true);
  });

  it('a registered process that crashes does not take the owner down', async () => {
    const { sys, reg } = await started('unique');
    const a = await spawnCtx(sys);
    reg.register(a, 'k', 1);
    sys.send(a.self, 'crash');
    await tick();
    expect(sys.isAlive(a.self)).toBe(false);
    expect(sys.isAlive(reg.pid!)).toBe(true);
    expect(reg.lookup('k')).toEqual([]);
    expect(linksOf(reg.pid!)).toEqual([]);
  });

  it('started from a context, the owner is linked to it and dies with it', async () => {
    const sys = new ActorSystem();
    const parent = await spawnCtx(sys);
    const reg = new Registry({ keys: 'unique' });
    const owner = await reg.start(parent);
    expect(linksOf(owner)).toEqual([parent.self]);
    expect(sys.processInfo(owner)?.parent).toBe(parent.self);
    const a = await spawnCtx(sys);
    reg.register(a, 'k', 1);
    sys.send(parent.self, 'crash');
    await tick();
    expect(sys.isAlive(owner)).toBe(false);
    expect(reg.pid).toBeUndefined();
    expect(() => reg.count()).toThrow(RegistryNotRunningError);
  });

  it('childSpec starts the owner linked to the supervisor-like caller', async () => {
    const sys = new ActorSystem();
    const parent = await spawnCtx(sys);
    parent.trapExit(true);
    const reg = new Registry({ keys: 'unique', name: 'names' });
    const spec = reg.childSpec();
    expect(spec).toMatchObject({
      id: 'names',
      restart: 'permanent',
      shutdown: 5000,
      type: 'worker',
    });
    expect(reg.childSpec('custom').id).toBe('custom');
    expect(new Registry({ keys: 'unique' }).childSpec().id).toBe('registry');
    const pid = await spec.start(parent);
    expect(reg.pid).toBe(pid);
    expect(linksOf(pid)).toEqual([parent.self]);
    // A supervisor's shutdown signal ends the owner at once.
    parent.exit(pid, 'shutdown');
    expect(reg.pid).toBeUndefined();
    const again = await spec.start(parent);
    expect(reg.pid).toBe(again);
    expect(reg.count()).toBe(0);
  });

  it('the owner refuses calls with a clear error and ignores other messages', async () => {
    const { sys, reg } = await started('unique', 'r');
    sys.send(reg.pid!, 'hello');
    await expect(sys.call(reg.pid!, 'count')).rejects.toMatchObject({ code: 'unexpected_call' });
    expect(sys.isAlive(reg.pid!)).toBe(true);
  });
});

describe('Registry with unique keys', () => {
  it('registers the calling process and finds it', async () => {
    const { sys, reg } = await started<string, number>('unique');
    const a = await spawnCtx(sys);
    reg.register(a, 'x', 1);
    reg.register(a, 'y', 2);
    expect(reg.lookup('x')).toEqual([[a.self, 1]]);
    expect(reg.whereis('y')).toBe(a.self);
    expect(reg.whereis('z')).toBeUndefined();
    expect(reg.lookup('z')).toEqual([]);
    expect(reg.keysOf(a.self)).toEqual(['x', 'y']);
    expect(reg.values('x', a.self)).toEqual([1]);
    expect(reg.values('x', reg.pid!)).toEqual([]);
    expect(reg.count()).toBe(2);
    expect(reg.countMatch('x')).toBe(1);
    expect(reg.countMatch('x', (v) => v > 1)).toBe(0);
    expect(reg.match('y', (v) => v === 2)).toEqual([[a.self, 2]]);
    expect(reg.select((key) => key === 'y')).toEqual([{ key: 'y', pid: a.self, value: 2 }]);
    // One hook and one link per process, however many keys.
    expect(hooksOf(a.self)).toBe(1);
    expect(linksOf(a.self)).toEqual([reg.pid]);
  });

  it('refuses a key held by a live process, naming the holder, and leaves nothing behind', async () => {
    const { sys, reg } = await started('unique', 'r');
    const a = await spawnCtx(sys);
    const b = await spawnCtx(sys);
    reg.register(a, 'x', 1);
    let error: unknown;
    try {
      reg.register(b, 'x', 2);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(KeyTakenError);
    expect(error).toMatchObject({ code: 'already_registered', holder: a.self, key: 'x' });
    expect((error as Error).message).toBe(
      `key "x" in registry "r" is already registered to ${a.self}`,
    );
    expect(reg.keysOf(b.self)).toEqual([]);
    expect(reg.count()).toBe(1);
    expect(hooksOf(b.self)).toBe(0);
    expect(linksOf(b.self)).toEqual([]);
    expect(reg.debugSizes()).toEqual({ holders: 1, keys: 1, entries: 1 });
  });

  it('refuses the holder registering the same key again', async () => {
    const { sys, reg } = await started('unique');
    const a = await spawnCtx(sys);
    reg.register(a, 'x', 1);
    expect(() => reg.register(a, 'x', 2)).toThrow(KeyTakenError);
    expect(reg.lookup('x')).toEqual([[a.self, 1]]);
  });

  it('unregister frees the key for others; unregistering what one does not hold is a no-op', async () => {
    const { sys, reg } = await started('unique');
    const a = await spawnCtx(sys);
    const b = await spawnCtx(sys);
    reg.register(a, 'x', 1);
    reg.unregister(b, 'x');
    reg.unregister(a, 'nothing');
    expect(reg.whereis('x')).toBe(a.self);
    reg.unregister(a, 'x');
    expect(reg.whereis('x')).toBeUndefined();
    expect(hooksOf(a.self)).toBe(0);
    expect(linksOf(a.self)).toEqual([]);
    reg.register(b, 'x', 3);
    expect(reg.lookup('x')).toEqual([[b.self, 3]]);
  });

  it('unregisterMatch removes the key only when the value matches', async () => {
    const { sys, reg } = await started<string, number>('unique');
    const a = await spawnCtx(sys);
    reg.register(a, 'x', 1);
    reg.unregisterMatch(a, 'x', (v) => v === 2);
    expect(reg.count()).toBe(1);
    expect(() =>
      reg.unregisterMatch(a, 'x', () => {
        throw new Error('bad pattern');
      }),
    ).toThrow('bad pattern');
    expect(reg.count()).toBe(1);
    reg.unregisterMatch(a, 'x', (v) => v === 1);
    expect(reg.count()).toBe(0);
    expect(hooksOf(a.self)).toBe(0);
  });

  it('updateValue changes the holder’s value and refuses anyone else', async () => {
    const { sys, reg } = await started<string, number>('unique', 'r');
    const a = await spawnCtx(sys);
    const b = await spawnCtx(sys);
    reg.register(a, 'x', 1);
    expect(reg.updateValue(a, 'x', (v) => v + 10)).toBe(11);
    expect(reg.lookup('x')).toEqual([[a.self, 11]]);
    expect(() => reg.updateValue(b, 'x', (v) => v)).toThrow(KeyNotHeldError);
    expect(() => reg.updateValue(a, 'nope', (v) => v)).toThrow(
      `${a.self} does not hold key "nope" in registry "r"`,
    );
    expect(() =>
      reg.updateValue(a, 'x', () => {
        throw new Error('no');
      }),
    ).toThrow('no');
    expect(reg.lookup('x')).toEqual([[a.self, 11]]);
  });

  it('dispatch calls back synchronously with the entry, and not at all for a free key', async () => {
    const { sys, reg } = await started('unique');
    const a = await spawnCtx(sys);
    reg.register(a, 'x', 'v');
    const calls: unknown[] = [];
    reg.dispatch('x', (entries) => calls.push(entries));
    reg.dispatch('free', (entries) => calls.push(entries));
    expect(calls).toEqual([[[a.self, 'v']]]);
  });

  it('registerName registers a given pid, and is refused like register', async () => {
    const { sys, reg } = await started('unique');
    const a = await spawnCtx(sys);
    const b = await spawnCtx(sys);
    reg.registerName('x', a.self);
    expect(reg.lookup('x')).toEqual([[a.self, undefined]]);
    expect(() => reg.registerName('x', b.self)).toThrow(KeyTakenError);
    expect(() => reg.registerName('y', 'nope' as never)).toThrow(InvalidArgumentError);
    sys.exit(b.self, 'kill');
    expect(() => reg.registerName('y', b.self)).toThrow('has exited; nothing was registered');
    expect(reg.count()).toBe(1);
  });

  it('validates callbacks and pids', async () => {
    const { sys, reg } = await started('unique');
    const a = await spawnCtx(sys);
    expect(() => reg.match('x', 'no' as never)).toThrow('match pattern must be a function');
    expect(() => reg.keysOf({} as never)).toThrow('keysOf pid must be a pid');
    expect(() => reg.register({} as never, 'x', 1)).toThrow(
      "register expects the calling process's context",
    );
    expect(() => reg.dispatch('x', null as never)).toThrow(InvalidArgumentError);
    expect(reg.count()).toBe(0);
    expect(reg.keysOf(a.self)).toEqual([]);
  });
});

describe('Registry with duplicate keys', () => {
  it('lets one process register a key many times, and many processes one key', async () => {
    const { sys, reg } = await started<string, number>('duplicate');
    const a = await spawnCtx(sys);
    const b = await spawnCtx(sys);
    reg.register(a, 'k', 1);
    reg.register(a, 'k', 2);
    reg.register(b, 'k', 3);
    reg.register(a, 'j', 4);
    expect(reg.lookup('k')).toEqual([
      [a.self, 1],
      [a.self, 2],
      [b.self, 3],
    ]);
    expect(reg.keysOf(a.self)).toEqual(['k', 'k', 'j']);
    expect(reg.keysOf(b.self)).toEqual(['k']);
    expect(reg.values('k', a.self)).toEqual([1, 2]);
    expect(reg.count()).toBe(4);
    expect(reg.countMatch('k')).toBe(3);
    expect(reg.countMatch('k', (v) => v >= 2)).toBe(2);
    expect(reg.match('k', (v) => v % 2 === 1)).toEqual([
      [a.self, 1],
      [b.self, 3],
    ]);
    expect(reg.select((_key, pid, value) => pid === a.self && value > 1)).toEqual([
      { key: 'k', pid: a.self, value: 2 },
      { key: 'j', pid: a.self, value: 4 },
    ]);
    expect(hooksOf(a.self)).toBe(1);
  });

  it('unregister removes all of the caller’s entries under the key, and only those', async () => {
    const { sys, reg } = await started<string, number>('duplicate');
    const a = await spawnCtx(sys);
    const b = await spawnCtx(sys);
    reg.register(a, 'k', 1);
    reg.register(a, 'k', 2);
    reg.register(b, 'k', 3);
    reg.unregister(a, 'k');
    expect(reg.lookup('k')).toEqual([[b.self, 3]]);
    expect(reg.count()).toBe(1);
    expect(hooksOf(a.self)).toBe(0);
    expect(linksOf(a.self)).toEqual([]);
  });

  it('unregisterMatch removes the matching entries; a throwing pattern removes none', async () => {
    const { sys, reg } = await started<string, number>('duplicate');
    const a = await spawnCtx(sys);
    for (const v of [1, 2, 3, 4]) reg.register(a, 'k', v);
    let calls = 0;
    expect(() =>
      reg.unregisterMatch(a, 'k', (v) => {
        calls++;
        if (v === 3) throw new Error('bad pattern');
        return true;
      }),
    ).toThrow('bad pattern');
    expect(calls).toBe(3);
    expect(reg.values('k', a.self)).toEqual([1, 2, 3, 4]);
    reg.unregisterMatch(a, 'k', (v) => v % 2 === 0);
    expect(reg.values('k', a.self)).toEqual([1, 3]);
    expect(reg.keysOf(a.self)).toEqual(['k', 'k']);
    expect(reg.count()).toBe(2);
    reg.unregisterMatch(a, 'k', () => false);
    expect(reg.count()).toBe(2);
    reg.unregisterMatch(a, 'k', () => true);
    expect(reg.count()).toBe(0);
    expect(reg.debugSizes()).toEqual({ holders: 0, keys: 0, entries: 0 });
    expect(hooksOf(a.self)).toBe(0);
  });

  it('refuses the unique-only operations', async () => {
    const { sys, reg } = await started('duplicate', 'pubsub');
    const a = await spawnCtx(sys);
    reg.register(a, 'k', 1);
    expect(() => reg.whereis('k')).toThrow(RegistryKeysError);
    expect(() => reg.registerName('k', a.self)).toThrow(
      'registerName needs a registry with unique keys, but registry "pubsub" has duplicate keys',
    );
    expect(() => reg.updateValue(a, 'k', (v) => v)).toThrow(RegistryKeysError);
  });

  it('dispatch hands every entry to one synchronous call', async () => {
    const { sys, reg } = await started('duplicate');
    const subscribers = [await spawnCtx(sys), await spawnCtx(sys)];
    for (const s of subscribers) reg.register(s, 'topic', s.self.toString());
    let calls = 0;
    reg.dispatch('topic', (entries) => {
      calls++;
      expect(entries.map(([pid]) => pid)).toEqual(subscribers.map((s) => s.self));
    });
    expect(calls).toBe(1);
    reg.dispatch('other', () => calls++);
    expect(calls).toBe(1);
    expect(() =>
      reg.dispatch('topic', () => {
        throw new Error('from callback');
      }),
    ).toThrow('from callback');
  });
});

describe('Registry cleanup on exit', () => {
  for (const how of ['kill', 'crash', 'normal', 'signal'] as const) {
    it(`drops a process's entries as it exits (${how}), before any monitor hears of it`, async () => {
      const { sys, reg } = await started('duplicate');
      const a = await spawnCtx(sys);
      reg.register(a, 'k', 1);
      reg.register(a, 'j', 2);
      const seen: Array<{ down: DownMessage; lookup: unknown; count: number }> = [];
      const watcher = sys.spawn((message) => {
        if (isDown(message))
          seen.push({ down: message, lookup: reg.lookup('k'), count: reg.count() });
      });
      watcher._proc!.monitor(a.self);
      if (how === 'kill') {
        sys.exit(a.self, 'kill');
        // Synchronous: no turn of the scheduler in between.
        expect(reg.lookup('k')).toEqual([]);
      } else if (how === 'signal') {
        sys.exit(a.self, new Error('signalled'));
        expect(reg.lookup('k')).toEqual([]);
      } else {
        sys.send(a.self, how === 'crash' ? 'crash' : 'stop');
      }
      await tick();
      expect(seen).toHaveLength(1);
      expect(seen[0]!.lookup).toEqual([]);
      expect(seen[0]!.count).toBe(0);
      expect(reg.keysOf(a.self)).toEqual([]);
      expect(reg.debugSizes()).toEqual({ holders: 0, keys: 0, entries: 0 });
      expect(linksOf(reg.pid!)).toEqual([]);
      expect(sys.isAlive(reg.pid!)).toBe(true);
    });
  }

  it('a successor can take a unique key from inside the DOWN handler', async () => {
    const { sys, reg } = await started('unique');
    const a = await spawnCtx(sys);
    reg.register(a, 'leader', 'a');
    let took: unknown;
    const successor = sys.spawn((message, ctx) => {
      if (!isDown(message)) return;
      reg.register(ctx, 'leader', 'b');
      took = reg.whereis('leader');
    });
    successor._proc!.monitor(a.self);
    sys.send(a.self, 'crash');
    await tick();
    expect(took).toBe(successor);
  });

  it('a caller that has already exited registers nothing', async () => {
    const { sys, reg } = await started('unique');
    const a = await spawnCtx(sys);
    sys.exit(a.self, 'kill');
    reg.register(a, 'x', 1);
    expect(reg.count()).toBe(0);
    expect(reg.debugSizes()).toEqual({ holders: 0, keys: 0, entries: 0 });
  });

  it('10,000 register/unregister cycles leave no entry, hook or link behind', async () => {
    for (const keys of ['unique', 'duplicate'] as const) {
      const { sys, reg } = await started<number, number>(keys);
      const a = await spawnCtx(sys);
      for (let i = 0; i < 10_000; i++) {
        reg.register(a, i % 7, i);
        if (keys === 'duplicate') reg.register(a, i % 7, -i);
        reg.unregister(a, i % 7);
      }
      expect(reg.debugSizes()).toEqual({ holders: 0, keys: 0, entries: 0 });
      expect(reg.count()).toBe(0);
      expect(hooksOf(a.self)).toBe(0);
      expect(linksOf(a.self)).toEqual([]);
      expect(linksOf(reg.pid!)).toEqual([]);
    }
  });

  it('1,000 registered processes that exit leave nothing behind', async () => {
    const { sys, reg } = await started<number, number>('unique');
    const ctxs: Context[] = [];
    for (let i = 0; i < 1000; i++) ctxs.push(await spawnCtx(sys));
    ctxs.forEach((c, i) => reg.register(c, i, i));
    expect(reg.count()).toBe(1000);
    expect(linksOf(reg.pid!)).toHaveLength(1000);
    ctxs.forEach((c, i) => sys.exit(c.self, i % 2 === 0 ? 'kill' : new Error('x')));
    expect(reg.debugSizes()).toEqual({ holders: 0, keys: 0, entries: 0 });
    expect(linksOf(reg.pid!)).toEqual([]);
    expect(sys.isAlive(reg.pid!)).toBe(true);
    expect(sys.processes()).toEqual([reg.pid]);
  });
});
