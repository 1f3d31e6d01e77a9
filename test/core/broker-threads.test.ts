/**
 * What is particular to topics on thread nodes (`Broker.start({ threads })`):
 * placement by the hash of the name, where subscriber code runs, what is
 * copied, what cannot cross, what the death of a thread does to its topics,
 * the relay, and the ownership of the thread nodes. Every API and guarantee
 * test of the other broker suites also runs in this mode (see
 * broker-threads-harness.ts).
 */
import { fileURLToPath } from 'node:url';
import { threadId } from 'node:worker_threads';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ActorSystem, Inbox, type Pid } from '@ratatoskr/actors';
import {
  Broker,
  InvalidBatchError,
  InvalidPayloadError,
  isMessage,
  type BrokerLogRecord,
  type BrokerTelemetryEvent,
  type Message,
  type SubscriptionEnd,
} from '@ratatoskr/broker';
import { isAlive, useBrokerMode } from './broker-threads-harness.js';

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function settle(done: () => boolean = () => true): Promise<void> {
  for (let i = 0; i < 20_000 && !done(); i++) await turn();
  for (let i = 0; i < 5; i++) await turn();
}

/** Waits until `read()` gives a pid other than `old` (bounded by real time). */
async function replaced(read: () => Pid | undefined, old: Pid | undefined): Promise<Pid> {
  for (let i = 0; i < 500; i++) {
    const pid = read();
    if (pid !== undefined && pid !== old) return pid;
    await sleep(2);
  }
  throw new Error(`no replacement for ${String(old)} within 1 s`);
}

/**
 * Publishes, retrying while the topic restarts; returns the id once accepted.
 * A topic whose thread died may be placed on the replacement thread, which
 * takes about 50 ms to start, much longer on a loaded machine: a generous
 * real-time bound.
 */
async function publishThrough(broker: Broker, topic: string, payload: unknown): Promise<string> {
  const started = performance.now();
  for (;;) {
    try {
      return await broker.publish(topic, payload);
    } catch (error) {
      const unavailable = (error as { code?: string }).code === 'topic_unavailable';
      if (!unavailable || performance.now() - started > 15_000) throw error;
      await sleep(1);
    }
  }
}

/** Resolves with how `promise` settled, or 'hung' after `ms` of real time. */
async function outcome(promise: Promise<unknown>, ms = 5000): Promise<string> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const hung = new Promise<string>((resolve) => (timer = setTimeout(() => resolve('hung'), ms)));
  const settled = promise.then(
    () => 'ok',
    (error: unknown) => (error as { code?: string }).code ?? String(error),
  );
  const result = await Promise.race([settled, hung]);
  clearTimeout(timer);
  return result;
}

/** Topic names whose servers land on each of the broker's two nodes. */
async function oneTopicPerNode(broker: Broker): Promise<[string, string]> {
  const byNode = new Map<number, string>();
  for (let i = 0; byNode.size < 2 && i < 64; i++) {
    const name = `spread-${i}`;
    await broker.createTopic(name);
    const node = broker.topicPid(name)!.node;
    if (!byNode.has(node)) byNode.set(node, name);
  }
  const [a, b] = [...byNode.values()];
  return [a!, b!];
}

const fixture = fileURLToPath(new URL('./broker-threads-fixture.mjs', import.meta.url));

/** Every topic key the broker's thread nodes hold state for (their tables), all nodes together. */
async function hostedKeys(broker: Broker): Promise<string[]> {
  const threads = broker.threads!;
  const inbox = new Inbox(broker.system);
  const keys: string[] = [];
  for (const node of threads.list()) {
    const reporter = await threads.spawn({ module: fixture, export: 'reportHosted', thread: node });
    broker.system.send(reporter, { replyTo: inbox.pid });
    keys.push(...(await inbox.receive<{ keys: string[] }>()).keys);
    broker.system.exit(reporter, 'kill');
  }
  inbox.close();
  return keys;
}

/** Polls `read` until `done` holds for its value (bounded by real time); returns the last value. */
async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  let value = await read();
  for (let i = 0; i < 500 && !done(value); i++) {
    await sleep(4);
    value = await read();
  }
  return value;
}

const env = useBrokerMode({ name: 'topics on 2 threads', threads: 2 });
let broker: Broker;
let events: BrokerTelemetryEvent[];

beforeEach(async () => {
  events = [];
  broker = await env.start({ telemetry: (event) => void events.push(event) });
});

afterEach(async () => {
  await broker.stop();
});

describe('placement', () => {
  it('places each topic on a live thread node by the hash of its name, spreading topics over the nodes', async () => {
    const names = Array.from({ length: 16 }, (_, i) => `orders-${i}`);
    for (const name of names) await broker.createTopic(name);
    const threads = broker.threads!;
    const nodes = threads.list();
    expect(nodes).toHaveLength(2);
    for (const name of names) {
      const node = broker.topicPid(name)!.node;
      expect(nodes).toContain(node);
      expect(node).toBe(await threads.nodeFor({ key: name }));
    }
    const used = new Set(names.map((name) => broker.topicPid(name)!.node));
    expect(used.size).toBe(2);
    // A relay per topic on the broker's thread; the server on its node.
    for (const name of names) expect(broker.relayPid(name)!.node).toBe(broker.system.node);
  });

  it('a deleted and re-created topic lands on the same node, empty', async () => {
    await broker.createTopic('t');
    const node = broker.topicPid('t')!.node;
    for (let i = 0; i < 5; i++) await broker.publish('t', i);
    await broker.deleteTopic('t');
    await broker.createTopic('t');
    expect(broker.topicPid('t')!.node).toBe(node);
    expect(await broker.stats('t')).toMatchObject({ messageCount: 0, retainedMessages: 0 });
  });
});

describe('where code runs, what is copied', () => {
  it('subscriber code (callbacks, filters, onError, onEnd, iterators, process subscribers) runs on the broker thread', async () => {
    await broker.createTopic('t');
    expect(broker.topicPid('t')!.node).not.toBe(threadId);
    const seen: number[] = [];
    const record = () => void seen.push(threadId);
    await broker.subscribe(
      't',
      () => {
        record();
        throw new Error('handler failure');
      },
      {
        filter: () => {
          record();
          return true;
        },
        onError: () => record(),
        onEnd: () => record(),
      },
    );
    const stream = broker.subscribe('t');
    await stream.ref();
    const inbox = new Inbox(broker.system);
    await broker.subscribe('t', inbox.pid);
    await broker.publish('t', 'x');
    expect((await stream.next()).value?.payload).toBe('x');
    expect((await inbox.receive<Message>(isMessage)).payload).toBe('x');
    await broker.deleteTopic('t');
    await settle(() => seen.length === 4);
    expect(seen).toEqual([threadId, threadId, threadId, threadId]);
    inbox.close();
  });

  it('payloads are structured-cloned on the way to the topic and back: equal, not the same object; shared by the subscribers', async () => {
    await broker.createTopic('t');
    class Order {
      constructor(readonly id: number) {}
      total(): number {
        return this.id;
      }
    }
    const got: Message[][] = [[], []];
    for (const list of got) await broker.subscribe('t', (m) => void list.push(m));
    const payload = {
      order: new Order(7),
      at: new Date(0),
      tags: new Map([['a', 1]]),
      bytes: new Uint8Array([1, 2, 3]),
    };
    await broker.publish('t', payload);
    await settle(() => got.every((list) => list.length === 1));
    const [first, second] = [got[0]![0]!, got[1]![0]!];
    expect(first.payload).not.toBe(payload);
    expect(first.payload).toEqual({ ...payload, order: { id: 7 } });
    const copy = first.payload as typeof payload;
    expect(copy.order).not.toBeInstanceOf(Order); // class instances arrive as plain objects
    expect(copy.at).toBeInstanceOf(Date);
    expect(copy.tags.get('a')).toBe(1);
    expect([...copy.bytes]).toEqual([1, 2, 3]);
    expect(second).toBe(first); // one copy per message on this thread, shared by its subscribers
    expect(isMessage(first)).toBe(true);
  });

  it('a payload that cannot be cloned is refused with invalid_payload, nothing is published, and no pending count leaks', async () => {
    await broker.createTopic('t', { maxPendingPublishes: 2 });
    const got: unknown[] = [];
    await broker.subscribe('t', (m) => void got.push(m.payload));
    const uncloneable = [new Map([['f', () => 1]]), Promise.resolve(1), new Proxy({ a: 1 }, {})];
    for (const payload of uncloneable) {
      const refused = broker.publish('t', payload);
      await expect(refused).rejects.toBeInstanceOf(InvalidPayloadError);
      await expect(refused).rejects.toMatchObject({ code: 'invalid_payload', topic: 't' });
    }
    expect(() => broker.publishNoWait('t', Promise.resolve(2))).toThrow(InvalidPayloadError);
    const batch = broker.publishBatch('t', [{ payload: 'fine' }, { payload: Promise.resolve(3) }]);
    await expect(batch).rejects.toBeInstanceOf(InvalidBatchError);
    await expect(batch).rejects.toMatchObject({ index: 1, cause: { code: 'invalid_payload' } });
    // Two fire-and-forget publishes fit under maxPendingPublishes: nothing refused above is pending.
    broker.publishNoWait('t', 'a');
    broker.publishNoWait('t', 'b');
    await settle(() => got.length === 2);
    expect(got).toEqual(['a', 'b']);
    expect((await broker.stats('t')).messageCount).toBe(2);
  });

  it('regression: publishNoWait of payloads the clone refuses only when posted (a host object) never wedges the topic as overloaded', async () => {
    await broker.createTopic('t', { maxPendingPublishes: 10 });
    // The broker's checks and the runtime's codec let an Intl object through;
    // postMessage refuses it when the turn's batch leaves, after publishNoWait returned.
    for (let i = 0; i < 10; i++) broker.publishNoWait('t', { collator: new Intl.Collator() });
    await settle(() => false);
    await expect(broker.publish('t', 'next')).resolves.toBeTypeOf('string');
    for (let i = 0; i < 10; i++) {
      expect(() => broker.publishNoWait('t', new Proxy({ a: 1 }, {}))).toThrow(InvalidPayloadError);
    }
    await expect(broker.publish('t', 'again')).resolves.toBeTypeOf('string');
    expect((await broker.stats('t')).messageCount).toBe(2);
  });
});

describe('a topic server crash', () => {
  it('a crashed topic server is restarted on the same thread, where its retained messages are', async () => {
    await broker.createTopic('t');
    for (let i = 0; i < 20; i++) await broker.publish('t', i);
    const old = broker.topicPid('t')!;
    broker.system.exit(old, 'kill');
    const pid = await replaced(() => broker.topicPid('t'), old);
    expect(pid.node).toBe(old.node);
    expect(await isAlive(broker, pid)).toBe(true);
    expect(await isAlive(broker, old)).toBe(false);
    await publishThrough(broker, 't', 20);
    expect(await broker.stats('t')).toMatchObject({
      retainedMessages: 21,
      messageCount: 21,
      restarts: 1,
    });
  });

  it('age eviction runs on the thread node, on its real clock', async () => {
    await broker.createTopic('t', { retention: { maxAgeMs: 40 } });
    await broker.publish('t', 'old');
    await sleep(100);
    await broker.publish('t', 'newer'); // appending evicts what has aged out
    expect(await broker.stats('t')).toMatchObject({
      retainedMessages: 1,
      oldestOffset: 1,
      messageCount: 2,
    });
  });
});

describe('the relay', () => {
  it('a killed relay is restarted with every subscription attached; delivery resumes', async () => {
    await broker.createTopic('t');
    const got: number[][] = [[], []];
    for (const list of got) await broker.subscribe('t', (m) => void list.push(m.payload as number));
    await broker.publish('t', 0);
    await settle(() => got.every((list) => list.length === 1));
    const old = broker.relayPid('t')!;
    broker.system.exit(old, 'kill');
    await replaced(() => broker.relayPid('t'), old);
    for (let i = 1; i <= 10; i++) await publishThrough(broker, 't', i);
    await settle(() => got.every((list) => list.length === 11));
    for (const list of got) expect(list).toEqual(Array.from({ length: 11 }, (_, i) => i));
    expect((await broker.stats('t')).subscriberCount).toBe(2);
  });
});

describe('the death of a thread', () => {
  // Each test here kills a thread, so its broker owns its thread nodes.
  let own: Broker;
  const logs: BrokerLogRecord[] = [];

  beforeEach(async () => {
    logs.length = 0;
    const logger = {
      error: () => {},
      warn: (record: BrokerLogRecord) => void logs.push(record),
      info: () => {},
      debug: () => {},
    };
    own = await Broker.start({ threads: 2, logger, telemetry: (e) => void events.push(e) });
  });

  afterEach(async () => {
    await own.stop();
  });

  it('takes its topics down: pending publishes fail with topic_unavailable, never hang; the topic restarts on a live thread with its subscriptions, an empty log and continuing offsets', async () => {
    const [lost, kept] = await oneTopicPerNode(own);
    const offsets: number[] = [];
    await own.subscribe(lost, (m) => void offsets.push(m.offset), { bufferSize: 10_000 });
    const inbox = new Inbox(own.system);
    await own.subscribe(lost, inbox.pid);
    for (let i = 0; i < 10; i++) await own.publish(lost, i);
    for (let i = 0; i < 10; i++) await own.publish(kept, i);
    const dead = own.topicPid(lost)!;

    const racing = Array.from({ length: 200 }, (_, i) => own.publish(lost, 100 + i));
    const outcomes = Promise.all(racing.map((p) => outcome(p)));
    await own.threads!.terminate(dead.node);
    const results = await outcomes;
    for (const result of results) expect(['ok', 'topic_unavailable']).toContain(result);

    await publishThrough(own, lost, 'after');
    const pid = own.topicPid(lost)!;
    expect(pid.node).not.toBe(dead.node);
    expect(own.threads!.list()).toContain(pid.node);
    const stats = await own.stats(lost);
    const accepted = 10 + results.filter((r) => r === 'ok').length;
    expect(stats).toMatchObject({ subscriberCount: 2, restarts: 1, retainedMessages: 1 });
    // Offsets continue past everything the dead thread accepted (also what never came back).
    expect(stats.messageCount).toBeGreaterThanOrEqual(accepted + 1);
    expect(stats.nextOffset).toBe(stats.messageCount);
    expect(stats.oldestOffset).toBe(stats.messageCount - 1);
    // The subscriptions were re-attached: they see 'after', offsets rising, none twice.
    await settle(() => offsets.at(-1) === stats.newestOffset);
    expect(offsets.at(-1)).toBe(stats.newestOffset);
    expect(offsets).toEqual([...offsets].sort((a, b) => a - b));
    expect(new Set(offsets).size).toBe(offsets.length);
    const last = await inbox.receive<Message>((m) => isMessage(m) && m.payload === 'after');
    expect(last.offset).toBe(stats.newestOffset);
    // Telemetry and the log report the restart; the log cannot know what is retained on a thread.
    expect(events).toContainEqual({ type: 'topic_restarted', topic: lost, restarts: 1 });
    expect(logs).toContainEqual(
      expect.objectContaining({ label: 'topic_restarted', topic: lost, retained: null }),
    );
    // The topic on the other thread lost nothing.
    expect(await own.stats(kept)).toMatchObject({ retainedMessages: 10, restarts: 0 });
    inbox.close();
  }, 30_000);

  it('stats, subscribe and unsubscribe racing the death settle (a value or topic_unavailable), never hang', async () => {
    const [lost] = await oneTopicPerNode(own);
    const ref = await own.subscribe(lost, () => {});
    const node = own.topicPid(lost)!.node;
    const calls = [
      own.stats(lost),
      own.subscribe(lost, () => {}),
      own.subscribe(lost).ref(),
      own.unsubscribe(lost, ref),
    ];
    const outcomes = Promise.all(calls.map((p) => outcome(p)));
    await own.threads!.terminate(node);
    for (const result of await outcomes) expect(['ok', 'topic_unavailable']).toContain(result);
    await publishThrough(own, lost, 'back');
    expect(await outcome(own.stats(lost))).toBe('ok');
  }, 30_000);
});

describe('the broker server killed while it creates a topic', () => {
  it('the retried create succeeds once, and the table matches the processes (regression)', async () => {
    // Four kills: a fifth within 5 s would exceed the root's intensity (5 in 5 s) on purpose.
    for (let turns = 0; turns < 4; turns++) {
      const name = `racing-${turns}`;
      await settle(() => broker.processes().server !== undefined);
      const created = broker.createTopic(name);
      for (let i = 0; i < turns; i++) await turn();
      broker.system.exit(broker.processes().server!, 'kill');
      await expect(created).resolves.toBe(name);
      expect((await broker.listTopics()).filter((t) => t === name)).toEqual([name]);
    }
    await settle(() => broker.processes().server !== undefined);
    const topics = await broker.listTopics();
    expect(await broker.health()).toMatchObject({
      status: 'running',
      topics: topics.length,
      topicServers: topics.length,
    });
    for (const name of topics) await expect(broker.publish(name, 1)).resolves.toBeTypeOf('string');
  });
});

describe("the threads' tables", () => {
  const named = (name: string) => (key: string) => key.includes(`.relay.${name}#`);

  it('a deleted topic leaves no state on its thread; after a store crash the next server to start on a thread drops the lost topics', async () => {
    await broker.createTopic('kept');
    await broker.createTopic('gone');
    await broker.publish('gone', 1);
    const before = await hostedKeys(broker);
    expect(before.filter(named('kept'))).toHaveLength(1);
    expect(before.filter(named('gone'))).toHaveLength(1);

    await broker.deleteTopic('gone');
    // Its server drops the entry as it stops (a supervisor does not wait for another thread).
    const afterDelete = await eventually(
      () => hostedKeys(broker),
      (keys) => !keys.some(named('gone')),
    );
    expect(afterDelete.filter(named('gone'))).toEqual([]);
    expect(afterDelete.filter(named('kept'))).toHaveLength(1);

    // A server killed (no terminate) just before its topic is deleted: the
    // next topic server to start on that thread drops the entry.
    await broker.createTopic('killed');
    const node = broker.topicPid('killed')!.node;
    broker.system.exit(broker.topicPid('killed')!, 'kill');
    await broker.deleteTopic('killed');
    expect((await hostedKeys(broker)).filter(named('killed'))).toHaveLength(1);
    for (let i = 0; broker.topicPid(`next-${i - 1}`)?.node !== node; i++) {
      await broker.createTopic(`next-${i}`);
    }
    expect((await hostedKeys(broker)).filter(named('killed'))).toEqual([]);

    // The store dies: the table and every topic are lost; the thread entries
    // of the lost topics are dropped by the next topic server on each thread.
    const store = broker.processes().store!;
    broker.system.exit(store, 'kill');
    await settle(() => {
      const { store: next, server } = broker.processes();
      return next !== undefined && next !== store && server !== undefined;
    });
    const [a, b] = await oneTopicPerNode(broker);
    const afterCrash = await hostedKeys(broker);
    expect(afterCrash.filter(named('kept'))).toEqual([]);
    expect(afterCrash.filter(named(a))).toHaveLength(1);
    expect(afterCrash.filter(named(b))).toHaveLength(1);
    expect(afterCrash.filter(named('next-0'))).toEqual([]);
    expect(afterCrash.every((key) => key.includes('.relay.spread-'))).toBe(true);
  });
});

describe('thread nodes: options and ownership', () => {
  it('refuses a threads option out of range, or thread nodes of another system', async () => {
    for (const threads of [-1, 1.5, 257, 'two']) {
      await expect(Broker.start({ threads: threads as never })).rejects.toMatchObject({
        code: 'invalid_option',
        option: 'threads',
      });
    }
    await expect(
      Broker.start({ system: new ActorSystem(), threads: broker.threads! }),
    ).rejects.toMatchObject({ code: 'invalid_option', option: 'threads' });
  });

  it('stop() stops thread nodes the broker started, and leaves given ones running and clean', async () => {
    const owning = await Broker.start({ threads: 1 });
    const started = owning.threads!;
    expect(started.list()).toHaveLength(1);
    await owning.stop();
    expect(started.list()).toEqual([]);

    const shared = broker.threads!;
    const first = await Broker.start({ threads: shared });
    await first.createTopic('t');
    await first.subscribe('t', () => {});
    const ends: SubscriptionEnd[] = [];
    await first.subscribe('t', () => {}, { onEnd: (end) => void ends.push(end) });
    await first.stop();
    expect(shared.list()).toHaveLength(2);
    expect(ends).toEqual([expect.objectContaining({ reason: 'broker_stopped' })]);
    // Its topic server ends on its thread soon after (a supervisor does not
    // wait for a process of another thread), and drops its state there.
    const onThreads = async () =>
      (await shared.processes())
        .filter((n) => n.node !== broker.system.node)
        .flatMap((n) => n.pids);
    expect(await eventually(onThreads, (pids) => pids.length === 0)).toEqual([]);
    expect(
      await eventually(
        () => hostedKeys(broker),
        (keys) => keys.length === 0,
      ),
    ).toEqual([]);
    const second = await Broker.start({ threads: shared });
    await second.createTopic('t');
    await expect(second.publish('t', 1)).resolves.toBeTypeOf('string');
    await second.stop();
  });
});
