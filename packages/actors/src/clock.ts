import { describeValue } from './describe.js';
import { InvalidArgumentError } from './reasons.js';

/**
 * The source of time for the runtime. Timeouts, timers and supervisor restart
 * windows read it, so tests can inject `SimulatedClock` and make them
 * deterministic.
 */
export interface Clock {
  /** Milliseconds on a monotonic scale (not wall-clock time). */
  now(): number;
  /** Runs `callback(arg)` once after `ms` milliseconds. */
  setTimeout<A>(callback: (arg: A) => void, ms: number, arg: A): TimerHandle;
  /** Cancels a timer made by `setTimeout`; a no-op once it fired. */
  clearTimeout(handle: TimerHandle): void;
  /**
   * Optional: whether a pending timer keeps the process alive (as Node's
   * `timeout.ref()` / `unref()`). Timers start referenced, so a pending call
   * or receive with a timeout keeps a script running until it settles.
   */
  ref?(handle: TimerHandle): void;
  unref?(handle: TimerHandle): void;
}

/** Opaque handle for a clock timer. */
export type TimerHandle = { readonly __timer: true } | object;

/** The longest delay Node's `setTimeout` honours (a longer one fires after 1 ms). */
const MAX_NODE_DELAY = 2 ** 31 - 1;

/**
 * A timer longer than Node allows (about 24.8 days): it waits in steps of
 * at most `MAX_NODE_DELAY`, re-arming until its due time.
 */
class LongTimer {
  node: ReturnType<typeof setTimeout>;
  private referenced = true;

  constructor(
    private readonly due: number,
    private readonly callback: (arg: unknown) => void,
    private readonly arg: unknown,
  ) {
    this.node = this.arm();
  }

  private arm(): ReturnType<typeof setTimeout> {
    const left = this.due - performance.now();
    const node =
      left > MAX_NODE_DELAY
        ? setTimeout(() => (this.node = this.arm()), MAX_NODE_DELAY)
        : setTimeout(this.callback, Math.max(0, left), this.arg);
    if (!this.referenced) node.unref();
    return node;
  }

  clear(): void {
    clearTimeout(this.node);
  }

  ref(): void {
    this.referenced = true;
    this.node.ref();
  }

  unref(): void {
    this.referenced = false;
    this.node.unref();
  }
}

/**
 * The real clock: `performance.now()` and Node's timers. A pending timer
 * keeps the process alive, as Node's own do; the runtime unreferences the
 * ones it keeps around while nothing waits on them. Delays longer than Node's
 * timers allow (2^31 - 1 ms, about 24.8 days) are waited for in steps.
 */
export const systemClock: Clock = {
  now: () => performance.now(),
  setTimeout<A>(callback: (arg: A) => void, ms: number, arg: A): TimerHandle {
    if (ms > MAX_NODE_DELAY) {
      return new LongTimer(performance.now() + ms, callback as (arg: unknown) => void, arg);
    }
    return setTimeout(callback, ms, arg);
  },
  clearTimeout(handle: TimerHandle): void {
    if (handle instanceof LongTimer) handle.clear();
    else clearTimeout(handle as ReturnType<typeof setTimeout>);
  },
  ref(handle: TimerHandle): void {
    if (handle instanceof LongTimer) handle.ref();
    else (handle as ReturnType<typeof setTimeout>).ref();
  },
  unref(handle: TimerHandle): void {
    if (handle instanceof LongTimer) handle.unref();
    else (handle as ReturnType<typeof setTimeout>).unref();
  },
};

interface SimTimer {
  at: number;
  seq: number;
  callback: (arg: unknown) => void;
  arg: unknown;
  cancelled: boolean;
}

/**
 * A clock that only moves when told to. `advance(ms)` fires, in time order,
 * every timer due within the window; a callback that sets a new timer inside
 * the window sees it fire in the same `advance`.
 */
export class SimulatedClock implements Clock {
  private time: number;
  private seq = 0;
  private timers: SimTimer[] = [];

  /** Starts at `start` ms (default 0): a finite number, or `InvalidArgumentError`. */
  constructor(start = 0) {
    if (typeof start !== 'number' || !Number.isFinite(start)) {
      throw new InvalidArgumentError(
        `SimulatedClock expects a finite start time in ms, got ${describeValue(start)}`,
      );
    }
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  setTimeout<A>(callback: (arg: A) => void, ms: number, arg: A): TimerHandle {
    const timer: SimTimer = {
      // As Node's timers: a delay that is not a positive number (NaN included) is none.
      at: this.time + (ms > 0 ? ms : 0),
      seq: this.seq++,
      callback: callback as (arg: unknown) => void,
      arg,
      cancelled: false,
    };
    this.timers.push(timer);
    return timer;
  }

  clearTimeout(handle: TimerHandle): void {
    const timer = handle as SimTimer;
    timer.cancelled = true;
    const i = this.timers.indexOf(timer);
    if (i >= 0) this.timers.splice(i, 1);
  }

  /** Timers not yet fired nor cancelled. */
  pending(): number {
    return this.timers.length;
  }

  /** Moves time forward by `ms`, firing due timers in order. */
  advance(ms: number): void {
    if (typeof ms !== 'number' || !(ms >= 0) || ms === Infinity) {
      throw new InvalidArgumentError(
        `advance expects a finite number of ms >= 0, got ${describeValue(ms)}`,
      );
    }
    const end = this.time + ms;
    for (;;) {
      const next = this.nextDue(end);
      if (next === undefined) break;
      this.timers.splice(this.timers.indexOf(next), 1);
      this.time = next.at;
      next.callback(next.arg);
    }
    this.time = end;
  }

  private nextDue(end: number): SimTimer | undefined {
    let best: SimTimer | undefined;
    for (const t of this.timers) {
      if (t.at > end) continue;
      if (best === undefined || t.at < best.at || (t.at === best.at && t.seq < best.seq)) best = t;
    }
    return best;
  }
}
