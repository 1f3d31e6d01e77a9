/**
 * Subscriptions and their processes.
 *
 * Every subscription has its own process, spawned by the topic server,
 * unlinked: a subscriber that fails or stalls never touches the topic, and a
 * topic that crashes never takes its subscribers down. Three kinds:
 * - callback: the process calls `handler(message)` for each message; a
 *   returned promise is awaited before the next message (the process is
 *   suspended meanwhile, its queue filling up to `bufferSize`);
 * - process: the process forwards each message (the `Message` itself) to
 *   the target pid's mailbox;
 * - stream: the process hands messages to the async iterator's pending
 *   `next()`; the consumer also pulls directly from the queue.
 *
 * ## The queue
 * Each subscription has a bounded FIFO ring (`bufferSize`). The topic is its
 * only producer (for a topic on a thread node, the topic's relay on this
 * thread), the subscription's process its only consumer; both run on one
 * thread, so the ring needs no locking. The topic pushes a message and,
 * only if the process is not already awake, sends it one `WAKE`; the process
 * then drains the ring (32 messages per `WAKE`, sending itself another
 * `WAKE` to continue, so other processes interleave) and goes back to sleep
 * once the ring is empty. A burst thus costs one mailbox message per
 * subscriber, not one per message, and no closure or promise is made per
 * delivery (unless the handler itself returns one).
 *
 * A full ring applies the overflow policy at the producer, synchronously:
 * `drop_oldest` shifts one out, `drop_newest` discards the arrival,
 * `disconnect` ends the subscription. Drops are counted here and in the
 * topic's counters and emitted as telemetry.
 *
 * ## Ending
 * `close(reason)` marks the subscription closed, tells the owner at once (a
 * `SubscriptionEnd` info message; an iterator ends or throws), and wakes its
 * process, which discards what is still queued, runs `onEnd` and exits
 * `normal` as soon as it runs (after a stuck async handler returns, if one
 * is). A closed subscription delivers nothing more, even from a ring that
 * still holds messages: that is what makes `unsubscribe` from inside a handler
 * take effect before the next message. The topic monitors every
 * subscription process, so a process that exits for any reason is removed
 * from the topic's table.
 *
 * ## Failure
 * A handler (or filter) that throws or rejects is isolated: the error is
 * counted, logged, emitted, sent to the owner as a `SubscriberFailure`, and
 * passed to `onError`; the subscription keeps going with the next message
 * unless `onError` returns `'unsubscribe'`.
 */
import {
  DownMessage,
  type Context,
  type Pid,
  type ProcessHandler,
  type SpawnOptions,
  type Ref,
} from '@ratatoskr/actors';
import { ConcurrentNextError, SlowConsumerError } from './errors.js';
import type { Message } from './message.js';
import { SubscriberFailure, SubscriptionEnd, type SubscriptionEndReason } from './notices.js';
import type { ResolvedSubscribeOptions } from './options.js';
import type { BrokerRuntime } from './runtime.js';
import type { TopicCounters } from './table.js';

/** A subscription that calls a function. */
export const KIND_CALLBACK = 0;
/** A subscription that forwards to a process. */
export const KIND_PROCESS = 1;
/** A subscription read by an async iterator. */
export const KIND_STREAM = 2;
export type SubscriptionKind = typeof KIND_CALLBACK | typeof KIND_PROCESS | typeof KIND_STREAM;

const KIND_NAMES = ['callback', 'process', 'iterator'] as const;

/** Messages a subscription process understands. Shared constants: sending one allocates nothing. */
export const WAKE: unique symbol = Symbol('wake');
export const START: unique symbol = Symbol('start');

const DROP_OLDEST = 0;
const DROP_NEWEST = 1;
const DISCONNECT = 2;
const POLICIES = { drop_oldest: DROP_OLDEST, drop_newest: DROP_NEWEST, disconnect: DISCONNECT };

/** Deliveries per `WAKE` before the process re-queues itself. */
const DRAIN_BUDGET = 32;
const INITIAL_RING = 8;

/** A message handler of a callback subscription. */
export type MessageHandler<T = unknown> = (message: Message<T>) => unknown;

type Settle = (result: IteratorResult<Message>) => void;

const DONE: IteratorResult<Message> = Object.freeze({ value: undefined, done: true });

export class Subscription {
  /** The subscription's process, once the topic has spawned it. */
  pid: Pid | null = null;
  /** Index in the topic record's `subs`, or -1 when not listed. */
  slot = -1;
  /** False once ended (or ending): nothing more is delivered. */
  open = true;
  /** The notice made when the subscription ended; null while open. */
  private end: SubscriptionEnd | null = null;
  /** True while a `WAKE` is queued or being handled (no other is sent). */
  awake: boolean;
  /** Queue depth at which the process is raised to normal priority. */
  private readonly expediteAt: number;
  /** Whether it is raised now (until its queue is empty again). */
  private expedited = false;
  /** The current topic server's monitor on this subscription's process. */
  monitorRef: Ref | null = null;

  delivered = 0;
  dropped = 0;
  errors = 0;

  private ring: (Message | undefined)[] = new Array<Message | undefined>(INITIAL_RING);
  private head = 0;
  private mask = INITIAL_RING - 1;
  /** Messages in the ring. */
  queued = 0;
  /** The burst (see `beginBurst`) this subscription last saw, and its queue length when it began. */
  private burstSeen = -1;
  private queuedAtBurst = 0;
  private replay: Message[] | null = null;
  private replayAt = 0;
  private readonly policy: number;
  private readonly capacity: number;

  private ownerRef: Ref | null = null;
  /** The monitor on a process subscription's target, when its owner is another process. */
  private targetRef: Ref | null = null;
  private waiterResolve: Settle | null = null;
  private waiterReject: ((error: unknown) => void) | null = null;
  /** True once `release` ran (queue discarded, `onEnd` called). */
  private released = false;
  /** Stream kind: true once the end was handed to the iterator. */
  streamEnded = false;
  /** Stream kind: whether the slow-consumer error was already thrown to the consumer. */
  private errorThrown = false;

  constructor(
    readonly ref: Ref,
    readonly topic: string,
    readonly kind: SubscriptionKind,
    private readonly handler: MessageHandler | null,
    /** Process kind: where messages go. */
    readonly target: Pid | null,
    readonly options: ResolvedSubscribeOptions,
    private readonly counters: TopicCounters,
    private readonly runtime: BrokerRuntime,
  ) {
    this.policy = POLICIES[options.overflow];
    this.capacity = options.bufferSize;
    this.expediteAt = Math.max(1, Math.min(64, Math.floor(options.bufferSize / 2)));
    // A stream is woken only while its consumer waits in next().
    this.awake = kind === KIND_STREAM;
  }

  /** Messages of the replay not yet taken, for stats. */
  get replayPending(): number {
    return this.replay === null ? 0 : this.replay.length - this.replayAt;
  }

  /** The subscription kind as a word, for stats. */
  get kindName(): (typeof KIND_NAMES)[number] {
    return KIND_NAMES[this.kind];
  }

  /** Who hears of failures and of the end: the owner option, else a process subscription's target. */
  get owner(): Pid | null {
    return this.options.owner ?? this.target;
  }

  // ---------------------------------------------------------------- producer side (topic)

  /**
   * Queues `message` (called by the topic, or its relay, which gives a
   * `burst` of its own to a batch it hands over in steps). Returns false
   * when this call disconnected the subscription, so the topic removes it.
   */
  offer(message: Message, burst: number = this.runtime.burstId): boolean {
    if (!this.open) return true;
    if (this.burstSeen !== burst) this.beginBurst(burst);
    if (this.queued >= this.capacity && this.queuedAtBurst >= this.capacity) {
      if (this.policy === DROP_NEWEST) {
        // Keep the oldest: what a burst let in past the bound goes, then the arrival.
        while (this.queued > this.capacity) {
          this.pop();
          this.countDrop('drop_newest');
        }
        this.countDrop('drop_newest');
        return true;
      }
      if (this.policy === DISCONNECT) {
        this.disconnect(); // the arrival is discarded with the queue
        return false;
      }
      // Back under the bound: a burst let in past it is trimmed too.
      while (this.queued >= this.capacity) {
        this.shift();
        this.countDrop('drop_oldest');
      }
    }
    this.push(message);
    if (!this.awake) {
      this.awake = true;
      this.runtime.system.send(this.pid!, WAKE);
    }
    if (this.queued >= this.expediteAt && !this.expedited) this.expedite();
    return true;
  }

  /**
   * The first offer of a burst: remembers how much was queued when it began.
   * A burst is what the topic accepts before the subscriber can run at all
   * (one batch, or one scheduler run of publishes; it ends at the next
   * microtask boundary). The overflow policy applies to a subscriber that
   * entered the burst with `bufferSize` messages queued already: one that
   * keeps up between bursts takes a whole burst, however large, and loses
   * nothing to it, as on a topic hosted on a thread (whose relay hands a
   * burst over in chunks).
   */
  private beginBurst(burst: number): void {
    if (burst === this.runtime.burstId) this.runtime.beginBurst();
    this.burstSeen = burst;
    this.queuedAtBurst = this.queued;
  }

  /**
   * The process runs at low priority so that a burst reaches it in one
   * activation; once its queue is half full (or 64 deep) it is raised to
   * normal until it has caught up, so batching never costs a drop.
   */
  private expedite(): void {
    this.expedited = true;
    try {
      this.runtime.system.setPriority(this.pid!, 'normal');
    } catch {
      // The process has exited; its DOWN is on its way to the topic.
    }
  }

  /** Back to low priority once the queue is empty (consumer side). */
  private relax(ctx: Context): void {
    this.expedited = false;
    ctx.setPriority('low');
  }

  /** Starts a replay of retained messages (called by the topic once, before any live message). */
  beginReplay(messages: Message[]): void {
    if (messages.length === 0) return;
    this.replay = messages;
    this.replayAt = 0;
    if (this.kind !== KIND_STREAM && !this.awake) {
      this.awake = true;
      this.runtime.system.send(this.pid!, WAKE);
    }
  }

  /**
   * Ends the subscription with `reason`; its process finishes and exits.
   * Idempotent: returns false if it had already ended.
   */
  close(reason: SubscriptionEndReason, error: SlowConsumerError | null = null): boolean {
    if (!this.open) return false;
    this.open = false;
    // The owner and the iterator hear of it now, even if the process is
    // stuck in a slow handler; `onEnd` runs in the process when it gets there.
    const end = new SubscriptionEnd(this.ref, this.topic, reason, error);
    this.end = end;
    const runtime = this.runtime;
    runtime.telemetry?.({ type: 'subscription_ended', topic: this.topic, ref: this.ref, reason });
    const owner = this.owner;
    if (owner !== null) this.tell(owner, end, 'subscription_end');
    if (this.kind === KIND_STREAM) this.endStream();
    // Always wake: even an awake process must get past a suspended handler.
    if (this.pid !== null) runtime.system.send(this.pid, WAKE);
    return true;
  }

  /** Ends the subscription as a slow consumer: the queue and the arriving message are dropped. */
  private disconnect(): void {
    const discarded = this.queued + 1;
    this.clearRing();
    this.dropped += discarded;
    this.counters.dropped += discarded;
    this.counters.disconnects++;
    const error = new SlowConsumerError(this.topic, this.capacity);
    this.close('slow_consumer', error);
    this.runtime.telemetry?.({
      type: 'subscriber_disconnected',
      topic: this.topic,
      ref: this.ref,
      discarded,
    });
    this.runtime.logger.warn({
      label: 'subscriber_disconnected',
      topic: this.topic,
      ref: this.ref.toString(),
      subscriberId: this.options.subscriberId,
      capacity: this.capacity,
    });
  }

  /**
   * The next offset this subscription expects from its topic's relay (a
   * topic on a thread node), or -1. @internal
   */
  relayNext = -1;

  /**
   * The relay is about to queue `offset`: offsets this subscription expected
   * before it never reached the relay (forwarded to one that crashed). They
   * count as dropped and are logged. @internal
   */
  relayedUpTo(offset: number): void {
    const expected = this.relayNext;
    if (expected < 0 || offset <= expected || !this.open) return;
    const lost = offset - expected;
    this.dropped += lost;
    this.counters.dropped += lost;
    this.runtime.logger.warn({
      label: 'messages_lost',
      topic: this.topic,
      ref: this.ref.toString(),
      subscriberId: this.options.subscriberId,
      lost,
    });
  }

  private countDrop(policy: 'drop_oldest' | 'drop_newest'): void {
    this.dropped++;
    this.counters.dropped++;
    const telemetry = this.runtime.telemetry;
    if (telemetry !== null)
      telemetry({ type: 'message_dropped', topic: this.topic, ref: this.ref, policy });
  }

  // ---------------------------------------------------------------- ring

  private push(message: Message): void {
    if (this.queued === this.ring.length) this.grow();
    this.ring[(this.head + this.queued) & this.mask] = message;
    this.queued++;
  }

  private shift(): Message | undefined {
    if (this.queued === 0) return undefined;
    const h = this.head;
    const message = this.ring[h];
    this.ring[h] = undefined;
    this.head = (h + 1) & this.mask;
    this.queued--;
    return message;
  }

  /** Removes the newest queued message. */
  private pop(): void {
    if (this.queued === 0) return;
    this.queued--;
    this.ring[(this.head + this.queued) & this.mask] = undefined;
  }

  private grow(): void {
    const size = this.ring.length * 2;
    const next = new Array<Message | undefined>(size);
    for (let i = 0; i < this.queued; i++) next[i] = this.ring[(this.head + i) & this.mask];
    this.ring = next;
    this.head = 0;
    this.mask = size - 1;
  }

  private clearRing(): void {
    if (this.ring.length > INITIAL_RING) {
      this.ring = new Array<Message | undefined>(INITIAL_RING);
      this.mask = INITIAL_RING - 1;
    } else {
      this.ring.fill(undefined);
    }
    this.head = 0;
    this.queued = 0;
  }

  /** The next message to deliver (replay first, then the ring), or undefined. */
  private take(): Message | undefined {
    const replay = this.replay;
    if (replay !== null) {
      const message = replay[this.replayAt++];
      if (this.replayAt >= replay.length) {
        this.replay = null;
        this.replayAt = 0;
      }
      return message;
    }
    return this.shift();
  }

  /** The next message that passes the filter, or undefined. Counts it delivered. */
  private takeAccepted(): Message | undefined {
    for (;;) {
      const message = this.take();
      if (message === undefined) return undefined;
      if (this.options.filter === null || this.passes(message)) {
        this.delivered++;
        this.counters.delivered++;
        return message;
      }
    }
  }

  // ---------------------------------------------------------------- consumer side (own process)

  /** The subscription process's handler. */
  readonly receive: ProcessHandler = (message, ctx) => {
    if (message === WAKE) return this.drain(ctx);
    if (message === START) return this.start(ctx);
    if (message instanceof DownMessage) return this.down(message, ctx);
    return undefined;
  };

  /** Called by the topic (or relay) once it has spawned the process. */
  spawned(pid: Pid): void {
    this.pid = pid;
    this.runtime.subscriptions.add(this);
  }

  private start(ctx: Context): void {
    const owner = this.owner;
    if (owner !== null) this.ownerRef = ctx.monitor(owner);
    // A process subscription with an owner of its own ends with its target too.
    const target = this.target;
    if (target !== null && target !== owner) this.targetRef = ctx.monitor(target);
  }

  private down(message: DownMessage, ctx: Context): void | Promise<void> {
    if (message.ref === this.ownerRef) this.close('owner_exited');
    else if (message.ref === this.targetRef) this.close('target_exited');
    else return undefined;
    return this.drain(ctx);
  }

  private drain(ctx: Context): void | Promise<void> {
    if (!this.open) return this.finish(ctx);
    switch (this.kind) {
      case KIND_CALLBACK:
        return this.drainCallback(ctx);
      case KIND_PROCESS:
        return this.drainProcess(ctx);
      default:
        return this.drainStream();
    }
  }

  /**
   * The next message to hand over, or undefined once the queue is empty: the
   * process then goes to sleep (and back to low priority) until an offer wakes it.
   */
  private nextOrSleep(ctx: Context): Message | undefined {
    const message = this.takeAccepted();
    if (message === undefined) {
      this.awake = false;
      if (this.expedited) this.relax(ctx);
    }
    return message;
  }

  private drainCallback(ctx: Context): void | Promise<void> {
    const handler = this.handler!;
    for (let n = 0; n < DRAIN_BUDGET; n++) {
      if (!this.open) return this.finish(ctx);
      const message = this.nextOrSleep(ctx);
      if (message === undefined) return undefined;
      let result: unknown;
      try {
        result = handler(message);
      } catch (error) {
        this.report(error, message);
        continue;
      }
      if (result !== undefined && isThenable(result)) return this.drainAsync(result, message, ctx);
    }
    ctx.send(ctx.self, WAKE);
    return undefined;
  }

  /**
   * The handler went async: the process stays suspended while this goes on
   * handing over messages, each after the previous handler settled, without
   * a trip through the scheduler per message (an async handler that awaits
   * little keeps up with its publishers as a synchronous one does). After
   * `DRAIN_BUDGET` messages it gives the scheduler a turn (a `WAKE`); it
   * stops at once if the subscription ends or its process is killed.
   */
  private async drainAsync(
    first: PromiseLike<unknown>,
    message: Message,
    ctx: Context,
  ): Promise<void> {
    const handler = this.handler!;
    const system = this.runtime.system;
    let pending: PromiseLike<unknown> | null = first;
    let current = message;
    for (let n = 0; ; n++) {
      if (pending !== null) {
        try {
          await pending;
        } catch (error) {
          this.report(error, current);
        }
        pending = null;
      }
      // Ended (its close() queued a WAKE that finishes it) or killed: stop here.
      if (!this.open || !system.isAlive(ctx.self)) return;
      if (n >= DRAIN_BUDGET) {
        ctx.send(ctx.self, WAKE);
        return;
      }
      const next = this.nextOrSleep(ctx);
      if (next === undefined) return;
      current = next;
      let result: unknown;
      try {
        result = handler(next);
      } catch (error) {
        this.report(error, next);
        continue;
      }
      if (result !== undefined && isThenable(result)) pending = result;
    }
  }

  private drainProcess(ctx: Context): void {
    const target = this.target!;
    for (let n = 0; n < DRAIN_BUDGET; n++) {
      if (!this.open) return this.finish(ctx);
      const message = this.nextOrSleep(ctx);
      if (message === undefined) return undefined;
      try {
        ctx.send(target, message);
      } catch (error) {
        // The target refused it (a full mailbox with the `reject` policy): not
        // delivered; a subscriber failure, reported as any other.
        this.delivered--;
        this.counters.delivered--;
        this.report(error, message);
      }
    }
    ctx.send(ctx.self, WAKE);
    return undefined;
  }

  private drainStream(): undefined {
    const resolve = this.waiterResolve;
    if (resolve !== null) {
      const message = this.takeAccepted();
      if (message !== undefined) {
        this.waiterResolve = this.waiterReject = null;
        resolve({ value: message, done: false });
      }
    }
    // Stay asleep unless a consumer still waits for a message.
    this.awake = this.waiterResolve === null;
    return undefined;
  }

  /** Counts, logs and emits a handler failure, tells the owner, and asks `onError` what to do. */
  private report(error: unknown, message: Message): void {
    this.errors++;
    this.counters.errors++;
    this.runtime.telemetry?.({ type: 'subscriber_error', topic: this.topic, ref: this.ref, error });
    this.runtime.logger.warn({
      label: 'subscriber_error',
      topic: this.topic,
      ref: this.ref.toString(),
      subscriberId: this.options.subscriberId,
      error,
    });
    const owner = this.owner;
    if (owner !== null) {
      const failure = new SubscriberFailure(this.ref, this.topic, error, message);
      this.tell(owner, failure, 'subscriber_failure');
    }
    const onError = this.options.onError;
    if (onError === null) return;
    try {
      if (onError(error, message) === 'unsubscribe') this.close('unsubscribed');
    } catch {
      this.errors++;
      this.counters.errors++;
    }
  }

  /**
   * Sends a notice to the owner. An owner whose bounded mailbox refuses it
   * (the `reject` policy) misses that notice, which is logged; it never
   * breaks the subscription, the topic or the caller of the operation.
   */
  private tell(
    owner: Pid,
    notice: SubscriptionEnd | SubscriberFailure,
    kind: 'subscription_end' | 'subscriber_failure',
  ): void {
    try {
      this.runtime.system.send(owner, notice);
    } catch (error) {
      this.runtime.logger.warn({
        label: 'owner_notice_refused',
        topic: this.topic,
        ref: this.ref.toString(),
        subscriberId: this.options.subscriberId,
        notice: kind,
        error,
      });
    }
  }

  private passes(message: Message): boolean {
    try {
      // Truthy delivers, as Array.prototype.filter does (documented on the option).
      return Boolean(this.options.filter!(message.metadata, message));
    } catch (error) {
      this.report(error, message);
      return false;
    }
  }

  /** Discards what is still queued, runs `onEnd`, and exits the process. */
  private finish(ctx: Context): never {
    this.release();
    return ctx.exit('normal');
  }

  /**
   * The process was killed before it could finish (stuck in a handler at
   * `stop()`): what `finish` does, minus the exit, from the caller's side.
   */
  killed(): void {
    this.release();
  }

  /** Discards what is still queued and runs `onEnd`, once. */
  private release(): void {
    if (this.released) return;
    this.released = true;
    this.clearRing();
    this.replay = null;
    this.runtime.subscriptions.delete(this);
    const onEnd = this.options.onEnd;
    if (onEnd !== null && this.end !== null) {
      try {
        onEnd(this.end);
      } catch (error) {
        this.errors++;
        this.counters.errors++;
        this.runtime.logger.warn({
          label: 'subscriber_error',
          topic: this.topic,
          ref: this.ref.toString(),
          subscriberId: this.options.subscriberId,
          error,
        });
      }
    }
  }

  // ---------------------------------------------------------------- stream consumer

  /**
   * For the iterator: the next message if one is ready, `DONE`/the error if
   * the stream has ended, or a promise that settles when one arrives.
   */
  pull(): Promise<IteratorResult<Message>> {
    if (this.open) {
      const message = this.takeAccepted();
      if (message !== undefined) return Promise.resolve({ value: message, done: false });
    }
    if (this.streamEnded) {
      const error = this.end?.error ?? null;
      if (error !== null && !this.errorThrown) {
        this.errorThrown = true;
        return Promise.reject(error);
      }
      return Promise.resolve(DONE);
    }
    if (this.waiterResolve !== null) {
      return Promise.reject(new ConcurrentNextError(this.topic));
    }
    return new Promise((resolve, reject) => {
      this.waiterResolve = resolve;
      this.waiterReject = reject;
      // The queue is empty now: the next offer (or close) must wake the process.
      this.awake = false;
    });
  }

  private endStream(): void {
    this.streamEnded = true;
    const resolve = this.waiterResolve;
    const reject = this.waiterReject;
    if (resolve === null || reject === null) return;
    this.waiterResolve = this.waiterReject = null;
    const error = this.end?.error ?? null;
    if (error !== null) {
      this.errorThrown = true;
      reject(error);
    } else {
      resolve(DONE);
    }
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

/**
 * Subscription processes run at low priority: they handle what a burst of
 * publishes queued for them in one activation, after the publishers' own
 * continuations have run, instead of one activation per message.
 */
export const SUBSCRIBER_SPAWN: SpawnOptions = { priority: 'low' };
