import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { systemClock } from '../src/clock.js';
import { ActorSystem } from '../src/system.js';
import { Inbox } from '../src/inbox.js';

const DAY = 24 * 3600 * 1000;

describe('systemClock: delays past what Node timers allow (2^31 - 1 ms)', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'performance'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('regression: a 30-day timer fires after 30 days, not after 1 ms', () => {
    const fired: number[] = [];
    const start = performance.now();
    systemClock.setTimeout((at: number) => fired.push(performance.now() - at), 30 * DAY, start);
    vi.advanceTimersByTime(1000);
    expect(fired).toEqual([]);
    vi.advanceTimersByTime(30 * DAY - 1001);
    expect(fired).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(fired).toEqual([30 * DAY]);
    vi.advanceTimersByTime(60 * DAY);
    expect(fired).toHaveLength(1);
  });

  it('a long timer can be cancelled in any of its steps, and unref/ref reach the step armed', () => {
    const fired: string[] = [];
    const early = systemClock.setTimeout(() => fired.push('early'), 40 * DAY, undefined);
    const late = systemClock.setTimeout(() => fired.push('late'), 40 * DAY, undefined);
    systemClock.unref!(late);
    systemClock.ref!(late);
    systemClock.clearTimeout(early);
    vi.advanceTimersByTime(30 * DAY); // past the first step
    systemClock.clearTimeout(late);
    vi.advanceTimersByTime(20 * DAY);
    expect(fired).toEqual([]);
  });

  it('sendAfter and a receive timeout of 30 days wait 30 days', async () => {
    const system = new ActorSystem();
    const inbox = new Inbox(system);
    system.sendAfter(inbox.pid, 'late', 30 * DAY);
    const waiting = inbox.receive(undefined, 31 * DAY);
    let settled = false;
    void waiting.then(() => (settled = true));
    await vi.advanceTimersByTimeAsync(DAY);
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(29 * DAY);
    await expect(waiting).resolves.toBe('late');
    inbox.close();
    await system.shutdown();
  });
});
