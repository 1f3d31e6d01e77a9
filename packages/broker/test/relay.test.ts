/**
 * The relay of a topic on a thread node, driven directly: inboxes stand for
 * the topic's servers (the relay only sends them casts and watches them), so
 * the order of events that a supervisor restart produces can be fixed.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ActorSystem, GenServer, Inbox, Registry, makeRef, type Pid } from '@ratatoskr/actors';
import { TopicUnavailableError } from '../src/errors.js';
import { DEFAULT_TOPIC_OPTIONS, resolveSubscribeOptions } from '../src/options.js';
import { Relay, ServerStarted, type RelayProtocol } from '../src/relay.js';
import { RemoteTopic } from '../src/remote-topic.js';
import { BrokerRuntime } from '../src/runtime.js';
import { KIND_CALLBACK, Subscription } from '../src/subscription.js';
import { TopicRecord } from '../src/table.js';
import { silentLogger } from '../src/telemetry.js';
import { STATS_REQUEST, UnsubscribeRequest } from '../src/topic-server.js';

let system: ActorSystem;
let runtime: BrokerRuntime;
let record: TopicRecord;
let relay: Pid<RelayProtocol>;
let oldServer: Inbox;
let newServer: Inbox;

beforeEach(async () => {
  system = new ActorSystem();
  const names = { server: 's', topics: 'ts', registry: 'r', relay: 'relay.' };
  const registry = new Registry<string, unknown>({ keys: 'unique' });
  runtime = new BrokerRuntime(
    names,
    system,
    registry,
    silentLogger,
    null,
    DEFAULT_TOPIC_OPTIONS,
    null,
  );
  record = new TopicRecord('t', DEFAULT_TOPIC_OPTIONS, 0);
  record.remote = new RemoteTopic(record, 'relay.t#1');
  oldServer = new Inbox(system);
  newServer = new Inbox(system);
  record.server = oldServer.pid;
  relay = await GenServer.start(system, Relay, { record, runtime }, { name: 'relay.t#1' });
});

afterEach(async () => {
  await system.shutdown();
});

/** What a supervisor's restart of the topic server does: record the new one, tell the relay. */
function restartServer(): void {
  record.server = newServer.pid;
  system.send(relay, new ServerStarted(newServer.pid));
}

describe('a topic server replaced while calls wait on it', () => {
  // Regression: the relay used to drop its monitor on the old server (and the
  // DOWN with it) when told of the new one, so these waited forever.
  it('a stats call parked on the old server is answered topic_unavailable', async () => {
    const stats = system.call(relay, STATS_REQUEST, Infinity);
    expect(await oldServer.receive()).toMatchObject({ type: 'stats' });
    restartServer();
    await expect(stats).resolves.toBeInstanceOf(TopicUnavailableError);
    expect(record.server).toBe(newServer.pid); // the new server is kept
  });

  it('a join sent to the old server fails with topic_unavailable', async () => {
    const sub = new Subscription(
      makeRef(),
      't',
      KIND_CALLBACK,
      () => {},
      null,
      resolveSubscribeOptions(undefined),
      record.counters,
      runtime,
    );
    const joined = record.remote!.join(system, oldServer.pid, sub);
    expect(await oldServer.receive()).toMatchObject({ type: 'join', from: 'latest' });
    restartServer();
    await expect(joined).rejects.toBeInstanceOf(TopicUnavailableError);
    expect(record.remote!.joining.size).toBe(0);
    expect(record.subs).toEqual([]);
  });

  it('a stats call made after the restart goes to the new server', async () => {
    restartServer();
    // Left unanswered: no report comes from an inbox (the shutdown ends it).
    system.call(relay, STATS_REQUEST, Infinity).catch(() => undefined);
    expect(await newServer.receive()).toMatchObject({ type: 'stats' });
    expect(oldServer.messages).toEqual([]);
  });
});

describe('a relay restarted while a subscription joins', () => {
  // Regression: the topic's report of the join went to the relay's name while
  // no relay was registered, was dropped, and the subscribe waited forever.
  it('the join fails with topic_unavailable; a late report of it changes nothing', async () => {
    const sub = new Subscription(
      makeRef(),
      't',
      KIND_CALLBACK,
      () => {},
      null,
      resolveSubscribeOptions(undefined),
      record.counters,
      runtime,
    );
    const joined = record.remote!.join(system, oldServer.pid, sub);
    const join = (await oldServer.receive()) as { tag: number };
    system.exit(relay, 'kill');
    const next = await GenServer.start(system, Relay, { record, runtime }, { name: 'relay.t#1' });
    await expect(joined).rejects.toBeInstanceOf(TopicUnavailableError);
    system.send(next, { type: 'joined', tag: join.tag, replay: null });
    expect(await system.call(next, new UnsubscribeRequest(sub.ref), Infinity)).toBe(false);
    expect(record.subs).toEqual([]);
  });
});
