/**
 * The broker's typed errors. Each failure condition has its own class with a
 * stable machine-readable `code` (the same string in every release), and a
 * message that says what was expected and what was received. Every class
 * extends the runtime's `ActorError`, so `error.code` works across both
 * packages.
 *
 * | class                        | code                        | raised by                                    |
 * |------------------------------|-----------------------------|----------------------------------------------|
 * | `InvalidTopicNameError`      | `invalid_topic_name`        | every operation that takes a topic name      |
 * | `TopicNotFoundError`         | `topic_not_found`           | every operation on a topic that does not exist (or was deleted meanwhile) |
 * | `TopicAlreadyExistsError`    | `topic_already_exists`      | `createTopic`                                |
 * | `SubscriptionNotFoundError`  | `subscription_not_found`    | `unsubscribe`                                |
 * | `MaxSubscribersReachedError` | `max_subscribers_reached`   | `subscribe`                                  |
 * | `PayloadTooLargeError`       | `payload_too_large`         | `publish`, `publishNoWait`, `publishBatch`   |
 * | `InvalidPayloadError`        | `invalid_payload`           | the same                                     |
 * | `InvalidMetadataError`       | `invalid_metadata`          | the same                                     |
 * | `InvalidBatchError`          | `invalid_batch`             | `publishBatch` (wraps the first item error)  |
 * | `InvalidOptionError`         | `invalid_option`            | `Broker.start`, `createTopic`, `subscribe`   |
 * | `TopicUnavailableError`      | `topic_unavailable`         | a call that raced a topic crash              |
 * | `TopicOverloadedError`       | `topic_overloaded`          | a publish that finds too many publishes pending |
 * | `SlowConsumerError`          | `slow_consumer`             | delivered to a subscriber disconnected by its overflow policy |
 * | `BrokerStoppedError`         | `broker_stopped`            | every operation after `stop()`, and those pending at it |
 * | `BrokerDownError`            | `broker_down`               | every operation after the tree gave up       |
 * | `ConcurrentNextError`        | `concurrent_next`           | a stream's `next()` while another is pending |
 */
import { ActorError } from '@ratatoskr/actors';

/**
 * Stands for a value that could not be read (a getter or Proxy trap threw):
 * an error's `value` then says so instead of holding the value.
 */
export class Unreadable {
  constructor(
    /** What happened, such as `a getter that threw (Error: boom)`. */
    readonly text: string,
  ) {}
}

/** Renders a received value briefly and safely for an error message (never throws). */
export function received(value: unknown): string {
  if (value instanceof Unreadable) return value.text;
  if (typeof value === 'string') {
    return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  }
  if (typeof value === 'function') return `a function`;
  if (typeof value === 'symbol') return 'a symbol';
  if (value === null || typeof value !== 'object') return String(value);
  try {
    if (Array.isArray(value)) return `an array of ${value.length}`;
    const proto: unknown = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) {
      const name = (value as { constructor?: { name?: unknown } }).constructor?.name;
      return typeof name === 'string' && name !== '' ? `a ${name}` : 'an object';
    }
    const text = JSON.stringify(value);
    return text.length > 60 ? `${text.slice(0, 57)}...` : text;
  } catch {
    return 'an object that cannot be rendered';
  }
}

/** The topic name breaks the naming rules (see `TOPIC_NAME_RULES`). */
export class InvalidTopicNameError extends ActorError {
  override name = 'InvalidTopicNameError';
  constructor(
    /** What was given. */
    readonly topic: unknown,
    /** Which rule it breaks. */
    readonly rule: string,
  ) {
    super('invalid_topic_name', `invalid topic name ${received(topic)}: ${rule}`);
  }
}

/** No topic of that name exists (it was never created, or was deleted). */
export class TopicNotFoundError extends ActorError {
  override name = 'TopicNotFoundError';
  constructor(readonly topic: string) {
    super(
      'topic_not_found',
      `topic ${JSON.stringify(topic)} does not exist; create it with createTopic first`,
    );
  }
}

/** `createTopic` was given the name of a topic that exists. */
export class TopicAlreadyExistsError extends ActorError {
  override name = 'TopicAlreadyExistsError';
  constructor(readonly topic: string) {
    super(
      'topic_already_exists',
      `topic ${JSON.stringify(topic)} already exists; delete it first or use another name`,
    );
  }
}

/** `unsubscribe` was given a ref that is not a live subscription of that topic. */
export class SubscriptionNotFoundError extends ActorError {
  override name = 'SubscriptionNotFoundError';
  constructor(
    readonly topic: string,
    readonly ref: unknown,
  ) {
    super(
      'subscription_not_found',
      `no live subscription ${String(ref)} on topic ${JSON.stringify(topic)}: it was never ` +
        `made there, or it has already ended`,
    );
  }
}

/** The topic already has `maxSubscribers` subscriptions. */
export class MaxSubscribersReachedError extends ActorError {
  override name = 'MaxSubscribersReachedError';
  constructor(
    readonly topic: string,
    readonly limit: number,
  ) {
    super(
      'max_subscribers_reached',
      `topic ${JSON.stringify(topic)} has reached its limit of ${limit} subscribers; ` +
        `unsubscribe one, or create the topic with a larger maxSubscribers`,
    );
  }
}

/**
 * The message measures more bytes than the topic's `maxPayloadBytes`: its
 * payload plus its metadata and partition key (see `payloadSize`).
 */
export class PayloadTooLargeError extends ActorError {
  override name = 'PayloadTooLargeError';
  constructor(
    readonly topic: string,
    /** The topic's limit, in bytes. */
    readonly limit: number,
    /**
     * The measured size, in bytes: exact up to the limit; the measure stops
     * once past it, so a larger payload reports what was counted by then.
     */
    readonly size: number,
  ) {
    super(
      'payload_too_large',
      `message of ${size} bytes (payload, metadata and partition key; counted until past the ` +
        `limit) exceeds the limit of ${limit} bytes (maxPayloadBytes) on topic ${JSON.stringify(topic)}`,
    );
  }
}

/**
 * The payload cannot be carried: `undefined`, a function, a symbol, a
 * symbol-keyed property, a Proxy, a Promise, a WeakMap, nesting deeper than
 * 100 levels, or a value whose reading throws (see `payloadSize`).
 */
export class InvalidPayloadError extends ActorError {
  override name = 'InvalidPayloadError';
  constructor(
    readonly topic: string,
    /** What was found, such as `a function`. */
    readonly reason: string,
    /** Where in the payload, such as `payload.items[2].at`. */
    readonly path: string = 'payload',
  ) {
    super(
      'invalid_payload',
      `invalid payload for topic ${JSON.stringify(topic)}: ${path} is ${reason}; a payload may ` +
        `hold strings, numbers, bigints, booleans, null, byte arrays, Dates, RegExps, Errors, ` +
        `Maps, Sets, and arrays and objects of those (see payloadSize)`,
    );
  }
}

/** Metadata must be a flat map (a plain object) of string keys to string values. */
export class InvalidMetadataError extends ActorError {
  override name = 'InvalidMetadataError';
  constructor(
    /** The key at fault, or null when the metadata itself is not a plain object. */
    readonly key: string | null,
    readonly value: unknown,
  ) {
    super(
      'invalid_metadata',
      key === null
        ? `metadata must be a plain object mapping strings to strings, got ${received(value)}`
        : `metadata value for key ${JSON.stringify(key)} must be a string, got ${received(value)}`,
    );
  }
}

/** One item of a batch is invalid; the whole batch was refused (nothing was published). */
export class InvalidBatchError extends ActorError {
  override name = 'InvalidBatchError';
  constructor(
    readonly topic: string,
    /** Index of the first invalid item. */
    readonly index: number,
    /** Why that item is invalid. */
    override readonly cause: ActorError,
  ) {
    super(
      'invalid_batch',
      `batch for topic ${JSON.stringify(topic)} refused, nothing was published: item ${index} ` +
        `is invalid: ${cause.message}`,
      { cause },
    );
  }
}

/** An option (or an argument given as one) is out of its documented range. */
export class InvalidOptionError extends ActorError {
  override name = 'InvalidOptionError';
  constructor(
    /** The option's path, such as `retention.maxMessages`; '' for the options object itself. */
    readonly option: string,
    /** What the option accepts. */
    readonly expected: string,
    readonly value: unknown,
    /** How the message names it; default `options.<option>` (or `options`). */
    subject: string = option === '' ? 'options' : `options.${option}`,
  ) {
    super('invalid_option', `${subject} must be ${expected}, got ${received(value)}`);
  }
}

/**
 * The topic's process crashed while this call was pending, or is being
 * restarted by its supervisor right now. The operation may be retried: the
 * topic comes back with its subscribers and retained messages.
 */
export class TopicUnavailableError extends ActorError {
  override name = 'TopicUnavailableError';
  constructor(
    readonly topic: string,
    cause?: unknown,
  ) {
    super(
      'topic_unavailable',
      `topic ${JSON.stringify(topic)} is restarting after a crash; the operation was not ` +
        `applied and may be retried`,
      { cause },
    );
  }
}

/** More publishes are waiting on the topic than its `maxPendingPublishes`. */
export class TopicOverloadedError extends ActorError {
  override name = 'TopicOverloadedError';
  constructor(
    readonly topic: string,
    readonly limit: number,
  ) {
    super(
      'topic_overloaded',
      `topic ${JSON.stringify(topic)} already has ${limit} publishes waiting (maxPendingPublishes); ` +
        `await publishes to pace the publisher, or raise the limit`,
    );
  }
}

/** A subscriber fell `capacity` messages behind with the `disconnect` overflow policy. */
export class SlowConsumerError extends ActorError {
  override name = 'SlowConsumerError';
  constructor(
    readonly topic: string,
    /** The subscription's queue capacity, which it exceeded. */
    readonly capacity: number,
  ) {
    super(
      'slow_consumer',
      `subscriber on topic ${JSON.stringify(topic)} was disconnected: its queue of ${capacity} ` +
        `messages was full (overflow policy "disconnect")`,
    );
  }
}

/**
 * The broker has been stopped: the operation was called after `stop()`, or
 * was pending when `stop()` ended it (it may or may not have taken effect;
 * everything the broker held is gone either way).
 */
export class BrokerStoppedError extends ActorError {
  override name = 'BrokerStoppedError';
  constructor(
    readonly operation: string,
    /** True when the operation was pending at `stop()`, not called after it. */
    readonly pending: boolean = false,
  ) {
    super(
      'broker_stopped',
      pending
        ? `${operation} was pending when the broker was stopped`
        : `${operation} called after the broker was stopped`,
    );
  }
}

/**
 * The broker's supervision tree gave up (its root exceeded its restart
 * intensity): every topic and subscription is gone and nothing restarts
 * it. Call `stop()` to release its resources and start a new broker.
 */
export class BrokerDownError extends ActorError {
  override name = 'BrokerDownError';
  constructor(readonly operation: string) {
    super(
      'broker_down',
      `${operation} called on a broker whose supervision tree gave up after repeated crashes; ` +
        `stop() it and start a new one`,
    );
  }
}

/** A subscription stream was asked for `next()` while its previous `next()` was still pending. */
export class ConcurrentNextError extends ActorError {
  override name = 'ConcurrentNextError';
  constructor(readonly topic: string) {
    super(
      'concurrent_next',
      `a subscription stream on topic ${JSON.stringify(topic)} serves one next() at a time: ` +
        `await the previous next() before calling it again`,
    );
  }
}
