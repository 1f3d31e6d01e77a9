import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { ActorSystem } from '../src/system.js';

describe('scheduler', () => {
  it('a timer and an I/O callback still fire while an actor is flooded with 1,000,000 messages', async () => {
    const sys = new ActorSystem();
    const N = 1_000_000;
    let handled = 0;
    let handledAtTimer = -1;
    let handledAtIo = -1;
    let done!: () => void;
    const finished = new Promise<void>((resolve) => (done = resolve));
    const pid = sys.spawn(() => {
      handled++;
      if (handled === N) done();
    });
    for (let i = 0; i < N; i++) sys.send(pid, i);
    setTimeout(() => (handledAtTimer = handled), 0);
    void readFile(new URL(import.meta.url)).then(() => (handledAtIo = handled));
    await finished;
    // Both callbacks ran while the flood was still being worked through.
    expect(handledAtTimer).toBeGreaterThanOrEqual(0);
    expect(handledAtTimer).toBeLessThan(N);
    expect(handledAtIo).toBeGreaterThanOrEqual(0);
    expect(handledAtIo).toBeLessThan(N);
    expect(handled).toBe(N);
  });

  it('is fair: a flooded process does not starve another one', async () => {
    const sys = new ActorSystem({ processBudget: 100, turnBudget: 1000 });
    const log: string[] = [];
    const busy = sys.spawn(() => {
      log.push('b');
    });
    const quiet = sys.spawn(() => {
      log.push('q');
    });
    for (let i = 0; i < 10_000; i++) sys.send(busy, i);
    sys.send(quiet, 'hello');
    await new Promise((r) => setTimeout(r, 50));
    // quiet was served after busy's first slice of 100, not after all 10,000.
    expect(log.indexOf('q')).toBe(100);
    expect(log.length).toBe(10_001);
  });

  it('yields to the event loop between turns', async () => {
    const sys = new ActorSystem({ turnBudget: 500 });
    let handled = 0;
    const samples: number[] = [];
    const pid = sys.spawn(() => {
      handled++;
    });
    for (let i = 0; i < 5000; i++) sys.send(pid, i);
    for (let i = 0; i < 5; i++) {
      await new Promise((r) => setImmediate(r));
      samples.push(handled);
    }
    // Each event-loop turn saw at most one more budget of messages.
    for (let i = 1; i < samples.length; i++) {
      expect(samples[i]! - samples[i - 1]!).toBeLessThanOrEqual(1000);
    }
    expect(samples[0]).toBeLessThan(5000);
  });
});
