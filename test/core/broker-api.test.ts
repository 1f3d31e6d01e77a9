/**
 * The broker's seed API (issue 2): topics, publish/subscribe, typed errors,
 * ordering, stats, subscriber isolation and cleanup. Imports the built
 * package, as a user would. Every test runs with topics in-thread and with
 * topics on thread nodes (see broker-threads-harness.ts).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ActorSystem, Inbox, makeRef } from '@ratatoskr/actors';
import {
  Broker,
  SubscriptionEnd,
  SubscriberFailure,
  isMessage,
  type Message,
} from '@ratatoskr/broker';
import { BROKER_MODES, useBrokerMode } from './broker-threads-harness.js';

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Lets the scheduler run until `done()` holds (bounded), then a few more turns to expose extras. */
async function settle(done: () => boolean = () => true): Promise<void> {
  for (let i = 0; i < 10_000 && !done(); i++) await turn();
  for (let i = 0; i < 5; i++) await turn();
}

describe.each(BROKER_MODES)('$name', (mode) => {
  const env = useBrokerMode(mode);
  let broker: Broker;

  beforeEach(async () => {
    broker = await env.start();
  });

  afterEach(async () => {
    await broker.stop();
  });

  describe('topics', () => {
    it('createTopic resolves with the name; listTopics and topicExists see it', async () => {
      expect(await broker.createTopic('orders')).toBe('orders');
      expect(await broker.createTopic('notifications')).toBe('notifications');
      expect(await broker.listTopics()).toEqual(['orders', 'notifications']);
      expect(await broker.topicExists('orders')).toBe(true);
      expect(await broker.topicExists('analytics')).toBe(false);
    });

    it('duplicate topic: createTopic of an existing name fails with topic_already_exists and changes nothing', async () => {
      await broker.createTopic('orders');
      await broker.subscribe('orders', () => {});
      await expect(broker.createTopic('orders')).rejects.toMatchObject({
        code: 'topic_already_exists',
        name: 'TopicAlreadyExistsError',
        topic: 'orders',
      });
      expect(await broker.listTopics()).toEqual(['orders']);
      expect((await broker.stats('orders')).subscriberCount).toBe(1);
    });

    it('deleteTopic removes the topic; deleting it again fails with topic_not_found', async () => {
      await broker.createTopic('orders');
      await broker.deleteTopic('orders');
      expect(await broker.listTopics()).toEqual([]);
      expect(await broker.topicExists('orders')).toBe(false);
      await expect(broker.deleteTopic('orders')).rejects.toMatchObject({ code: 'topic_not_found' });
    });
  });

  describe('publish', () => {
    it('publish to a missing topic fails with topic_not_found, at once', async () => {
      await expect(broker.publish('nowhere', { a: 1 })).rejects.toMatchObject({
        code: 'topic_not_found',
        name: 'TopicNotFoundError',
        topic: 'nowhere',
      });
      expect(() => broker.publishNoWait('nowhere', 1)).toThrow(/does not exist/);
      await expect(broker.stats('nowhere')).rejects.toMatchObject({ code: 'topic_not_found' });
      await expect(broker.subscribe('nowhere', () => {})).rejects.toMatchObject({
        code: 'topic_not_found',
      });
    });

    it('a message carries id, topic, payload, metadata, timestamp and offset', async () => {
      await broker.createTopic('orders');
      const got: Message[] = [];
      await broker.subscribe('orders', (m) => void got.push(m));
      const before = Date.now();
      const order = { id: 123, amount: 99.9, currency: 'USD' };
      const id1 = await broker.publish('orders', order, { metadata: { source: 'web' } });
      const id2 = await broker.publish('orders', 'second');
      await settle(() => got.length === 2);
      expect(got).toHaveLength(2);
      const [m1, m2] = got as [Message, Message];
      expect(m1).toMatchObject({
        id: id1,
        topic: 'orders',
        metadata: { source: 'web' },
        offset: 0,
      });
      // In-thread the payload is shared by reference, never copied; a topic on
      // another thread gets a structured clone, and its subscribers another.
      if (env.onThreads) expect(m1.payload).toEqual(order);
      else expect(m1.payload).toBe(order);
      expect(m2).toMatchObject({ id: id2, payload: 'second', metadata: {}, offset: 1 });
      expect(id1).not.toBe(id2);
      expect(m1.timestamp).toBeGreaterThanOrEqual(before - 1);
      expect(m1.timestamp).toBeLessThanOrEqual(Date.now() + 1);
      // Regression: timestamps and createdAt were fractional epoch ms.
      expect(Number.isInteger(m1.timestamp)).toBe(true);
      expect(Number.isInteger((await broker.stats('orders')).createdAt)).toBe(true);
      expect(isMessage(m1)).toBe(true);
    });

    it('message ids are unique across topics and publishers', async () => {
      await broker.createTopic('a');
      await broker.createTopic('b');
      const ids = await Promise.all(
        Array.from({ length: 2000 }, (_, i) => broker.publish(i % 2 === 0 ? 'a' : 'b', i)),
      );
      expect(new Set(ids).size).toBe(2000);
    });

    it("order preserved for 10,000 messages: every subscriber sees one publisher's messages in publish order", async () => {
      await broker.createTopic('seq');
      const seen: number[][] = [[], [], []];
      // Queues large enough for the whole burst: this test is about order, not overflow.
      const options = { bufferSize: 10_000 };
      for (const list of seen) {
        await broker.subscribe('seq', (m) => void list.push(m.payload as number), options);
      }
      const stream = broker.subscribe<number>('seq', options);
      const streamed: number[] = [];
      const reading = (async () => {
        for await (const m of stream) {
          streamed.push(m.payload);
          if (streamed.length === 10_000) break;
        }
      })();
      const pending: Promise<string>[] = [];
      for (let i = 0; i < 10_000; i++) pending.push(broker.publish('seq', i));
      await Promise.all(pending);
      await reading;
      await settle(() => seen.every((list) => list.length === 10_000));
      expect((await broker.stats('seq')).dropped).toBe(0);
      const expected = Array.from({ length: 10_000 }, (_, i) => i);
      for (const list of seen) expect(list).toEqual(expected);
      expect(streamed).toEqual(expected);
    });

    it('per-publisher order holds when several publishers interleave', async () => {
      await broker.createTopic('mixed');
      const got: { p: number; i: number }[] = [];
      await broker.subscribe('mixed', (m) => void got.push(m.payload as { p: number; i: number }));
      await Promise.all(
        [0, 1, 2, 3].map(async (p) => {
          for (let i = 0; i < 500; i++) {
            if (i % 7 === 0) await broker.publish('mixed', { p, i });
            else void broker.publish('mixed', { p, i });
          }
        }),
      );
      await settle(() => got.length === 2000);
      for (const p of [0, 1, 2, 3]) {
        expect(got.filter((m) => m.p === p).map((m) => m.i)).toEqual(
          Array.from({ length: 500 }, (_, i) => i),
        );
      }
    });
  });

  describe('stats', () => {
    it('stats exact: counts match what was published, delivered and subscribed', async () => {
      await broker.createTopic('orders');
      let delivered = 0;
      const r1 = await broker.subscribe('orders', () => void delivered++);
      await broker.subscribe('orders', () => void delivered++);
      for (let i = 0; i < 250; i++) await broker.publish('orders', { i });
      await settle(() => delivered === 500);
      const stats = await broker.stats('orders');
      expect(stats).toMatchObject({
        topic: 'orders',
        messageCount: 250,
        retainedMessages: 250,
        subscriberCount: 2,
        delivered: 500,
        dropped: 0,
        errors: 0,
        oldestOffset: 0,
        newestOffset: 249,
        nextOffset: 250,
        restarts: 0,
      });
      expect(stats.retainedBytes).toBe(250 * (2 + 1 + 8)); // {i: n}: braces, key "i", a number
      await broker.unsubscribe('orders', r1);
      expect((await broker.stats('orders')).subscriberCount).toBe(1);
    });

    it('a fresh topic has all-zero stats', async () => {
      await broker.createTopic('empty');
      expect(await broker.stats('empty')).toMatchObject({
        messageCount: 0,
        retainedMessages: 0,
        retainedBytes: 0,
        subscriberCount: 0,
        oldestOffset: null,
        newestOffset: null,
        nextOffset: 0,
        subscribers: [],
      });
    });
  });

  describe('subscribers', () => {
    it('throwing subscriber isolated: the others receive everything, publish never rejects, the error is counted and reported', async () => {
      await broker.createTopic('orders');
      const system = broker.system;
      const owner = new Inbox(system);
      const errors: unknown[] = [];
      await broker.subscribe(
        'orders',
        () => {
          throw new Error('bad subscriber');
        },
        { owner: owner.pid, onError: (error) => void errors.push(error) },
      );
      const good: number[] = [];
      await broker.subscribe('orders', (m) => void good.push(m.payload as number));
      const topicPid = broker.topicPid('orders');
      for (let i = 0; i < 10; i++)
        await expect(broker.publish('orders', i)).resolves.toBeTypeOf('string');
      await settle(() => good.length === 10 && errors.length === 10);
      expect(good).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      expect(errors).toHaveLength(10);
      expect((errors[0] as Error).message).toBe('bad subscriber');
      const failure = await owner.receive((m) => m instanceof SubscriberFailure);
      expect(failure).toMatchObject({ topic: 'orders', message: { payload: 0 } });
      const stats = await broker.stats('orders');
      expect(stats.errors).toBe(10);
      expect(stats.subscriberCount).toBe(2);
      expect(broker.topicPid('orders')).toBe(topicPid);
      owner.close();
    });

    it('unsubscribe of an unknown ref fails with subscription_not_found', async () => {
      await broker.createTopic('orders');
      const ref = makeRef();
      await expect(broker.unsubscribe('orders', ref)).rejects.toMatchObject({
        code: 'subscription_not_found',
        name: 'SubscriptionNotFoundError',
        topic: 'orders',
      });
      const live = await broker.subscribe('orders', () => {});
      await broker.unsubscribe('orders', live);
      await expect(broker.unsubscribe('orders', live)).rejects.toMatchObject({
        code: 'subscription_not_found',
      });
      await broker.createTopic('other');
      const elsewhere = await broker.subscribe('other', () => {});
      await expect(broker.unsubscribe('orders', elsewhere)).rejects.toMatchObject({
        code: 'subscription_not_found',
      });
    });

    it('subscribers are processes: each subscription runs in its own process', async () => {
      await broker.createTopic('orders');
      const before = broker.system.processes().length;
      await broker.subscribe('orders', () => {});
      await broker.subscribe('orders', () => {});
      expect(broker.system.processes().length).toBe(before + 2);
    });

    it('a subscription whose owner process exits is cleaned up', async () => {
      await broker.createTopic('orders');
      const owner = new Inbox(broker.system);
      const ends: SubscriptionEnd[] = [];
      await broker.subscribe('orders', () => {}, {
        owner: owner.pid,
        onEnd: (end) => void ends.push(end),
      });
      await broker.subscribe('orders', () => {});
      const processes = broker.system.processes().length;
      owner.close();
      await settle(() => ends.length === 1);
      expect(ends[0]).toMatchObject({ reason: 'owner_exited', topic: 'orders' });
      expect((await broker.stats('orders')).subscriberCount).toBe(1);
      expect(broker.system.processes().length).toBe(processes - 2); // the owner and its subscription
    });

    it('a process subscription receives messages in its mailbox and ends when the process exits', async () => {
      await broker.createTopic('orders');
      const inbox = new Inbox(broker.system);
      const ref = await broker.subscribe('orders', inbox.pid);
      const id = await broker.publish('orders', { id: 123 });
      const message = await inbox.receive(isMessage);
      expect(message).toMatchObject({ id, payload: { id: 123 } });
      await broker.unsubscribe('orders', ref);
      const end = await inbox.receive((m) => m instanceof SubscriptionEnd);
      expect(end).toMatchObject({ reason: 'unsubscribed', ref });
      const again = await broker.subscribe('orders', inbox.pid);
      inbox.close();
      await settle();
      expect((await broker.stats('orders')).subscriberCount).toBe(0);
      expect(again).not.toBe(ref);
    });
  });

  describe('lifecycle', () => {
    it('Broker.start refuses unknown or invalid options', async () => {
      await expect(env.start({ logger: {} as never })).rejects.toMatchObject({
        code: 'invalid_option',
        option: 'logger',
      });
      await expect(env.start({ system: 'mine' as never })).rejects.toMatchObject({
        option: 'system',
      });
      // Regression: topic defaults were named as if given to createTopic (options.maxSubscribers).
      const defaults = env.start({ topicDefaults: { maxSubscribers: 0 } });
      await expect(defaults).rejects.toMatchObject({ option: 'topicDefaults.maxSubscribers' });
      await expect(defaults).rejects.toThrow(/^options\.topicDefaults\.maxSubscribers must be/);
      await expect(env.start({ colour: 'red' } as never)).rejects.toMatchObject({
        option: 'colour',
      });
      // Regression: an array was accepted as the options object; null said "options.options".
      // (Broker.start itself: the harness would spread them into an object.)
      await expect(Broker.start([] as never)).rejects.toMatchObject({ code: 'invalid_option' });
      await expect(Broker.start(null as never)).rejects.toThrow(
        /^options must be an object, got null/,
      );
    });

    it('stop() ends a subscription stuck in a handler that never returns, instead of hanging', async () => {
      const system = new ActorSystem(); // shared: the broker cannot just shut it down
      const stuck = await env.start({ system });
      await stuck.createTopic('t');
      await stuck.subscribe('t', () => new Promise(() => {}));
      await stuck.publish('t', 1);
      await stuck.stop();
      expect(system.processes()).toEqual([]);
      await system.shutdown();
    });

    it('stop() settles subscribes still pending (subscribed, or a typed error), never hanging', async () => {
      const stopping = await env.start();
      await stopping.createTopic('t');
      const pending = Promise.allSettled([
        stopping.subscribe('t', () => {}),
        stopping.subscribe('t').ref(),
      ]);
      await stopping.stop();
      for (const r of await pending) {
        if (r.status === 'rejected') {
          expect((r.reason as { code?: string }).code).toBe('broker_stopped');
        }
      }
    });

    it('a broker on a shared system stops without stopping the system', async () => {
      const system = new ActorSystem();
      const shared = await env.start({ system });
      await shared.createTopic('t');
      await shared.subscribe('t', () => {});
      await shared.stop();
      expect(system.processes()).toEqual([]);
      await expect(shared.createTopic('u')).rejects.toMatchObject({ code: 'broker_stopped' });
      await expect(shared.publish('t', 1)).rejects.toMatchObject({ code: 'broker_stopped' });
      const again = await env.start({ system });
      await again.createTopic('t');
      await again.stop();
      await system.shutdown();
    });
  });
});
