/**
 * The async-iterator kind of subscription, as `subscribe(topic)` returns it:
 *
 * ```ts
 * for await (const message of broker.subscribe('orders', { from: 'earliest' })) {
 *   if (message.payload.done) break; // leaves the subscription (unsubscribe)
 * }
 * ```
 *
 * The subscription is requested at once, before `subscribe` returns, so
 * messages published after that call are delivered even if iteration
 * starts later. A subscription error (`topic_not_found`,
 * `max_subscribers_reached`, ...) is thrown by the first `next()`.
 *
 * The loop ends when the subscription ends: `unsubscribe`, `break` or
 * `return()` (which unsubscribe), deletion of the topic, exit of the
 * `owner`, or the broker stopping (also when `stop()` raced the subscribe
 * itself). Under the `disconnect` overflow policy the next `next()` throws
 * the `SlowConsumerError` instead, once. One consumer per stream: call
 * `next()` again only after the previous one settled (as `for await`
 * does); a second `next()` while one is pending rejects with
 * `ConcurrentNextError`.
 */
import type { Ref } from '@ratatoskr/actors';
import { BrokerStoppedError, ConcurrentNextError } from './errors.js';
import type { Message } from './message.js';
import type { Subscription } from './subscription.js';

const DONE: IteratorResult<Message> = Object.freeze({ value: undefined, done: true });

export class MessageStream<T = unknown> implements AsyncIterableIterator<Message<T>> {
  private sub: Subscription | null = null;
  private failure: unknown = undefined;
  private failed = false;
  private left = false;
  /** A `next()` is waiting for the subscription to be established. */
  private early = false;
  private readonly ready: Promise<void>;

  /** @internal */
  constructor(
    /** The topic this stream reads. */
    readonly topic: string,
    subscribed: Promise<Subscription>,
    private readonly leave: (sub: Subscription) => Promise<void>,
  ) {
    this.ready = subscribed.then(
      (sub) => {
        this.sub = sub;
      },
      (error: unknown) => {
        this.failed = true;
        this.failure = error;
      },
    );
  }

  /** Resolves with the subscription ref once subscribed (rejects like the first `next()`). */
  async ref(): Promise<Ref> {
    await this.ready;
    if (this.failed) throw this.failure;
    return this.sub!.ref;
  }

  next(): Promise<IteratorResult<Message<T>>> {
    // A `next()` made before the subscription is established waits for it;
    // until that one has pulled, another is a second consumer.
    if (this.early) return Promise.reject(new ConcurrentNextError(this.topic));
    const sub = this.sub;
    if (sub === null) {
      this.early = true;
      return this.ready.then(() => {
        this.early = false;
        return this.afterReady();
      });
    }
    return sub.pull() as Promise<IteratorResult<Message<T>>>;
  }

  private afterReady(): Promise<IteratorResult<Message<T>>> {
    if (this.failed) {
      // A subscribe that raced stop() ends the stream, as stop() ends an
      // established one; any other failure (a subscribe made after stop()
      // included) is thrown once.
      if (this.left || (this.failure instanceof BrokerStoppedError && this.failure.pending)) {
        this.left = true;
        return Promise.resolve(DONE as IteratorResult<Message<T>>);
      }
      this.left = true;
      return Promise.reject(this.failure);
    }
    return this.next();
  }

  /** Leaves the subscription (what `break` does) and finishes the stream. */
  async return(): Promise<IteratorResult<Message<T>>> {
    await this.ready;
    const sub = this.sub;
    if (sub !== null && !this.left) {
      this.left = true;
      if (sub.open) await this.leave(sub).catch(() => undefined);
    }
    return DONE as IteratorResult<Message<T>>;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}
