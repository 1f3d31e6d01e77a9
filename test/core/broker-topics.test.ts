/**
 * Topics and messages (issue 4): name rules at every entry point, payload
 * limits, ordering with metadata, batches, deletion, re-creation, retention
 * and replay, limits, fire-and-forget and health. Every test runs with
 * topics in-thread and with topics on thread nodes (see
 * broker-threads-harness.ts), but one: age eviction on a simulated clock.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ActorSystem, Inbox, SimulatedClock, makeRef } from '@ratatoskr/actors';
import {
  Broker,
  InvalidBatchError,
  PayloadTooLargeError,
  TopicNotFoundError,
  isMessage,
  type Message,
  type Metadata,
} from '@ratatoskr/broker';
import { BROKER_MODES, useBrokerMode } from './broker-threads-harness.js';

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

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

  describe('topic names', () => {
    const invalid = ['', 'my topic', 'orders.*', 'orders.>', 'orders.#', 'a'.repeat(256), ' '];

    it('empty names, names with wildcards or spaces, and over-long names are refused at every entry point, and nothing changes', async () => {
      await broker.createTopic('orders');
      const ref = makeRef();
      const inbox = new Inbox(broker.system);
      for (const name of invalid) {
        const refused = { code: 'invalid_topic_name', name: 'InvalidTopicNameError' };
        await expect(broker.createTopic(name)).rejects.toMatchObject(refused);
        await expect(broker.deleteTopic(name)).rejects.toMatchObject(refused);
        await expect(broker.topicExists(name)).rejects.toMatchObject(refused);
        await expect(broker.publish(name, 1)).rejects.toMatchObject(refused);
        expect(() => broker.publishNoWait(name, 1)).toThrow(/invalid topic name/);
        await expect(broker.publishBatch(name, [{ payload: 1 }])).rejects.toMatchObject(refused);
        await expect(broker.subscribe(name, () => {})).rejects.toMatchObject(refused);
        await expect(broker.subscribe(name, inbox.pid)).rejects.toMatchObject(refused);
        await expect(broker.subscribe(name).next()).rejects.toMatchObject(refused);
        await expect(broker.unsubscribe(name, ref)).rejects.toMatchObject(refused);
        await expect(broker.stats(name)).rejects.toMatchObject(refused);
      }
      expect(await broker.listTopics()).toEqual(['orders']);
      expect(broker.system.processes().filter((p) => p === inbox.pid)).toHaveLength(1);
      inbox.close();
    });

    it('dot-separated hierarchies are accepted as plain names', async () => {
      await broker.createTopic('orders.eu.created');
      expect(await broker.topicExists('orders.eu.created')).toBe(true);
      expect(await broker.topicExists('orders.eu')).toBe(false);
    });
  });

  describe('payload limits', () => {
    it('a payload of exactly the limit is accepted; one byte more fails at once with payload_too_large; the next 128-byte publish succeeds', async () => {
      await broker.createTopic('blobs', { maxPayloadBytes: 4096 });
      const got: number[] = [];
      await broker.subscribe('blobs', (m) => void got.push((m.payload as Uint8Array).byteLength));
      await expect(broker.publish('blobs', new Uint8Array(4096))).resolves.toBeTypeOf('string');
      const tooLarge = broker.publish('blobs', new Uint8Array(4097));
      await expect(tooLarge).rejects.toBeInstanceOf(PayloadTooLargeError);
      await expect(tooLarge).rejects.toMatchObject({
        code: 'payload_too_large',
        limit: 4096,
        size: 4097,
      });
      expect(() => broker.publishNoWait('blobs', 'x'.repeat(4097))).toThrow(PayloadTooLargeError);
      await expect(broker.publish('blobs', new Uint8Array(128))).resolves.toBeTypeOf('string');
      await settle(() => got.length === 2);
      expect(got).toEqual([4096, 128]);
      expect((await broker.stats('blobs')).messageCount).toBe(2);
    });

    it('strings are measured in UTF-8 bytes', async () => {
      await broker.createTopic('text', { maxPayloadBytes: 6 });
      await expect(broker.publish('text', 'ééé')).resolves.toBeTypeOf('string'); // 6 bytes
      await expect(broker.publish('text', 'éééa')).rejects.toMatchObject({ size: 7 });
    });

    it('the default limit is 1 MiB', async () => {
      await broker.createTopic('big');
      await expect(broker.publish('big', new Uint8Array(1024 * 1024))).resolves.toBeTypeOf(
        'string',
      );
      await expect(broker.publish('big', new Uint8Array(1024 * 1024 + 1))).rejects.toMatchObject({
        code: 'payload_too_large',
      });
    });

    it('payloads and metadata that cannot be carried are refused', async () => {
      await broker.createTopic('t');
      await expect(broker.publish('t', undefined)).rejects.toMatchObject({
        code: 'invalid_payload',
      });
      await expect(broker.publish('t', { f: () => 1 })).rejects.toMatchObject({
        code: 'invalid_payload',
      });
      await expect(
        broker.publish('t', 1, { metadata: { n: 1 } as unknown as Metadata }),
      ).rejects.toMatchObject({ code: 'invalid_metadata', key: 'n' });
      expect((await broker.stats('t')).messageCount).toBe(0);
    });
  });

  describe('ordering', () => {
    it('2,000 messages with mixed metadata arrive in strict order with no gaps, for each subscriber', async () => {
      await broker.createTopic('mixed', { retention: { maxMessages: 5000 } });
      const options = { bufferSize: 5000 };
      const callback: Message[] = [];
      await broker.subscribe('mixed', (m) => void callback.push(m), options);
      const inbox = new Inbox(broker.system);
      await broker.subscribe('mixed', inbox.pid, options);
      const stream = broker.subscribe('mixed', options);
      const streamed: Message[] = [];
      const reading = (async () => {
        for await (const m of stream) if (streamed.push(m) === 2000) break;
      })();
      const metadataFor = (i: number): Metadata | undefined =>
        i % 4 === 0
          ? undefined
          : i % 4 === 1
            ? { kind: 'a' }
            : i % 4 === 2
              ? { kind: 'b', n: String(i) }
              : {};
      const pending: Promise<string>[] = [];
      for (let i = 0; i < 2000; i++) {
        const metadata = metadataFor(i);
        pending.push(broker.publish('mixed', i, metadata === undefined ? undefined : { metadata }));
      }
      await Promise.all(pending);
      await reading;
      const processed: Message[] = [];
      for (let i = 0; i < 2000; i++) processed.push(await inbox.receive<Message>(isMessage));
      await settle(() => callback.length === 2000);
      for (const list of [callback, processed, streamed]) {
        expect(list.map((m) => m.payload)).toEqual(Array.from({ length: 2000 }, (_, i) => i));
        expect(list.map((m) => m.offset)).toEqual(Array.from({ length: 2000 }, (_, i) => i));
        list.forEach((m, i) => expect(m.metadata).toEqual(metadataFor(i) ?? {}));
      }
      inbox.close();
    });
  });

  describe('batches', () => {
    it('a batch with one invalid item is refused whole: nothing is published or delivered', async () => {
      await broker.createTopic('t', { maxPayloadBytes: 100 });
      const got: unknown[] = [];
      await broker.subscribe('t', (m) => void got.push(m.payload));
      const batch = broker.publishBatch('t', [
        { payload: 'ok 1' },
        { payload: 'x'.repeat(101) },
        { payload: 'ok 3' },
      ]);
      await expect(batch).rejects.toBeInstanceOf(InvalidBatchError);
      await expect(batch).rejects.toMatchObject({
        code: 'invalid_batch',
        index: 1,
        cause: { code: 'payload_too_large' },
      });
      await settle();
      expect(got).toEqual([]);
      expect((await broker.stats('t')).messageCount).toBe(0);
    });

    it('a valid batch is accepted at consecutive offsets with ids in item order, without interleaving', async () => {
      await broker.createTopic('t');
      const got: Message[] = [];
      await broker.subscribe('t', (m) => void got.push(m));
      const single = broker.publish('t', 'before');
      const ids = await broker.publishBatch('t', [
        { payload: 'a', metadata: { i: '0' } },
        { payload: 'b', partitionKey: 'k' },
        { payload: 'c' },
      ]);
      await single;
      await settle(() => got.length === 4);
      expect(got.map((m) => [m.payload, m.offset])).toEqual([
        ['before', 0],
        ['a', 1],
        ['b', 2],
        ['c', 3],
      ]);
      expect(got.slice(1).map((m) => m.id)).toEqual(ids);
      expect(got[1]!.metadata).toEqual({ i: '0' });
      expect(got[2]!.partitionKey).toBe('k');
    });
  });

  describe('deleteTopic', () => {
    it('ends iterators and callbacks, and makes pending and later publishes fail with topic_not_found, never hanging', async () => {
      await broker.createTopic('t');
      const stream = broker.subscribe('t');
      await stream.ref();
      const ends: string[] = [];
      await broker.subscribe('t', () => {}, { onEnd: (end) => void ends.push(end.reason) });
      const reading = (async () => {
        let n = 0;
        for await (const _m of stream) n++;
        return n;
      })();
      const pending = Array.from({ length: 3000 }, (_, i) => broker.publish('t', i));
      // Observed before the deletion is awaited: a topic on another thread
      // rejects them in later event-loop turns, which must not count as unhandled.
      const settled = Promise.allSettled(pending);
      await broker.deleteTopic('t');
      const results = await settled;
      const rejected = results.filter((r) => r.status === 'rejected');
      // In-thread the deletion always overtakes some of the queued publishes.
      // A topic on another thread works through its queue in parallel with the
      // deletion, so how many it accepted first depends on timing; each
      // outcome is still an id or topic_not_found (broker-threads.test.ts
      // holds the topic busy to make the overtaking certain).
      if (!env.onThreads) expect(rejected.length).toBeGreaterThan(0);
      for (const r of rejected)
        expect((r as PromiseRejectedResult).reason).toBeInstanceOf(TopicNotFoundError);
      expect(results.length).toBe(3000);
      await expect(broker.publish('t', 'later')).rejects.toMatchObject({ code: 'topic_not_found' });
      expect(() => broker.publishNoWait('t', 'later')).toThrow(TopicNotFoundError);
      expect(await reading).toBeLessThanOrEqual(3000);
      await settle(() => ends.length === 1);
      expect(ends).toEqual(['topic_deleted']);
      expect(broker.topicPid('t')).toBeUndefined();
    });

    it('subscribes racing a deletion settle: subscribed (and ended, topic_deleted) or topic_not_found, never hanging', async () => {
      await broker.createTopic('t');
      const ends: string[] = [];
      const subscribes = Array.from({ length: 20 }, (_, i) =>
        i % 2 === 0
          ? broker.subscribe('t', () => {}, { onEnd: (end) => void ends.push(end.reason) })
          : broker.subscribe('t').ref(),
      );
      const settled = Promise.allSettled(subscribes);
      await broker.deleteTopic('t');
      const results = await settled;
      for (const r of results) {
        if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(TopicNotFoundError);
      }
      await settle(
        () =>
          ends.length === results.filter((r, i) => i % 2 === 0 && r.status === 'fulfilled').length,
      );
      expect(ends.every((reason) => reason === 'topic_deleted')).toBe(true);
    });

    it('a re-created topic of the same name starts empty with 0 subscribers', async () => {
      await broker.createTopic('t');
      await broker.subscribe('t', () => {});
      for (let i = 0; i < 10; i++) await broker.publish('t', i);
      await broker.deleteTopic('t');
      await broker.createTopic('t');
      const stats = await broker.stats('t');
      expect(stats).toMatchObject({
        messageCount: 0,
        retainedMessages: 0,
        subscriberCount: 0,
        nextOffset: 0,
        delivered: 0,
      });
      const replay = broker.subscribe('t', { from: 'earliest' });
      const id = await broker.publish('t', 'fresh');
      const first = await replay.next();
      expect(first.value).toMatchObject({ id, offset: 0, payload: 'fresh' });
      await replay.return();
    });
  });

  describe('retention and replay', () => {
    it('replays from earliest, from an offset and from latest, then continues live without gap or duplicate', async () => {
      await broker.createTopic('t', { retention: { maxMessages: 10 } });
      for (let i = 0; i < 20; i++) await broker.publish('t', i);
      const offsets = {
        earliest: [] as number[],
        at15: [] as number[],
        latest: [] as number[],
        past: [] as number[],
      };
      await broker.subscribe('t', (m) => void offsets.earliest.push(m.offset), {
        from: 'earliest',
      });
      await broker.subscribe('t', (m) => void offsets.at15.push(m.offset), { from: 15 });
      await broker.subscribe('t', (m) => void offsets.latest.push(m.offset));
      await broker.subscribe('t', (m) => void offsets.past.push(m.offset), { from: 1000 });
      for (let i = 20; i < 25; i++) await broker.publish('t', i);
      await settle(() => offsets.earliest.length === 15);
      const range = (a: number, b: number) => Array.from({ length: b - a }, (_, i) => a + i);
      expect(offsets.earliest).toEqual(range(10, 25));
      expect(offsets.at15).toEqual(range(15, 25));
      expect(offsets.latest).toEqual(range(20, 25));
      expect(offsets.past).toEqual(range(20, 25));
      expect(await broker.stats('t')).toMatchObject({
        retainedMessages: 10,
        oldestOffset: 15,
        newestOffset: 24,
      });
    });

    it('the replay seam holds while publishes race the subscribe', async () => {
      await broker.createTopic('t');
      const publishing = Array.from({ length: 500 }, (_, i) => broker.publish('t', i));
      const seen: number[] = [];
      await broker.subscribe('t', (m) => void seen.push(m.offset), {
        from: 'earliest',
        bufferSize: 1000,
      });
      const more = Array.from({ length: 500 }, (_, i) => broker.publish('t', 500 + i));
      await Promise.all([...publishing, ...more]);
      await settle(() => seen.length === 1000);
      expect(seen).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    });

    // In-thread only: a SimulatedClock drives one thread's system; a topic on a
    // thread node runs on that thread's real clock (broker-threads.test.ts
    // covers age eviction there, in real time).
    if (!env.onThreads) {
      it('messages past maxAgeMs are evicted by the topic on its clock', async () => {
        const clock = new SimulatedClock();
        const system = new ActorSystem({ clock });
        const aged = await Broker.start({ system });
        await aged.createTopic('t', { retention: { maxAgeMs: 10_000 } });
        const first = await aged.publish('t', 'old');
        clock.advance(6000);
        await aged.publish('t', 'newer');
        expect((await aged.stats('t')).retainedMessages).toBe(2);
        clock.advance(5000); // 'old' is 11 s old: the sweep timer (every 5 s) evicts it
        await settle();
        const stats = await aged.stats('t');
        expect(stats).toMatchObject({ retainedMessages: 1, oldestOffset: 1, messageCount: 2 });
        const replay = aged.subscribe('t', { from: 'earliest' });
        const m = await replay.next();
        expect(m.value?.payload).toBe('newer');
        expect(m.value?.id).not.toBe(first);
        await replay.return();
        await aged.stop();
        await system.shutdown();
      });

      it('retention by bytes keeps the retained size under maxBytes', async () => {
        await broker.createTopic('t', { retention: { maxBytes: 1000 } });
        for (let i = 0; i < 50; i++) await broker.publish('t', new Uint8Array(100));
        expect(await broker.stats('t')).toMatchObject({
          retainedMessages: 10,
          retainedBytes: 1000,
        });
      });
    }
  });

  describe('limits', () => {
    it('maxSubscribers refuses one more with max_subscribers_reached; a freed place can be taken', async () => {
      await broker.createTopic('t', { maxSubscribers: 2 });
      const a = await broker.subscribe('t', () => {});
      await broker.subscribe('t', () => {});
      await expect(broker.subscribe('t', () => {})).rejects.toMatchObject({
        code: 'max_subscribers_reached',
        limit: 2,
      });
      expect((await broker.stats('t')).subscriberCount).toBe(2);
      await broker.unsubscribe('t', a);
      await expect(broker.subscribe('t', () => {})).resolves.toBeDefined();
    });

    it('maxPendingPublishes bounds fire-and-forget floods with topic_overloaded', async () => {
      await broker.createTopic('t', { maxPendingPublishes: 100 });
      let accepted = 0;
      let overloaded = 0;
      for (let i = 0; i < 150; i++) {
        try {
          broker.publishNoWait('t', i);
          accepted++;
        } catch (error) {
          expect(error).toMatchObject({ code: 'topic_overloaded', limit: 100 });
          overloaded++;
        }
      }
      expect([accepted, overloaded]).toEqual([100, 50]);
      await settle();
      expect((await broker.stats('t')).messageCount).toBe(100);
      broker.publishNoWait('t', 'room again');
    });

    it('topic defaults apply to every topic and each createTopic can override them', async () => {
      const tuned = await env.start({ topicDefaults: { maxSubscribers: 1 } });
      await tuned.createTopic('a');
      await tuned.createTopic('b', { maxSubscribers: 2 });
      await tuned.subscribe('a', () => {});
      await expect(tuned.subscribe('a', () => {})).rejects.toMatchObject({
        code: 'max_subscribers_reached',
      });
      await tuned.subscribe('b', () => {});
      await tuned.subscribe('b', () => {});
      await tuned.stop();
      await expect(broker.createTopic('c', { maxSubscribers: -1 })).rejects.toMatchObject({
        code: 'invalid_option',
        option: 'maxSubscribers',
      });
      expect(await broker.listTopics()).toEqual([]);
    });
  });

  describe('health', () => {
    it('reports every process of the tree, the topics and the subscriptions', async () => {
      await broker.createTopic('a');
      await broker.createTopic('b');
      await broker.subscribe('a', () => {});
      expect(await broker.health()).toEqual({
        status: 'running',
        topics: 2,
        topicServers: 2,
        subscriptions: 1,
        topicRestarts: 0,
        processes: { store: true, registry: true, topics: true, server: true },
        hookFailures: 0,
      });
    });
  });
});
