/**
 * A broker's logger and telemetry hook are user code run inside the
 * broker's own processes (a topic accepting a message, a relay filling
 * queues, a subscription reporting an error). Regressions of a review that
 * found a throwing hook crashing those processes: a publish rejected after
 * it was accepted (and duplicated on retry), messages lost on threads, a
 * subscription silently ended. A throwing hook is now counted and otherwise
 * ignored. Both modes; imports the built packages.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Broker, BrokerLogger, BrokerTelemetryEvent } from '@ratatoskr/broker';
import { BROKER_MODES, useBrokerMode } from './broker-threads-harness.js';

async function until(done: () => boolean): Promise<void> {
  for (let i = 0; i < 10_000 && !done(); i++) await new Promise((r) => setImmediate(r));
}

const throwingWarn: BrokerLogger = {
  error() {},
  info() {},
  debug() {},
  warn() {
    throw new Error('logger bug');
  },
};

describe.each(BROKER_MODES)('$name', (mode) => {
  const env = useBrokerMode(mode);
  let broker: Broker;

  afterEach(async () => {
    await broker.stop();
  });

  it('regression: a telemetry hook that throws on a drop changes nothing: every publish accepted once, every message delivered', async () => {
    const telemetry = (event: BrokerTelemetryEvent): void => {
      if (event.type === 'message_dropped') throw new Error('telemetry bug');
    };
    broker = await env.start({ telemetry });
    await broker.createTopic('t');
    const full: unknown[] = [];
    const healthy: unknown[] = [];
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    // Stuck on its first message: behind from then on, so arrivals are dropped.
    await broker.subscribe(
      't',
      async (m) => {
        full.push(m.payload);
        if (full.length === 1) await held;
      },
      { bufferSize: 1, overflow: 'drop_newest' },
    );
    await broker.subscribe('t', (m) => void healthy.push(m.payload));
    const results = [await Promise.allSettled([broker.publish('t', 0)])];
    await until(() => full.length === 1);
    // One at a time: each publish is a burst of its own.
    for (let i = 1; i < 10; i++) results.push(await Promise.allSettled([broker.publish('t', i)]));
    expect(results.flat().every((r) => r.status === 'fulfilled')).toBe(true);
    await until(() => healthy.length === 10);
    release();
    const stats = await broker.stats('t');
    await until(() => full.length + stats.dropped === 10);
    expect(healthy).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(stats).toMatchObject({ messageCount: 10, restarts: 0, subscriberCount: 2 });
    expect(stats.dropped).toBeGreaterThan(0);
    expect(full.length + stats.dropped).toBe(10);
    expect((await broker.health()).hookFailures).toBe(stats.dropped);
  });

  it('regression: a logger that throws on a handler error leaves the subscription running, onError called', async () => {
    broker = await env.start({ logger: throwingWarn });
    await broker.createTopic('t');
    const got: unknown[] = [];
    const errors: unknown[] = [];
    await broker.subscribe(
      't',
      (m) => {
        got.push(m.payload);
        if (m.payload === 1) throw new Error('handler error');
      },
      { onError: (error) => void errors.push(error) },
    );
    for (let i = 0; i < 5; i++) await broker.publish('t', i);
    await until(() => got.length === 5);
    expect(got).toEqual([0, 1, 2, 3, 4]);
    expect(errors).toHaveLength(1);
    const stats = await broker.stats('t');
    expect(stats).toMatchObject({ subscriberCount: 1, errors: 1 });
    expect((await broker.health()).hookFailures).toBe(1);
  });
});
