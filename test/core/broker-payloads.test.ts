/**
 * What a publish accepts, measures and refuses, in both modes (topics
 * in-thread and on thread nodes): regressions of a review that broke the
 * payload-size walk (exponential on shared objects, linear in a sparse
 * array's length), walked around `maxPayloadBytes` (Maps, Sets, symbol keys,
 * metadata and partition keys never counted), leaked raw errors (throwing
 * getters, Proxy traps, null options) and found the two modes disagreeing
 * on what a payload may be. Imports the built packages, as a user would.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Broker, Message, Metadata, PublishOptions } from '@ratatoskr/broker';
import { BROKER_MODES, useBrokerMode } from './broker-threads-harness.js';

const MiB = 1024 * 1024;

/** Turns until `done()` holds (bounded). */
async function until(done: () => boolean): Promise<void> {
  for (let i = 0; i < 10_000 && !done(); i++) await new Promise((r) => setImmediate(r));
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

  describe('the size measure', () => {
    it('regression: a DAG of shared objects (2^levels paths) is measured at once and accepted, each object counted once', async () => {
      await broker.createTopic('t');
      const got: Message[] = [];
      await broker.subscribe('t', (m) => void got.push(m));
      // The broker's measure and the runtime's codec (on threads) are both
      // linear in distinct objects at any depth.
      const levels = 40;
      let x: object = { v: 1 };
      for (let i = 0; i < levels; i++) x = { a: x, b: x };
      const started = performance.now();
      await broker.publish('t', x);
      expect(performance.now() - started).toBeLessThan(1000);
      await until(() => got.length === 1);
      expect(got[0]!.size).toBe(11 + levels * 4);
    });

    it('regression: a sparse array of 2^32 - 1 slots is refused as too large at once, not walked', async () => {
      await broker.createTopic('t', { maxPayloadBytes: 1024 });
      const started = performance.now();
      await expect(broker.publish('t', new Array(2 ** 32 - 1))).rejects.toMatchObject({
        code: 'payload_too_large',
        limit: 1024,
      });
      expect(performance.now() - started).toBeLessThan(1000);
    });

    it('regression: Maps, Sets and class instances count their contents against maxPayloadBytes', async () => {
      await broker.createTopic('t', { maxPayloadBytes: 1024 });
      const big = 'x'.repeat(10 * MiB);
      class Holder {
        constructor(readonly data: string) {}
      }
      for (const payload of [new Map([['k', big]]), new Set([big]), new Holder(big)]) {
        await expect(broker.publish('t', payload)).rejects.toMatchObject({
          code: 'payload_too_large',
        });
      }
      expect((await broker.stats('t')).messageCount).toBe(0);
    });

    it('regression: metadata and the partition key count against maxPayloadBytes and retention.maxBytes', async () => {
      await broker.createTopic('t', { maxPayloadBytes: 1024, retention: { maxBytes: 100 } });
      const big = 'x'.repeat(10 * MiB);
      await expect(broker.publish('t', 1, { metadata: { a: big } })).rejects.toMatchObject({
        code: 'payload_too_large',
      });
      await expect(broker.publish('t', 1, { partitionKey: big })).rejects.toMatchObject({
        code: 'payload_too_large',
      });
      // 8 (the number) + 2 + 40 (metadata "k" + 39 characters) + 10 (the key): 60 bytes.
      const metadata = { k: 'v'.repeat(39) };
      await broker.publish('t', 1, { metadata, partitionKey: 'p'.repeat(10) });
      await broker.publish('t', 2, { metadata, partitionKey: 'p'.repeat(10) });
      const stats = await broker.stats('t');
      expect(stats.retainedMessages).toBe(1); // two would be 120 bytes, over maxBytes
      expect(stats.retainedBytes).toBe(8 + 1 + 39 + 10);
    });
  });

  describe('what a payload may be, the same in both modes', () => {
    it('regression: symbol-keyed properties, Promises and WeakMaps are refused naming what and where', async () => {
      await broker.createTopic('t');
      const cases: [unknown, RegExp][] = [
        [{ a: { [Symbol('k')]: 'x' } }, /payload\.a is an object with symbol-keyed properties/],
        [{ p: Promise.resolve(1) }, /payload\.p is a Promise/],
        [[1, new WeakMap()], /payload\[1\] is a WeakMap/],
      ];
      for (const [payload, message] of cases) {
        const refused = broker.publish('t', payload);
        await expect(refused).rejects.toMatchObject({ code: 'invalid_payload', topic: 't' });
        await expect(refused).rejects.toThrow(message);
        expect(() => broker.publishNoWait('t', payload)).toThrow(message);
      }
      expect((await broker.stats('t')).messageCount).toBe(0);
    });

    it('regression: a throwing getter or Proxy trap is refused with invalid_payload, not a raw error', async () => {
      await broker.createTopic('t');
      const getter = {
        get x(): number {
          throw new Error('getter boom');
        },
      };
      const trap = new Proxy(
        {},
        {
          ownKeys() {
            throw new Error('trap boom');
          },
        },
      );
      await expect(broker.publish('t', { getter })).rejects.toMatchObject({
        code: 'invalid_payload',
        path: 'payload.getter.x',
      });
      await expect(broker.publish('t', trap)).rejects.toMatchObject({ code: 'invalid_payload' });
      const batch = broker.publishBatch('t', [{ payload: 1 }, { payload: getter }]);
      await expect(batch).rejects.toMatchObject({
        code: 'invalid_batch',
        index: 1,
        cause: { code: 'invalid_payload' },
      });
    });

    it('bigints, Dates, Maps, Sets, Errors, byte arrays and cycles are accepted and delivered', async () => {
      await broker.createTopic('t');
      const got: unknown[] = [];
      await broker.subscribe('t', (m) => void got.push(m.payload));
      const cyclic: { n: number; self?: unknown } = { n: 1 };
      cyclic.self = cyclic;
      const payloads = [
        10n,
        new Date(0),
        new Map([['a', 1]]),
        new Set([1]),
        new Error('boom'),
        new Uint8Array([1, 2]),
        cyclic,
      ];
      for (const payload of payloads) await broker.publish('t', payload);
      await until(() => got.length === payloads.length);
      expect(got).toHaveLength(payloads.length);
      expect(got[0]).toBe(10n);
      expect((got[6] as typeof cyclic).self).toBe(got[6]);
    });
  });

  describe('publish options', () => {
    it('regression: options that are not an object, or have an unknown key, are refused with invalid_option', async () => {
      await broker.createTopic('t');
      const bad: unknown[] = [null, 'x', 42, [], { metdata: { a: 'b' } }];
      for (const options of bad) {
        await expect(broker.publish('t', 1, options as PublishOptions)).rejects.toMatchObject({
          code: 'invalid_option',
        });
        expect(() => broker.publishNoWait('t', 1, options as PublishOptions)).toThrow(
          expect.objectContaining({ code: 'invalid_option' }),
        );
      }
      await expect(broker.publish('t', 1, { metdata: {} } as PublishOptions)).rejects.toThrow(
        /^publish options: metdata is unknown: it must be one of the known options \(metadata, partitionKey\)/,
      );
      await expect(broker.publish('t', 1, { metadata: undefined })).resolves.toBeTypeOf('string');
      expect((await broker.stats('t')).messageCount).toBe(1);
    });

    it('regression: metadata that is a Map, a Date, or has symbol keys is refused with invalid_metadata', async () => {
      await broker.createTopic('t');
      const bad: unknown[] = [new Map([['a', 'b']]), new Date(), { [Symbol('k')]: 'v' }];
      for (const metadata of bad) {
        await expect(
          broker.publish('t', 1, { metadata: metadata as Metadata }),
        ).rejects.toMatchObject({ code: 'invalid_metadata' });
      }
    });

    it('regression: publishBatch errors name the batch, not options.items', async () => {
      await broker.createTopic('t');
      await expect(broker.publishBatch('t', null as never)).rejects.toThrow(
        /^publishBatch items must be an array/,
      );
      await expect(broker.publishBatch('t', [{ payload: 1, typo: 2 } as never])).rejects.toThrow(
        /item 0 is invalid: a publishBatch item: typo is unknown/,
      );
    });
  });
});
