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
 *
 * Runtime entries (DOWN, EXIT, stop and init requests) are marked in their
 * kind slot and counted apart (`runtime`): a bounded mailbox does not count
 * them against its capacity, and `drop_oldest` never discards them.
 */

/** Marks a runtime entry's kind in its slot. */
const RUNTIME = 0x100;
const KIND_MASK = 0xff;

export class Mailbox {
  private slots: unknown[];
  private head = 0;
  private tail = 0;
  private mask: number;
  /** Entries currently queued. */
  length = 0;
  /** Runtime entries among them (see the class doc). */
  runtime = 0;
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

  /** Queues a runtime entry (see the class doc). */
  pushRuntime(kind: number, payload: unknown): void {
    this.push(kind | RUNTIME, payload);
    this.runtime++;
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
    const kind = slots[h] as number;
    if (kind < RUNTIME) this.takenKind = kind;
    else {
      this.takenKind = kind & KIND_MASK;
      this.runtime--;
    }
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

  /**
   * Removes the oldest entry that is not a runtime entry and returns its
   * payload, its kind in `takenKind`. Only valid when `length > runtime`.
   */
  takeOldestOrdinary(): unknown {
    let i = this.head;
    let n = 0;
    while ((this.slots[i] as number) >= RUNTIME) {
      i = (i + 2) & this.mask;
      n++;
    }
    this.takenKind = this.slots[i] as number;
    const payload = this.slots[i + 1];
    this.removeAt(n);
    return payload;
  }

  /**
   * Removes the oldest entry for which `match(kind, payload)` holds; returns
   * whether one was found.
   */
  removeFirst(match: (kind: number, payload: unknown) => boolean): boolean {
    let i = this.head;
    for (let n = 0; n < this.length; n++) {
      const kind = this.slots[i] as number;
      if (match(kind & KIND_MASK, this.slots[i + 1])) {
        if (kind >= RUNTIME) this.runtime--;
        this.removeAt(n);
        return true;
      }
      i = (i + 2) & this.mask;
    }
    return false;
  }

  /** Removes the `n`th entry (0: the oldest): the older ones move up one place. */
  private removeAt(n: number): void {
    const slots = this.slots;
    const mask = this.mask;
    let i = (this.head + 2 * n) & mask;
    for (let m = n; m > 0; m--) {
      const prev = (i - 2) & mask;
      slots[i] = slots[prev];
      slots[i + 1] = slots[prev + 1];
      i = prev;
    }
    slots[i + 1] = undefined;
    this.head = (i + 2) & mask;
    if (--this.length === 0) this.emptied();
  }

  /** Removes every entry. */
  clear(): void {
    this.slots.fill(undefined);
    this.head = this.tail = 0;
    this.length = 0;
    this.runtime = 0;
    this.peak = 0;
  }

  /** Visits entries oldest first without removing them. */
  forEach(visit: (kind: number, payload: unknown) => void): void {
    let i = this.head;
    for (let n = 0; n < this.length; n++) {
      visit((this.slots[i] as number) & KIND_MASK, this.slots[i + 1]);
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
