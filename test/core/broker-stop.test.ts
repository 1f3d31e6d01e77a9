/**
 * `stop()` and what is pending at that moment, in both modes. Regressions
 * of a review: stop hung about 5 s (or the process exited with status 13
 * first) after a stuck handler was unsubscribed or its topic deleted; a
 * stream subscribed just before stop never ended; a subscribe racing stop
 * resolved on a stopped broker; createTopic/deleteTopic pending at stop
 * rejected with a raw `server_exited`, publishes with `topic_unavailable`
 * ("may be retried"); two concurrent `next()` gave an Error with no code.
 * Imports the built packages.
 */
import { describe, expect, it } from 'vitest';
import { ActorSystem } from '@ratatoskr/actors';
import { BrokerStoppedError, ConcurrentNextError } from '@ratatoskr/broker';
import { BROKER_MODES, useBrokerMode } from './broker-threads-harness.js';

const never = (): Promise<never> => new Promise<never>(() => {});

/** How a settled promise ended: 'ok', or the error's code. */
async function outcome(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'ok';
  } catch (error) {
    return String((error as { code?: unknown }).code);
  }
}

describe.each(BROKER_MODES)('$name', (mode) => {
  const env = useBrokerMode(mode);

  for (const how of ['unsubscribe', 'deleteTopic'] as const) {
    it(`regression: stop() ends a handler stuck forever after ${how}, promptly, leaving no process`, async () => {
      const system = new ActorSystem(); // not the broker's: stop() must end its own processes
      const broker = await env.start({ system });
      await broker.createTopic('t');
      const ref = await broker.subscribe('t', never);
      await broker.publish('t', 1);
      for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
      if (how === 'unsubscribe') await broker.unsubscribe('t', ref);
      else await broker.deleteTopic('t');
      const started = performance.now();
      await broker.stop();
      expect(performance.now() - started).toBeLessThan(2000);
      expect(system.processes()).toEqual([]);
      await system.shutdown();
    });
  }

  it('regression: a stream subscribed just before stop() ends (done), its subscribe still in flight', async () => {
    const broker = await env.start();
    await broker.createTopic('t');
    const racing = broker.subscribe('t');
    const next = racing.next();
    await broker.stop();
    expect(await next).toEqual({ value: undefined, done: true });
  });

  it('a stream whose subscription was established before stop() ends (done)', async () => {
    const broker = await env.start();
    await broker.createTopic('t');
    const established = broker.subscribe('t');
    await established.ref();
    const next = established.next();
    await broker.stop();
    expect(await next).toEqual({ value: undefined, done: true });
  });

  it('regression: a callback subscribe racing stop() rejects with broker_stopped, and leaves no subscription process', async () => {
    const system = new ActorSystem();
    const broker = await env.start({ system });
    await broker.createTopic('t');
    const subscribing = broker
      .subscribe('t', () => {})
      .then(
        () => null,
        (error: unknown) => error,
      );
    await broker.stop();
    const error = await subscribing;
    expect(error).toBeInstanceOf(BrokerStoppedError);
    expect(error).toMatchObject({ code: 'broker_stopped', pending: true });
    expect(system.processes()).toEqual([]);
    await system.shutdown();
  });

  it('regression: createTopic and deleteTopic pending at stop() reject with broker_stopped, not server_exited', async () => {
    const broker = await env.start();
    await broker.createTopic('a');
    const pending = [broker.deleteTopic('a'), broker.createTopic('c')].map((p) =>
      p.then(
        () => null,
        (error: unknown) => error,
      ),
    );
    await broker.stop();
    for (const error of await Promise.all(pending)) {
      expect(error).toMatchObject({ code: 'broker_stopped', pending: true });
    }
  });

  it('regression: publishes pending at stop() resolve (accepted) or reject with broker_stopped, never topic_unavailable', async () => {
    const broker = await env.start();
    await broker.createTopic('t');
    await broker.subscribe('t', () => {}, { bufferSize: 100_000 });
    const publishes = Array.from({ length: 20_000 }, (_, i) => broker.publish('t', i));
    const batch = broker.publishBatch('t', [{ payload: 'a' }, { payload: 'b' }]);
    const settled = Promise.all([...publishes, batch].map(outcome));
    await new Promise((r) => setImmediate(r));
    await broker.stop();
    const outcomes = new Set(await settled);
    for (const seen of outcomes) expect(['ok', 'broker_stopped']).toContain(seen);
  });

  it('regression: a subscription stuck in its handler at stop() still gets onEnd (broker_stopped), and health counts no subscription after', async () => {
    const broker = await env.start();
    await broker.createTopic('s');
    const ends: string[] = [];
    let entered = false;
    await broker.subscribe(
      's',
      async () => {
        entered = true;
        await never();
      },
      { onEnd: (end) => ends.push(`A:${end.reason}`) },
    );
    await broker.subscribe('s', () => {}, { onEnd: (end) => ends.push(`B:${end.reason}`) });
    await broker.publish('s', 1);
    for (let i = 0; i < 100 && !entered; i++) await new Promise((r) => setImmediate(r));
    expect(entered).toBe(true);
    await broker.stop();
    expect(ends.sort()).toEqual(['A:broker_stopped', 'B:broker_stopped']);
    expect(await broker.health()).toMatchObject({ status: 'stopped', subscriptions: 0 });
  });

  it('regression: a handler that awaits stop() itself still gets its onEnd', async () => {
    const broker = await env.start();
    await broker.createTopic('s');
    const ends: string[] = [];
    let stopping: Promise<void> | null = null;
    await broker.subscribe(
      's',
      async () => {
        stopping = broker.stop();
        await stopping;
      },
      { onEnd: (end) => ends.push(end.reason) },
    );
    await broker.publish('s', 1);
    for (let i = 0; i < 200 && stopping === null; i++) await new Promise((r) => setImmediate(r));
    await stopping;
    expect(ends).toEqual(['broker_stopped']);
  });

  it('regression: a stream subscribed after stop() throws broker_stopped on its first next(), it does not just end', async () => {
    const broker = await env.start();
    await broker.createTopic('t');
    await broker.stop();
    for (const topic of ['t', 'missing']) {
      const stream = broker.subscribe(topic);
      await expect(stream.next()).rejects.toMatchObject({ code: 'broker_stopped', pending: false });
      await expect(stream.next()).resolves.toMatchObject({ done: true });
    }
  });

  it('stop() is idempotent: a second call returns the first call’s promise', async () => {
    const broker = await env.start();
    const first = broker.stop();
    expect(broker.stop()).toBe(first);
    await first;
    await expect(broker.stop()).resolves.toBeUndefined();
  });

  it('regression: a second next() while one is pending rejects with ConcurrentNextError (code concurrent_next)', async () => {
    const broker = await env.start();
    await broker.createTopic('u');
    const stream = broker.subscribe('u');
    await stream.ref();
    const first = stream.next();
    const second = await stream.next().catch((error: unknown) => error);
    expect(second).toBeInstanceOf(ConcurrentNextError);
    expect(second).toMatchObject({ code: 'concurrent_next', topic: 'u' });
    await broker.publish('u', 1);
    expect((await first).value?.payload).toBe(1);
    await broker.stop();
  });
});
