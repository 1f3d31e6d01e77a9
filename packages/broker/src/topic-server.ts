/**
 * The topic server: one GenServer per topic, started under the broker's
 * DynamicSupervisor of topics (restart `transient`), registered in the
 * topic registry under the topic's name.
 *
 * It owns nothing that must survive it: the log, the subscription list and
 * the counters live in the topic's `TopicRecord` in the store's table. So a
 * crash (a bug, or `kill`) loses only the messages still in its mailbox,
 * whose callers are told (`topic_unavailable`); the restarted server picks
 * the record up again, monitors the subscription processes anew (one that
 * died meanwhile is removed at once, by its `noproc` DOWN) and serves.
 * Accepted messages were already queued for every subscriber at acceptance,
 * and subscription processes outlive the topic, so each is delivered exactly
 * once.
 *
 * Handlers never throw on valid input: every check on a publish (name, size,
 * metadata, pending limit) is made by the caller before the message is sent,
 * and the record is changed only after the one fallible step (spawning a
 * subscription's process). A request the server does not know is a bug and
 * crashes it, as an unmatched message does in OTP.
 *
 * | request       | kind | reply                                             |
 * |---------------|------|---------------------------------------------------|
 * | a `Message`   | call | its id (a publish: the message is the request)    |
 * | a `Message`   | cast | none (fire-and-forget publish)                    |
 * | `batch`       | call | the ids, in order, at consecutive offsets         |
 * | `subscribe`   | call | the subscription ref, or `MaxSubscribersReachedError` |
 * | `unsubscribe` | call | whether the subscription was live on this topic   |
 * | `stats`       | call | `TopicStats`                                      |
 */
import {
  DownMessage,
  ignore,
  noreply,
  ok,
  reply,
  stop,
  type Context,
  type GenServer,
  type Pid,
  type Protocol,
  type Ref,
} from '@ratatoskr/actors';
import { MaxSubscribersReachedError } from './errors.js';
import { Message, stamp, type MessageId } from './message.js';
import type { BrokerRuntime } from './runtime.js';
import { START, type Subscription, SUBSCRIBER_SPAWN } from './subscription.js';
import type { TopicRecord } from './table.js';

/** Several messages, published together at consecutive offsets. */
export class BatchRequest {
  readonly type = 'batch' as const;
  constructor(readonly items: readonly Message[]) {}
}

export class SubscribeRequest {
  readonly type = 'subscribe' as const;
  constructor(readonly subscription: Subscription) {}
}

export class UnsubscribeRequest {
  readonly type = 'unsubscribe' as const;
  constructor(readonly ref: Ref) {}
}

export const STATS_REQUEST = Object.freeze({ type: 'stats' as const });

/** Statistics of one subscription, inside `TopicStats`. */
export interface SubscriberStats {
  ref: Ref;
  subscriberId: string | null;
  kind: 'callback' | 'process' | 'iterator';
  /** Live messages waiting in its queue (bounded by `bufferSize`, see the overflow policies). */
  queued: number;
  /** Retained messages of its replay (`from`) not yet handed to it; not bounded by `bufferSize`. */
  replaying: number;
  delivered: number;
  dropped: number;
  errors: number;
}

/** What `stats(topic)` returns. Counts are exact at the moment the topic answers. */
export interface TopicStats {
  topic: string;
  /** Messages accepted since the topic was created. */
  messageCount: number;
  /** Messages currently retained. */
  retainedMessages: number;
  /** Sum of retained payload sizes, in bytes. */
  retainedBytes: number;
  /** Offset of the oldest retained message, or null when none is retained. */
  oldestOffset: number | null;
  /** Offset of the newest retained message, or null when none is retained. */
  newestOffset: number | null;
  /** Offset the next message will get. */
  nextOffset: number;
  /** Live subscriptions. */
  subscriberCount: number;
  /** Messages handed to subscribers, over all subscriptions past and present. */
  delivered: number;
  /** Messages dropped by overflow policies. */
  dropped: number;
  /** Subscriber failures (handler, filter or onError threw). */
  errors: number;
  /** Subscriptions ended by the `disconnect` policy. */
  disconnects: number;
  /** Times the topic's process was restarted after a crash. */
  restarts: number;
  /** Messages waiting in the topic process's mailbox (this stats request excluded). */
  mailboxLength: number;
  /** When the topic was created: whole epoch ms, from the broker's clock. */
  createdAt: number;
  subscribers: SubscriberStats[];
}

type TopicCall =
  Message | BatchRequest | SubscribeRequest | UnsubscribeRequest | typeof STATS_REQUEST;

/** The topic server's protocol: requests, their replies, and the one cast. */
export type TopicProtocol = Protocol<
  TopicCall,
  {
    publish: MessageId;
    batch: MessageId[];
    subscribe: Ref | MaxSubscribersReachedError;
    unsubscribe: boolean;
    stats: TopicStats;
  },
  Message
>;

/** Timer message: evict retained messages past their age. */
const SWEEP: unique symbol = Symbol('sweep');

/** The server's start argument. */
export interface TopicArgs {
  readonly record: TopicRecord;
  readonly runtime: BrokerRuntime;
}

/** Per-process state: what a restart rebuilds from the record. */
export class TopicState {
  /** The monitors this incarnation holds on subscription processes. */
  readonly monitors = new Map<Ref, Subscription>();
  constructor(
    readonly record: TopicRecord,
    readonly runtime: BrokerRuntime,
  ) {}
}

/** How often age-based eviction runs: half the age limit, within 1 s..60 s. */
function sweepInterval(maxAgeMs: number): number {
  return Math.min(60_000, Math.max(1000, Math.floor(maxAgeMs / 2)));
}

export const TopicServer: GenServer<TopicState, TopicArgs, TopicProtocol, typeof SWEEP> = {
  init({ record, runtime }, ctx) {
    // Deleted while this server was being restarted: do not come back.
    if (record.deleted) return ignore();
    const state = new TopicState(record, runtime);
    record.incarnations++;
    record.pending = 0;
    record.server = ctx.self as Pid<TopicProtocol>;
    for (const sub of record.subs) watch(state, sub, ctx);
    const maxAgeMs = record.options.retention.maxAgeMs;
    // Housekeeping: it does not keep Node running by itself.
    if (maxAgeMs !== Infinity) ctx.sendInterval(ctx.self, SWEEP, sweepInterval(maxAgeMs)).unref();
    if (record.incarnations > 1) restarted(state);
    return ok(state);
  },

  handleCall(request, _from, state, ctx) {
    // Deleted, and about to be stopped: refuse what is still queued (the
    // callers get topic_not_found), rather than accept it into a dead topic.
    if (state.record.deleted) return stop('shutdown', state);
    if (request instanceof Message) {
      state.record.pending--;
      return reply(accept(state, request), state);
    }
    switch (request.type) {
      case 'batch':
        state.record.pending--;
        // A batch is the work of as many publishes: the scheduler counts it so.
        ctx.bumpReductions(Math.max(0, request.items.length - 1));
        return reply(acceptBatch(state, request.items), state);
      case 'subscribe':
        return reply(subscribe(state, request.subscription, ctx), state);
      case 'unsubscribe':
        return reply(unsubscribe(state, request.ref, ctx), state);
      case 'stats':
        return reply(stats(state, ctx), state);
    }
  },

  handleCast(request, state) {
    if (state.record.deleted) return stop('shutdown', state);
    if (!(request instanceof Message)) {
      throw new TypeError(`topic ${state.record.name} got an unknown cast`);
    }
    state.record.pending--;
    accept(state, request);
    return noreply(state);
  },

  handleInfo(message, state) {
    if (message instanceof DownMessage) {
      const sub = state.monitors.get(message.ref);
      if (sub !== undefined) {
        state.monitors.delete(message.ref);
        sub.monitorRef = null;
        state.record.remove(sub);
        state.runtime.subscriptions.delete(sub);
      }
    } else if (message === SWEEP) {
      state.record.log.evictExpired(state.runtime.now());
    }
    return noreply(state);
  },

  formatState(state) {
    const { record } = state;
    return {
      topic: record.name,
      subscribers: record.subs.length,
      retained: record.log.length,
      nextOffset: record.log.nextOffset,
    };
  },
};

// ------------------------------------------------------------------ publishing

/** Accepts one message: stamps it, retains it, queues it for every subscriber. */
function accept(state: TopicState, message: Message): MessageId {
  const record = state.record;
  const now = state.runtime.now();
  const log = record.log;
  stamp(message, log.nextOffset, now);
  log.append(message, now);
  record.counters.published++;
  const subs = record.subs;
  let disconnected = false;
  for (let i = 0; i < subs.length; i++) {
    if (!subs[i]!.offer(message)) disconnected = true;
  }
  if (disconnected) record.removeClosed();
  return message.id;
}

function acceptBatch(state: TopicState, items: readonly Message[]): MessageId[] {
  const ids = new Array<MessageId>(items.length);
  for (let i = 0; i < items.length; i++) ids[i] = accept(state, items[i]!);
  return ids;
}

// ------------------------------------------------------------------ subscriptions

function watch(state: TopicState, sub: Subscription, ctx: Context): void {
  const ref = ctx.monitor(sub.pid!);
  sub.monitorRef = ref;
  state.monitors.set(ref, sub);
}

function subscribe(
  state: TopicState,
  sub: Subscription,
  ctx: Context,
): Ref | MaxSubscribersReachedError {
  const record = state.record;
  const limit = record.options.maxSubscribers;
  if (record.subs.length >= limit) return new MaxSubscribersReachedError(record.name, limit);

  // The one fallible step comes first: if spawning throws, nothing has changed.
  sub.spawned(ctx.spawn(sub.receive, SUBSCRIBER_SPAWN));

  const from = sub.options.from;
  const replay = from === 'latest' ? null : record.log.sliceFrom(from === 'earliest' ? 0 : from);
  watch(state, sub, ctx);
  record.add(sub);
  ctx.send(sub.pid!, START);
  if (replay !== null) sub.beginReplay(replay);
  return sub.ref;
}

function unsubscribe(state: TopicState, ref: Ref, ctx: Context): boolean {
  return state.record.unsubscribe(ref, state.monitors, ctx);
}

// ------------------------------------------------------------------ introspection

function stats(state: TopicState, ctx: Context): TopicStats {
  const { record } = state;
  const { log, counters } = record;
  const info = ctx.system.processInfo(ctx.self);
  return {
    topic: record.name,
    messageCount: counters.published,
    retainedMessages: log.length,
    retainedBytes: log.bytes,
    oldestOffset: log.oldestOffset,
    newestOffset: log.newestOffset,
    nextOffset: log.nextOffset,
    subscriberCount: record.subs.length,
    delivered: counters.delivered,
    dropped: counters.dropped,
    errors: counters.errors,
    disconnects: counters.disconnects,
    restarts: counters.restarts,
    mailboxLength: info === undefined ? 0 : info.mailboxLength,
    createdAt: record.createdAt,
    subscribers: subscriberStats(record),
  };
}

/** Each live subscription's stats, for `TopicStats.subscribers`. */
export function subscriberStats(record: TopicRecord): SubscriberStats[] {
  return record.subs.map((sub) => ({
    ref: sub.ref,
    subscriberId: sub.options.subscriberId,
    kind: sub.kindName,
    queued: sub.queued,
    replaying: sub.replayPending,
    delivered: sub.delivered,
    dropped: sub.dropped,
    errors: sub.errors,
  }));
}

function restarted(state: TopicState): void {
  noteRestart(state.record, state.runtime, state.record.log.length);
}

/**
 * Counts a restart of a topic's server, and reports it (telemetry and a
 * warning). `retained` is null when the log is on another thread.
 */
export function noteRestart(
  record: TopicRecord,
  runtime: BrokerRuntime,
  retained: number | null,
): void {
  record.counters.restarts++;
  runtime.telemetry?.({
    type: 'topic_restarted',
    topic: record.name,
    restarts: record.counters.restarts,
  });
  runtime.logger.warn({
    label: 'topic_restarted',
    topic: record.name,
    restarts: record.counters.restarts,
    subscribers: record.subs.length,
    retained,
  });
}
