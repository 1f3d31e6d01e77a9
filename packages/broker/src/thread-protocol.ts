/**
 * What travels between the main thread and a topic hosted on a thread node,
 * as a tagged union. Everything here is structured-cloned by the runtime's
 * router (batched: all that one thread sends another during a scheduler
 * turn goes in one `postMessage`), so it holds plain data only.
 *
 * Main thread to the topic server (on its thread):
 *
 * | message         | kind | from                 | answer                                    |
 * |-----------------|------|----------------------|-------------------------------------------|
 * | a `WireMessage` | call | `publish`            | reply: the message id                     |
 * | a `WireMessage` | cast | `publishNoWait`      | none                                      |
 * | `BatchCall`     | call | `publishBatch`       | reply: `true` (the ids are the caller's)  |
 * | `JoinCast`      | cast | the topic's relay    | a `JoinedReport` to the relay             |
 * | `StatsCast`     | cast | the topic's relay    | a `StatsReport` to the relay              |
 * | `IdleCast`      | cast | the topic's relay    | none: stop forwarding accepted messages   |
 *
 * Topic server to its relay (on the main thread, addressed by the relay's
 * registered name so that a restarted relay receives them too), in one
 * stream, in the order the topic produced them:
 * - each accepted `WireMessage`, stamped, while forwarding is on;
 * - `JoinedReport`: a subscription joins here, after every message before
 *   it and before every message after it (the replay seam);
 * - `StatsReport`: the topic's side of `stats`, after every message
 *   accepted before it.
 *
 * A publish is the `Message` itself (see `message.ts`): its clone has no
 * `type` field, which is what tells it from the other requests.
 */
import type { Message } from './message.js';
import type { ResolvedTopicOptions, StartFrom } from './options.js';

/** A `Message` as it arrives on the other thread: the same fields, a plain object. */
export type WireMessage = { -readonly [K in keyof Message]: Message[K] };

export interface BatchCall {
  readonly type: 'batch';
  readonly items: readonly WireMessage[];
}

export interface JoinCast {
  readonly type: 'join';
  /** The relay's number for this request, echoed in the report. */
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
export type ThreadTopicCall = WireMessage | BatchCall;
/** What the topic server accepts as a cast. */
export type ThreadTopicCast = WireMessage | JoinCast | StatsCast | IdleCast;

export interface JoinedReport {
  readonly type: 'joined';
  readonly tag: number;
  /** Retained messages to replay first, oldest first; null for `from: 'latest'`. */
  readonly replay: WireMessage[] | null;
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
export type RelayInfo = WireMessage | JoinedReport | StatsReport;

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

/** Whether a request is a publish (a message's clone), rather than a tagged request. */
export function isWireMessage(value: unknown): value is WireMessage {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as { type?: unknown }).type === undefined &&
    typeof (value as { id?: unknown }).id === 'string'
  );
}
