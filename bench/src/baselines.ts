/**
 * Plain-Node baselines: the least code that does what the runtime does, run
 * in the same process so each figure has a ceiling measured the same way.
 *
 * `MiniActor` is the "minimal array-queue actor" of issue 6: an object with an
 * array mailbox, drained in a loop. `MiniScheduler` schedules mini actors the
 * way `ActorSystem` schedules processes (a run queue of ready actors, a budget
 * per actor and per turn, a microtask wake-up, `setImmediate` between turns),
 * so the difference between the two is the runtime's own cost: pids, the
 * mailbox entry kinds, status bookkeeping, GenServer results and state commit.
 * It has none of the runtime's semantics (no links, monitors, exits, calls).
 */

export type MiniHandler = (message: unknown, self: MiniActor) => void;

/** A run queue with the runtime's budgets: 256 messages per actor, 8192 per turn. */
export class MiniScheduler {
  private readonly queue: (MiniActor | undefined)[] = [];
  private head = 0;
  private tail = 0;
  private scheduled = false;
  private sinceYield = 0;

  constructor(
    private readonly actorBudget = 256,
    private readonly turnBudget = 8192,
  ) {}

  /** @internal Called by an actor whose mailbox just became non-empty. */
  ready(actor: MiniActor): void {
    this.queue[this.tail++] = actor;
    if (!this.scheduled) this.wake();
  }

  private wake(): void {
    this.scheduled = true;
    if (this.sinceYield < this.turnBudget) queueMicrotask(this.drain);
    else setImmediate(this.yielded);
  }

  private readonly yielded = (): void => {
    this.sinceYield = 0;
    this.drain();
  };

  private readonly drain = (): void => {
    const queue = this.queue;
    let handled = 0;
    while (this.head < this.tail && handled < this.turnBudget) {
      const actor = queue[this.head]!;
      queue[this.head++] = undefined;
      handled += actor.runSlice(this.actorBudget);
    }
    if (this.head === this.tail) this.head = this.tail = 0;
    this.sinceYield += handled;
    this.scheduled = false;
    if (this.head < this.tail) this.wake();
  };
}

/** An actor reduced to an array mailbox and a handler. */
export class MiniActor {
  /** Slots head..tail-1 are queued; the array keeps its capacity once grown. */
  private readonly mailbox: unknown[] = [];
  private head = 0;
  private tail = 0;
  private queued = false;

  constructor(
    private readonly scheduler: MiniScheduler,
    private readonly handler: MiniHandler,
  ) {}

  send(message: unknown): void {
    this.mailbox[this.tail++] = message;
    if (!this.queued) {
      this.queued = true;
      this.scheduler.ready(this);
    }
  }

  /** @internal Handles up to `budget` messages; requeues itself if some remain. */
  runSlice(budget: number): number {
    const box = this.mailbox;
    let n = 0;
    while (n < budget && this.head < this.tail) {
      const message = box[this.head];
      box[this.head++] = undefined;
      n++;
      this.handler(message, this);
    }
    if (this.head === this.tail) {
      this.head = this.tail = 0;
      this.queued = false;
    } else {
      this.scheduler.ready(this);
    }
    return n;
  }
}
