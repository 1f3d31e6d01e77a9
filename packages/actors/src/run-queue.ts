/** A FIFO ring buffer of runnable processes. @internal */
export class RunQueue<T> {
  private items: (T | undefined)[] = new Array<T | undefined>(64);
  private head = 0;
  private tail = 0;
  private mask = 63;
  length = 0;

  push(item: T): void {
    if (this.length === this.items.length) this.grow();
    this.items[this.tail] = item;
    this.tail = (this.tail + 1) & this.mask;
    this.length++;
  }

  /** Removes and returns the oldest item; only valid when `length > 0`. */
  shift(): T {
    const item = this.items[this.head] as T;
    this.items[this.head] = undefined;
    this.head = (this.head + 1) & this.mask;
    this.length--;
    return item;
  }

  private grow(): void {
    const size = this.items.length * 2;
    const next = new Array<T | undefined>(size);
    for (let i = 0; i < this.length; i++) next[i] = this.items[(this.head + i) & this.mask];
    this.items = next;
    this.head = 0;
    this.tail = this.length;
    this.mask = size - 1;
  }
}
