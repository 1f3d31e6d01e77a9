/**
 * What a subscription tells its owner. A process owner (the `owner` option,
 * or the target of a process subscription) receives these as info messages
 * in its mailbox; a callback subscription also gets them through `onEnd`
 * and `onError`; an iterator ends (or throws, for `slow_consumer`).
 */
import type { Ref } from '@ratatoskr/actors';
import type { SlowConsumerError } from './errors.js';
import type { Message } from './message.js';

/**
 * Why a subscription ended:
 * - `unsubscribed`: `unsubscribe` was called, or `onError` returned `'unsubscribe'`,
 *   or an iterator was left (`break`, `return()`);
 * - `topic_deleted`: its topic was deleted;
 * - `owner_exited`: the owner process exited (for a process subscription
 *   without an `owner` option, its target is its owner);
 * - `target_exited`: the target of a process subscription that has an owner
 *   of its own exited (the owner is told);
 * - `slow_consumer`: its queue overflowed under the `disconnect` policy;
 * - `broker_stopped`: the broker was stopped, or its tree lost its state.
 */
export type SubscriptionEndReason =
  | 'unsubscribed'
  | 'topic_deleted'
  | 'owner_exited'
  | 'target_exited'
  | 'slow_consumer'
  | 'broker_stopped';

/** Sent once when a subscription ends. Messages still queued for it are discarded. */
export class SubscriptionEnd {
  readonly type = 'subscription_end' as const;
  /** @internal */
  constructor(
    /** The ref `subscribe` returned. */
    readonly ref: Ref,
    readonly topic: string,
    readonly reason: SubscriptionEndReason,
    /** For `slow_consumer`: the error, with the capacity that was exceeded. */
    readonly error: SlowConsumerError | null,
  ) {}
}

/** Sent to the owner each time the subscription's handler or filter throws. The subscription goes on. */
export class SubscriberFailure {
  readonly type = 'subscriber_error' as const;
  /** @internal */
  constructor(
    readonly ref: Ref,
    readonly topic: string,
    /** What the handler threw or rejected with. */
    readonly error: unknown,
    /** The message it was handling. */
    readonly message: Message,
  ) {}
}

/** Whether `value` is a `SubscriptionEnd` notice. */
export function isSubscriptionEnd(value: unknown): value is SubscriptionEnd {
  return value instanceof SubscriptionEnd;
}

/** Whether `value` is a `SubscriberFailure` notice. */
export function isSubscriberFailure(value: unknown): value is SubscriberFailure {
  return value instanceof SubscriberFailure;
}
