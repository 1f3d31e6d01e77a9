/**
 * Small tools the workloads share: completion counters with a deadline, and
 * a producer that sends in bursts.
 */
import { nextTurn } from './harness.js';

/**
 * Counts events up to `target`; `done` resolves at the target, or at the
 * deadline, whichever comes first. A run never hangs on a lost message: it
 * ends at the deadline with `count < target`, and the harness reports the loss.
 */
export class Countdown {
  count = 0;
  readonly done: Promise<void>;
  private finish: () => void = () => {};
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    readonly target: number,
    deadlineMs = 60_000,
  ) {
    this.done = new Promise<void>((resolve) => {
      this.finish = resolve;
    });
    if (target <= 0) {
      this.finish();
      return;
    }
    this.timer = setTimeout(() => this.finish(), deadlineMs);
  }

  /** Counts one event. */
  tick(): void {
    if (++this.count === this.target) this.end();
  }

  /** Counts `n` events at once. */
  add(n: number): void {
    this.count += n;
    if (this.count >= this.target) this.end();
  }

  private end(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.finish();
  }
}

/** Messages a producer sends before it yields to the event loop. */
export const BURST = 4096;

/**
 * Calls `send(i)` for i in 0..n-1, yielding to the event loop (setImmediate)
 * after every `burst` sends, so consumers drain as the producer goes and
 * mailboxes stay bounded: steady-state throughput, not a backlog replay.
 */
export async function sendInBursts(
  n: number,
  send: (i: number) => void,
  burst = BURST,
): Promise<void> {
  for (let start = 0; start < n; start += burst) {
    const end = Math.min(n, start + burst);
    for (let i = start; i < end; i++) send(i);
    await nextTurn();
  }
}

/** Milliseconds since `t0`, as a rate of `count` per second. */
export function ratePerSecond(count: number, t0: number): number {
  return (count / (performance.now() - t0)) * 1000;
}
