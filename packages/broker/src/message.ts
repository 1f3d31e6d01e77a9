/**
 * The message model.
 *
 * A `Message` is created once by the topic that accepts it and then shared
 * by reference: the retained log and every subscriber see the same object,
 * so a delivery copies nothing. Messages are immutable by contract: neither
 * the broker nor a subscriber may change one, nor its payload or metadata,
 * and a publisher must not change a payload or metadata object after
 * handing it to `publish`.
 *
 * Ids are unique for the life of the process and cheap to make: a random
 * prefix drawn once per broker, then a counter (`k3f9x2-1a`), so no
 * randomness or hashing is spent per message. Offsets are per topic, start
 * at 0 and grow by one per accepted message, without gaps.
 *
 * ## Size
 *
 * A message's `size` is what `maxPayloadBytes` and `retention.maxBytes`
 * count: its payload as `payloadSize` measures it (see `size.ts` for what
 * counts and what is refused), plus its metadata (each key's and value's
 * UTF-8 length) and its partition key (UTF-8 length). The publisher's side
 * measures it once, before sending, and the topic never measures again.
 */
import { randomBytes } from 'node:crypto';
import { types } from 'node:util';
import { InvalidArgumentError } from '@ratatoskr/actors';
import { InvalidMetadataError } from './errors.js';
import { measurePayload, stringBytes } from './size.js';

export { utf8Length } from './size.js';

/** Message metadata: a flat map of string keys to string values. */
export type Metadata = Readonly<Record<string, string>>;

/** A message id: unique for the life of the process. */
export type MessageId = string;

/** The metadata of a message published without any. Shared, frozen. */
export const EMPTY_METADATA: Metadata = Object.freeze({});

/**
 * A published message, as every subscriber and the retained log see it.
 *
 * The publisher's side of the broker builds it, with every field but
 * `timestamp` and `offset`, and sends it to the topic as the publish request
 * itself; the topic stamps those two when it accepts it, before anyone else
 * can see it. One object per publish, from the caller to every subscriber.
 */
export class Message<T = unknown> {
  /**
   * When the topic accepted it: whole milliseconds since the Unix epoch, from
   * the broker's clock (non-decreasing along a topic's offsets).
   */
  readonly timestamp: number = 0;
  /** Position in the topic: 0 for the first message, then one more for each. */
  readonly offset: number = -1;

  /** @internal */
  constructor(
    /** Unique id, returned by `publish`. */
    readonly id: MessageId,
    /** The topic it was published on. */
    readonly topic: string,
    /** What the publisher sent, by reference. */
    readonly payload: T,
    /** String map given at publish; `EMPTY_METADATA` if none. */
    readonly metadata: Metadata,
    /** The key given at publish, or null. Carried for consumers; order is total per topic. */
    readonly partitionKey: string | null,
    /** The message's size in bytes: payload, metadata and partition key (see the module doc). */
    readonly size: number,
  ) {}
}

/** The two fields a topic writes when it accepts a message (once, before anyone reads them). */
export interface Stamp {
  timestamp: number;
  offset: number;
}

/** Stamps `message` as accepted at `offset` and `timestamp`. @internal */
export function stamp(message: Message, offset: number, timestamp: number): void {
  // Readonly for everyone else; the accepting topic is the one writer.
  const fields: Stamp = message;
  fields.timestamp = timestamp;
  fields.offset = offset;
}

/** Whether `value` is a broker `Message` (for process subscribers reading their mailbox). */
export function isMessage(value: unknown): value is Message {
  return value instanceof Message;
}

/** Makes unique message ids: a random prefix per source, then a base-36 counter. */
export class IdSource {
  private readonly prefix: string;
  private next = 0;

  constructor() {
    this.prefix = `${randomBytes(5).toString('hex')}-`;
  }

  /** A new id, never returned before in this process. */
  take(): MessageId {
    return this.prefix + (this.next++).toString(36);
  }
}

// ------------------------------------------------------------------ size

/** Returned by `payloadSize` for a payload that cannot be carried. */
export const UNMEASURABLE = -1;

/** The most `payloadSize` counts by default: the largest `maxPayloadBytes` (256 MiB). */
export const PAYLOAD_SIZE_CAP = 256 * 1024 * 1024;

/**
 * The size of `payload` in bytes, as the module doc of `size.ts` (and the
 * README) describe it, or `UNMEASURABLE` (-1) for a payload that cannot be
 * carried (`publish` says what and where in its `InvalidPayloadError`).
 * Counting stops once it passes `max` (default 256 MiB, the largest
 * `maxPayloadBytes`): the result is then a number above `max`, not the
 * whole size, and the walk stays bounded (a sparse `new Array(2 ** 32 - 1)`
 * is answered at once).
 */
export function payloadSize(payload: unknown, max: number = PAYLOAD_SIZE_CAP): number {
  if (typeof max !== 'number' || !(max >= 0)) {
    throw new InvalidArgumentError(
      `payloadSize expects max to be a number >= 0 (or Infinity), got ${typeof max === 'number' ? String(max) : typeof max}`,
    );
  }
  const size = measurePayload(payload, max);
  return typeof size === 'number' ? size : UNMEASURABLE;
}

// ------------------------------------------------------------------ metadata

/**
 * Checks that `metadata` is a flat map of string keys to string values (a
 * plain object: not a Map, a Date, an array or a Proxy, no symbol keys, no
 * getter that throws) and returns it, or `EMPTY_METADATA` for `undefined`.
 * Throws `InvalidMetadataError` naming the key at fault.
 */
export function checkMetadata(metadata: unknown): Metadata {
  if (metadata === undefined) return EMPTY_METADATA;
  if (metadata === null || typeof metadata !== 'object' || !isPlainObject(metadata)) {
    throw new InvalidMetadataError(null, metadata);
  }
  const record = metadata as Record<string, unknown>;
  const keys = Object.keys(record);
  for (const key of keys) {
    let value: unknown;
    try {
      value = record[key];
    } catch {
      throw new InvalidMetadataError(key, 'a getter that threw');
    }
    if (typeof value !== 'string') throw new InvalidMetadataError(key, value);
  }
  if (Object.getOwnPropertySymbols(record).length > 0) {
    throw new InvalidMetadataError(null, 'an object with symbol-keyed properties');
  }
  if (Object.getOwnPropertyNames(record).length !== keys.length) {
    throw new InvalidMetadataError(null, 'an object with non-enumerable properties');
  }
  return record as Metadata;
}

/** Whether `value` is a plain object (prototype `Object.prototype` or null), not a Proxy. */
function isPlainObject(value: object): boolean {
  if (types.isProxy(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * The bytes `metadata` (already checked) adds to a message: each key's and
 * value's UTF-8 length; a lower bound once past `budget`.
 */
export function metadataBytes(metadata: Metadata, budget: number): number {
  let bytes = 0;
  for (const key of Object.keys(metadata)) {
    bytes += stringBytes(key, budget - bytes) + stringBytes(metadata[key]!, budget - bytes);
  }
  return bytes;
}
