import { describe, expect, it } from 'vitest';
import { ActorSystem } from '../src/system.js';
import { InvalidArgumentError } from '../src/reasons.js';

const settle = async () => {
  for (let i = 0; i < 5; i++) await new Promise<void>((r) => setImmediate(r));
};

describe('process priorities', () => {
  it('high runs before normal, low after normal', async () => {
    const sys = new ActorSystem();
    const log: string[] = [];
    const low = sys.spawn(() => void log.push('low'), { priority: 'low' });
    const normal = sys.spawn(() => void log.push('normal'));
    const high = sys.spawn(() => void log.push('high'), { priority: 'high' });
    sys.send(low, 1);
    sys.send(normal, 1);
    sys.send(high, 1);
    await settle();
    expect(log).toEqual(['high', 'normal', 'low']);
  });

  it('many low-priority processes handle a burst of awaited work in few activations', async () => {
    const sys = new ActorSystem();
    // Ten consumers (deferral pays only when several wait); one is watched.
    const lows = Array.from({ length: 10 }, () => sys.spawn(() => {}, { priority: 'low' }));
    const watched = lows[0]!;
    const server = sys.spawn((m) => {
      const { reply } = m as { reply: () => void };
      for (const low of lows) sys.send(low, 'work');
      reply();
    });
    let activations = 0;
    let lastHandled = 0;
    for (let i = 0; i < 200; i++) {
      await new Promise<void>((reply) => sys.send(server, { reply }));
      const handled = sys.processInfo(watched)!.messagesHandled;
      if (handled !== lastHandled) {
        activations++;
        lastHandled = handled;
      }
    }
    await settle();
    expect(sys.processInfo(watched)!.messagesHandled).toBe(200);
    // Without priorities each would run once per message (200 times).
    expect(activations).toBeLessThan(50);
  });

  it('a single low-priority process is not deferred: it runs as soon as the normal work is done', async () => {
    const sys = new ActorSystem();
    const log: string[] = [];
    const low = sys.spawn((m) => void log.push(`low ${String(m)}`), { priority: 'low' });
    const server = sys.spawn((m) => {
      const { reply, n } = m as { reply: () => void; n: number };
      sys.send(low, n);
      reply();
    });
    for (let n = 0; n < 3; n++) {
      await new Promise<void>((reply) => sys.send(server, { reply, n }));
      log.push(`replied ${n}`);
    }
    await settle();
    expect(log).toEqual(['low 0', 'replied 0', 'low 1', 'replied 1', 'low 2', 'replied 2']);
  });

  it('low-priority processes are not starved by a flood of normal work', async () => {
    const sys = new ActorSystem();
    const log: string[] = [];
    const busy = sys.spawn(() => void log.push('n'));
    const low = sys.spawn(() => void log.push('L'), { priority: 'low' });
    sys.send(low, 1);
    for (let i = 0; i < 5000; i++) sys.send(busy, i);
    await settle();
    expect(log).toHaveLength(5001);
    // It got a round after eight rounds of the normal run queue: here one
    // process, so eight slices of 256 messages at most.
    expect(log.indexOf('L')).toBeGreaterThan(0);
    expect(log.indexOf('L')).toBeLessThanOrEqual(8 * 256);
  });

  it('setPriority raises a waiting low-priority process ahead of the low queue', async () => {
    const sys = new ActorSystem();
    const log: string[] = [];
    const a = sys.spawn(() => void log.push('a'), { priority: 'low' });
    const b = sys.spawn(() => void log.push('b'), { priority: 'low' });
    const n = sys.spawn(() => void log.push('n'));
    sys.send(a, 1);
    sys.send(b, 1);
    sys.send(n, 1);
    expect(sys.setPriority(b, 'high')).toBe('low');
    await settle();
    expect(log).toEqual(['b', 'n', 'a']);
    expect(sys.setPriority(b, 'low')).toBe('high');
    expect(() => sys.setPriority(b, 'max' as never)).toThrow(InvalidArgumentError);
  });

  it('rejects an unknown priority', () => {
    const sys = new ActorSystem();
    expect(() => sys.spawn(() => {}, { priority: 'urgent' as never })).toThrow(
      InvalidArgumentError,
    );
  });
});
