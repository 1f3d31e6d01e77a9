/**
 * Every option the broker accepts, with its default and range, validated
 * from declarative tables: one row per option, never a chain of ifs. A
 * refused option throws `InvalidOptionError` naming the option, what it
 * accepts and what it got, and changes nothing.
 *
 * Topic options (`createTopic(name, options)`):
 *
 * | option                  | default     | range                                   |
 * |-------------------------|-------------|-----------------------------------------|
 * | `maxSubscribers`        | 1000        | integer 1..1,000,000                    |
 * | `maxPayloadBytes`       | 1 MiB       | integer 1..256 MiB: payload + metadata + partition key |
 * | `maxPendingPublishes`   | 100,000     | integer 1..10,000,000                   |
 * | `retention.maxMessages` | 10,000      | integer 0..100,000,000 (0 keeps nothing)|
 * | `retention.maxBytes`    | 64 MiB      | integer 0..2^53-1                       |
 * | `retention.maxAgeMs`    | 3,600,000   | number > 0, or `Infinity`               |
 *
 * Subscription options (`subscribe(topic, target, options)`):
 *
 * | option         | default         | range                                                |
 * |----------------|-----------------|------------------------------------------------------|
 * | `bufferSize`   | 1024            | integer 1..1,000,000: messages queued, not yet handled |
 * | `overflow`     | `'drop_oldest'` | `'drop_oldest'`, `'drop_newest'`, `'disconnect'`     |
 * | `from`         | `'latest'`      | `'latest'`, `'earliest'`, or an offset (integer >= 0) |
 * | `filter`       | none            | `(metadata, message) => unknown`: truthy delivers    |
 * | `subscriberId` | none            | string of 1..255 characters, shown in stats          |
 * | `owner`        | none            | a `Pid`: the subscription ends when it exits         |
 * | `onError`      | none            | `(error, message) => void \| 'unsubscribe'`          |
 * | `onEnd`        | none            | `(end: SubscriptionEnd) => void`                     |
 */
import { ActorSystem, Threads, isPid, type Pid } from '@ratatoskr/actors';
import { InvalidOptionError, Unreadable } from './errors.js';
import { describeThrown } from './size.js';
import type { Message, Metadata } from './message.js';
import type { SubscriptionEnd } from './notices.js';
import { silentLogger, type BrokerLogger, type BrokerTelemetryHook } from './telemetry.js';

/** Retention limits of a topic's log; the first limit reached evicts the oldest messages. */
export interface RetentionOptions {
  /** Messages kept at most. Default 10,000; 0 keeps none (replay then only sees live messages). */
  maxMessages?: number;
  /** Sum of retained payload sizes at most, in bytes. Default 64 MiB. */
  maxBytes?: number;
  /** Age at most, in ms, measured from the message's timestamp. Default one hour; `Infinity` disables. */
  maxAgeMs?: number;
}

/** Options of `createTopic`. Every field is optional. */
export interface TopicOptions {
  /** Subscriptions the topic accepts at most; the next fails with `max_subscribers_reached`. Default 1000. */
  maxSubscribers?: number;
  /**
   * Largest message accepted, in bytes: its payload (see `payloadSize`) plus
   * its metadata and partition key; larger fail with `payload_too_large`.
   * Default 1 MiB.
   */
  maxPayloadBytes?: number;
  /**
   * Publishes that may wait in the topic's mailbox at once; one more fails
   * at once with `topic_overloaded`. Awaited publishes never reach it from a
   * single publisher; it bounds fire-and-forget floods. Default 100,000.
   */
  maxPendingPublishes?: number;
  /** Bounds of the retained log. */
  retention?: RetentionOptions;
}

/** Topic options with every default filled in. */
export interface ResolvedTopicOptions {
  readonly maxSubscribers: number;
  readonly maxPayloadBytes: number;
  readonly maxPendingPublishes: number;
  readonly retention: Readonly<Required<RetentionOptions>>;
}

/** What a subscriber does when its queue is full and another message arrives. */
export type SubscriberOverflow = 'drop_oldest' | 'drop_newest' | 'disconnect';

/** Where a new subscription starts reading. */
export type StartFrom = 'latest' | 'earliest' | number;

/**
 * What a subscription's `onError` may return: `'unsubscribe'` ends the
 * subscription (reason `'unsubscribed'`); anything else keeps it.
 */
export type ErrorDecision = 'unsubscribe' | void;

/** Options of `subscribe`. Every field is optional. */
export interface SubscribeOptions {
  /** Messages queued for this subscriber and not yet handled, at most. Default 1024. */
  bufferSize?: number;
  /**
   * What a message that finds the queue full does (default `'drop_oldest'`):
   * - `drop_oldest`: the oldest queued message is discarded to make room;
   * - `drop_newest`: the arriving message is discarded;
   * - `disconnect`: the subscription ends with a `SlowConsumerError` and its
   *   queued messages are discarded.
   * Every drop and disconnect is counted per subscription and per topic and
   * emitted as telemetry.
   */
  overflow?: SubscriberOverflow;
  /**
   * Where to start: `'latest'` (default) delivers only messages published
   * after the subscription; `'earliest'` replays every retained message
   * first; an offset replays from that offset (from the oldest retained one
   * if it has been evicted, live-only if it is in the future). Replay then
   * continues with live messages without gap or duplicate.
   */
  from?: StartFrom;
  /**
   * Delivers only the messages for which it returns a truthy value (as
   * `Array.prototype.filter` does: `1` or `'yes'` deliver, `0`, `''`,
   * `null` and `undefined` skip). It runs in the subscriber's process,
   * before the handler; a filter that throws counts as a handler error and
   * the message is skipped.
   */
  filter?: (metadata: Metadata, message: Message) => unknown;
  /** A label for this subscriber, shown in `stats(topic).subscribers` and in telemetry. */
  subscriberId?: string;
  /** The subscription ends (reason `'owner_exited'`) when this process exits; it also receives `SubscriptionEnd` and `SubscriberFailure` notices. For a process subscription with an owner of its own, the target's exit ends it too (reason `'target_exited'`). */
  owner?: Pid;
  /**
   * Called in the subscriber's process when the handler (or filter) throws
   * or rejects. Return `'unsubscribe'` to end the subscription; any other
   * result keeps it, and the next message is delivered. A throwing `onError`
   * is counted as another error and ignored.
   */
  onError?: (error: unknown, message: Message) => ErrorDecision;
  /** Called once in the subscriber's process when the subscription ends, with the reason. */
  onEnd?: (end: SubscriptionEnd) => void;
}

/** Subscription options with every default filled in. */
export interface ResolvedSubscribeOptions {
  readonly bufferSize: number;
  readonly overflow: SubscriberOverflow;
  readonly from: StartFrom;
  readonly filter: ((metadata: Metadata, message: Message) => unknown) | null;
  readonly subscriberId: string | null;
  readonly owner: Pid | null;
  readonly onError: ((error: unknown, message: Message) => ErrorDecision) | null;
  readonly onEnd: ((end: SubscriptionEnd) => void) | null;
}

// ------------------------------------------------------------------ tables

interface Rule<T> {
  readonly default: T;
  readonly expected: string;
  readonly valid: (value: unknown) => boolean;
}

type Table<T> = { readonly [K in keyof T]-?: Rule<T[K]> };

const MiB = 1024 * 1024;

function intIn(min: number, max: number): (value: unknown) => boolean {
  return (value) => Number.isInteger(value) && (value as number) >= min && (value as number) <= max;
}

function oneOf(...values: readonly unknown[]): (value: unknown) => boolean {
  return (value) => values.includes(value);
}

const isFunction = (value: unknown): boolean => typeof value === 'function';
const orNull =
  (valid: (value: unknown) => boolean) =>
  (value: unknown): boolean =>
    value === null || valid(value);

const TOPIC_RULES: Table<Omit<ResolvedTopicOptions, 'retention'>> = {
  maxSubscribers: {
    default: 1000,
    expected: 'an integer in 1..1,000,000',
    valid: intIn(1, 1_000_000),
  },
  maxPayloadBytes: {
    default: MiB,
    expected: `an integer in 1..${256 * MiB} (256 MiB)`,
    valid: intIn(1, 256 * MiB),
  },
  maxPendingPublishes: {
    default: 100_000,
    expected: 'an integer in 1..10,000,000',
    valid: intIn(1, 10_000_000),
  },
};

const RETENTION_RULES: Table<Required<RetentionOptions>> = {
  maxMessages: {
    default: 10_000,
    expected: 'an integer in 0..100,000,000',
    valid: intIn(0, 100_000_000),
  },
  maxBytes: {
    default: 64 * MiB,
    expected: 'an integer >= 0',
    valid: intIn(0, Number.MAX_SAFE_INTEGER),
  },
  maxAgeMs: {
    default: 3_600_000,
    expected: 'a number > 0, or Infinity',
    valid: (v) => typeof v === 'number' && v > 0,
  },
};

const SUBSCRIBE_RULES: Table<ResolvedSubscribeOptions> = {
  bufferSize: {
    default: 1024,
    expected: 'an integer in 1..1,000,000',
    valid: intIn(1, 1_000_000),
  },
  overflow: {
    default: 'drop_oldest',
    expected: "one of 'drop_oldest', 'drop_newest', 'disconnect'",
    valid: oneOf('drop_oldest', 'drop_newest', 'disconnect'),
  },
  from: {
    default: 'latest',
    expected: "'latest', 'earliest' or an offset (an integer >= 0)",
    valid: (v) => v === 'latest' || v === 'earliest' || intIn(0, Number.MAX_SAFE_INTEGER)(v),
  },
  filter: {
    default: null,
    expected: 'a function (metadata, message) => truthy to deliver',
    valid: orNull(isFunction),
  },
  subscriberId: {
    default: null,
    expected: 'a string of 1..255 characters',
    valid: orNull((v) => typeof v === 'string' && v.length >= 1 && v.length <= 255),
  },
  owner: { default: null, expected: 'a Pid', valid: orNull(isPid) },
  onError: {
    default: null,
    expected: 'a function (error, message) => void | "unsubscribe"',
    valid: orNull(isFunction),
  },
  onEnd: { default: null, expected: 'a function (end) => void', valid: orNull(isFunction) },
};

/** `Broker.start` options with every default filled in (`system` null: make one). */
export interface ResolvedBrokerOptions {
  readonly system: ActorSystem | null;
  /** 0: topics on the broker's thread; a count: start that many thread nodes; or given nodes. */
  readonly threads: number | Threads;
  readonly topicDefaults: TopicOptions | null;
  readonly logger: BrokerLogger;
  readonly telemetry: BrokerTelemetryHook | null;
}

const LOGGER_METHODS = ['error', 'warn', 'info', 'debug'] as const;

const BROKER_RULES: Table<ResolvedBrokerOptions> = {
  system: { default: null, expected: 'an ActorSystem', valid: (v) => v instanceof ActorSystem },
  threads: {
    default: 0,
    expected: 'an integer in 0..256 (thread nodes to start), or a Threads instance',
    valid: (v) => intIn(0, 256)(v) || v instanceof Threads,
  },
  topicDefaults: {
    default: null,
    expected: 'topic options (an object)',
    valid: (v) => typeof v === 'object' && v !== null,
  },
  logger: {
    default: silentLogger,
    expected: 'a logger with error, warn, info and debug methods',
    valid: (v) =>
      typeof v === 'object' &&
      v !== null &&
      LOGGER_METHODS.every((m) => typeof (v as Record<string, unknown>)[m] === 'function'),
  },
  telemetry: { default: null, expected: 'a function (event) => void', valid: isFunction },
};

/**
 * Resolves `Broker.start` options (topic defaults are resolved by
 * `resolveTopicOptions`). Given thread nodes must serve the given system.
 */
export function resolveBrokerOptions(input: object | undefined): ResolvedBrokerOptions {
  const options = resolve(BROKER_RULES, input, '');
  const { threads, system } = options;
  if (threads instanceof Threads && system !== null && threads.system !== system) {
    throw new InvalidOptionError(
      'threads',
      "thread nodes started on the broker's system (Threads.start(options.system))",
      threads,
    );
  }
  return options;
}

/**
 * A plain copy of an options object's own enumerable fields, each read once.
 * A field whose reading throws (a getter, a Proxy trap) is refused with
 * `InvalidOptionError` naming it, so no raw error escapes the checks.
 */
function readFields(input: object, path: string, subject: string): Record<string, unknown> {
  let keys: string[];
  try {
    keys = Object.keys(input);
  } catch (error) {
    throw new InvalidOptionError(
      path.slice(0, -1),
      'an object whose keys can be read',
      new Unreadable(`an object whose keys threw (${describeThrown(error)})`),
      subject,
    );
  }
  const out: Record<string, unknown> = {};
  for (const key of keys) {
    try {
      out[key] = (input as Record<string, unknown>)[key];
    } catch (error) {
      throw new InvalidOptionError(
        `${path}${key}`,
        'a value that can be read',
        new Unreadable(`a getter that threw (${describeThrown(error)})`),
      );
    }
  }
  return out;
}

/** Whether `value` is an options object: a non-null object, not an array. */
function isOptionsObject(value: unknown): value is object {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** How an error names the option `key` under `path` (`options.retention.maxAgeMs`). */
function optionSubject(path: string, key: string): string {
  return `options.${path}${key}`;
}

/**
 * Fills defaults into `input` from `table`, refusing unknown keys and values
 * out of range. `undefined` means "use the default". `path` is where this
 * table sits in the options (`retention.`, `topicDefaults.`).
 */
function resolve<T>(table: Table<T>, input: object | undefined, path: string): T {
  if (input !== undefined && !isOptionsObject(input)) {
    const option = path.slice(0, -1);
    throw new InvalidOptionError(option, 'an object', input);
  }
  const given = input === undefined ? {} : readFields(input, path, optionSubject(path, ''));
  for (const key of Object.keys(given)) {
    if (!(key in table) && given[key] !== undefined) {
      throw new InvalidOptionError(
        `${path}${key}`,
        `one of the known options (${Object.keys(table).join(', ')})`,
        given[key],
        `${optionSubject(path, key)} is unknown: it`,
      );
    }
  }
  const out = {} as Record<string, unknown>;
  for (const key of Object.keys(table) as (keyof T & string)[]) {
    const rule = table[key];
    const value = given[key];
    if (value === undefined) {
      out[key] = rule.default;
    } else if (!rule.valid(value)) {
      throw new InvalidOptionError(`${path}${key}`, rule.expected, value);
    } else {
      out[key] = value;
    }
  }
  return out as T;
}

/**
 * Resolves `createTopic` options over `defaults` (the broker's topic
 * defaults). Throws `InvalidOptionError` for an unknown option or a value
 * out of range.
 */
export function resolveTopicOptions(
  input: TopicOptions | undefined,
  defaults: ResolvedTopicOptions = DEFAULT_TOPIC_OPTIONS,
  /** Where these options sit: '' for `createTopic`, `topicDefaults.` for `Broker.start`. */
  path = '',
): ResolvedTopicOptions {
  if (input !== undefined && !isOptionsObject(input)) {
    throw new InvalidOptionError(path.slice(0, -1), 'an object', input);
  }
  const fields =
    input === undefined ? {} : readFields(input, path, optionSubject(path, '').slice(0, -1));
  const given = fields['retention'];
  if (given !== undefined && !isOptionsObject(given)) {
    throw new InvalidOptionError(`${path}retention`, 'an object', given);
  }
  const retentionFields =
    given === undefined
      ? {}
      : readFields(given, `${path}retention.`, optionSubject(path, 'retention'));
  const { retention: _defaultRetention, ...defaultRest } = defaults;
  const { retention: _givenRetention, ...givenRest } = fields;
  const top = resolve(TOPIC_RULES, { ...defaultRest, ...stripUndefined(givenRest) }, path);
  const retentionInput = { ...defaults.retention, ...stripUndefined(retentionFields) };
  const retention = resolve(RETENTION_RULES, retentionInput, `${path}retention.`);
  return Object.freeze({ ...top, retention: Object.freeze(retention) });
}

/**
 * Resolves `subscribe` options. Throws `InvalidOptionError` like
 * `resolveTopicOptions`. Without options every subscription shares one
 * frozen default object.
 */
export function resolveSubscribeOptions(
  input: SubscribeOptions | undefined,
): ResolvedSubscribeOptions {
  if (input === undefined) return DEFAULT_SUBSCRIBE_OPTIONS;
  if (!isOptionsObject(input)) {
    throw new InvalidOptionError(
      '',
      'a handler function, a Pid, or an options object',
      input,
      "subscribe's second argument",
    );
  }
  return resolve(SUBSCRIBE_RULES, input, '');
}

/** The keys a publish's options may have; a batch item also has `payload`. */
const PUBLISH_KEYS: ReadonlySet<string> = new Set(['metadata', 'partitionKey']);
const ITEM_KEYS: ReadonlySet<string> = new Set(['payload', 'metadata', 'partitionKey']);

/**
 * Checks the options of a publish (or a batch item, `item`): an object with
 * no key but `metadata` and `partitionKey` (and `payload` for an item).
 * Their values are checked by the publish itself. Throws `InvalidOptionError`.
 */
export function checkPublishOptions(input: unknown, item: boolean): PublishOptionsInput {
  const subject = item ? 'a publishBatch item' : 'publish options';
  if (!isOptionsObject(input)) {
    const expected = item ? 'an object { payload, metadata?, partitionKey? }' : 'an object';
    throw new InvalidOptionError('', `${expected} or undefined`, input, subject);
  }
  const known = item ? ITEM_KEYS : PUBLISH_KEYS;
  const fields = input as Record<string, unknown>;
  // Each field is read once, here: a getter that throws is refused by name.
  let key = '';
  let unknownKey: string | null = null;
  let unknownValue: unknown;
  let payload: unknown;
  let metadata: unknown;
  let partitionKey: unknown;
  try {
    for (key in fields) {
      if (known.has(key)) continue;
      const value = fields[key];
      if (value === undefined) continue;
      unknownKey = key;
      unknownValue = value;
      break;
    }
    if (unknownKey === null) {
      key = 'payload';
      if (item) payload = fields['payload'];
      key = 'metadata';
      metadata = fields['metadata'];
      key = 'partitionKey';
      partitionKey = fields['partitionKey'];
    }
  } catch (error) {
    throw new InvalidOptionError(
      key,
      'a value that can be read',
      new Unreadable(`a getter that threw (${describeThrown(error)})`),
      `${subject}: ${key === '' ? 'the object' : key}`,
    );
  }
  if (unknownKey !== null) {
    throw new InvalidOptionError(
      unknownKey,
      `one of the known options (${[...known].join(', ')})`,
      unknownValue,
      `${subject}: ${unknownKey} is unknown: it`,
    );
  }
  return { payload, metadata, partitionKey };
}

/** What `checkPublishOptions` lets through: values still unchecked. */
export interface PublishOptionsInput {
  readonly payload?: unknown;
  readonly metadata?: unknown;
  readonly partitionKey?: unknown;
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [key, v] of Object.entries(value)) {
    if (v !== undefined) (out as Record<string, unknown>)[key] = v;
  }
  return out;
}

const DEFAULT_SUBSCRIBE_OPTIONS: ResolvedSubscribeOptions = Object.freeze(
  resolve(SUBSCRIBE_RULES, undefined, ''),
);

/** Every topic default, as documented above. */
export const DEFAULT_TOPIC_OPTIONS: ResolvedTopicOptions = Object.freeze({
  maxSubscribers: TOPIC_RULES.maxSubscribers.default,
  maxPayloadBytes: TOPIC_RULES.maxPayloadBytes.default,
  maxPendingPublishes: TOPIC_RULES.maxPendingPublishes.default,
  retention: Object.freeze({
    maxMessages: RETENTION_RULES.maxMessages.default,
    maxBytes: RETENTION_RULES.maxBytes.default,
    maxAgeMs: RETENTION_RULES.maxAgeMs.default,
  }),
});
