/**
 * What travels between the main thread and a topic hosted on a thread node,
 * as a tagged union. Everything here is structured-cloned by the runtime's
 * router (batched: all that one thread sends another during a scheduler
 * turn goes in one `postMessage`), so it holds plain data only.
 *
 * Messages travel as tuples, not as `Message` objects: a clone writes an
 * object's keys with every message, and a tuple's values only (measured
 * here: a forwarded message costs about 0.6 us of cloning as a tuple in a
 * batch, 2 us as an object in a message of its own). Empty metadata travels
 * as null and comes back as the shared `EMPTY_METADATA`.
 *
 * Main thread to the topic server (on its thread):
 *
 * | message       | kind | from               | answer                                    |
 * |---------------|------|--------------------|-------------------------------------------|
 * | `PublishWire` | call | `publish`          | reply: the message id                     |
 * | `PublishWire` | cast | `publishNoWait`    | none                                      |
 * | `BatchCall`   | call | `publishBatch`     | reply: `true` (the ids are the caller's)  |
 * | `JoinCast`    | cast | `subscribe`        | a `JoinedReport` to the relay             |
 * | `StatsCast`   | cast | the topic's relay  | a `StatsReport` to the relay              |
 * | `IdleCast`    | cast | the topic's relay  | none: stop forwarding accepted messages   |
 *
 * Topic server to its relay (on the main thread, addressed by the relay's
 * registered name so that a restarted relay receives them too), in one
 * stream, in the order the topic produced them:
 * - `ForwardBatch`: the messages accepted during one scheduler turn of the
 *   topic's thread, stamped, in offset order (while forwarding is on);
 * - `JoinedReport`: a subscription joins here, after every message before
 *   it and before every message after it (the replay seam);
 * - `StatsReport`: the topic's side of `stats`, after every message
 *   accepted before it.
 */
import type { Metadata } from './message.js';
import type { ResolvedTopicOptions, StartFrom } from './options.js';

/** A publish: id, payload, metadata (null: none), partition key, payload size. */
export type PublishWire = [
  id: string,
  payload: unknown,
  metadata: Metadata | null,
  partitionKey: string | null,
  size: number,
];

/** An accepted message: a `PublishWire` stamped with its offset and timestamp. */
export type ForwardWire = [
  id: string,
  payload: unknown,
  metadata: Metadata | null,
  partitionKey: string | null,
  size: number,
  offset: number,
  timestamp: number,
];

export interface BatchCall {
  readonly type: 'batch';
  readonly items: readonly PublishWire[];
}

export interface JoinCast {
  readonly type: 'join';
  /** The subscriber's number for this join, echoed in the report. */
  readonly tag: number;
  readonly from: StartFrom;
}

export interface StatsCast {
  readonly type: 'stats';
  readonly tag: number;
}

export interface IdleCast {
  readonly type: 'idle';
}

/** What the topic server accepts as a call. */
export type ThreadTopicCall = PublishWire | BatchCall;
/** What the topic server accepts as a cast. */
export type ThreadTopicCast = PublishWire | JoinCast | StatsCast | IdleCast;

export interface ForwardBatch {
  readonly type: 'messages';
  readonly items: ForwardWire[];
}

export interface JoinedReport {
  readonly type: 'joined';
  readonly tag: number;
  /** Retained messages to replay first, oldest first; null for `from: 'latest'`. */
  readonly replay: ForwardWire[] | null;
  /** The offset of the first live message the subscription gets. */
  readonly next: number;
}

export interface StatsReport {
  readonly type: 'stats';
  readonly tag: number;
  readonly messageCount: number;
  readonly retainedMessages: number;
  readonly retainedBytes: number;
  readonly oldestOffset: number | null;
  readonly newestOffset: number | null;
  readonly nextOffset: number;
  readonly mailboxLength: number;
}

/** What the relay receives from its topic server (besides DOWN messages). */
export type RelayInfo = ForwardBatch | JoinedReport | StatsReport;

/** The start argument of a topic server on a thread. */
export interface ThreadTopicArgs {
  /** Names this topic's state in its thread's table: unique per topic incarnation of a broker. */
  readonly key: string;
  readonly name: string;
  readonly options: ResolvedTopicOptions;
  /** The topic's shared cells (see `cells.ts`). */
  readonly cells: SharedArrayBuffer;
  /** Where the relay runs (the broker's node) and the name it is registered under there. */
  readonly relayNode: number;
  readonly relayName: string;
  /** For a topic new to this thread: forward accepted messages from the start (it has subscribers). */
  readonly forwarding: boolean;
}

/** Whether a request is a publish (a tuple), rather than a tagged request. */
export function isPublish(value: unknown): value is PublishWire {
  return Array.isArray(value);
}
