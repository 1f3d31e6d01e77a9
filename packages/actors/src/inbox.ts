import type { TimerHandle } from './clock.js';
import { KIND_STOP } from './messages.js';
import type { Pid, Ref } from './pid.js';
import type { Proc, ProcessLogic } from './process.js';
import type { Dest } from './protocol.js';
import {
  ActorError,
  CallTimeoutError,
  InvalidArgumentError,
  checkTimeout,
  type ExitReason,
} from './reasons.js';
import { describeValue } from './describe.js';
import type { ActorSystem } from './system.js';

interface Waiter {
  match: (message: unknown) => boolean;
  resolve(message: unknown): void;
  reject(error: unknown): void;
  timer: TimerHandle | null;
}

class InboxLogic implements ProcessLogic {
  constructor(private readonly inbox: Inbox) {}

  handle(proc: Proc, kind: number, payload: unknown): undefined {
    if (kind === KIND_STOP) proc.system.stopProcess(proc, payload as ExitReason);
    else this.inbox.accept(payload);
    return undefined;
  }

  terminate(): undefined {
    return undefined;
  }

  describeState(): undefined {
    return undefined;
  }
}

/**
 * A mailbox for code that is not a process: tests, scripts, the edge of an
 * application. It owns a real process, so it can be sent to, monitor and
 * link; `receive` takes the first message that matches (selective receive),
 * waiting for one if needed.
 *
 * Calls sent to an inbox arrive as their `From`, which can be answered with
 * `GenServer.reply`.
 */
export class Inbox {
  readonly pid: Pid;
  private readonly queue: unknown[] = [];
  private readonly waiters: Waiter[] = [];
  private readonly proc: Proc;

  constructor(private readonly system: ActorSystem) {
    if (typeof (system as { spawnLogic?: unknown } | null)?.spawnLogic !== 'function') {
      throw new InvalidArgumentError(
        `new Inbox expects an ActorSystem, got ${describeValue(system)}`,
      );
    }
    this.pid = system.spawnLogic(new InboxLogic(this), {});
    this.proc = this.pid._proc!;
    // However the inbox's process ends (close, a kill, a linked exit), a
    // receive still waiting must settle.
    this.proc.addExitHook(() => this.rejectWaiters());
  }

  /**
   * Resolves with the oldest queued message that satisfies `match` (any
   * message if omitted), removing it; waits up to `timeoutMs` (default 5000)
   * for one to arrive, then rejects with `CallTimeoutError`. If `match`
   * throws, the receive rejects with that error and no message is taken.
   */
  receive<T = unknown>(
    match: ((message: unknown) => boolean) | ((message: unknown) => message is T) = () => true,
    timeoutMs = 5000,
  ): Promise<T> {
    if (typeof match !== 'function') {
      return Promise.reject(
        new InvalidArgumentError(`receive expects a match function, got ${describeValue(match)}`),
      );
    }
    try {
      checkTimeout(timeoutMs, 'receive');
    } catch (error) {
      return Promise.reject(error);
    }
    let i: number;
    try {
      i = this.queue.findIndex(match);
    } catch (error) {
      // The predicate's own error; the queue is untouched.
      return Promise.reject(error);
    }
    if (i >= 0) return Promise.resolve(this.queue.splice(i, 1)[0] as T);
    if (!this.system.isAlive(this.pid)) {
      return Promise.reject(new ActorError('inbox_closed', `inbox ${this.pid} is closed`));
    }
    return new Promise<T>((resolve, reject) => {
      const waiter: Waiter = {
        match,
        resolve: resolve as (m: unknown) => void,
        reject,
        timer: null,
      };
      if (timeoutMs !== Infinity) {
        waiter.timer = this.system.clock.setTimeout(
          (w: Waiter) => {
            const at = this.waiters.indexOf(w);
            if (at >= 0) this.waiters.splice(at, 1);
            w.reject(new CallTimeoutError(`inbox ${this.pid} receive`, timeoutMs));
          },
          timeoutMs,
          waiter,
        );
      }
      this.waiters.push(waiter);
    });
  }

  /**
   * Removes and returns the oldest matching message, or undefined if none is
   * queued. An error thrown by `match` propagates; the queue is untouched.
   */
  tryReceive<T = unknown>(match: (message: unknown) => boolean = () => true): T | undefined {
    if (typeof match !== 'function') {
      throw new InvalidArgumentError(
        `tryReceive expects a match function, got ${describeValue(match)}`,
      );
    }
    const i = this.queue.findIndex(match);
    return i >= 0 ? (this.queue.splice(i, 1)[0] as T) : undefined;
  }

  /** Messages queued and not yet received, oldest first. */
  get messages(): readonly unknown[] {
    return this.queue;
  }

  /** Monitors `dest` from this inbox: its DOWN message arrives here. */
  monitor(dest: Dest): Ref {
    return this.proc.monitor(dest);
  }

  /** Links this inbox's process to `pid`. */
  link(pid: Pid): void {
    this.proc.link(pid);
  }

  /** Sets exit trapping; an inbox that does not trap dies with an abnormal linked exit. */
  trapExit(flag: boolean): boolean {
    return this.proc.trapExit(flag);
  }

  /** Ends the inbox's process; pending receives reject. */
  close(): void {
    this.system.kill(this.proc, 'normal');
  }

  private rejectWaiters(): void {
    for (const w of this.waiters.splice(0)) {
      if (w.timer !== null) this.system.clock.clearTimeout(w.timer);
      w.reject(new ActorError('inbox_closed', `inbox ${this.pid} is closed`));
    }
  }

  /**
   * Hands `message` to the oldest waiting receive whose predicate takes it,
   * or queues it. A predicate that throws rejects its own receive with that
   * error; the message goes on to the next waiter (or the queue), and the
   * inbox stays open. @internal
   */
  accept(message: unknown): void {
    let i = 0;
    while (i < this.waiters.length) {
      const w = this.waiters[i]!;
      let taken: boolean;
      try {
        taken = w.match(message);
      } catch (error) {
        this.detach(i).reject(error);
        continue;
      }
      if (taken) {
        this.detach(i).resolve(message);
        return;
      }
      i++;
    }
    this.queue.push(message);
  }

  /** Removes waiter `i` and its timer; returns it to be settled. */
  private detach(i: number): Waiter {
    const [w] = this.waiters.splice(i, 1);
    if (w!.timer !== null) this.system.clock.clearTimeout(w!.timer);
    return w!;
  }
}
