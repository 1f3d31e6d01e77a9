/**
 * The thread side of a broker whose topics run on thread nodes
 * (`Broker.start({ threads })`). A thread node imports this module (it is
 * named by its URL, as code crossing threads must be) and starts one
 * `ThreadTopicServer` per topic placed on it.
 *
 * ## The thread's table
 * Each thread keeps the durable state of the topics placed on it in a table
 * of this module (`HostedTopic`: the retained log, the offsets, whether
 * accepted messages are forwarded), keyed by the topic's incarnation key.
 * The table lives as long as the thread, so a topic server that crashes (a
 * bug, or `kill`) is restarted on the same thread, by its supervisor on the
 * main thread, with its retained messages and offsets intact, as an
 * in-thread topic is from the store's table. A thread that dies takes its
 * table with it: the topic is restarted on a live thread with an empty log,
 * its offsets continuing from the shared `nextOffset` cell (see `cells.ts`).
 * An entry is dropped when its topic is deleted (or its broker stopped):
 * by the server's `terminate`, or, for a server that was killed instead, by
 * the next topic server that starts on this thread.
 *
 * ## One server per entry
 * A topic server that a supervisor restarts may find its predecessor still
 * running for a moment: a supervisor shutting down a child on another thread
 * does not wait for it to exit. The newest server owns the entry; an older
 * one that handles anything after that stops (`shutdown`) without touching
 * the entry, so two servers never write one log.
 *
 * ## Forwarding
 * While the topic has subscribers, each accepted message is also queued in
 * the entry's outbox, and the outbox goes to the relay as one batch per
 * scheduler turn of this thread (a microtask after the turn's work, so in
 * the same `postMessage` as the turn's publish replies, in most turns). A
 * join, stats or idle request flushes it first, keeping the stream in
 * order. The outbox belongs to the entry, not to the server: a server
 * killed in the middle of a turn loses none of what it accepted.
 *
 * The server never calls subscriber code, the broker's logger or its
 * telemetry: those live on the main thread. It accepts, retains and
 * forwards; the relay on the main thread does the rest (see `relay.ts`).
 */
import {
  ignore,
  noreply,
  ok,
  remoteName,
  reply,
  stop,
  type ActorSystem,
  type Context,
  type GenServer,
  type Pid,
  type Protocol,
  type RemoteName,
} from '@ratatoskr/actors';
import { TopicCells } from './cells.js';
import { RetainedLog } from './log.js';
import { EMPTY_METADATA, Message, stamp } from './message.js';
import {
  isPublish,
  type ForwardBatch,
  type ForwardWire,
  type JoinCast,
  type JoinedReport,
  type PublishWire,
  type StatsReport,
  type ThreadTopicArgs,
  type ThreadTopicCall,
  type ThreadTopicCast,
} from './thread-protocol.js';

/** One topic's durable state on its thread. */
class HostedTopic {
  readonly log: RetainedLog;
  readonly cells: TopicCells;
  readonly name: string;
  /** Where forwarded messages and reports go. */
  readonly relay: RemoteName;
  /** Whether accepted messages go to the relay (true while the topic has subscribers). */
  forwarding: boolean;
  /** The server that owns this entry: the newest one started for it. */
  owner: Pid | null = null;
  /** Accepted messages not yet sent to the relay, and whether a flush is queued. */
  private outbox: ForwardWire[] = [];
  private flushQueued = false;

  constructor(
    readonly key: string,
    args: ThreadTopicArgs,
    private readonly system: ActorSystem,
  ) {
    this.name = args.name;
    this.cells = new TopicCells(args.cells);
    this.relay = remoteName(args.relayNode, args.relayName);
    this.forwarding = args.forwarding;
    this.log = new RetainedLog(args.options.retention);
    // A topic new to this thread continues the offsets of the thread it was on.
    const next = this.cells.nextOffset;
    this.log.firstOffset = next;
    this.log.nextOffset = next;
  }

  /** Queues an accepted message for the relay; the turn's batch leaves in a microtask. */
  forward(wire: ForwardWire): void {
    this.outbox.push(wire);
    if (this.flushQueued) return;
    this.flushQueued = true;
    queueMicrotask(this.flush);
  }

  /** Sends what the outbox holds (before any report, so that the stream stays in order). */
  readonly flush = (): void => {
    this.flushQueued = false;
    const items = this.outbox;
    if (items.length === 0) return;
    this.outbox = [];
    const batch: ForwardBatch = { type: 'messages', items };
    this.system.send(this.relay, batch);
  };

  /** Sends a report to the relay, after everything accepted before it. */
  report(report: JoinedReport | StatsReport): void {
    this.flush();
    this.system.send(this.relay, report);
  }
}

/** This thread's table of hosted topics, by key. */
const hosted = new Map<string, HostedTopic>();

/**
 * The keys of the topics whose state this thread holds (its table), for
 * introspection: run it on a thread from a module of your own (imported by
 * the same URL) to see what a thread hosts.
 */
export function hostedKeys(): string[] {
  return [...hosted.keys()];
}

/** Epoch ms at this thread's clock time 0, for message timestamps. */
let epoch: number | null = null;

/** Timer message: evict retained messages past their age. */
const SWEEP: unique symbol = Symbol('sweep');

/** The server's per-process state. */
class ServerState {
  constructor(
    readonly topic: HostedTopic,
    readonly self: Pid,
  ) {}

  /** Whether this server may still act: its topic is not deleted and no newer server owns it. */
  get current(): boolean {
    return this.topic.owner === this.self && !this.topic.cells.deleted;
  }
}

type ThreadTopicProtocol = Protocol<
  ThreadTopicCall,
  { publish: string; batch: true },
  ThreadTopicCast
>;

/**
 * Drops the entries of deleted topics whose server is gone without having
 * dropped them (it was killed: `terminate` did not run). A scan of this
 * thread's table, made when a topic server starts here.
 */
function purgeDeleted(system: ActorSystem): void {
  for (const [key, topic] of hosted) {
    if (!topic.cells.deleted) continue;
    const owner = topic.owner;
    if (owner === null || !system.isAlive(owner)) hosted.delete(key);
  }
}

/** The topic server for a topic placed on a thread node. */
export const ThreadTopicServer: GenServer<ServerState, ThreadTopicArgs, ThreadTopicProtocol> = {
  init(args, ctx) {
    const cells = new TopicCells(args.cells);
    // Deleted while this server was being (re)started: do not come back.
    if (cells.deleted) return ignore();
    purgeDeleted(ctx.system);
    epoch ??= Date.now() - ctx.system.clock.now();
    let topic = hosted.get(args.key);
    if (topic === undefined) {
      topic = new HostedTopic(args.key, args, ctx.system);
      hosted.set(args.key, topic);
    }
    // From now on this server owns the entry: an older one counts and does nothing more.
    topic.owner = ctx.self;
    cells.resetHandled();
    const maxAgeMs = args.options.retention.maxAgeMs;
    // Housekeeping: it does not keep Node running by itself.
    if (maxAgeMs !== Infinity) ctx.sendInterval(ctx.self, SWEEP, sweepInterval(maxAgeMs)).unref();
    return ok(new ServerState(topic, ctx.self));
  },

  handleCall(request, _from, state, ctx) {
    // Deleted or superseded: refuse what is still queued; the callers learn
    // why from the main thread's record (topic_not_found or topic_unavailable).
    if (!state.current) return stop('shutdown', state);
    state.topic.cells.countHandled();
    if (isPublish(request)) return reply(accept(state.topic, request, ctx), state);
    for (const item of request.items) accept(state.topic, item, ctx);
    return reply(true as const, state);
  },

  handleCast(request, state, ctx) {
    if (!state.current) return stop('shutdown', state);
    const { topic } = state;
    if (isPublish(request)) {
      topic.cells.countHandled();
      accept(topic, request, ctx);
      return noreply(state);
    }
    switch (request?.type) {
      case 'join':
        join(topic, request);
        break;
      case 'stats':
        topic.report(statsReport(topic, request.tag, ctx));
        break;
      case 'idle':
        topic.flush();
        topic.forwarding = false;
        break;
      default:
        // A request this server does not know is a bug: crash, as OTP does.
        throw new TypeError(`topic server ${ctx.self} got an unknown cast`);
    }
    return noreply(state);
  },

  handleInfo(message, state, ctx) {
    if (message === SWEEP && state.current) state.topic.log.evictExpired(now(ctx));
    return noreply(state);
  },

  terminate(_reason, state) {
    const { topic } = state;
    if (topic.owner !== state.self) return;
    topic.owner = null;
    if (topic.cells.deleted) hosted.delete(topic.key);
  },

  formatState(state) {
    const { topic } = state;
    return { key: topic.key, retained: topic.log.length, nextOffset: topic.log.nextOffset };
  },
};

/** Wall-clock time in whole epoch ms, on this thread's clock (see `BrokerRuntime.now`). */
function now(ctx: Context): number {
  return Math.floor((epoch ?? 0) + ctx.system.clock.now());
}

/** How often age-based eviction runs: half the age limit, within 1 s..60 s. */
function sweepInterval(maxAgeMs: number): number {
  return Math.min(60_000, Math.max(1000, Math.floor(maxAgeMs / 2)));
}

/** Accepts one message: stamps it, retains it, forwards it. Returns its id. */
function accept(topic: HostedTopic, wire: PublishWire, ctx: Context): string {
  const [id, payload, metadata, partitionKey, size] = wire;
  const log = topic.log;
  const time = now(ctx);
  const offset = log.nextOffset;
  const message = new Message(
    id,
    topic.name,
    payload,
    metadata ?? EMPTY_METADATA,
    partitionKey,
    size,
  );
  stamp(message, offset, time);
  log.append(message, time);
  topic.cells.nextOffset = log.nextOffset;
  if (topic.forwarding) topic.forward([id, payload, metadata, partitionKey, size, offset, time]);
  return id;
}

/** A message as it travels back to the main thread. */
function toWire(message: Message): ForwardWire {
  const { metadata } = message;
  return [
    message.id,
    message.payload,
    metadata === EMPTY_METADATA ? null : metadata,
    message.partitionKey,
    message.size,
    message.offset,
    message.timestamp,
  ];
}

/** A subscription joins: its replay, and from now on every accepted message goes to the relay. */
function join(topic: HostedTopic, request: JoinCast): void {
  const from = request.from;
  const replay =
    from === 'latest' ? null : topic.log.sliceFrom(from === 'earliest' ? 0 : from).map(toWire);
  topic.forwarding = true;
  topic.report({ type: 'joined', tag: request.tag, replay, next: topic.log.nextOffset });
}

function statsReport(topic: HostedTopic, tag: number, ctx: Context): StatsReport {
  const log = topic.log;
  const info = ctx.system.processInfo(ctx.self);
  return {
    type: 'stats',
    tag,
    messageCount: log.nextOffset,
    retainedMessages: log.length,
    retainedBytes: log.bytes,
    oldestOffset: log.oldestOffset,
    newestOffset: log.newestOffset,
    nextOffset: log.nextOffset,
    mailboxLength: info === undefined ? 0 : info.mailboxLength,
  };
}
