/**
 * Model-based property test of the topic lifecycle: random sequences of
 * create, delete, subscribe, unsubscribe and publish (including invalid
 * names, unknown refs and missing topics) run against a real broker and a
 * plain model. After every step the outcome (value or error code) must
 * match the model; at the end the topic set, every topic's counts, and the
 * exact messages each subscription received must match too. It runs with
 * topics in-thread and with topics on thread nodes (every run's broker
 * shares the suite's thread nodes, see broker-threads-harness.ts).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Ref } from '@ratatoskr/actors';
import type { Broker } from '@ratatoskr/broker';
import { BROKER_MODES, useBrokerMode, type BrokerEnv } from './broker-threads-harness.js';

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

const NAMES = ['a', 'b', 'c.d', 'bad name', ''] as const;
type Name = (typeof NAMES)[number];

type Op =
  | { kind: 'create'; name: Name }
  | { kind: 'delete'; name: Name }
  | { kind: 'subscribe'; name: Name }
  | { kind: 'unsubscribe'; name: Name; sub: number }
  | { kind: 'publish'; name: Name };

const nameArb = fc.constantFrom(...NAMES);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('create' as const), name: nameArb }),
  fc.record({ kind: fc.constant('delete' as const), name: nameArb }),
  fc.record({ kind: fc.constant('subscribe' as const), name: nameArb }),
  fc.record({ kind: fc.constant('unsubscribe' as const), name: nameArb, sub: fc.nat(12) }),
  fc.record({ kind: fc.constant('publish' as const), name: nameArb }),
  fc.record({ kind: fc.constant('publish' as const), name: nameArb }),
);

interface ModelSub {
  topic: string;
  /** The topic's generation when subscribed: a deleted and re-created topic is another. */
  generation: number;
  live: boolean;
  expected: number[];
}

interface ModelTopic {
  generation: number;
  published: number;
  subs: Set<number>;
}

class Model {
  readonly topics = new Map<string, ModelTopic>();
  readonly subs: ModelSub[] = [];
  private generations = 0;

  static valid(name: string): boolean {
    return /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/.test(name);
  }

  /** The error code the op must fail with, or null if it must succeed. */
  apply(op: Op, payload: number): string | null {
    if (!Model.valid(op.name)) return 'invalid_topic_name';
    const topic = this.topics.get(op.name);
    switch (op.kind) {
      case 'create':
        if (topic !== undefined) return 'topic_already_exists';
        this.topics.set(op.name, { generation: ++this.generations, published: 0, subs: new Set() });
        return null;
      case 'delete':
        if (topic === undefined) return 'topic_not_found';
        for (const i of topic.subs) this.subs[i]!.live = false;
        this.topics.delete(op.name);
        return null;
      case 'subscribe':
        if (topic === undefined) return 'topic_not_found';
        topic.subs.add(this.subs.length);
        this.subs.push({ topic: op.name, generation: topic.generation, live: true, expected: [] });
        return null;
      case 'unsubscribe': {
        if (topic === undefined) return 'topic_not_found';
        const sub = this.subs[op.sub];
        if (sub === undefined) return 'subscription_not_found';
        if (!sub.live || sub.topic !== op.name || sub.generation !== topic.generation) {
          return 'subscription_not_found';
        }
        sub.live = false;
        topic.subs.delete(op.sub);
        return null;
      }
      case 'publish':
        if (topic === undefined) return 'topic_not_found';
        topic.published++;
        for (const i of topic.subs) this.subs[i]!.expected.push(payload);
        return null;
    }
  }
}

async function run(env: BrokerEnv, ops: Op[]): Promise<void> {
  const broker: Broker = await env.start();
  const model = new Model();
  const refs: (Ref | undefined)[] = [];
  const received: number[][] = [];
  try {
    for (const [step, op] of ops.entries()) {
      const expectedError = model.apply(op, step);
      let error: string | null = null;
      try {
        switch (op.kind) {
          case 'create':
            expect(await broker.createTopic(op.name)).toBe(op.name);
            break;
          case 'delete':
            await broker.deleteTopic(op.name);
            break;
          case 'subscribe': {
            const list: number[] = [];
            received.push(list);
            refs.push(undefined);
            const index = refs.length - 1;
            refs[index] = await broker.subscribe(
              op.name,
              (m) => void list.push(m.payload as number),
            );
            break;
          }
          case 'unsubscribe':
            await broker.unsubscribe(op.name, refs[op.sub] ?? ({} as Ref));
            break;
          case 'publish':
            await broker.publish(op.name, step);
            break;
        }
      } catch (thrown) {
        error = (thrown as { code?: string }).code ?? String(thrown);
      }
      expect({ step, op, error }).toEqual({ step, op, error: expectedError });
      // A failed subscribe made no subscription: keep the model's indexes aligned.
      if (op.kind === 'subscribe' && error !== null) {
        refs.pop();
        received.pop();
      }
      await turn();
    }
    for (let i = 0; i < 5; i++) await turn();

    expect(await broker.listTopics()).toEqual([...model.topics.keys()]);
    for (const [name, topic] of model.topics) {
      const stats = await broker.stats(name);
      expect(stats.messageCount).toBe(topic.published);
      expect(stats.subscriberCount).toBe(topic.subs.size);
    }
    expect(received.length).toBe(model.subs.length);
    model.subs.forEach((sub, i) => expect(received[i]).toEqual(sub.expected));
    const health = await broker.health();
    expect(health).toMatchObject({ topics: model.topics.size, topicServers: model.topics.size });
  } finally {
    await broker.stop();
  }
}

describe.each(BROKER_MODES)('topic lifecycle against a model, $name', (mode) => {
  const env = useBrokerMode(mode);
  it('create/delete/subscribe/unsubscribe/publish sequences agree with the model', async () => {
    const ops = fc.array(opArb, { minLength: 1, maxLength: 40 });
    await fc.assert(
      fc.asyncProperty(ops, (list) => run(env, list)),
      { numRuns: 150 },
    );
  }, 60_000);
});
