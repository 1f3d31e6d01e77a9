/**
 * The main thread's part of a topic hosted on a thread node: where its
 * server runs, its relay, its shared cells, and what a failed publish to it
 * means. It hangs off the topic's `TopicRecord` (`record.remote`), which
 * keeps, on the main thread, everything that must outlive a thread: the
 * subscriptions (their queues and processes), the delivery counters, the
 * restart count.
 */
import { UncloneableError, type ActorSystem, type Pid } from '@ratatoskr/actors';
import { TopicCells } from './cells.js';
import {
  InvalidBatchError,
  InvalidPayloadError,
  TopicNotFoundError,
  TopicUnavailableError,
} from './errors.js';
import { EMPTY_METADATA, type Message, type MessageId } from './message.js';
import type { Subscription } from './subscription.js';
import { topicCallError, type TopicRecord } from './table.js';
import type { BatchCall, JoinCast, PublishWire } from './thread-protocol.js';

/** A subscription waiting for its topic server to place its join in the stream. */
export interface Joining {
  readonly sub: Subscription;
  /** The server the join was sent to: if it goes down first, the join fails. */
  readonly server: Pid;
  resolve(sub: Subscription): void;
  reject(error: unknown): void;
}

/**
 * Whether `error` says a value could not be structured-cloned: refused by
 * the runtime's codec before sending (`UncloneableError`), or by
 * `postMessage` itself (a `DataCloneError`, for exotic values the codec let
 * through).
 */
export function isUncloneable(error: unknown): boolean {
  return (
    error instanceof UncloneableError || (error instanceof Error && error.name === 'DataCloneError')
  );
}

/** The main thread's part of a topic hosted on a thread node (see the module doc). */
export class RemoteTopic {
  readonly cells = new TopicCells();
  /** The node the topic's server runs on (and keeps its table entry on); null before its first start. */
  node: number | null = null;
  /** The topic's relay, as its `init` recorded it; may be a dead pid while it restarts. */
  relay: Pid | null = null;
  /**
   * Joins sent and not yet placed, by tag. Kept here, not in the relay, so
   * that the subscriber can send its join itself (ordered with its own later
   * publishes, as an in-thread subscribe is); the relay completes them (see
   * `relay.ts`), and whatever ends their server, the relay or the topic
   * fails them (`failJoins`).
   */
  readonly joining = new Map<number, Joining>();
  private tags = 0;

  constructor(
    private readonly record: TopicRecord,
    /**
     * Names the topic's entry in its thread's table (never reused in this
     * process), and is the local name its relay registers, where the topic
     * server sends what it forwards.
     */
    readonly key: string,
  ) {}

  /**
   * Rethrows a failed publish call as what it means to the caller: a
   * payload the structured clone refused (`invalid_payload`: nothing was
   * sent), or what `topicCallError` says. Made once per topic.
   */
  readonly rejectPublish = (error: unknown): never => {
    throw this.publishError(error);
  };

  /** Sends a publish call; resolves with the id once the topic accepted it (see `publish`). */
  publish(system: ActorSystem, server: Pid, message: Message): Promise<MessageId> {
    this.cells.countSent();
    const sent = system.call(server, publishWire(message), Infinity) as Promise<MessageId>;
    return sent.then(undefined, this.rejectPublish);
  }

  /**
   * Sends a fire-and-forget publish; throws `InvalidPayloadError` at once for
   * a payload the runtime's codec refuses. Plain data goes as a cast. A
   * payload holding class instances or host objects (`confirm`) goes as a
   * call whose reply is ignored: the structured clone may still refuse such
   * a payload when the batch is posted, after this returns, and only a call
   * learns of that; its failure then un-counts the publish, which would
   * otherwise stay pending and count against `maxPendingPublishes`.
   */
  publishNoWait(system: ActorSystem, server: Pid, message: Message, confirm: boolean): void {
    this.cells.countSent();
    try {
      if (confirm) system.call(server, publishWire(message), Infinity).then(undefined, this.lost);
      else system.cast(server, publishWire(message));
    } catch (error) {
      throw this.publishError(error);
    }
  }

  /** A confirmed fire-and-forget publish failed: un-count it if it never left. */
  private readonly lost = (error: unknown): void => {
    if (isUncloneable(error)) this.cells.uncountSent();
  };

  /** Sends a batch as one call; resolves with the ids made on this thread once accepted. */
  async publishBatch(
    system: ActorSystem,
    server: Pid,
    messages: readonly Message[],
  ): Promise<MessageId[]> {
    this.cells.countSent();
    const batch: BatchCall = { type: 'batch', items: messages.map(publishWire) };
    try {
      await system.call(server, batch, Infinity);
    } catch (error) {
      throw this.batchError(error, messages);
    }
    return messages.map((m) => m.id);
  }

  /**
   * Sends `sub`'s join to `server` now, and resolves once the relay has
   * placed it in the topic's stream (the subscription then runs). Rejects
   * with `TopicUnavailableError` (or `TopicNotFoundError`) if the server
   * goes down first.
   */
  join(system: ActorSystem, server: Pid, sub: Subscription): Promise<Subscription> {
    const tag = ++this.tags;
    const joined = new Promise<Subscription>((resolve, reject) => {
      this.joining.set(tag, { sub, server, resolve, reject });
    });
    const join: JoinCast = { type: 'join', tag, from: sub.options.from };
    system.cast(server, join);
    return joined;
  }

  /**
   * Fails every join sent to a server other than `current` (null: every
   * join), with `error`, or by default `TopicNotFoundError` for a deleted
   * topic and `TopicUnavailableError` otherwise: their servers are gone, or
   * the topic is.
   */
  failJoins(current: Pid | null, error?: Error): void {
    for (const [tag, joining] of this.joining) {
      if (joining.server === current) continue;
      this.joining.delete(tag);
      joining.reject(
        error ??
          (this.record.deleted
            ? new TopicNotFoundError(this.record.name)
            : new TopicUnavailableError(this.record.name)),
      );
    }
  }

  /** What a publish that failed with `error` rejects with; un-counts it if it was never sent. */
  publishError(error: unknown): unknown {
    if (!isUncloneable(error)) return topicCallError(this.record, error);
    this.cells.uncountSent();
    const detail = error instanceof Error ? error.message : String(error);
    return new InvalidPayloadError(
      this.record.name,
      `a value that cannot be copied to another thread (${detail})`,
    );
  }

  /**
   * What a batch that failed with `error` rejects with: for a payload the
   * structured clone refused, `InvalidBatchError` naming the first such item
   * (nothing was sent: a batch is one message); otherwise as `publishError`.
   */
  batchError(error: unknown, items: readonly Message[]): unknown {
    const mapped = this.publishError(error);
    if (!(mapped instanceof InvalidPayloadError)) return mapped;
    const index = items.findIndex((item) => !cloneable(item.payload));
    return new InvalidBatchError(this.record.name, Math.max(0, index), mapped);
  }
}

/** A message as a publish travels to a thread node (see `thread-protocol.ts`). */
function publishWire(message: Message): PublishWire {
  const { metadata } = message;
  return [
    message.id,
    message.payload,
    metadata === EMPTY_METADATA ? null : metadata,
    message.partitionKey,
    message.size,
  ];
}

/** Whether a structured clone accepts `value` (tried only on the failure path of a batch). */
function cloneable(value: unknown): boolean {
  try {
    structuredClone(value);
    return true;
  } catch {
    return false;
  }
}
