import { describe, expect, it } from 'vitest';
import { SimulatedClock } from '../src/clock.js';
import { ActorSystem } from '../src/system.js';
import { InvalidArgumentError } from '../src/reasons.js';
import type { TimerRef } from '../src/timers.js';

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('timers', () => {
  it('sendAfter delivers once, at the due time, through the injected clock', async () => {
    const clock = new SimulatedClock();
    const sys = new ActorSystem({ clock });
    const got: unknown[] = [];
    const pid = sys.spawn((m, ctx) => {
      if (m === 'arm') ctx.sendAfter(ctx.self, 'ding', 1000);
      else got.push([m, clock.now()]);
    });
    sys.send(pid, 'arm');
    await tick();
    clock.advance(999);
    await tick();
    expect(got).toEqual([]);
    clock.advance(1);
    await tick();
    expect(got).toEqual([['ding', 1000]]);
    clock.advance(10_000);
    await tick();
    expect(got).toHaveLength(1);
    expect(clock.pending()).toBe(0);
  });

  it('cancelTimer returns the remaining ms, or false once fired or cancelled; a cancelled timer never fires', async () => {
    const clock = new SimulatedClock();
    const sys = new ActorSystem({ clock });
    const got: unknown[] = [];
    const results: unknown[] = [];
    const pid = sys.spawn((m, ctx) => {
      if (m === 'arm') {
        const t = ctx.sendAfter(ctx.self, 'never', 500);
        clock.advance(200);
        results.push(ctx.cancelTimer(t), ctx.cancelTimer(t));
        const fired = ctx.sendAfter(ctx.self, 'fired', 10);
        clock.advance(10);
        results.push(ctx.cancelTimer(fired));
      } else got.push(m);
    });
    sys.send(pid, 'arm');
    await tick();
    clock.advance(1000);
    await tick();
    expect(results).toEqual([300, false, false]);
    expect(got).toEqual(['fired']);
  });

  it('interval timers repeat until cancelled', async () => {
    const clock = new SimulatedClock();
    const sys = new ActorSystem({ clock });
    let timer: TimerRef | undefined;
    const got: number[] = [];
    const pid = sys.spawn((m, ctx) => {
      if (m === 'arm') timer = ctx.sendInterval(ctx.self, 'tick', 100);
      else got.push(clock.now());
    });
    sys.send(pid, 'arm');
    await tick();
    for (let i = 0; i < 5; i++) {
      clock.advance(100);
      await tick();
    }
    expect(got).toEqual([100, 200, 300, 400, 500]);
    expect(sys.cancelTimer(timer!)).toBe(100);
    clock.advance(1000);
    await tick();
    expect(got).toHaveLength(5);
  });

  it('timers die with their process: no message, no pending handle', async () => {
    const clock = new SimulatedClock();
    const sys = new ActorSystem({ clock });
    const got: unknown[] = [];
    const receiver = sys.spawn((m) => {
      got.push(m);
    });
    const owner = sys.spawn((_m, ctx) => {
      ctx.sendAfter(receiver, 'from a dead owner', 100);
      ctx.sendInterval(receiver, 'interval', 50);
    });
    sys.send(owner, 'arm');
    await tick();
    expect(clock.pending()).toBe(2);
    sys.exit(owner, 'kill');
    expect(clock.pending()).toBe(0);
    clock.advance(1000);
    await tick();
    expect(got).toEqual([]);
  });

  it('a process that stopped receives no timer messages, and real timers leave no handle open', async () => {
    const sys = new ActorSystem();
    const got: unknown[] = [];
    const pid = sys.spawn((m, ctx) => {
      if (m === 'arm') ctx.sendAfter(ctx.self, 'late', 20);
      else got.push(m);
    });
    sys.send(pid, 'arm');
    await tick();
    sys.exit(pid, 'shutdown');
    await new Promise((r) => setTimeout(r, 40));
    expect(got).toEqual([]);
  });

  it('rejects invalid durations', () => {
    const sys = new ActorSystem();
    expect(() => sys.sendAfter('x', 1, -1)).toThrow(InvalidArgumentError);
    expect(() => sys.sendAfter('x', 1, Number.NaN)).toThrow(/finite/);
  });
});

describe('timers to names that cannot be resolved', () => {
  it('a timer whose name service fails when it fires is dropped, not thrown', async () => {
    const clock = new SimulatedClock();
    const sys = new ActorSystem({ clock });
    const broken = {
      whereis(): never {
        throw new Error('name service down');
      },
    };
    sys.sendAfter({ via: broken, key: 'x' }, 'hello', 10);
    expect(() => clock.advance(10)).not.toThrow();
    expect(clock.pending()).toBe(0);
  });
});
