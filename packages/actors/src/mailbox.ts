/**
 * A process mailbox: a FIFO ring buffer of `(kind, payload)` entries.
 *
 * Each entry takes two slots so that a cast or a plain message costs no
 * envelope allocation: the kind says how the owning process interprets the
 * payload (a cast, a call's `From`, an info message, a system signal).
 *
 * The buffer starts small (an idle process should cost little) and doubles
 * when full. It never shrinks while messages are queued (a burst being
 * drained must not shrink and regrow it). When it runs empty, it halves if
 * the backlog since it was last empty used under a quarter of the room (and
 * the room is over 64 entries): a process that saw one flood gives the
 * memory back over its next quiet moments, while one with regular bursts
 * keeps a buffer of the size it needs.
 */
export class Mailbox {
  private slots: unknown[];
  private head = 0;
  private tail = 0;
  private mask: number;
  /** Entries currently queued. */
  length = 0;
  /** Most entries queued since the mailbox was last empty. */
  private peak = 0;

  constructor(initialEntries = 4) {
    const size = 1 << Math.ceil(Math.log2(Math.max(2, initialEntries) * 2));
    this.slots = new Array<unknown>(size);
    this.mask = size - 1;
  }

  push(kind: number, payload: unknown): void {
    if (this.length * 2 === this.slots.length) this.grow();
    const t = this.tail;
    this.slots[t] = kind;
    this.slots[t + 1] = payload;
    this.tail = (t + 2) & this.mask;
    if (++this.length > this.peak) this.peak = this.length;
  }

  /** Puts an entry at the front: it is handled before everything queued. */
  unshift(kind: number, payload: unknown): void {
    if (this.length * 2 === this.slots.length) this.grow();
    const h = (this.head - 2) & this.mask;
    this.slots[h] = kind;
    this.slots[h + 1] = payload;
    this.head = h;
    if (++this.length > this.peak) this.peak = this.length;
  }

  /** Kind of the entry `take` returned last. */
  takenKind = 0;

  /**
   * Removes the oldest entry and returns its payload; its kind is left in
   * `takenKind` (one call and no allocation per message on the hot path).
   * Only valid when `length > 0`.
   */
  take(): unknown {
    const slots = this.slots;
    const h = this.head;
    this.takenKind = slots[h] as number;
    const payload = slots[h + 1];
    slots[h + 1] = undefined;
    this.head = (h + 2) & this.mask;
    if (--this.length === 0) this.emptied();
    return payload;
  }

  private emptied(): void {
    this.head = this.tail = 0;
    if (this.slots.length > 128 && this.peak * 8 <= this.slots.length) this.shrink();
    this.peak = 0;
  }

  /** Kind of the oldest entry; only valid when `length > 0`. */
  peekKind(): number {
    return this.slots[this.head] as number;
  }

  /** Payload of the oldest entry; only valid when `length > 0`. */
  peekPayload(): unknown {
    return this.slots[this.head + 1];
  }

  /** Removes the oldest entry (after `peekKind`/`peekPayload`). */
  drop(): void {
    const h = this.head;
    this.slots[h + 1] = undefined;
    this.head = (h + 2) & this.mask;
    if (--this.length === 0) this.emptied();
  }

  /** Removes every entry. */
  clear(): void {
    this.slots.fill(undefined);
    this.head = this.tail = 0;
    this.length = 0;
    this.peak = 0;
  }

  /** Visits entries oldest first without removing them. */
  forEach(visit: (kind: number, payload: unknown) => void): void {
    let i = this.head;
    for (let n = 0; n < this.length; n++) {
      visit(this.slots[i] as number, this.slots[i + 1]);
      i = (i + 2) & this.mask;
    }
  }

  private grow(): void {
    this.resize(this.slots.length * 2);
  }

  private shrink(): void {
    this.resize(this.slots.length / 2);
  }

  private resize(size: number): void {
    const next = new Array<unknown>(size);
    let i = this.head;
    for (let n = 0; n < this.length * 2; n += 2) {
      next[n] = this.slots[i];
      next[n + 1] = this.slots[i + 1];
      i = (i + 2) & this.mask;
    }
    this.slots = next;
    this.mask = size - 1;
    this.head = 0;
    this.tail = (this.length * 2) & this.mask;
  }
}
