import { RequestId as RequestIdClass, type From, type RequestId } from './call.js';
import { Mailbox } from './mailbox.js';
import { KIND_INFO } from './messages.js';
import type { Pid, Ref } from './pid.js';
import type { CallOf, Dest, ReplyOf, CastOf } from './protocol.js';
import {
  ActorError,
  InvalidArgumentError,
  NoProcError,
  checkExitReason,
  toExitReason,
  type ExitReason,
} from './reasons.js';
import type { ActorSystem, SpawnOptions, ProcessHandler } from './system.js';
import type { TimerRef } from './timers.js';

/**
 * Process status, as an explicit union.
 * - `waiting`: alive, mailbox empty, nothing to do;
 * - `runnable`: has messages and sits in the run queue;
 * - `running`: a handler is executing right now (synchronously);
 * - `suspended`: an async handler is pending; messages keep queueing;
 * - `exiting`: running its `terminate` callback;
 * - `dead`: exited.
 */
export type ProcessStatus = 'waiting' | 'runnable' | 'running' | 'suspended' | 'exiting' | 'dead';

export const S_WAITING = 0;
export const S_RUNNABLE = 1;
export const S_RUNNING = 2;
export const S_SUSPENDED = 3;
export const S_EXITING = 4;
export const S_DEAD = 5;

const STATUS_NAMES: readonly ProcessStatus[] = [
  'waiting',
  'runnable',
  'running',
  'suspended',
  'exiting',
  'dead',
];

export function statusName(code: number): ProcessStatus {
  return STATUS_NAMES[code] ?? 'dead';
}

/** Scheduling priority of a process (see `SpawnOptions.priority`). */
export type Priority = 'high' | 'normal' | 'low';
export const P_HIGH = 0;
export const P_NORMAL = 1;
export const P_LOW = 2;

/** What a bounded mailbox does with a message that finds it full. */
export type OverflowPolicy = 'reject' | 'drop_newest' | 'drop_oldest' | 'crash';

/**
 * How a process's logic reads its mailbox. The scheduler calls `handle` for
 * each entry; a returned promise suspends the process until it settles.
 * @internal
 */
export interface ProcessLogic {
  handle(proc: Proc, kind: number, payload: unknown): unknown;
  /**
   * The process is stopping in an orderly way, or its handler crashed: run
   * any cleanup (`terminate`) before it dies. May return a promise. Not
   * called for untrappable kills or untrapped exit signals.
   */
  terminate(proc: Proc, reason: ExitReason): unknown;
  /** A redactable view of the state for crash reports. */
  describeState(proc: Proc): unknown;
}

/**
 * Thrown by `ctx.exit(reason)` to end the calling process with `reason`; the
 * runtime catches it. Not an error: do not catch it in handlers.
 */
export class ExitSignal {
  constructor(readonly reason: ExitReason) {}
}

/** The exit reason of what a handler threw: `ctx.exit`'s reason, or the thrown value as a crash. */
export function thrownReason(thrown: unknown): ExitReason {
  return thrown instanceof ExitSignal ? thrown.reason : toExitReason(thrown);
}

/**
 * What a handler gets as its context: the process's own identity and the
 * operations that act on behalf of this process (links, monitors and exit
 * signals need to know who is asking).
 *
 * After the process has exited (an async handler can outlive a kill, and
 * `stop` ends the process before its handler returns), its context acts no
 * more: `send`, `cast`, `link`, `monitor` and exit signals do nothing, `call`
 * and `sendRequest` reject with `NoProcError` naming this process, and
 * `spawn`, `spawnLink` and timers throw `ActorError('process_exited')`.
 */
export interface Context {
  /** This process's pid. */
  readonly self: Pid;
  /** The system this process runs in. */
  readonly system: ActorSystem;

  /** Sends `message` to `dest`'s mailbox. A dead pid is a no-op; an unknown name throws `NoProcError`. */
  send(dest: Dest, message: unknown): void;
  /** Casts to a server: fire-and-forget; never fails for a dead or unknown target. */
  cast<P>(dest: Dest<P>, message: CastOf<P>): void;
  /** Calls a server and waits for its reply (default timeout 5000 ms; `Infinity` allowed). */
  call<P, Q extends CallOf<P>>(
    dest: Dest<P>,
    request: Q,
    timeoutMs?: number,
  ): Promise<ReplyOf<P, Q>>;

  /** Sends a call without waiting (see `ActorSystem.sendRequest`). */
  sendRequest<P, Q extends CallOf<P>>(dest: Dest<P>, request: Q): RequestId<ReplyOf<P, Q>>;
  /** Waits for a response to `sendRequest` (see `ActorSystem.receiveResponse`). */
  receiveResponse<R>(requestId: RequestId<R>, timeoutMs?: number): Promise<R>;

  /** Spawns an unlinked process. */
  spawn(handler: ProcessHandler, options?: SpawnOptions): Pid;
  /** Spawns a process linked to this one (atomically: the link exists before it runs). */
  spawnLink(handler: ProcessHandler, options?: SpawnOptions): Pid;

  /**
   * Links this process to `pid` (bidirectional). Linking to a dead or
   * unknown pid delivers an exit signal with reason `noproc` to this process:
   * an EXIT message if it traps exits, otherwise it dies.
   */
  link(pid: Pid): void;
  /** Removes a link; no-op if none. */
  unlink(pid: Pid): void;
  /**
   * Monitors `dest`: exactly one DOWN message arrives when it exits, or at
   * once with reason `noproc` if it is not alive.
   */
  monitor(dest: Dest): Ref;
  /** Removes a monitor; with `flush`, also drops its DOWN message if already queued. Returns whether it was active. */
  demonitor(ref: Ref, options?: { flush?: boolean }): boolean;

  /**
   * Stops this process in an orderly way with `reason` (default `normal`):
   * a server's `terminate` runs and the process exits; nothing more is
   * delivered to it. Unlike `exit(reason)` it does not throw: the rest of the
   * current handler still runs, but its result is ignored and, once the
   * process is gone, its context acts no more (so send first, then stop).
   * The cheap way for a plain process to finish.
   */
  stop(reason?: ExitReason): void;
  /** Ends this process with `reason` at once (throws an `ExitSignal` the runtime catches). */
  exit(reason: ExitReason): never;
  /** Sends an exit signal with `reason` to `pid` (see `ExitReason` for what each does). */
  exit(pid: Pid, reason: ExitReason): void;

  /** Sets whether exit signals become EXIT messages; returns the previous setting. */
  trapExit(flag: boolean): boolean;
  /** Sets this process's scheduling priority (see `SpawnOptions.priority`); returns the previous one. */
  setPriority(priority: Priority): Priority;
  /**
   * Counts `count` more messages of work toward the scheduler's budgets, as
   * `erlang:bump_reductions/1` does: a handler that just did the work of
   * many messages (a batch) lets other processes, and then the event loop,
   * have their turn as soon as that much work would have. An integer >= 0.
   * It counts when called from the handler of the message being handled,
   * before its first `await`; anywhere else (after an `await`, from another
   * process's code, after the process exited) it does nothing, so a bump is
   * never charged to another process.
   */
  bumpReductions(count: number): void;
  /** Registers this process under a local name in its system. */
  register(name: string): void;
  /** Removes a local name this process holds. */
  unregister(name: string): void;

  /** Sends `message` to `dest` after `ms` milliseconds; the timer dies with this process. */
  sendAfter(dest: Dest, message: unknown, ms: number): TimerRef;
  /** Sends `message` to `dest` every `ms` milliseconds until cancelled or this process exits. */
  sendInterval(dest: Dest, message: unknown, ms: number): TimerRef;
  /** Cancels a timer: returns the ms that were left, or false if it had fired or was cancelled. */
  cancelTimer(timer: TimerRef): number | false;
}

/**
 * A live process. It implements `Context` itself so that a process costs one
 * object, not two; handlers only ever see it typed as `Context`.
 * @internal
 */
export class Proc implements Context {
  status = S_WAITING;
  trapExits = false;
  priority = P_NORMAL;
  readonly mailbox: Mailbox;
  /** 0: unbounded. */
  capacity = 0;
  overflow: OverflowPolicy = 'reject';
  links: Set<Pid> | null = null;
  /** Monitors this process holds: ref -> monitored pid. */
  monitors: Map<Ref, Pid> | null = null;
  /** Monitors on this process: ref -> watcher pid. */
  watchers: Map<Ref, Pid> | null = null;
  /** The local name registered in its system, if any. */
  name: string | null = null;
  exitHooks: ((reason: ExitReason) => void)[] | null = null;
  timers: Set<TimerRef> | null = null;
  /** Head of the intrusive list of calls waiting on this process. */
  inflight: From | null = null;
  parent: Pid | null = null;
  /** A runtime helper (a watcher), not a root for `shutdown`. */
  internal = false;
  /** The message being handled (for crash reports). */
  current: unknown = undefined;
  handled = 0;
  dropped = 0;
  reason: ExitReason | null = null;

  constructor(
    readonly system: ActorSystem,
    readonly self: Pid,
    public logic: ProcessLogic,
  ) {
    this.mailbox = new Mailbox();
  }

  send(dest: Dest, message: unknown): void {
    if (this.status !== S_DEAD) this.system.send(dest, message);
  }

  cast<P>(dest: Dest<P>, message: CastOf<P>): void {
    if (this.status !== S_DEAD) this.system.cast(dest, message);
  }

  call<P, Q extends CallOf<P>>(
    dest: Dest<P>,
    request: Q,
    timeoutMs = 5000,
  ): Promise<ReplyOf<P, Q>> {
    if (this.status === S_DEAD) return Promise.reject(new NoProcError(this.self.toString()));
    return this.system.callFrom(this, dest, request, timeoutMs) as Promise<ReplyOf<P, Q>>;
  }

  sendRequest<P, Q extends CallOf<P>>(dest: Dest<P>, request: Q): RequestId<ReplyOf<P, Q>> {
    if (this.status === S_DEAD) {
      return new RequestIdClass(null, Promise.reject(new NoProcError(this.self.toString())));
    }
    return this.system.request(this, dest, request, Infinity) as RequestId<ReplyOf<P, Q>>;
  }

  receiveResponse<R>(requestId: RequestId<R>, timeoutMs = 5000): Promise<R> {
    return this.system.receiveResponse(requestId, timeoutMs);
  }

  spawn(handler: ProcessHandler, options?: SpawnOptions): Pid {
    this.checkAlive('spawn');
    return this.system.spawn(handler, options);
  }

  spawnLink(handler: ProcessHandler, options?: SpawnOptions): Pid {
    this.checkAlive('spawnLink');
    // As proc_lib's spawn_link: the linking process is the parent, so
    // `shutdown` stops it with its parent's tree, not as a root of its own.
    return this.system.spawnChild(handler, { ...options, link: this.self }, this.self);
  }

  /** Spawning has a result to return, so after exit it throws rather than doing nothing. */
  private checkAlive(operation: string): void {
    if (this.status === S_DEAD) {
      throw new ActorError('process_exited', `${this.self} has exited; it cannot ${operation}`);
    }
  }

  link(pid: Pid): void {
    this.system.link(this, pid);
  }

  unlink(pid: Pid): void {
    this.system.unlink(this, pid);
  }

  monitor(dest: Dest): Ref {
    return this.system.monitorFrom(this, dest);
  }

  demonitor(ref: Ref, options?: { flush?: boolean }): boolean {
    return this.system.demonitor(this, ref, options?.flush === true);
  }

  stop(reason: ExitReason = 'normal'): void {
    this.system.stopProcess(this, checkExitReason(reason, 'ctx.stop'));
  }

  exit(reason: ExitReason): never;
  exit(pid: Pid, reason: ExitReason): void;
  exit(pidOrReason: Pid | ExitReason, reason?: ExitReason): void {
    if (reason === undefined) throw new ExitSignal(checkExitReason(pidOrReason, 'ctx.exit'));
    if (this.status !== S_DEAD) this.system.exitSignal(this.self, pidOrReason as Pid, reason);
  }

  trapExit(flag: boolean): boolean {
    if (typeof flag !== 'boolean') {
      throw new InvalidArgumentError(`trapExit expects a boolean, got ${String(flag)}`);
    }
    const previous = this.trapExits;
    this.trapExits = flag;
    return previous;
  }

  setPriority(priority: Priority): Priority {
    return this.system.setPriority(this.self, priority);
  }

  bumpReductions(count: number): void {
    this.system.bumpReductions(this, count);
  }

  register(name: string): void {
    this.system.register(name, this.self);
  }

  unregister(name: string): void {
    if (this.name === name) this.system.unregister(name);
  }

  sendAfter(dest: Dest, message: unknown, ms: number): TimerRef {
    this.checkAlive('start a timer');
    return this.system.timers.start(this, dest, message, ms, false);
  }

  sendInterval(dest: Dest, message: unknown, ms: number): TimerRef {
    this.checkAlive('start a timer');
    return this.system.timers.start(this, dest, message, ms, true);
  }

  cancelTimer(timer: TimerRef): number | false {
    return this.system.timers.cancel(timer);
  }

  /** Queues an info message on this process (used by the runtime for DOWN/EXIT). */
  deliverInfo(message: unknown): void {
    this.system.deliver(this, KIND_INFO, message);
  }

  addExitHook(hook: (reason: ExitReason) => void): void {
    (this.exitHooks ??= []).push(hook);
  }

  removeExitHook(hook: (reason: ExitReason) => void): void {
    const hooks = this.exitHooks;
    if (hooks === null) return;
    const i = hooks.indexOf(hook);
    if (i >= 0) hooks.splice(i, 1);
    if (hooks.length === 0) this.exitHooks = null;
  }
}
