import type { TimerHandle } from './clock.js';
import type { Proc } from './process.js';
import type { Dest } from './protocol.js';
import { InvalidArgumentError } from './reasons.js';
import { describeValue } from './describe.js';
import type { ActorSystem } from './system.js';

/**
 * A timer started by `sendAfter` or `sendInterval`. Cancel it with
 * `cancelTimer`. A timer owned by a process dies with it: a process that has
 * exited never receives timer messages, and its timers hold no handle open.
 */
export class TimerRef {
  /** @internal */ handle: TimerHandle | null = null;
  /** @internal */ dueAt = 0;

  /** @internal */
  constructor(
    /** @internal */ readonly system: ActorSystem,
    /** @internal */ readonly owner: Proc | null,
    /** @internal */ readonly dest: Dest,
    /** @internal */ readonly message: unknown,
    /** @internal */ readonly ms: number,
    /** @internal */ readonly interval: boolean,
  ) {}

  /** @internal Whether the timer keeps Node's event loop alive (see `unref`). */
  keepsAlive = true;

  /** Whether the timer will still fire. */
  get active(): boolean {
    return this.handle !== null;
  }

  /**
   * Lets Node exit while this timer is all that is left to wait for, as a
   * Node timer's `unref()` does (for housekeeping timers: a sweep, a
   * heartbeat). It still fires while the process runs. Returns the timer.
   */
  unref(): this {
    this.keepsAlive = false;
    if (this.handle !== null) this.system.clock.unref?.(this.handle);
    return this;
  }
}

/** The timers of one system, all on its clock. @internal */
export class Timers {
  constructor(private readonly system: ActorSystem) {}

  start(owner: Proc | null, dest: Dest, message: unknown, ms: number, interval: boolean): TimerRef {
    // The destination is resolved when the timer fires; its shape is checked now.
    this.system.checkDest(dest, interval ? 'sendInterval' : 'sendAfter');
    if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0 || (interval && ms === 0)) {
      throw new InvalidArgumentError(
        `timer ms must be a finite number >= 0${interval ? ' and > 0 for an interval' : ''}, got ${String(ms)}`,
      );
    }
    const timer = new TimerRef(this.system, owner, dest, message, ms, interval);
    if (owner !== null) (owner.timers ??= new Set()).add(timer);
    this.arm(timer);
    return timer;
  }

  cancel(timer: TimerRef): number | false {
    if (!(timer instanceof TimerRef)) {
      throw new InvalidArgumentError(`cancelTimer expects a TimerRef, got ${describeValue(timer)}`);
    }
    const handle = timer.handle;
    if (handle === null) return false;
    const clock = this.system.clock;
    clock.clearTimeout(handle);
    timer.handle = null;
    timer.owner?.timers?.delete(timer);
    return Math.max(0, timer.dueAt - clock.now());
  }

  /** Cancels every timer `owner` holds (it is exiting). */
  cancelAll(owner: Proc): void {
    const timers = owner.timers;
    if (timers === null) return;
    owner.timers = null;
    for (const timer of timers) {
      if (timer.handle !== null) this.system.clock.clearTimeout(timer.handle);
      timer.handle = null;
    }
  }

  private arm(timer: TimerRef): void {
    const clock = this.system.clock;
    timer.dueAt = clock.now() + timer.ms;
    timer.handle = clock.setTimeout(fire, timer.ms, timer);
    if (!timer.keepsAlive) clock.unref?.(timer.handle);
  }

  /** @internal */
  fired(timer: TimerRef): void {
    if (timer.handle === null) return;
    if (timer.interval) this.arm(timer);
    else {
      timer.handle = null;
      timer.owner?.timers?.delete(timer);
    }
    this.system.sendQuietly(timer.dest, timer.message);
  }
}

function fire(timer: TimerRef): void {
  timer.system.timers.fired(timer);
}
