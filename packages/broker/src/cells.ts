/**
 * The few numbers a topic hosted on a thread shares with the main thread, in
 * 24 bytes of shared memory (a `SharedArrayBuffer` made by the main thread
 * and handed to every incarnation of the topic's server). Each cell has one
 * writer at a time:
 *
 * | cell         | written by                           | read by                      | what for                                   |
 * |--------------|--------------------------------------|------------------------------|--------------------------------------------|
 * | `sent`       | the broker handle (main)             | a starting topic server      | publish requests sent to the topic         |
 * | `handled`    | the topic's current server (thread)  | the broker handle (main)     | publishes pending = sent - handled         |
 * | `deleted`    | the broker (main)                    | the topic, on every request  | refuse what is queued on a deleted topic   |
 * | `nextOffset` | the topic's current server (thread)  | the next server, on another thread, after the topic's thread died | offsets and `messageCount` continue |
 *
 * A new server incarnation sets `handled` to `sent` before it serves: what
 * was sent to an earlier incarnation and not handled died with it (its
 * callers were told), and the broker sends nothing to a topic between the
 * end of one incarnation and the start of the next. A server that a newer
 * one superseded counts nothing more. So `handled` never passes `sent`.
 *
 * `sent`, `handled` and `deleted` are 32-bit cells used with `Atomics`; the
 * counters wrap modulo 2^32, and the pending count is their difference
 * modulo 2^32, exact while fewer than 2^31 publishes are in flight.
 * `nextOffset` is a plain float64 written by one thread and read by another
 * only once the writer is gone (or when it is the writer's own thread).
 */

/** Bytes of shared memory per topic. */
const BYTES = 24;
const SENT = 0;
const HANDLED = 1;

/** A view of one topic's shared cells; either side builds one over the same buffer. */
export class TopicCells {
  private readonly words: Uint32Array;
  private readonly flags: Int32Array;
  private readonly offsets: Float64Array;

  constructor(
    /** The shared memory; a structured clone passes it by reference. */
    readonly buffer: SharedArrayBuffer = new SharedArrayBuffer(BYTES),
  ) {
    this.words = new Uint32Array(buffer, 0, 2);
    this.flags = new Int32Array(buffer, 8, 1);
    this.offsets = new Float64Array(buffer, 16, 1);
  }

  /** Publish requests sent and not yet handled by the topic's current server. */
  pending(): number {
    return (Atomics.load(this.words, SENT) - Atomics.load(this.words, HANDLED)) >>> 0;
  }

  /** The broker sent one more publish request (main thread). */
  countSent(): void {
    Atomics.add(this.words, SENT, 1);
  }

  /** A publish request counted as sent could not be sent after all (main thread). */
  uncountSent(): void {
    Atomics.sub(this.words, SENT, 1);
  }

  /** The topic's server handled one more publish request (its thread). */
  countHandled(): void {
    Atomics.add(this.words, HANDLED, 1);
  }

  /** A new server incarnation starts: nothing sent before is pending any more (its thread). */
  resetHandled(): void {
    Atomics.store(this.words, HANDLED, Atomics.load(this.words, SENT));
  }

  /** Whether the topic was deleted (or its broker stopped or lost its table). */
  get deleted(): boolean {
    return Atomics.load(this.flags, 0) !== 0;
  }

  /** Marks the topic deleted: its server refuses everything from now on and drops its state. */
  markDeleted(): void {
    Atomics.store(this.flags, 0, 1);
  }

  /** The offset the topic gives its next message (also its `messageCount`). */
  get nextOffset(): number {
    return this.offsets[0]!;
  }

  set nextOffset(offset: number) {
    this.offsets[0] = offset;
  }
}
