import { describe, expect, it } from 'vitest';
import { ActorSystem } from '../src/system.js';
import { Inbox } from '../src/inbox.js';
import { isDown, isExit, type DownMessage, type ExitMessage } from '../src/messages.js';
import { NoProcError, NameTakenError, InvalidArgumentError } from '../src/reasons.js';
import type { Pid } from '../src/pid.js';

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('processes', () => {
  it('handles messages one at a time in FIFO order', async () => {
    const sys = new ActorSystem();
    const seen: number[] = [];
    const pid = sys.spawn((m) => {
      seen.push(m as number);
    });
    for (let i = 0; i < 1000; i++) sys.send(pid, i);
    await tick();
    expect(seen).toEqual(Array.from({ length: 1000 }, (_, i) => i));
  });

  it('an async handler suspends only its own process', async () => {
    const sys = new ActorSystem();
    const order: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const slow = sys.spawn(async (m) => {
      order.push(`slow start ${String(m)}`);
      await gate;
      order.push(`slow end ${String(m)}`);
    });
    const fast = sys.spawn((m) => {
      order.push(`fast ${String(m)}`);
    });
    sys.send(slow, 1);
    sys.send(slow, 2);
    await tick();
    sys.send(fast, 'a');
    await tick();
    // slow is blocked in message 1; message 2 waits in its mailbox; fast runs.
    expect(order).toEqual(['slow start 1', 'fast a']);
    expect(sys.processInfo(slow)?.status).toBe('suspended');
    expect(sys.processInfo(slow)?.mailboxLength).toBe(1);
    release();
    await tick();
    expect(order).toEqual(['slow start 1', 'fast a', 'slow end 1', 'slow start 2', 'slow end 2']);
  });

  it('pids are unique, printable and never reused', () => {
    const sys = new ActorSystem();
    const pids = new Set<string>();
    for (let i = 0; i < 100; i++) {
      const p = sys.spawn(() => {});
      sys.exit(p, 'kill');
      pids.add(p.toString());
    }
    expect(pids.size).toBe(100);
    expect([...pids][0]).toMatch(/^<\d+\.\d+\.0>$/);
  });

  it('sending to a dead pid is a silent no-op; to an unknown name it throws NoProcError', () => {
    const sys = new ActorSystem();
    const p = sys.spawn(() => {});
    sys.exit(p, 'kill');
    expect(() => sys.send(p, 'x')).not.toThrow();
    expect(() => sys.send('nobody', 'x')).toThrow(NoProcError);
    expect(() => sys.cast('nobody', 'x')).not.toThrow();
  });

  it('registered names: unique, freed at exit, refused registration leaves nothing', async () => {
    const sys = new ActorSystem();
    const a = sys.spawn(() => {}, { name: 'a' });
    expect(sys.whereis('a')).toBe(a);
    expect(() => sys.spawn(() => {}, { name: 'a' })).toThrow(NameTakenError);
    expect(sys.processes()).toEqual([a]);
    expect(() => sys.spawn(() => {}, { name: '' })).toThrow(InvalidArgumentError);
    sys.exit(a, 'kill');
    expect(sys.whereis('a')).toBeUndefined();
    const b = sys.spawn(() => {}, { name: 'a' });
    expect(sys.whereis('a')).toBe(b);
  });

  it('a throwing handler crashes the process with that error as reason', async () => {
    const sys = new ActorSystem();
    const inbox = new Inbox(sys);
    const boom = new Error('boom');
    const p = sys.spawn(() => {
      throw boom;
    });
    inbox.monitor(p);
    sys.send(p, 1);
    const down = await inbox.receive<DownMessage>(isDown);
    expect(down.pid).toBe(p);
    expect(down.reason).toBe(boom);
    expect(sys.isAlive(p)).toBe(false);
  });

  it('a rejected async handler crashes the process too', async () => {
    const sys = new ActorSystem();
    const inbox = new Inbox(sys);
    const p = sys.spawn(async () => {
      await Promise.resolve();
      throw new TypeError('late');
    });
    inbox.monitor(p);
    sys.send(p, 1);
    const down = await inbox.receive<DownMessage>(isDown);
    expect(down.reason).toBeInstanceOf(TypeError);
  });

  it('ctx.exit(reason) ends the calling process with that reason', async () => {
    const sys = new ActorSystem();
    const inbox = new Inbox(sys);
    const p = sys.spawn((_m, ctx) => ctx.exit({ shutdown: 'done' }));
    inbox.monitor(p);
    sys.send(p, 1);
    const down = await inbox.receive<DownMessage>(isDown);
    expect(down.reason).toEqual({ shutdown: 'done' });
  });

  it('non-Error throws are wrapped so the reason stays an Error', async () => {
    const sys = new ActorSystem();
    const inbox = new Inbox(sys);
    const p = sys.spawn(() => {
      throw 'a string';
    });
    inbox.monitor(p);
    sys.send(p, 1);
    const down = await inbox.receive<DownMessage>(isDown);
    expect(down.reason).toBeInstanceOf(Error);
    expect((down.reason as Error & { value: unknown }).value).toBe('a string');
  });

  it('spawn validates its arguments', () => {
    const sys = new ActorSystem();
    expect(() => sys.spawn('nope' as never)).toThrow(InvalidArgumentError);
    expect(() => sys.spawn(() => {}, { mailbox: { capacity: 0 } })).toThrow(/capacity/);
    expect(() => sys.spawn(() => {}, { mailbox: { capacity: 1, overflow: 'x' as never } })).toThrow(
      /overflow/,
    );
    expect(() => new ActorSystem({ processBudget: 0 })).toThrow(/processBudget/);
  });
});

describe('links and exit signals', () => {
  function trap(sys: ActorSystem): { inbox: Inbox; pid: Pid } {
    const inbox = new Inbox(sys);
    inbox.trapExit(true);
    return { inbox, pid: inbox.pid };
  }

  it('an abnormal exit kills linked processes that do not trap exits', async () => {
    const sys = new ActorSystem();
    const watcher = new Inbox(sys);
    const a = sys.spawn(() => {
      throw new Error('a died');
    });
    const b = sys.spawn((_m, ctx) => ctx.link(a));
    watcher.monitor(b);
    sys.send(b, 'link now');
    await tick();
    sys.send(a, 'crash');
    const down = await watcher.receive<DownMessage>(isDown);
    expect(down.pid).toBe(b);
    expect((down.reason as Error).message).toBe('a died');
  });

  it('a trapping process receives EXIT instead of dying', async () => {
    const sys = new ActorSystem();
    const { inbox, pid } = trap(sys);
    const a = sys.spawn(() => {
      throw new Error('x');
    });
    inbox.link(a);
    sys.send(a, 1);
    const exit = await inbox.receive<ExitMessage>(isExit);
    expect(exit.from).toBe(a);
    expect((exit.reason as Error).message).toBe('x');
    expect(sys.isAlive(pid)).toBe(true);
  });

  it('normal never kills a linked process', async () => {
    const sys = new ActorSystem();
    const watcher = new Inbox(sys);
    const a = sys.spawn((_m, ctx) => ctx.exit('normal'));
    const b = sys.spawn(() => {}, { link: a });
    watcher.monitor(b);
    sys.send(a, 1);
    await tick();
    expect(sys.isAlive(a)).toBe(false);
    expect(sys.isAlive(b)).toBe(true);
    expect(sys.processInfo(b)?.links).toEqual([]);
  });

  it('shutdown propagates through links like any non-normal reason', async () => {
    const sys = new ActorSystem();
    const a = sys.spawn(() => {});
    const b = sys.spawn(() => {}, { link: a });
    sys.exit(a, 'shutdown');
    expect(sys.isAlive(b)).toBe(false);
  });

  it('kill cannot be trapped and observers see killed', async () => {
    const sys = new ActorSystem();
    const watcher = new Inbox(sys);
    const { inbox, pid } = trap(sys);
    watcher.monitor(pid);
    sys.exit(pid, 'kill');
    const down = await watcher.receive<DownMessage>(isDown);
    expect(down.reason).toBe('killed');
    expect(inbox.messages).toEqual([]);
  });

  it('killed propagates through links and is trappable there', async () => {
    const sys = new ActorSystem();
    const { inbox } = trap(sys);
    const a = sys.spawn(() => {});
    inbox.link(a);
    sys.exit(a, 'kill');
    const exit = await inbox.receive<ExitMessage>(isExit);
    expect(exit.reason).toBe('killed');
  });

  it('an exit signal to a trapping process becomes an EXIT message', async () => {
    const sys = new ActorSystem();
    const { inbox } = trap(sys);
    sys.exit(inbox.pid, 'shutdown');
    const exit = await inbox.receive<ExitMessage>(isExit);
    expect(exit.from).toBeNull();
    expect(exit.reason).toBe('shutdown');
  });

  it('linking to a dead pid: EXIT noproc when trapping, death with noproc otherwise', async () => {
    const sys = new ActorSystem();
    const dead = sys.spawn(() => {});
    sys.exit(dead, 'kill');
    const { inbox } = trap(sys);
    inbox.link(dead);
    const exit = await inbox.receive<ExitMessage>(isExit);
    expect(exit.reason).toBe('noproc');

    const watcher = new Inbox(sys);
    const b = sys.spawn((_m, ctx) => ctx.link(dead));
    watcher.monitor(b);
    sys.send(b, 'go');
    const down = await watcher.receive<DownMessage>(isDown);
    expect(down.reason).toBe('noproc');
  });

  it('a chain of 20,000 links dies without growing the stack', () => {
    const sys = new ActorSystem();
    let prev = sys.spawn(() => {});
    const first = prev;
    for (let i = 0; i < 20_000; i++) prev = sys.spawn(() => {}, { link: prev });
    sys.exit(first, new Error('chain'));
    expect(sys.processes()).toEqual([]);
  });

  it('unlink removes the link on both sides', () => {
    const sys = new ActorSystem();
    const a = sys.spawn(() => {});
    const b = sys.spawn((_m, ctx) => ctx.unlink(a), { link: a });
    expect(sys.processInfo(a)?.links).toEqual([b]);
    sys.send(b, 'unlink');
    return tick().then(() => {
      expect(sys.processInfo(a)?.links).toEqual([]);
      sys.exit(a, 'shutdown');
      expect(sys.isAlive(b)).toBe(true);
    });
  });
});

describe('monitors', () => {
  it('deliver exactly one DOWN with the reason, per monitor, stackable', async () => {
    const sys = new ActorSystem();
    const inbox = new Inbox(sys);
    const p = sys.spawn(() => {});
    const r1 = inbox.monitor(p);
    const r2 = inbox.monitor(p);
    expect(r1).not.toBe(r2);
    sys.exit(p, 'shutdown');
    const d1 = await inbox.receive<DownMessage>(isDown);
    const d2 = await inbox.receive<DownMessage>(isDown);
    expect(new Set([d1.ref, d2.ref])).toEqual(new Set([r1, r2]));
    expect(d1.reason).toBe('shutdown');
    await tick();
    expect(inbox.messages).toEqual([]);
  });

  it('monitoring a dead or unknown process gives one DOWN noproc at once', async () => {
    const sys = new ActorSystem();
    const inbox = new Inbox(sys);
    const p = sys.spawn(() => {});
    sys.exit(p, 'kill');
    const ref = inbox.monitor(p);
    const down = await inbox.receive<DownMessage>(isDown);
    expect(down.ref).toBe(ref);
    expect(down.reason).toBe('noproc');
    inbox.monitor('no-such-name');
    expect((await inbox.receive<DownMessage>(isDown)).reason).toBe('noproc');
    await tick();
    expect(inbox.messages).toEqual([]);
  });

  it('demonitor stops the DOWN; flush removes one already queued', async () => {
    const sys = new ActorSystem();
    const a = sys.spawn(() => {});
    const b = sys.spawn(() => {});
    const got: unknown[] = [];
    const results: boolean[] = [];
    const watcher = sys.spawn((m, ctx) => {
      if (m !== 'go') {
        got.push(m);
        return;
      }
      const ra = ctx.monitor(a);
      results.push(ctx.demonitor(ra), ctx.demonitor(ra));
      const rb = ctx.monitor(b);
      sys.exit(b, 'kill'); // its DOWN is queued behind this message
      results.push(ctx.demonitor(rb, { flush: true }));
      sys.exit(a, 'kill'); // demonitored: no DOWN
      ctx.send(ctx.self, 'done');
    });
    sys.send(watcher, 'go');
    await tick();
    expect(results).toEqual([true, false, false]);
    expect(got).toEqual(['done']);
  });

  it('a monitor held by a process that exits is removed from the target', async () => {
    const sys = new ActorSystem();
    const target = sys.spawn(() => {});
    const inbox = new Inbox(sys);
    inbox.monitor(target);
    expect(sys.processInfo(target)?.monitoredBy).toEqual([inbox.pid]);
    inbox.close();
    expect(sys.processInfo(target)?.monitoredBy).toEqual([]);
  });
});

describe('a process that has exited acts no more', () => {
  it('context operations after exit do nothing, calls reject, spawns throw', async () => {
    const sys = new ActorSystem();
    const got: unknown[] = [];
    const target = sys.spawn((m) => {
      got.push(m);
    });
    const server = sys.spawn(() => {});
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const outcomes: unknown[] = [];
    const p = sys.spawn(async (_m, ctx) => {
      await gate; // killed while waiting here
      ctx.send(target, 'after death');
      ctx.cast(target, 'cast after death');
      outcomes.push(
        await ctx.call(server, 'x').catch((e: unknown) => (e as { code: string }).code),
      );
      try {
        ctx.spawn(() => {});
      } catch (error) {
        outcomes.push((error as { code: string }).code);
      }
    });
    sys.send(p, 'go');
    await tick();
    sys.exit(p, 'kill');
    release();
    await tick();
    await tick();
    expect(got).toEqual([]);
    expect(outcomes).toEqual(['noproc', 'process_exited']);
  });

  it('ctx.stop ends the process; what the handler does afterwards has no effect', async () => {
    const sys = new ActorSystem();
    const got: unknown[] = [];
    const target = sys.spawn((m) => {
      got.push(m);
    });
    const inbox = new Inbox(sys);
    const p = sys.spawn((_m, ctx) => {
      ctx.send(target, 'before stop');
      ctx.stop({ shutdown: 'done' });
      ctx.send(target, 'after stop');
    });
    inbox.monitor(p);
    sys.send(p, 'go');
    expect((await inbox.receive<DownMessage>(isDown)).reason).toEqual({ shutdown: 'done' });
    await tick();
    expect(got).toEqual(['before stop']);
  });
});
