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
 * | `BrokerStoppedError`         | `broker_stopped`            | every operation after `stop()`               |
 */
import { ActorError } from '@ratatoskr/actors';

/** Renders a received value briefly and safely for an error message. */
export function received(value: unknown): string {
  if (typeof value === 'string') {
    return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  }
  if (typeof value === 'function') return `a function`;
  if (value === null || typeof value !== 'object') return String(value);
  if (Array.isArray(value)) return `an array of ${value.length}`;
  try {
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

/** The payload measures more bytes than the topic's `maxPayloadBytes`. */
export class PayloadTooLargeError extends ActorError {
  override name = 'PayloadTooLargeError';
  constructor(
    readonly topic: string,
    /** The topic's limit, in bytes. */
    readonly limit: number,
    /** The payload's measured size, in bytes (see `payloadSize`). */
    readonly size: number,
  ) {
    super(
      'payload_too_large',
      `payload of ${size} bytes exceeds the limit of ${limit} bytes on topic ${JSON.stringify(topic)}`,
    );
  }
}

/** The payload cannot be carried: `undefined`, a function, a symbol, a bigint or a cycle. */
export class InvalidPayloadError extends ActorError {
  override name = 'InvalidPayloadError';
  constructor(
    readonly topic: string,
    readonly reason: string,
  ) {
    super(
      'invalid_payload',
      `invalid payload for topic ${JSON.stringify(topic)}: expected a string, a byte array, ` +
        `a number, a boolean, null, or plain objects and arrays of those; got ${reason}`,
    );
  }
}

/** Metadata must be a flat map of string keys to string values. */
export class InvalidMetadataError extends ActorError {
  override name = 'InvalidMetadataError';
  constructor(
    readonly key: string | null,
    readonly value: unknown,
  ) {
    super(
      'invalid_metadata',
      key === null
        ? `metadata must be an object mapping strings to strings, got ${received(value)}`
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

/** An option is out of its documented range. */
export class InvalidOptionError extends ActorError {
  override name = 'InvalidOptionError';
  constructor(
    /** The option's path, such as `retention.maxMessages`. */
    readonly option: string,
    /** What the option accepts. */
    readonly expected: string,
    readonly value: unknown,
  ) {
    super('invalid_option', `options.${option} must be ${expected}, got ${received(value)}`);
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

/** The broker has been stopped. */
export class BrokerStoppedError extends ActorError {
  override name = 'BrokerStoppedError';
  constructor(readonly operation: string) {
    super('broker_stopped', `${operation} called after the broker was stopped`);
  }
}
