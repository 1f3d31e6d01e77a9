/**
 * A topic's retained log: the most recent messages, bounded by count, by
 * total payload bytes and by age, addressed by offset.
 *
 * It is a ring buffer of message references that grows (doubling) up to
 * the first power of two above `maxMessages`, and never copies a message.
 * Appending is O(1) amortized; eviction drops the oldest entries first,
 * one at a time, until every limit holds again:
 * - count: at most `maxMessages` entries (0 keeps none, only offsets advance);
 * - bytes: the sum of retained `message.size` at most `maxBytes` (a message
 *   larger than `maxBytes` is evicted at once, after live delivery);
 * - age: entries whose timestamp is older than `now - maxAgeMs`, checked on
 *   every append and by `evictExpired` (the topic runs it on a timer).
 *
 * Offsets are never reused: `firstOffset` is the oldest retained one and
 * `nextOffset` the one the next message gets; the log is empty when they
 * are equal.
 */
import type { Message } from './message.js';
import type { RetentionOptions } from './options.js';

const INITIAL_SLOTS = 16;

export class RetainedLog {
  private slots: (Message | undefined)[];
  private head = 0;
  private mask: number;
  /** Messages retained. */
  length = 0;
  /** Sum of the retained messages' sizes, in bytes. */
  bytes = 0;
  /** Offset of the oldest retained message (equals `nextOffset` when empty). */
  firstOffset = 0;
  /** Offset the next appended message gets. */
  nextOffset = 0;
  private readonly maxMessages: number;
  private readonly maxBytes: number;
  private readonly maxAgeMs: number;

  constructor(limits: Readonly<Required<RetentionOptions>>) {
    this.maxMessages = limits.maxMessages;
    this.maxBytes = limits.maxBytes;
    this.maxAgeMs = limits.maxAgeMs;
    const size = Math.min(INITIAL_SLOTS, ceilPow2(Math.max(1, limits.maxMessages)));
    this.slots = new Array<Message | undefined>(size);
    this.mask = size - 1;
  }

  /**
   * Appends `message`, whose offset must be `nextOffset`, then evicts what
   * the limits require. `now` is the broker clock's time in epoch ms.
   */
  append(message: Message, now: number): void {
    this.nextOffset = message.offset + 1;
    if (this.maxMessages === 0) {
      this.firstOffset = this.nextOffset;
      return;
    }
    if (this.length === this.maxMessages) this.evictOne();
    if (this.length === this.slots.length) this.grow();
    this.slots[(this.head + this.length) & this.mask] = message;
    this.length++;
    this.bytes += message.size;
    while (this.bytes > this.maxBytes && this.length > 0) this.evictOne();
    if (this.maxAgeMs !== Infinity) this.evictExpired(now);
  }

  /** Evicts messages older than `maxAgeMs` at `now` (epoch ms). Returns how many. */
  evictExpired(now: number): number {
    const cutoff = now - this.maxAgeMs;
    let n = 0;
    while (this.length > 0 && this.slots[this.head]!.timestamp < cutoff) {
      this.evictOne();
      n++;
    }
    return n;
  }

  /** The retained messages from `offset` on (clamped to what is retained), oldest first. */
  sliceFrom(offset: number): Message[] {
    const start = Math.max(offset, this.firstOffset);
    const out: Message[] = [];
    for (let o = start; o < this.nextOffset; o++) {
      out.push(this.slots[(this.head + (o - this.firstOffset)) & this.mask]!);
    }
    return out;
  }

  /** Offset of the newest retained message, or null when none is retained. */
  get newestOffset(): number | null {
    return this.length === 0 ? null : this.nextOffset - 1;
  }

  /** Offset of the oldest retained message, or null when none is retained. */
  get oldestOffset(): number | null {
    return this.length === 0 ? null : this.firstOffset;
  }

  private evictOne(): void {
    const h = this.head;
    const message = this.slots[h]!;
    this.slots[h] = undefined;
    this.head = (h + 1) & this.mask;
    this.length--;
    this.bytes -= message.size;
    this.firstOffset++;
  }

  private grow(): void {
    const size = this.slots.length * 2;
    const next = new Array<Message | undefined>(size);
    for (let i = 0; i < this.length; i++) next[i] = this.slots[(this.head + i) & this.mask];
    this.slots = next;
    this.head = 0;
    this.mask = size - 1;
  }
}

function ceilPow2(n: number): number {
  return 2 ** Math.ceil(Math.log2(n));
}
