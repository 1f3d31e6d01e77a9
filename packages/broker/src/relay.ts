/**
 * The relay: the main thread's half of a topic hosted on a thread node. One
 * GenServer per such topic, a `transient` child of the broker's topics
 * supervisor (beside the topic's server, which runs on the thread),
 * registered under a local name that the topic server sends to.
 *
 * The topic server (thread) accepts publishes: it stamps, retains and, while
 * the topic has subscribers, forwards what it accepted to the relay, one
 * batch per scheduler turn of its thread. The relay owns everything
 * subscriber-side, on the thread where subscriber code runs: it spawns and
 * monitors the subscription processes, turns each forwarded message back
 * into one `Message` (shared by every subscriber here) and pushes it into
 * every subscription's bounded queue, applying
 * the overflow policy there, exactly as an in-thread topic does (see
 * `subscription.ts`); delivery, drop, error and disconnect counts are kept
 * in the topic's record on this thread. Its handlers never run subscriber
 * code and never wait, so a slow subscriber slows nothing else.
 *
 * ## One stream, one seam
 * Everything the topic server sends the relay comes in one ordered stream:
 * accepted messages, and reports of joins and stats. A subscriber sends its
 * join to the topic server itself (`RemoteTopic.join`), so that the join is
 * ordered with that subscriber's own later publishes, as an in-thread
 * subscribe is; the topic server places it in the stream (`joined`, with
 * the replay) and the relay starts the subscription there: after every
 * message accepted before the join and before every message after it
 * (replay then live, no gap, no duplicate). The relay does not wait for
 * `stats` reports (it keeps relaying): it parks the caller's `From` under a
 * tag and answers when the report arrives, so the delivery counts it gives
 * include every message the topic had accepted when it reported.
 *
 * | request       | kind | reply                                                                   |
 * |---------------|------|-------------------------------------------------------------------------|
 * | `unsubscribe` | call | whether the subscription was live on this topic                         |
 * | `stats`       | call | `TopicStats` (once the topic reported), `TopicUnavailableError` or `TopicNotFoundError` |
 *
 * ## Failures
 * The relay monitors the topic's current server. When it goes down, calls
 * and joins waiting on it fail with `TopicUnavailableError` (or
 * `TopicNotFoundError` for a deleted topic) at once, and the record forgets
 * the server, so publishes fail fast until the supervisor has started the
 * next one (which tells the relay, `ServerStarted`). A relay that crashes (a
 * bug, or `kill`) is restarted with the record's subscriptions intact;
 * messages forwarded to it meanwhile, or still in its mailbox, are lost
 * (each subscription counts them as dropped, and a `messages_lost` record is
 * logged, when the next message reaches it), and subscribes still joining
 * fail with `TopicUnavailableError`.
 * When it has no subscription left (nor a join pending), it tells the
 * server to stop forwarding (`idle`); a join turns forwarding on again.
 */
import {
  DownMessage,
  GenServer,
  ignore,
  noreply,
  ok,
  reply,
  stop,
  type Context,
  type From,
  type Pid,
  type Protocol,
  type Ref,
} from '@ratatoskr/actors';
import { TopicNotFoundError, TopicUnavailableError } from './errors.js';
import { EMPTY_METADATA, Message, stamp } from './message.js';
import type { RemoteTopic } from './remote-topic.js';
import type { BrokerRuntime } from './runtime.js';
import { START, type Subscription, SUBSCRIBER_SPAWN } from './subscription.js';
import type { TopicRecord } from './table.js';
import type {
  ForwardBatch,
  ForwardWire,
  IdleCast,
  JoinedReport,
  RelayInfo,
  StatsCast,
  StatsReport,
} from './thread-protocol.js';
import {
  subscriberStats,
  type STATS_REQUEST,
  type TopicStats,
  type UnsubscribeRequest,
} from './topic-server.js';

/** Sent to the relay by the start of a topic server: watch this one now. */
export class ServerStarted {
  constructor(readonly pid: Pid) {}
}

/** The relay's protocol: the calls the broker handle makes, and their replies. */
export type RelayProtocol = Protocol<
  UnsubscribeRequest | typeof STATS_REQUEST,
  {
    unsubscribe: boolean;
    stats: TopicStats | TopicUnavailableError | TopicNotFoundError;
  },
  never
>;

/** The relay's start argument. */
export interface RelayArgs {
  readonly record: TopicRecord;
  readonly runtime: BrokerRuntime;
}

/** Every reply the relay gives. */
type RelayReply = boolean | TopicStats | TopicUnavailableError | TopicNotFoundError;

/** A `stats` call parked until the topic server's report arrives. */
interface Parked {
  readonly from: From<RelayReply>;
  readonly server: Pid;
}

const IDLE: IdleCast = Object.freeze({ type: 'idle' });

/** Per-process state: what a restart rebuilds from the record. */
export class RelayState {
  /** This incarnation's monitors on subscription processes. */
  readonly monitors = new Map<Ref, Subscription>();
  readonly parked = new Map<number, Parked>();
  /** The topic server this relay monitors, and the monitor. */
  watched: Pid | null = null;
  private watchRef: Ref | null = null;
  /** The server last told to stop forwarding (told once, until the next join). */
  private idled: Pid | null = null;
  private tags = 0;

  constructor(
    readonly record: TopicRecord,
    readonly remote: RemoteTopic,
    readonly runtime: BrokerRuntime,
  ) {}

  nextTag(): number {
    return ++this.tags;
  }

  /**
   * Monitors `pid` (the topic's current server) instead of the previous one,
   * which is gone or superseded: what waits on that one fails now (its DOWN
   * is flushed with its monitor).
   */
  watch(pid: Pid, ctx: Context): void {
    const previous = this.watched;
    if (previous === pid) return;
    if (this.watchRef !== null) ctx.demonitor(this.watchRef, { flush: true });
    this.watched = pid;
    this.watchRef = ctx.monitor(pid);
    if (previous !== null) serverGone(this, previous);
  }

  isWatch(ref: Ref): boolean {
    return ref === this.watchRef;
  }

  /** The watched server went down. */
  unwatch(): void {
    this.watched = this.watchRef = null;
  }

  /**
   * Tells the server to stop forwarding when no subscription is left, nor a
   * join pending. A join sent meanwhile by a subscriber reaches the server
   * after this (one channel, in order), and turns forwarding on again.
   */
  idleIfUnused(ctx: Context): void {
    const server = this.record.server;
    if (this.record.subs.length > 0 || this.remote.joining.size > 0 || server === null) return;
    if (this.idled === server) return;
    this.idled = server;
    ctx.cast(server, IDLE);
  }

  /** A join was placed: the server forwards again, and must be told again when unused. */
  joined(): void {
    this.idled = null;
  }
}

export const Relay: GenServer<RelayState, RelayArgs, RelayProtocol, unknown> = {
  init({ record, runtime }, ctx) {
    // Deleted while this relay was being restarted: do not come back.
    if (record.deleted || record.remote === null) return ignore();
    const state = new RelayState(record, record.remote, runtime);
    record.remote.relay = ctx.self;
    // A report of a join sent while no relay ran was lost: fail the joins
    // (a later report of one is ignored), as an in-thread topic's crash
    // fails the subscribe calls waiting on it.
    record.remote.failJoins(null);
    for (const sub of record.subs) watchSubscription(state, sub, ctx);
    if (record.server !== null) state.watch(record.server, ctx);
    return ok(state);
  },

  handleCall(request, from, state, ctx) {
    // Deleted, and about to be stopped: refuse what is still queued.
    if (state.record.deleted) return stop('shutdown', state);
    switch (request.type) {
      case 'unsubscribe':
        return reply(unsubscribe(state, request.ref, ctx), state);
      case 'stats':
        return askStats(state, from, ctx);
    }
  },

  handleInfo(message, state, ctx) {
    if (message instanceof DownMessage) down(state, message, ctx);
    else if (message instanceof ServerStarted) state.watch(message.pid, ctx);
    else if (isRelayInfo(message)) {
      if (message.type !== 'messages') answer(state, message, ctx);
      else {
        const steps = relay(state, message, ctx);
        if (steps !== null) return steps.then(() => noreply(state));
      }
    }
    return noreply(state);
  },

  formatState(state) {
    const { record } = state;
    return { topic: record.name, subscribers: record.subs.length, parked: state.parked.size };
  },
};

function isRelayInfo(message: unknown): message is RelayInfo {
  const type = (message as { type?: unknown } | null)?.type;
  return type === 'messages' || type === 'joined' || type === 'stats';
}

/** The error a call gets when the topic's server is gone: the topic is restarting, or was deleted. */
function unavailable(record: TopicRecord): TopicUnavailableError | TopicNotFoundError {
  return record.deleted
    ? new TopicNotFoundError(record.name)
    : new TopicUnavailableError(record.name);
}

// ------------------------------------------------------------------ delivery

/** Turns a forwarded message back into a `Message`, shared by every subscriber here. */
export function toMessage(wire: ForwardWire, topic: string): Message {
  const [id, payload, metadata, partitionKey, size, offset, timestamp] = wire;
  const message = new Message(id, topic, payload, metadata ?? EMPTY_METADATA, partitionKey, size);
  stamp(message, offset, timestamp);
  return message;
}

/**
 * Forwarded messages queued per step of a large batch. A batch holds what
 * the topic accepted during one turn of its thread (up to its scheduler's
 * turn budget, 8192 by default): pushed into the queues in one go, it would
 * overflow a subscriber's (1024 by default) before the subscriber could run
 * once. So a batch larger than this is queued in steps, and the relay lets
 * every runnable process run between steps; a subscription whose queue
 * fills is raised to normal priority (see `subscription.ts`) and drains
 * its queue then. That is the in-thread topic's pace too: it accepts up to
 * a slice of 256 messages before the subscriptions it filled get a turn.
 */
export const RELAY_STEP = 256;

/**
 * Queues forwarded messages for every subscription, as an in-thread topic's
 * `accept` does: at once for a batch of up to `RELAY_STEP`, else in steps
 * (the returned promise settles after the last; the relay handles nothing
 * else meanwhile, so the stream stays in order).
 */
function relay(state: RelayState, batch: ForwardBatch, ctx: Context): Promise<void> | null {
  const items = batch.items;
  // The work of as many messages, for the scheduler's budgets.
  ctx.bumpReductions(Math.max(0, items.length - 1));
  if (items.length <= RELAY_STEP) {
    queueRange(state, items, 0, items.length);
    state.idleIfUnused(ctx);
    return null;
  }
  return relayInSteps(state, items, ctx);
}

async function relayInSteps(state: RelayState, items: ForwardWire[], ctx: Context): Promise<void> {
  // The whole batch is one burst for the overflow policies (see
  // `Subscription.beginBurst`), however many microtasks its steps take.
  const burst = state.runtime.ownBurst();
  for (let at = 0; at < items.length; at += RELAY_STEP) {
    // Suspended here, the relay lets the scheduler run the subscriptions it
    // just filled (in this same turn), then resumes in a microtask.
    if (at > 0) await undefined;
    queueRange(state, items, at, Math.min(items.length, at + RELAY_STEP), burst);
  }
  state.idleIfUnused(ctx);
}

/** Queues `items[from..to)` for every subscription (as part of `burst`, if given). */
function queueRange(
  state: RelayState,
  items: ForwardWire[],
  from: number,
  to: number,
  burst?: number,
): void {
  const { record } = state;
  const subs = record.subs;
  if (from >= to || subs.length === 0) return;
  // Offsets a subscription expected but never got were forwarded to a relay
  // that crashed: counted as dropped for it, and logged, never silent.
  const first = items[from]![5];
  for (let i = 0; i < subs.length; i++) subs[i]!.relayedUpTo(first);
  const next = items[to - 1]![5] + 1;
  for (let k = from; k < to && subs.length > 0; k++) {
    const message = toMessage(items[k]!, record.name);
    let disconnected = false;
    for (let i = 0; i < subs.length; i++) {
      if (!subs[i]!.offer(message, burst)) disconnected = true;
    }
    if (disconnected) record.removeClosed();
  }
  for (let i = 0; i < subs.length; i++) subs[i]!.relayNext = next;
}

// ------------------------------------------------------------------ subscriptions

function watchSubscription(state: RelayState, sub: Subscription, ctx: Context): void {
  const ref = ctx.monitor(sub.pid!);
  sub.monitorRef = ref;
  state.monitors.set(ref, sub);
}

/**
 * The topic server placed a join in its stream (the subscriber sent it, see
 * `RemoteTopic.join`): the subscription starts here, before every message
 * that follows in the stream, after its replay.
 */
function joined(state: RelayState, report: JoinedReport, ctx: Context): void {
  const { record, remote } = state;
  state.joined();
  const joining = remote.joining.get(report.tag);
  if (joining === undefined) return; // it failed meanwhile (its server went down)
  remote.joining.delete(report.tag);
  if (record.deleted) {
    joining.reject(new TopicNotFoundError(record.name));
    return;
  }
  const sub = joining.sub;
  try {
    // The one fallible step comes first: if spawning throws, nothing has changed.
    sub.spawned(ctx.spawn(sub.receive, SUBSCRIBER_SPAWN));
  } catch (error) {
    joining.reject(error);
    state.idleIfUnused(ctx);
    return;
  }
  watchSubscription(state, sub, ctx);
  sub.relayNext = report.next;
  record.add(sub);
  ctx.send(sub.pid!, START);
  if (report.replay !== null) {
    sub.beginReplay(report.replay.map((wire) => toMessage(wire, record.name)));
  }
  joining.resolve(sub);
}

function unsubscribe(state: RelayState, ref: Ref, ctx: Context): boolean {
  if (!state.record.unsubscribe(ref, state.monitors, ctx)) return false;
  state.idleIfUnused(ctx);
  return true;
}

function down(state: RelayState, message: DownMessage, ctx: Context): void {
  const sub = state.monitors.get(message.ref);
  if (sub !== undefined) {
    state.monitors.delete(message.ref);
    sub.monitorRef = null;
    state.record.remove(sub);
    state.runtime.subscriptions.delete(sub);
    state.idleIfUnused(ctx);
    return;
  }
  if (!state.isWatch(message.ref)) return;
  state.unwatch();
  serverGone(state, message.pid);
}

/**
 * A server of the topic is gone (or superseded): publishes fail fast until
 * the next one runs, and what waits on it fails with `topic_unavailable`.
 */
function serverGone(state: RelayState, pid: Pid): void {
  const { record } = state;
  if (record.server === pid) record.server = null;
  state.remote.failJoins(record.server);
  for (const [tag, parked] of state.parked) {
    if (parked.server !== pid) continue;
    state.parked.delete(tag);
    GenServer.reply(parked.from, unavailable(record));
  }
}

// ------------------------------------------------------------------ stats

function askStats(state: RelayState, from: From<RelayReply>, ctx: Context) {
  const server = state.record.server;
  if (server === null) return reply(unavailable(state.record), state);
  const tag = state.nextTag();
  state.watch(server, ctx);
  state.parked.set(tag, { from, server });
  const ask: StatsCast = { type: 'stats', tag };
  ctx.cast(server, ask);
  return noreply(state);
}

/** A report from the topic server: a join to place, or the stats call parked under its tag. */
function answer(state: RelayState, report: JoinedReport | StatsReport, ctx: Context): void {
  if (report.type === 'joined') {
    joined(state, report, ctx);
    return;
  }
  const parked = state.parked.get(report.tag);
  if (parked === undefined) return;
  state.parked.delete(report.tag);
  GenServer.reply(parked.from, statsOf(state.record, report));
}

/** The topic's stats: its log's side from the report, its subscribers' side from here. */
function statsOf(record: TopicRecord, report: StatsReport): TopicStats {
  const { counters } = record;
  return {
    topic: record.name,
    messageCount: report.messageCount,
    retainedMessages: report.retainedMessages,
    retainedBytes: report.retainedBytes,
    oldestOffset: report.oldestOffset,
    newestOffset: report.newestOffset,
    nextOffset: report.nextOffset,
    subscriberCount: record.subs.length,
    delivered: counters.delivered,
    dropped: counters.dropped,
    errors: counters.errors,
    disconnects: counters.disconnects,
    restarts: counters.restarts,
    mailboxLength: report.mailboxLength,
    createdAt: record.createdAt,
    subscribers: subscriberStats(record),
  };
}
