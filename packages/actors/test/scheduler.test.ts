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

  it('bumpReductions: a message that did the work of many counts as many toward both budgets', async () => {
    const sys = new ActorSystem({ processBudget: 100, turnBudget: 1000 });
    const log: string[] = [];
    const heavy = sys.spawn((_m, ctx) => {
      log.push('h');
      ctx.bumpReductions(49); // each message: the work of 50
    });
    const light = sys.spawn(() => {
      log.push('l');
    });
    for (let i = 0; i < 100; i++) sys.send(heavy, i);
    sys.send(light, 'hello');
    const perTurn: number[] = [];
    for (let i = 0; i < 6; i++) {
      await new Promise((r) => setImmediate(r));
      perTurn.push(log.filter((x) => x === 'h').length);
    }
    // The slice ended after 2 messages (100 units), not 100: light ran third.
    expect(log.indexOf('l')).toBe(2);
    // A turn ends after about 1000 units: 20 heavy messages, not 1000.
    expect(perTurn[0]).toBeLessThanOrEqual(21);
    expect(perTurn.at(-1)).toBe(100);
    const bad = sys.spawn((_m, ctx) => {
      try {
        ctx.bumpReductions(-1);
      } catch (error) {
        log.push((error as { code: string }).code);
      }
    });
    sys.send(bad, 'go');
    await new Promise((r) => setImmediate(r));
    expect(log.at(-1)).toBe('invalid_argument');
    await sys.shutdown();
  });

  it('regression: a bump made after an await, or before a throw, is charged to nobody else', async () => {
    const sys = new ActorSystem({ processBudget: 100, turnBudget: 100_000 });
    const log: string[] = [];
    const late = sys.spawn(async (_m, ctx) => {
      await Promise.resolve();
      ctx.bumpReductions(1_000_000); // after an await: not this message's work any more
    });
    const thrower = sys.spawn((_m, ctx) => {
      ctx.bumpReductions(1_000_000);
      throw new Error('after a bump');
    });
    sys.send(late, 'go');
    sys.send(thrower, 'go');
    await new Promise((r) => setImmediate(r));
    const busy = sys.spawn(() => {
      log.push('b');
    });
    const other = sys.spawn(() => {
      log.push('o');
    });
    for (let i = 0; i < 300; i++) sys.send(busy, i);
    sys.send(other, 'hi');
    await new Promise((r) => setImmediate(r));
    // busy got its full slice of 100 before other ran: no stray bump cut it short.
    expect(log.indexOf('o')).toBe(100);
    await sys.shutdown();
  });
});
