import {
  Deadlines,
  From,
  RequestId,
  armCallTimer,
  rejectInflight,
  settleError,
  trackCall,
} from './call.js';
import { systemClock, type Clock } from './clock.js';
import { describeDest, describeValue } from './describe.js';
import {
  DownMessage,
  ExitMessage,
  KIND_CALL,
  KIND_INFO,
  KIND_CAST,
  KIND_STOP,
} from './messages.js';
import {
  guardLogger,
  guardTelemetry,
  nullLogger,
  type Logger,
  type TelemetryHook,
} from './observability.js';
import type { Ref } from './pid.js';
import { Pid, localNode, makeRef, nextSerial } from './pid.js';
import {
  Proc,
  S_DEAD,
  S_EXITING,
  S_RUNNABLE,
  S_RUNNING,
  thrownReason,
  S_SUSPENDED,
  S_WAITING,
  statusName,
  type Context,
  type OverflowPolicy,
  type ProcessLogic,
  type ProcessStatus,
  type Priority,
  P_HIGH,
  P_LOW,
  P_NORMAL,
} from './process.js';
import {
  isRemoteName,
  type CallOf,
  type CastOf,
  type Dest,
  type ReplyOf,
  type Via,
} from './protocol.js';
import type { WireTarget } from './threads/protocol.js';
import type { Router } from './threads/router.js';
import {
  CallSelfError,
  CallTimeoutError,
  InvalidArgumentError,
  MailboxFullError,
  NameTakenError,
  NoProcError,
  isAbnormalExit,
  checkExitReason,
  checkTimeout,
  sameExitReason,
  UnexpectedExitError,
  ActorError,
  type ExitReason,
} from './reasons.js';
import { RunQueue } from './run-queue.js';
import { Timers, type TimerRef } from './timers.js';

/** Options of an `ActorSystem`. Every field is optional. */
export interface SystemOptions {
  /** Source of time for timeouts and timers. Default: the real clock. Tests pass a `SimulatedClock`. */
  clock?: Clock;
  /** Receives structured records (crash reports, supervisor reports). Default: discards them. */
  logger?: Logger;
  /** Receives telemetry events (spawn, exit, restart, call timeout, overflow). Default: none. */
  telemetry?: TelemetryHook;
  /**
   * Messages one process may handle before the scheduler moves on to the next
   * runnable process (BEAM's reductions). Default 256; range 1..1,000,000.
   */
  processBudget?: number;
  /**
   * Messages handled in one scheduler turn before it yields to the event loop
   * so that timers and I/O run. Default 8192; range 1..10,000,000.
   */
  turnBudget?: number;
  /**
   * Record the stack of every `call` so that a call failing later (timeout,
   * server exit) shows where it was made. Costs about 2 us per call, so it
   * is off by default; turn it on while debugging.
   */
  callerStacks?: boolean;
}

/** Options for `spawn`. */
export interface SpawnOptions {
  /** Registers the process under this local name; spawning fails with `NameTakenError` if taken. */
  name?: string;
  /** Start with exit trapping on (exit signals arrive as `ExitMessage`s). Default false. */
  trapExit?: boolean;
  /** Link the new process to this pid before it runs. */
  link?: Pid;
  /**
   * Bound the mailbox. `capacity` counts queued messages (>= 1); `overflow`
   * (default `'reject'`) says what a message that finds it full does:
   * - `reject`: the sender's `send`/`cast` throws `MailboxFullError`, a `call` rejects with it;
   * - `drop_newest`: the new message is discarded (a call rejects with `MailboxFullError`);
   * - `drop_oldest`: the oldest queued message is discarded to make room;
   * - `crash`: the process is ended at once with a `MailboxFullError`
   *   reason, as a kill would end it: its `terminate` does not run (it may
   *   be in the middle of a handler).
   * Drops are counted in `processInfo(pid).messagesDropped`. Runtime entries
   * (DOWN, EXIT, stop requests) are never refused nor dropped, and do not
   * count against `capacity`.
   */
  mailbox?: { capacity: number; overflow?: OverflowPolicy };
  /**
   * Scheduling priority (as Erlang's `process_flag(priority, ...)`). Default
   * `normal`. `high` processes run before all others: while one is runnable,
   * normal and low ones wait (as in Erlang: keep high work short); `low` ones run when
   * normal and high work is done, after the promise reactions that work
   * caused have settled (so a burst reaches them in one activation). While
   * normal work keeps coming they still get a round after every eight rounds
   * of the normal run queue (and at least 64 messages of it): a busy low
   * process gets about an eighth of what a busy normal one gets, and none
   * starves.
   */
  priority?: Priority;
}

/** A plain process: handles each message it receives, one at a time. */
export type ProcessHandler = (message: unknown, ctx: Context) => void | PromiseLike<unknown>;

/** A snapshot of one process, as returned by `processInfo`. */
export interface ProcessInfo {
  pid: Pid;
  status: ProcessStatus;
  /** Its local name in this system, or null. Registry keys are not listed. */
  registeredName: string | null;
  /** Entries queued now (runtime messages included). */
  mailboxLength: number;
  /** The bound of its mailbox, or null when unbounded. */
  mailboxCapacity: number | null;
  trapExit: boolean;
  /** Linked processes, of this thread or others. */
  links: Pid[];
  /** Processes this one monitors. */
  monitors: Pid[];
  /** Processes monitoring this one. */
  monitoredBy: Pid[];
  /**
   * The process that started it: set for servers, supervisors, tasks and
   * registry owners started from a process context; null for a plain
   * `spawn` and for anything started from the system (a root).
   */
  parent: Pid | null;
  /** Mailbox entries handled so far (messages, calls, casts, runtime entries). */
  messagesHandled: number;
  /** Messages refused or discarded by its mailbox bound (see `SpawnOptions.mailbox`). */
  messagesDropped: number;
}

const RESOLVED = Promise.resolve();

/** The largest `processBudget` and `turnBudget` a system takes (thread nodes check them too). @internal */
export const MAX_PROCESS_BUDGET = 1_000_000;
/** @internal */
export const MAX_TURN_BUDGET = 10_000_000;

/** Messages of other work after which waiting low-priority processes get a round, at least. */
const LOW_INTERLEAVE = 64;
/** Rounds of the normal run queue between two rounds of the low one while both are busy. */
const LOW_SHARE = 8;
/** Consecutive deferrals of the low-priority processes before they run anyway. */
const MAX_LOW_DEFERRALS = 64;
/** Low-priority processes waiting below which they run at once instead of being deferred. */
const LOW_BATCH_MIN = 8;

const PRIORITIES: ReadonlyMap<unknown, number> = new Map([
  ['high', P_HIGH],
  ['normal', P_NORMAL],
  ['low', P_LOW],
]);
const PRIORITY_NAMES: readonly Priority[] = ['high', 'normal', 'low'];

const OVERFLOW_POLICIES: readonly OverflowPolicy[] = [
  'reject',
  'drop_newest',
  'drop_oldest',
  'crash',
];

class FnLogic implements ProcessLogic {
  constructor(private readonly fn: ProcessHandler) {}

  handle(proc: Proc, kind: number, payload: unknown): unknown {
    if (kind === KIND_STOP) {
      proc.system.stopProcess(proc, payload as ExitReason);
      return undefined;
    }
    return this.fn(payload, proc);
  }

  terminate(): undefined {
    return undefined;
  }

  describeState(): undefined {
    return undefined;
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    typeof value === 'object' &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

function checkBudget(
  name: string,
  value: number | undefined,
  fallback: number,
  max: number,
): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw new InvalidArgumentError(
      `options.${name} must be an integer in 1..${max}, got ${String(value)}`,
    );
  }
  return value;
}

/**
 * A node of processes on one thread, with its scheduler.
 *
 * Scheduling is cooperative and fair: a run queue of processes that have
 * messages; each gets up to `processBudget` messages per visit, and after
 * `turnBudget` messages in a turn the scheduler yields to the event loop
 * (`setImmediate`), so timers and I/O are never starved by a busy actor. An
 * idle scheduler wakes on a microtask, which keeps latency low.
 */
export class ActorSystem {
  readonly clock: Clock;
  readonly logger: Logger;
  /** Records and events that a throwing logger or telemetry hook failed to take. */
  readonly hookFailures = { count: 0 };
  /** The node (thread) this system runs on: 0 on the main thread. */
  readonly node: number = localNode;
  /** @internal */ readonly telemetry: TelemetryHook | null;
  /** @internal */ readonly timers: Timers;

  private readonly processBudget: number;
  private readonly callerStacks: boolean;
  private readonly turnBudget: number;
  private readonly procs = new Map<number, Proc>();
  private readonly names = new Map<string, Proc>();
  private readonly runQueue = new RunQueue<Proc>();
  private readonly highQueue = new RunQueue<Proc>();
  private readonly lowQueue = new RunQueue<Proc>();
  /** Whether normal or high work ran since the low queue last had its turn. */
  private workSinceLow = false;
  private lowDeferred = false;
  private lowDeferrals = 0;
  /** Messages of normal work since the low queue last had a round. */
  private sinceLow = 0;
  /** Rounds of the normal run queue since the low queue last had a round. */
  private cycles = 0;
  /** Slices left in the current round of the normal run queue (see `lowRound`). */
  private cycleLeft = 1;
  private scheduled = false;
  private sinceYield = 0;
  private dying: (Proc | ExitReason)[] = [];
  private finalizing = false;
  private stopped = false;
  private router: Router | null = null;
  private readonly deadlineLists = new Map<number, Deadlines>();
  private readonly remoteHooks = new Map<Ref, (reason: ExitReason) => void>();
  private readonly shutdownHooks: ((timeoutMs: number) => Promise<void> | void)[] = [];
  private watcherProc: Proc | null = null;
  private lastDeadlines: Deadlines | null = null;

  constructor(options: SystemOptions = {}) {
    checkSystemOptions(options);
    this.clock = options.clock ?? systemClock;
    // A logger or telemetry hook that throws must not break an exit or a
    // spawn half way: both are guarded, and their failures counted.
    this.logger = guardLogger(options.logger ?? nullLogger, this.hookFailures);
    this.telemetry =
      options.telemetry === undefined
        ? null
        : guardTelemetry(options.telemetry, this.logger, this.hookFailures);
    this.processBudget = checkBudget(
      'processBudget',
      options.processBudget,
      256,
      MAX_PROCESS_BUDGET,
    );
    this.turnBudget = checkBudget('turnBudget', options.turnBudget, 8192, MAX_TURN_BUDGET);
    this.callerStacks = options.callerStacks === true;
    this.timers = new Timers(this);
  }

  // ---------------------------------------------------------------- spawning

  /** Spawns a process that runs `handler` for each message it receives. */
  spawn(handler: ProcessHandler, options: SpawnOptions = {}): Pid {
    // (options are checked, from one table, by spawnLogic)
    if (typeof handler !== 'function') {
      throw new InvalidArgumentError(
        `spawn expects a handler function, got ${describeValue(handler)}`,
      );
    }
    return this.spawnLogic(new FnLogic(handler), options);
  }

  /** Spawns a process whose parent is `parent` (see `Context.spawnLink`). @internal */
  spawnChild(handler: ProcessHandler, options: SpawnOptions, parent: Pid): Pid {
    if (typeof handler !== 'function') {
      throw new InvalidArgumentError(
        `spawn expects a handler function, got ${describeValue(handler)}`,
      );
    }
    return this.spawnLogic(new FnLogic(handler), options, undefined, parent);
  }

  /**
   * Spawns a process running `logic`. With `init`, the first mailbox entry is
   * `(init.kind, init.payload)`, handled before anything else. Every check
   * happens before the process exists, so a refused spawn leaves nothing.
   * @internal
   */
  spawnLogic(
    logic: ProcessLogic,
    options: SpawnOptions,
    init?: { kind: number; payload: unknown },
    parent?: Pid,
  ): Pid {
    if (this.stopped) throw new ActorError('system_stopped', 'the actor system has been shut down');
    checkSpawnOptions(options);
    const { name, link, mailbox, trapExit, priority } = options;
    if (name !== undefined) this.checkNameFree(name);
    // A pid of another thread is linked once the process exists (the other
    // node answers with an exit signal if its process is gone).
    const remoteLink = link !== undefined && link.node !== localNode && link._proc === null;
    const linkTo = link === undefined || remoteLink ? null : this.liveProc(link, 'link');
    if (mailbox !== undefined) checkMailboxOptions(mailbox);

    const pid = new Pid(localNode, nextSerial(), null);
    const proc = new Proc(this, pid, logic);
    pid._proc = proc;
    this.procs.set(pid.id, proc);
    if (name !== undefined) {
      this.names.set(name, proc);
      proc.name = name;
    }
    if (trapExit === true) proc.trapExits = true;
    if (priority !== undefined) proc.priority = PRIORITIES.get(priority)!;
    if (mailbox !== undefined) {
      proc.capacity = mailbox.capacity;
      proc.overflow = mailbox.overflow ?? 'reject';
    }
    if (parent !== undefined) proc.parent = parent;
    if (linkTo !== null) this.addLink(proc, linkTo);
    else if (remoteLink) this.link(proc, link);
    if (init !== undefined) this.deliverSystem(proc, init.kind, init.payload);
    this.telemetry?.({ type: 'spawn', pid });
    return pid;
  }

  // ---------------------------------------------------------------- messaging

  /**
   * Sends `message` to `dest`'s mailbox. Sending to a pid that has exited is a
   * silent no-op (as in OTP); sending to a name nobody holds throws
   * `NoProcError`, since that is almost always a mistake.
   */
  send(dest: Dest, message: unknown): void {
    if (dest instanceof Pid) {
      const proc = dest._proc;
      if (proc !== null) this.deliver(proc, KIND_INFO, message);
      else if (dest.node !== localNode) this.router?.send(dest, KIND_INFO, message);
      return;
    }
    const proc = this.resolve(dest);
    if (proc !== null) this.deliver(proc, KIND_INFO, message);
    else if (!this.sendRemote(dest, KIND_INFO, message) && !(dest instanceof Pid)) {
      throw new NoProcError(describeDest(dest));
    }
  }

  /**
   * Hands a message for another node to the router. Returns whether `dest`
   * named another node (whether or not that node is still connected: sending
   * to a process that is gone is a no-op, as locally).
   */
  private sendRemote(dest: Dest, kind: number, message: unknown): boolean {
    const router = this.router;
    if (router === null) return false;
    if (dest instanceof Pid) {
      if (dest.node === localNode) return false;
      router.send(dest, kind, message);
      return true;
    }
    const remote = this.remoteTarget(dest);
    if (remote === null) return false;
    if (typeof remote.to === 'number') {
      router.send(router.pid(remote.node, remote.to), kind, message);
    } else {
      router.sendNamed(remote.node, remote.to.name, kind, message);
    }
    return true;
  }

  /** Like `send`, but never throws: for timers and runtime notices. @internal */
  sendQuietly(dest: Dest, message: unknown): void {
    try {
      const proc = this.resolve(dest);
      if (proc !== null) this.deliver(proc, KIND_INFO, message);
      else this.sendRemote(dest, KIND_INFO, message);
    } catch {
      // A name service that cannot answer, a full mailbox with the `reject`
      // policy (the drop is counted), or a message that cannot cross to
      // another thread: a timer or runtime notice has no sender to tell.
    }
  }

  /** Casts `message` to a server. Never fails for a dead or unknown target. */
  cast<P>(dest: Dest<P>, message: CastOf<P>): void {
    if (dest instanceof Pid) {
      const proc = dest._proc;
      if (proc !== null) this.deliver(proc, KIND_CAST, message);
      else if (dest.node !== localNode) this.router?.send(dest, KIND_CAST, message);
      return;
    }
    let proc: Proc | null;
    try {
      proc = this.resolve(dest);
    } catch (error) {
      // A name service that cannot answer (a registry that is not running)
      // must not make a cast fail; an invalid destination still does.
      if (error instanceof InvalidArgumentError) throw error;
      return;
    }
    if (proc !== null) this.deliver(proc, KIND_CAST, message);
    else this.sendRemote(dest, KIND_CAST, message);
  }

  /**
   * Calls a server from outside any process and waits for the reply.
   * Rejects with `CallTimeoutError` after `timeoutMs` (default 5000;
   * `Infinity` waits forever), with `NoProcError` at once if the server is not
   * alive, and with `CallExitError` (carrying the server's exit reason) as
   * soon as the server exits without replying.
   */
  call<P, Q extends CallOf<P>>(
    dest: Dest<P>,
    request: Q,
    timeoutMs = 5000,
  ): Promise<ReplyOf<P, Q>> {
    return this.callFrom(null, dest, request, timeoutMs) as Promise<ReplyOf<P, Q>>;
  }

  /** @internal */
  callFrom(caller: Proc | null, dest: Dest, request: unknown, timeoutMs: number): Promise<unknown> {
    let server: Proc | null;
    try {
      server = this.resolve(dest);
    } catch (error) {
      return Promise.reject(error);
    }
    // The common case goes straight to the server; everything else (errors,
    // other threads) takes the general path.
    if (
      server !== null &&
      server !== caller &&
      server !== this.running &&
      server.status !== S_DEAD &&
      typeof timeoutMs === 'number' &&
      timeoutMs >= 0
    ) {
      const from = new From(caller === null ? null : caller.self, request, server, dest);
      return this.enqueueCall(from, server, timeoutMs, caller);
    }
    return this.request(caller, dest, request, timeoutMs).promise;
  }

  /**
   * Sends a call request without waiting: several requests can be in flight
   * at once and their responses collected in any order with
   * `receiveResponse`. The request has no timeout of its own.
   */
  sendRequest<P, Q extends CallOf<P>>(dest: Dest<P>, request: Q): RequestId<ReplyOf<P, Q>> {
    return this.request(null, dest, request, Infinity) as RequestId<ReplyOf<P, Q>>;
  }

  /**
   * Waits for the response to `sendRequest`. Rejects like `call`; after
   * `timeoutMs` (default 5000) it rejects with `CallTimeoutError` and the
   * request is abandoned: a reply that comes later is discarded.
   */
  receiveResponse<R>(requestId: RequestId<R>, timeoutMs = 5000): Promise<R> {
    try {
      if (!(requestId instanceof RequestId)) {
        throw new InvalidArgumentError(
          `receiveResponse expects what sendRequest returned, got ${describeValue(requestId)}`,
        );
      }
      checkTimeout(timeoutMs, 'receiveResponse');
    } catch (error) {
      return Promise.reject(error);
    }
    const { from, promise } = requestId;
    if (timeoutMs === Infinity || from === null || from.done) return promise;
    const timer = this.clock.setTimeout(
      (f: From) => {
        if (settleError(f, new CallTimeoutError(f.target, timeoutMs)))
          this.timedOut(f.target, timeoutMs);
      },
      timeoutMs,
      from,
    );
    return promise.finally(() => this.clock.clearTimeout(timer));
  }

  /** @internal */
  request(
    caller: Proc | null,
    dest: Dest,
    request: unknown,
    timeoutMs: number,
  ): RequestId<unknown> {
    let server: Proc | null;
    let remote: { node: number; to: WireTarget } | null;
    try {
      server = this.resolve(dest);
      remote = server === null ? this.remoteTarget(dest) : null;
    } catch (error) {
      return new RequestId(null, Promise.reject(error));
    }
    if (server === null || server.status === S_DEAD) {
      if (remote !== null) return this.remoteRequest(caller, dest, remote, request, timeoutMs);
      return new RequestId(null, Promise.reject(new NoProcError(describeDest(dest))));
    }
    // `system.call` from a process's own handler has no caller but is one.
    if (server === caller || server === this.running) {
      return new RequestId(null, Promise.reject(new CallSelfError(describeDest(dest))));
    }
    if (typeof timeoutMs !== 'number' || !(timeoutMs >= 0)) {
      const error = new InvalidArgumentError(
        `call timeout must be a number >= 0 or Infinity, got ${String(timeoutMs)}`,
      );
      return new RequestId(null, Promise.reject(error));
    }
    const from = new From(caller === null ? null : caller.self, request, server, dest);
    return new RequestId(from, this.enqueueCall(from, server, timeoutMs, caller));
  }

  private enqueueCall(
    from: From,
    server: Proc,
    timeoutMs: number,
    caller: Proc | null,
  ): Promise<unknown> {
    if (this.callerStacks) {
      const site: { stack?: string } = {};
      Error.captureStackTrace(site, caller === null ? this.call : caller.call);
      from.site = site;
    }
    const promise = new Promise<unknown>((resolve, reject) => {
      from.resolve = resolve;
      from.reject = reject;
    });
    trackCall(server, from);
    if (timeoutMs !== Infinity) armCallTimer(from, this.deadlinesFor(timeoutMs));
    this.deliver(server, KIND_CALL, from);
    return promise;
  }

  /** The timeout list for calls with `timeoutMs` (the default 5000 is cached). */
  private deadlinesFor(timeoutMs: number): Deadlines {
    const last = this.lastDeadlines;
    if (last !== null && last.ms === timeoutMs) return last;
    let list = this.deadlineLists.get(timeoutMs);
    if (list === undefined) {
      list = new Deadlines(this.clock, timeoutMs, this.timedOut, this.deadlinesIdle);
      this.deadlineLists.set(timeoutMs, list);
    }
    this.lastDeadlines = list;
    return list;
  }

  /** The node and target of a destination on another node, or null. */
  private remoteTarget(dest: Dest): { node: number; to: WireTarget } | null {
    if (this.router === null) return null;
    if (dest instanceof Pid) {
      return dest.node === localNode ? null : { node: dest.node, to: dest.id };
    }
    if (dest !== null && typeof dest === 'object' && 'via' in dest) {
      const pid = whereVia(dest);
      return pid === undefined || pid.node === localNode ? null : { node: pid.node, to: pid.id };
    }
    if (isRemoteName(dest) && dest.node !== localNode) {
      return { node: dest.node, to: { name: dest.name } };
    }
    return null;
  }

  private remoteRequest(
    caller: Proc | null,
    dest: Dest,
    remote: { node: number; to: WireTarget },
    request: unknown,
    timeoutMs: number,
  ): RequestId<unknown> {
    if (typeof timeoutMs !== 'number' || !(timeoutMs >= 0)) {
      const error = new InvalidArgumentError(
        `call timeout must be a number >= 0 or Infinity, got ${String(timeoutMs)}`,
      );
      return new RequestId(null, Promise.reject(error));
    }
    const from = new From(caller === null ? null : caller.self, request, null, dest);
    const promise = new Promise<unknown>((resolve, reject) => {
      from.resolve = resolve;
      from.reject = reject;
    });
    if (timeoutMs !== Infinity) armCallTimer(from, this.deadlinesFor(timeoutMs));
    try {
      this.router!.call(from, remote.node, remote.to);
    } catch (error) {
      settleError(from, error);
    }
    return new RequestId(from, promise);
  }

  /**
   * Queues an entry on a process and makes it runnable. Returns false if it
   * was not queued (dead process, or dropped by the overflow policy).
   * @internal
   */
  deliver(proc: Proc, kind: number, payload: unknown): boolean {
    const status = proc.status;
    if (status === S_DEAD) return false;
    // Runtime entries queued do not count against the bound.
    const mailbox = proc.mailbox;
    if (proc.capacity !== 0 && mailbox.length - mailbox.runtime >= proc.capacity) {
      if (!this.overflow(proc, kind, payload)) return false;
    }
    mailbox.push(kind, payload);
    if (status === S_WAITING) {
      proc.status = S_RUNNABLE;
      this.enqueue(proc);
      if (!this.scheduled) this.wake();
    }
    return true;
  }

  /** Queues a runtime entry, never subject to the mailbox bound. @internal */
  deliverSystem(proc: Proc, kind: number, payload: unknown): void {
    if (proc.status === S_DEAD) return;
    proc.mailbox.pushRuntime(kind, payload);
    if (proc.status === S_WAITING) {
      proc.status = S_RUNNABLE;
      this.enqueue(proc);
      if (!this.scheduled) this.wake();
    }
  }

  /** Applies the overflow policy; returns true if the new message should still be queued. */
  private overflow(proc: Proc, kind: number, payload: unknown): boolean {
    const policy = proc.overflow;
    const target = proc.self.toString();
    proc.dropped++;
    this.telemetry?.({ type: 'mailbox_overflow', pid: proc.self, policy });
    const full = new MailboxFullError(target, proc.capacity);
    switch (policy) {
      case 'drop_oldest': {
        // The oldest message, never a runtime entry (DOWN, EXIT, stop).
        const mailbox = proc.mailbox;
        const oldPayload = mailbox.takeOldestOrdinary();
        if (mailbox.takenKind === KIND_CALL) settleError(oldPayload as From, full);
        return true;
      }
      case 'crash':
        this.logger.warn({
          label: 'mailbox_overflow',
          pid: target,
          policy,
          capacity: proc.capacity,
        });
        if (kind === KIND_CALL) settleError(payload as From, full);
        // Ended at once, as a kill would (its terminate does not run): a
        // process this far behind may be stuck in a handler, and its
        // terminate must never run alongside that handler or in a sender.
        this.kill(proc, full);
        return false;
      case 'drop_newest':
        if (kind === KIND_CALL) settleError(payload as From, full);
        return false;
      case 'reject':
        if (kind === KIND_CALL) {
          settleError(payload as From, full);
          return false;
        }
        throw full;
    }
  }

  // ---------------------------------------------------------------- scheduler

  private wake(): void {
    this.scheduled = true;
    // A reaction on a settled promise is the cheapest microtask (Node's
    // queueMicrotask also allocates an async resource per call).
    if (this.sinceYield < this.turnBudget) void RESOLVED.then(this.drain);
    else setImmediate(this.yielded);
  }

  private readonly yielded = (): void => {
    this.sinceYield = 0;
    this.drain();
  };

  private readonly drain = (): void => {
    const high = this.highQueue;
    const normal = this.runQueue;
    const low = this.lowQueue;
    const budget = this.turnBudget;
    let handled = 0;
    while (handled < budget) {
      if (high.length > 0) {
        // High work runs before everything else, low included (as in Erlang).
        const proc = high.shift();
        if (proc.status === S_RUNNABLE) handled += this.runSlice(proc);
        this.workSinceLow = true;
        continue;
      }
      if (normal.length === 0) break;
      const proc = normal.shift();
      if (proc.status !== S_RUNNABLE) continue;
      const n = this.runSlice(proc);
      handled += n;
      this.workSinceLow = true;
      if (--this.cycleLeft <= 0) {
        this.cycles++;
        this.cycleLeft = Math.max(1, normal.length);
      }
      // Low-priority processes get a round while normal work keeps coming,
      // however that work is spread over turns (see `lowRound`).
      if ((this.sinceLow += n) >= LOW_INTERLEAVE && this.cycles >= LOW_SHARE && low.length > 0) {
        handled += this.lowRound();
      }
    }
    if (low.length > 0 && handled < budget && !this.lowDeferred) {
      if (this.shouldDeferLow()) this.deferLow();
      else handled += this.lowRound();
    }
    this.sinceYield += handled;
    this.scheduled = false;
    if (high.length > 0 || normal.length > 0 || (low.length > 0 && !this.lowDeferred)) this.wake();
  };

  /**
   * Low-priority processes wait until the work that just ran has had its
   * consequences: a reply settled by that work resumes its caller a few
   * promise reactions later, and that caller often sends more (an awaited
   * publish loop, say). Running the low-priority processes after those
   * reactions lets them handle everything in one activation instead of one
   * activation per message. At most MAX_LOW_DEFERRALS in a row, so they are
   * never starved; an idle system runs them after the reactions settle.
   */
  /**
   * Deferring pays when many low-priority processes wait (each activation
   * then handles a batch); with a few, the promise reactions of the deferral
   * cost more than the activations they save.
   */
  private shouldDeferLow(): boolean {
    return (
      this.workSinceLow &&
      this.lowDeferrals < MAX_LOW_DEFERRALS &&
      this.lowQueue.length >= LOW_BATCH_MIN
    );
  }

  private deferLow(): void {
    this.lowDeferred = true;
    this.lowDeferrals++;
    this.workSinceLow = false;
    void RESOLVED.then(this.deferredHop1);
  }

  private readonly deferredHop1 = (): void => void RESOLVED.then(this.deferredHop2);
  private readonly deferredHop2 = (): void => void RESOLVED.then(this.lowDue);

  private readonly lowDue = (): void => {
    this.lowDeferred = false;
    if (this.lowQueue.length === 0) return;
    if (this.shouldDeferLow()) {
      // More work ran meanwhile (a caller resumed and sent again): wait once more.
      this.deferLow();
      return;
    }
    // Quiet since the deferral (or deferred long enough): the low queue's turn.
    this.workSinceLow = false;
    if (!this.scheduled) this.wake();
  };

  /**
   * Gives each low-priority process waiting now one slice. While normal
   * work keeps coming, the next round is due once the normal run queue
   * has gone round LOW_SHARE times (a round: one slice for each process that
   * was queued when it began) and at least LOW_INTERLEAVE messages of that
   * work have run. So a busy low-priority process gets about 1/LOW_SHARE of
   * what a busy normal one gets, as Erlang runs a low process one time in
   * eight, however many normal processes there are; and a burst of many
   * short-lived normal processes delays the low ones by one round of the
   * queue, not more.
   */
  private lowRound(): number {
    const low = this.lowQueue;
    let handled = 0;
    for (let k = low.length; k > 0 && low.length > 0; k--) {
      const proc = low.shift();
      if (proc.status === S_RUNNABLE) handled += this.runSlice(proc);
    }
    this.lowDeferrals = 0;
    this.workSinceLow = false;
    this.sinceLow = 0;
    this.cycles = 0;
    this.cycleLeft = Math.max(1, this.runQueue.length);
    return handled;
  }

  /** Work counted by `Context.bumpReductions` since the current message began. */
  private bumped = 0;

  /** The process `runSlice` is running a handler of right now, or null. */
  private running: Proc | null = null;

  /** See `Context.bumpReductions`. @internal */
  bumpReductions(proc: Proc, count: number): void {
    if (!Number.isInteger(count) || count < 0) {
      throw new InvalidArgumentError(
        `bumpReductions expects an integer >= 0, got ${describeValue(count)}`,
      );
    }
    // Only the handler running now may charge its own slice.
    if (proc === this.running) this.bumped += count;
  }

  /**
   * Changes a process's priority (see `SpawnOptions.priority`); returns the
   * previous one. A runnable process is queued at its new priority at once,
   * so raising the priority of a process that is falling behind gets it a
   * turn ahead of the low-priority queue.
   */
  setPriority(pid: Pid, priority: Priority): Priority {
    const code = PRIORITIES.get(priority);
    if (code === undefined) {
      throw new InvalidArgumentError(
        `priority must be one of high, normal, low, got ${describeValue(priority)}`,
      );
    }
    const proc = this.liveProc(pid, 'setPriority');
    const previous = PRIORITY_NAMES[proc.priority]!;
    if (proc.priority === code) return previous;
    proc.priority = code;
    // Its entry in the old queue stays; a second visit finds nothing to do or
    // runs one more slice, both harmless.
    if (proc.status === S_RUNNABLE) {
      this.enqueue(proc);
      if (!this.scheduled) this.wake();
    }
    return previous;
  }

  /** Puts a runnable process at the back of its priority's run queue. */
  private enqueue(proc: Proc): void {
    if (proc.priority === P_NORMAL) this.runQueue.push(proc);
    else if (proc.priority === P_LOW) this.lowQueue.push(proc);
    else this.highQueue.push(proc);
  }

  /** Runs one process for up to `processBudget` messages. Returns how many it handled. */
  private runSlice(proc: Proc): number {
    proc.status = S_RUNNING;
    const mailbox = proc.mailbox;
    const logic = proc.logic;
    const limit = this.processBudget;
    let n = 0;
    // Work a handler declared beyond its one message (Context.bumpReductions).
    let extra = 0;
    while (n + extra < limit && mailbox.length > 0) {
      const payload = mailbox.take();
      const kind = mailbox.takenKind;
      proc.current = payload;
      n++;
      let result: unknown;
      this.running = proc;
      try {
        result = logic.handle(proc, kind, payload);
      } catch (thrown) {
        this.running = null;
        this.bumped = 0;
        this.crash(proc, thrown);
        break;
      }
      this.running = null;
      if (this.bumped !== 0) {
        extra += this.bumped;
        this.bumped = 0;
      }
      if (result !== undefined && isThenable(result)) {
        this.suspend(proc, result);
        break;
      }
      if (proc.status !== S_RUNNING) break;
    }
    proc.handled += n;
    if (proc.status === S_RUNNING) {
      proc.current = undefined;
      if (mailbox.length > 0) {
        proc.status = S_RUNNABLE;
        this.enqueue(proc);
      } else {
        proc.status = S_WAITING;
      }
    }
    return n + extra;
  }

  private suspend(proc: Proc, pending: PromiseLike<unknown>): void {
    // The handler may have stopped or killed its own process before its first
    // await; the promise still settles, so it is observed either way (no
    // unhandled rejection), but only a still-suspended process resumes.
    if (proc.status === S_RUNNING) proc.status = S_SUSPENDED;
    pending.then(
      () => this.resume(proc),
      (thrown: unknown) => {
        if (proc.status === S_SUSPENDED) this.crash(proc, thrown);
      },
    );
  }

  private resume(proc: Proc): void {
    if (proc.status !== S_SUSPENDED) return;
    proc.current = undefined;
    if (proc.mailbox.length > 0) {
      proc.status = S_RUNNABLE;
      this.enqueue(proc);
      if (!this.scheduled) this.wake();
    } else {
      proc.status = S_WAITING;
    }
  }

  /** A handler threw (or called `ctx.exit(reason)`): stop the process with that reason. */
  private crash(proc: Proc, thrown: unknown): void {
    this.stopProcess(proc, thrownReason(thrown));
  }

  // ---------------------------------------------------------------- exits

  /**
   * Ends a process in an orderly way: its logic's `terminate` runs first (it
   * may be async), then the process dies with `reason`. Used for handler
   * crashes, `stop` results and stop requests; not for untrapped signals.
   * @internal
   */
  stopProcess(proc: Proc, reason: ExitReason): void {
    if (proc.status >= S_EXITING) return;
    proc.status = S_EXITING;
    let pending: unknown;
    try {
      pending = proc.logic.terminate(proc, reason);
    } catch (error) {
      this.logger.error({ label: 'terminate_failed', pid: proc.self.toString(), error });
    }
    if (isThenable(pending)) {
      pending.then(
        () => this.kill(proc, reason),
        (error: unknown) => {
          this.logger.error({ label: 'terminate_failed', pid: proc.self.toString(), error });
          this.kill(proc, reason);
        },
      );
    } else {
      this.kill(proc, reason);
    }
  }

  /**
   * Ends a process at once with `reason`, without running `terminate`.
   * Deaths caused by this one (through links) are queued and handled by the
   * outermost call, so long chains of links never grow the stack.
   * @internal
   */
  kill(proc: Proc, reason: ExitReason): void {
    if (proc.status === S_DEAD) return;
    this.dying.push(proc, reason);
    if (this.finalizing) return;
    this.finalizing = true;
    try {
      for (let i = 0; i < this.dying.length; i += 2) {
        const next = this.dying[i] as Proc;
        if (next.status !== S_DEAD) this.finalize(next, this.dying[i + 1] as ExitReason);
      }
    } finally {
      this.dying = [];
      this.finalizing = false;
    }
  }

  private finalize(proc: Proc, exitReason: ExitReason): void {
    // `kill` is a signal, never an exit reason: observers see `killed`.
    const reason: ExitReason = exitReason === 'kill' ? 'killed' : exitReason;
    const lastMessage = proc.current;
    const name = proc.name;
    proc.status = S_DEAD;
    proc.reason = reason;
    const pid = proc.self;

    // Names and registry entries go first: from now on no lookup returns this
    // process, and a restarted successor can take its name at once.
    if (proc.name !== null && this.names.get(proc.name) === proc) this.names.delete(proc.name);
    proc.name = null;
    const hooks = proc.exitHooks;
    proc.exitHooks = null;
    if (hooks !== null) for (const hook of hooks) this.runExitHook(proc, hook, reason);

    // Callers waiting on this process learn its fate now, not at their timeout.
    if (proc.inflight !== null) rejectInflight(proc, reason);
    if (proc.timers !== null) this.timers.cancelAll(proc);

    // Report before observers run, so a crash report precedes any restart report.
    if (isAbnormalExit(reason)) this.crashReport(proc, name, reason, lastMessage);
    proc.mailbox.clear();
    proc.current = undefined;
    this.procs.delete(pid.id);
    pid._proc = null;

    const monitors = proc.monitors;
    proc.monitors = null;
    if (monitors !== null) {
      for (const [ref, target] of monitors) {
        const t = target._proc;
        if (t !== null) t.watchers?.delete(ref);
        else if (target.node !== localNode) this.router?.demonitor(target, ref);
      }
    }
    const watchers = proc.watchers;
    proc.watchers = null;
    if (watchers !== null) {
      for (const [ref, watcher] of watchers) {
        const w = watcher._proc;
        if (w === null) {
          if (watcher.node !== localNode) this.router?.down(watcher, ref, pid, reason);
          continue;
        }
        w.monitors?.delete(ref);
        this.deliverSystem(w, KIND_INFO, new DownMessage(ref, pid, reason));
      }
    }
    const links = proc.links;
    proc.links = null;
    if (links !== null) {
      for (const linked of links) {
        const other = linked._proc;
        if (other === null) {
          if (linked.node !== localNode) this.router?.exit(pid, linked, reason, true);
          continue;
        }
        other.links?.delete(pid);
        this.exitSignalTo(other, pid, reason, true);
      }
    }
    this.telemetry?.({ type: 'exit', pid, reason });
  }

  private runExitHook(proc: Proc, hook: (reason: ExitReason) => void, reason: ExitReason): void {
    try {
      hook(reason);
    } catch (error) {
      this.logger.error({
        label: 'handler_error',
        pid: proc.self.toString(),
        error,
        context: 'exit hook',
      });
    }
  }

  private crashReport(
    proc: Proc,
    name: string | null,
    reason: ExitReason,
    lastMessage: unknown,
  ): void {
    let state: unknown;
    try {
      state = proc.logic.describeState(proc);
    } catch (error) {
      state = `<describeState threw: ${String(error)}>`;
    }
    this.logger.error(
      {
        label: 'crash_report',
        pid: proc.self.toString(),
        ...(name !== null ? { name } : {}),
        reason,
        ...(lastMessage !== undefined ? { lastMessage } : {}),
        ...(state !== undefined ? { state } : {}),
      },
      'process exited abnormally',
    );
  }

  /**
   * Sends an exit signal from `from` (null: from outside any process) to
   * `pid`. What it does depends on the reason and on whether the target
   * traps exits; see `ExitReason`.
   */
  exit(pid: Pid, reason: ExitReason): void {
    this.exitSignal(null, pid, reason);
  }

  /** @internal */
  exitSignal(from: Pid | null, pid: Pid, reason: ExitReason): void {
    if (!(pid instanceof Pid)) {
      throw new InvalidArgumentError(`exit expects a pid, got ${describeValue(pid)}`);
    }
    checkExitReason(reason, 'exit');
    const target = pid._proc;
    if (target !== null) this.exitSignalTo(target, from, reason, false);
    else if (pid.node !== localNode) this.router?.exit(from, pid, reason, false);
  }

  /** @internal */
  exitSignalTo(target: Proc, from: Pid | null, reason: ExitReason, viaLink: boolean): void {
    if (target.status === S_DEAD) return;
    if (reason === 'kill' && !viaLink) {
      this.kill(target, 'killed');
    } else if (target.trapExits) {
      this.deliverSystem(target, KIND_INFO, new ExitMessage(from, reason));
    } else if (reason === 'normal') {
      // `normal` never kills another process; only a process that signals
      // itself with `normal` ends (as exit(self(), normal) does in Erlang).
      if (from === target.self) this.kill(target, 'normal');
    } else {
      this.kill(target, reason);
    }
  }

  /**
   * Stops a process in an orderly way (its `terminate` runs) with `reason`
   * (default `normal`) and resolves once it has exited with that reason.
   * Rejects with `NoProcError` if it is not alive; with
   * `UnexpectedExitError` if it exited with another reason (it crashed or
   * was killed first, or during `terminate`); with `CallTimeoutError` if it
   * is still alive after `timeoutMs` (default `Infinity`), and it is not
   * killed then; with `CallSelfError` if called from the process's own
   * handler (it would wait for itself: return `stop(...)` from the handler
   * instead). Only the synchronous part of a handler is recognised: after
   * an `await` inside it, stopping itself this way waits forever.
   */
  stop(dest: Dest, reason: ExitReason = 'normal', timeoutMs = Infinity): Promise<void> {
    let proc: Proc | null;
    try {
      checkExitReason(reason, 'stop');
      checkTimeout(timeoutMs, 'stop');
      proc = this.resolve(dest);
    } catch (error) {
      return Promise.reject(error);
    }
    const label = describeDest(dest);
    const settle = (actual: ExitReason): Promise<void> | undefined => {
      if (actual === 'noproc') return Promise.reject(new NoProcError(label));
      if (!sameExitReason(reason, actual)) {
        return Promise.reject(new UnexpectedExitError(label, reason, actual));
      }
      return undefined;
    };
    if (proc === null) {
      // A process of another thread (by pid, via or remote name): watch it,
      // then ask its node to stop it.
      if (this.remoteTarget(dest) === null) return Promise.reject(new NoProcError(label));
      const watch = this.watchExit(dest, timeoutMs, label);
      try {
        this.sendRemote(dest, KIND_STOP, reason);
      } catch (error) {
        // A reason that cannot cross (UncloneableError): nothing was sent.
        watch.cancel();
        return Promise.reject(error);
      }
      return watch.exited.then(settle);
    }
    if (proc === this.running) return Promise.reject(new CallSelfError(label));
    const { exited } = this.watchExit(proc.self, timeoutMs, label);
    this.deliverSystem(proc, KIND_STOP, reason);
    return exited.then(settle);
  }

  /**
   * Resolves with the exit reason of `pid` once it has exited (`noproc` if it
   * already has). With a finite `timeoutMs`, rejects with `CallTimeoutError`
   * if it is still alive then.
   */
  whenExited(pid: Pid, timeoutMs = Infinity, label?: string): Promise<ExitReason> {
    if (!(pid instanceof Pid)) {
      return Promise.reject(
        new InvalidArgumentError(`whenExited expects a pid, got ${describeValue(pid)}`),
      );
    }
    try {
      checkTimeout(timeoutMs, 'whenExited');
    } catch (error) {
      return Promise.reject(error);
    }
    // A pid of another thread is watched with a monitor like any other.
    if (pid._proc === null && (pid.node === localNode || this.router === null)) {
      return Promise.resolve('noproc');
    }
    return this.watchExit(pid, timeoutMs, label ?? pid.toString()).exited;
  }

  /**
   * A helper process monitoring `dest` (a pid or a name, of any thread):
   * `exited` resolves with its DOWN's reason, or rejects with
   * `CallTimeoutError` after `timeoutMs`; `cancel()` ends the watch.
   */
  private watchExit(
    dest: Dest,
    timeoutMs: number,
    label: string,
  ): { exited: Promise<ExitReason>; cancel(): void } {
    let timer: ReturnType<Clock['setTimeout']> | null = null;
    let resolveExit!: (reason: ExitReason) => void;
    let rejectExit!: (error: unknown) => void;
    const exited = new Promise<ExitReason>((resolve, reject) => {
      resolveExit = resolve;
      rejectExit = reject;
    });
    const watcher = this.spawnLogic(
      new FnLogic((message, ctx) => {
        if (!(message instanceof DownMessage)) return;
        if (timer !== null) this.clock.clearTimeout(timer);
        resolveExit(message.reason);
        ctx.stop();
      }),
      {},
    );
    const proc = watcher._proc!;
    // A runtime helper: `shutdown` leaves it to see its target go.
    proc.internal = true;
    proc.monitor(dest);
    const end = (): void => {
      if (timer !== null) this.clock.clearTimeout(timer);
      if (watcher._proc !== null) this.kill(watcher._proc, 'normal');
    };
    if (timeoutMs !== Infinity) {
      timer = this.clock.setTimeout(
        () => {
          timer = null;
          end();
          rejectExit(new CallTimeoutError(label, timeoutMs));
        },
        timeoutMs,
        undefined,
      );
    }
    return { exited, cancel: end };
  }

  /**
   * Runs `hook(reason)` when `pid` exits; returns a function that cancels it.
   * For a process of this thread the hook runs inside its exit sequence,
   * before anyone else hears of the exit (registries rely on this). For a
   * process of another thread it runs when the exit notice arrives (a DOWN,
   * or `noconnection` if its thread dies). A pid that is already gone runs
   * the hook at once with `noproc`. @internal
   */
  onExit(pid: Pid, hook: (reason: ExitReason) => void): () => void {
    const proc = pid._proc;
    if (proc !== null && proc.status !== S_DEAD) {
      proc.addExitHook(hook);
      return () => proc.removeExitHook(hook);
    }
    if (pid.node === localNode || this.router === null) {
      hook('noproc');
      return () => {};
    }
    const watcher = this.exitWatcher();
    const ref = watcher.monitor(pid);
    this.remoteHooks.set(ref, hook);
    return () => {
      if (this.remoteHooks.delete(ref)) watcher.demonitor(ref);
    };
  }

  /** The process that receives the DOWNs of `onExit` watches on other threads. */
  private exitWatcher(): Proc {
    const existing = this.watcherProc;
    if (existing !== null && existing.status !== S_DEAD) return existing;
    const pid = this.spawnLogic(
      new FnLogic((message) => {
        if (!(message instanceof DownMessage)) return;
        const hook = this.remoteHooks.get(message.ref);
        if (hook === undefined) return;
        this.remoteHooks.delete(message.ref);
        hook(message.reason);
      }),
      {},
    );
    this.watcherProc = pid._proc!;
    this.watcherProc.internal = true;
    return this.watcherProc;
  }

  // ---------------------------------------------------------------- links and monitors

  /** @internal */
  link(proc: Proc, pid: Pid): void {
    if (!(pid instanceof Pid))
      throw new InvalidArgumentError(`link expects a pid, got ${describeValue(pid)}`);
    if (proc.status === S_DEAD || pid === proc.self) return;
    const other = pid._proc;
    if (other === null && pid.node !== localNode && this.router !== null) {
      // Linked on this side now; the other node answers with an exit signal
      // (noproc) if it cannot link back, and a lost node means noconnection.
      (proc.links ??= new Set()).add(pid);
      if (!this.router.link(proc.self, pid)) {
        proc.links.delete(pid);
        this.exitSignalTo(proc, pid, 'noconnection', true);
      }
      return;
    }
    if (other === null || other.status === S_DEAD) {
      this.exitSignalTo(proc, pid, 'noproc', true);
      return;
    }
    this.addLink(proc, other);
  }

  private addLink(a: Proc, b: Proc): void {
    (a.links ??= new Set()).add(b.self);
    (b.links ??= new Set()).add(a.self);
  }

  /** @internal */
  unlink(proc: Proc, pid: Pid): void {
    const had = proc.links?.delete(pid) === true;
    const other = pid._proc;
    if (other !== null) other.links?.delete(proc.self);
    else if (had && pid.node !== localNode) this.router?.unlink(proc.self, pid);
  }

  /** @internal */
  monitorFrom(watcher: Proc, dest: Dest): Ref {
    const ref = makeRef();
    if (watcher.status === S_DEAD) return ref;
    let target: Proc | null;
    try {
      target = this.resolve(dest);
      if (target === null && this.monitorRemote(watcher, dest, ref)) return ref;
    } catch (error) {
      // An invalid destination is the caller's mistake; a name service that
      // cannot answer (a registry that is not running) means no process.
      if (error instanceof InvalidArgumentError) throw error;
      target = null;
    }
    if (target === null || target.status === S_DEAD) {
      const pid = dest instanceof Pid ? dest : new Pid(localNode, 0, null);
      this.deliverSystem(watcher, KIND_INFO, new DownMessage(ref, pid, 'noproc'));
      return ref;
    }
    (watcher.monitors ??= new Map()).set(ref, target.self);
    (target.watchers ??= new Map()).set(ref, watcher.self);
    return ref;
  }

  /** Monitors a process on another node; false if `dest` is not remote. */
  private monitorRemote(watcher: Proc, dest: Dest, ref: Ref): boolean {
    const remote = this.remoteTarget(dest);
    if (remote === null) return false;
    // Until the other node answers, the monitor is keyed by a placeholder pid
    // for names; a DOWN for it carries the real pid.
    const pid = dest instanceof Pid ? dest : this.router!.pid(remote.node, 0);
    (watcher.monitors ??= new Map()).set(ref, pid);
    if (!this.router!.monitor(watcher.self, remote.node, remote.to, ref)) {
      watcher.monitors.delete(ref);
      this.deliverSystem(watcher, KIND_INFO, new DownMessage(ref, pid, 'noconnection'));
    }
    return true;
  }

  /** @internal */
  demonitor(watcher: Proc, ref: Ref, flush: boolean): boolean {
    const target = watcher.monitors?.get(ref);
    let active = false;
    if (target !== undefined) {
      watcher.monitors!.delete(ref);
      const targetProc = target._proc;
      if (targetProc !== null) targetProc.watchers?.delete(ref);
      else if (target.node !== localNode) this.router?.demonitor(target, ref);
      active = true;
    }
    if (flush) this.flushDown(watcher, ref);
    return active;
  }

  private flushDown(watcher: Proc, ref: Ref): void {
    watcher.mailbox.removeFirst(
      (_kind, payload) => payload instanceof DownMessage && payload.ref === ref,
    );
  }

  // ---------------------------------------------------------------- names

  /**
   * Registers `pid` under a local name. A process holds at most one local
   * name (as in Erlang); for many names per process use a `Registry`.
   */
  register(name: string, pid: Pid): void {
    this.checkNameFree(name);
    const proc = this.liveProc(pid, 'register');
    if (proc.name !== null) {
      throw new ActorError(
        'already_named',
        `${pid} is already registered as ${JSON.stringify(proc.name)}; a process holds one local name`,
      );
    }
    this.names.set(name, proc);
    proc.name = name;
  }

  /** Removes a local name. Returns whether it was registered. */
  unregister(name: string): boolean {
    const proc = this.names.get(name);
    if (proc === undefined) return false;
    this.names.delete(name);
    proc.name = null;
    return true;
  }

  /** The pid registered under `name`, if that process is alive. */
  whereis(name: string): Pid | undefined {
    return this.names.get(name)?.self;
  }

  /** Every local name currently registered. */
  registered(): string[] {
    return [...this.names.keys()];
  }

  private checkNameFree(name: string): void {
    if (typeof name !== 'string' || name.length === 0) {
      throw new InvalidArgumentError(
        `a process name must be a non-empty string, got ${describeValue(name)}`,
      );
    }
    const holder = this.names.get(name);
    if (holder !== undefined) throw new NameTakenError(name, holder.self);
  }

  private liveProc(pid: Pid, operation: string): Proc {
    if (!(pid instanceof Pid)) {
      throw new InvalidArgumentError(`${operation} expects a pid, got ${describeValue(pid)}`);
    }
    const proc = pid._proc;
    if (proc === null || proc.status === S_DEAD) throw new NoProcError(pid.toString());
    return proc;
  }

  /** Throws `InvalidArgumentError` unless `dest` has the shape of a destination. @internal */
  checkDest(dest: unknown, operation: string): void {
    if (dest instanceof Pid || (typeof dest === 'string' && dest.length > 0)) return;
    if (dest !== null && typeof dest === 'object') {
      if (
        'via' in dest &&
        typeof (dest as { via: { whereis?: unknown } }).via?.whereis === 'function'
      )
        return;
      if (isRemoteName(dest)) return;
    }
    throw new InvalidArgumentError(
      `${operation} expects a pid, a registered name, a via name or { name, node }, got ${describeValue(dest)}`,
    );
  }

  /** Resolves a destination to a live process on this thread, or null. @internal */
  resolve(dest: Dest): Proc | null {
    if (dest instanceof Pid) return dest._proc;
    if (typeof dest === 'string') return this.names.get(dest) ?? null;
    if (dest !== null && typeof dest === 'object' && 'via' in dest) {
      const pid = whereVia(dest);
      return pid === undefined ? null : pid._proc;
    }
    if (isRemoteName(dest)) {
      return dest.node === localNode ? (this.names.get(dest.name) ?? null) : null;
    }
    throw new InvalidArgumentError(
      `expected a pid, a registered name or a via name, got ${describeValue(dest)}`,
    );
  }

  // ---------------------------------------------------------------- other nodes

  /** @internal Connects this system to other threads (see `threads/router.ts`). */
  attachRouter(router: Router): void {
    if (this.router !== null && this.router !== router) {
      throw new ActorError('router_attached', 'this system is already connected to other threads');
    }
    this.router = router;
  }

  /** The router connecting this system to other threads, if any. @internal */
  get remote(): Router | null {
    return this.router;
  }

  /** The canonical pid of a local process serial (a dead one gets a fresh, dead pid). @internal */
  localPid(id: number): Pid {
    return this.procs.get(id)?.self ?? new Pid(localNode, id, null);
  }

  private localTarget(to: WireTarget): Proc | null {
    const proc = typeof to === 'number' ? this.procs.get(to) : this.names.get(to.name);
    return proc === undefined || proc.status === S_DEAD ? null : proc;
  }

  /** A message from another node. @internal */
  deliverRemote(to: WireTarget, kind: number, message: unknown): void {
    const proc = this.localTarget(to);
    if (proc !== null) this.deliverFromRemote(proc, kind, message);
  }

  /** Queues a message from another node on `proc` (a local, live process). @internal */
  deliverFromRemote(proc: Proc, kind: number, message: unknown): void {
    if (kind === KIND_STOP) {
      this.deliverSystem(proc, kind, message); // a stop request is a runtime entry
      return;
    }
    try {
      this.deliver(proc, kind, message);
    } catch {
      // Refused by a full mailbox (`reject`): counted as a drop; the sender
      // is on another thread and cannot be told.
    }
  }

  /**
   * A batch from another thread was just delivered: that callback is an
   * event-loop turn of its own (I/O ran to bring it), so the scheduler gets
   * a fresh budget and handles the batch before the next one is read. The
   * backlog then waits in the port, still serialized, instead of in
   * mailboxes as objects the garbage collector must keep copying. @internal
   */
  remoteTurn(): void {
    this.sinceYield = 0;
  }

  /** The live local process with serial `id`, or null. @internal */
  localProc(id: number): Proc | null {
    const proc = this.procs.get(id);
    return proc === undefined || proc.status === S_DEAD ? null : proc;
  }

  /** A call from another node: runs it against a local server; `answer`/`fail` go back. @internal */
  serveRemoteCall(
    to: WireTarget,
    caller: Pid | null,
    request: unknown,
    answer: (value: unknown) => void,
    fail: (error: unknown) => void,
  ): void {
    const server = this.localTarget(to);
    const name = typeof to === 'number' ? new Pid(localNode, to, null) : to.name;
    if (server === null) {
      fail(new NoProcError(describeDest(name)));
      return;
    }
    const from = new From(caller, request, server, server.self);
    from.resolve = answer;
    from.reject = fail;
    trackCall(server, from);
    this.deliver(server, KIND_CALL, from);
  }

  /** An exit signal from another node. @internal */
  remoteExitSignal(from: Pid | null, to: number, reason: ExitReason, viaLink: boolean): void {
    const proc = this.localTarget(to);
    if (proc === null) return;
    if (viaLink) {
      // The other side ended the link by exiting; a signal for a link this
      // side already removed (unlink raced the exit) is ignored, as in Erlang.
      if (from === null || proc.links?.delete(from) !== true) return;
    }
    this.exitSignalTo(proc, from, reason, viaLink);
  }

  /** A process on another node linked itself to `to`. @internal */
  remoteLink(from: Pid, to: number): void {
    const proc = this.localTarget(to);
    if (proc === null) {
      this.router?.exit(this.localPid(to), from, 'noproc', true);
      return;
    }
    (proc.links ??= new Set()).add(from);
  }

  /** @internal */
  remoteUnlink(from: Pid, to: number): void {
    this.localTarget(to)?.links?.delete(from);
  }

  /** A process on another node monitors `to`. @internal */
  remoteMonitor(watcher: Pid, to: WireTarget, ref: Ref): void {
    const proc = this.localTarget(to);
    if (proc === null) {
      const pid = typeof to === 'number' ? this.localPid(to) : this.localPid(0);
      this.router?.down(watcher, ref, pid, 'noproc');
      return;
    }
    (proc.watchers ??= new Map()).set(ref, watcher);
  }

  /** @internal */
  remoteDemonitor(to: number, ref: readonly [number, number]): void {
    const watchers = this.localTarget(to)?.watchers;
    if (!watchers) return;
    for (const key of watchers.keys()) {
      if (key.node === ref[0] && key.id === ref[1]) watchers.delete(key);
    }
  }

  /** A process monitored from here, on another node, went down. @internal */
  remoteDown(to: number, ref: readonly [number, number], pid: Pid, reason: ExitReason): void {
    const proc = this.localTarget(to);
    const monitors = proc?.monitors;
    if (!monitors) return;
    for (const key of monitors.keys()) {
      if (key.node === ref[0] && key.id === ref[1]) {
        monitors.delete(key);
        this.deliverSystem(proc!, KIND_INFO, new DownMessage(key, pid, reason));
        return;
      }
    }
  }

  /**
   * Node `node` is gone: links to its processes deliver `noconnection` exit
   * signals, monitors a DOWN with `noconnection`, and its monitors here are
   * dropped. @internal
   */
  nodeDown(node: number): void {
    for (const proc of [...this.procs.values()]) {
      if (proc.status === S_DEAD) continue;
      if (proc.watchers !== null) {
        for (const [ref, watcher] of proc.watchers)
          if (watcher.node === node) proc.watchers.delete(ref);
      }
      if (proc.monitors !== null) {
        for (const [ref, target] of proc.monitors) {
          if (target.node !== node) continue;
          proc.monitors.delete(ref);
          this.deliverSystem(proc, KIND_INFO, new DownMessage(ref, target, 'noconnection'));
        }
      }
      if (proc.links !== null) {
        for (const linked of [...proc.links]) {
          if (linked.node !== node || proc.status === S_DEAD) continue;
          proc.links.delete(linked);
          this.exitSignalTo(proc, linked, 'noconnection', true);
        }
      }
    }
  }

  // ---------------------------------------------------------------- timers

  /** Sends `message` to `dest` after `ms`; not owned by any process. */
  sendAfter(dest: Dest, message: unknown, ms: number): TimerRef {
    return this.timers.start(null, dest, message, ms, false);
  }

  /** Cancels a timer: the ms that were left, or false if it already fired or was cancelled. */
  cancelTimer(timer: TimerRef): number | false {
    return this.timers.cancel(timer);
  }

  // ---------------------------------------------------------------- introspection

  /** Whether `pid` is alive. Only for pids of this thread: another thread's process cannot be asked synchronously. */
  isAlive(pid: Pid): boolean {
    if (!(pid instanceof Pid)) {
      throw new InvalidArgumentError(`isAlive expects a pid, got ${describeValue(pid)}`);
    }
    if (pid.node !== localNode && pid._proc === null) {
      throw new InvalidArgumentError(
        `isAlive answers for processes of this thread only; ${pid} lives on node ${pid.node} (monitor it instead)`,
      );
    }
    const proc = pid._proc;
    return proc !== null && proc.status !== S_DEAD;
  }

  /** Every live process of this system, oldest first. */
  processes(): Pid[] {
    return [...this.procs.values()].map((p) => p.self);
  }

  /** A snapshot of a process, or undefined if it is not alive. */
  processInfo(dest: Dest): ProcessInfo | undefined {
    const proc = this.resolve(dest);
    if (proc === null || proc.status === S_DEAD) return undefined;
    return {
      pid: proc.self,
      status: statusName(proc.status),
      registeredName: proc.name,
      mailboxLength: proc.mailbox.length,
      mailboxCapacity: proc.capacity === 0 ? null : proc.capacity,
      trapExit: proc.trapExits,
      links: proc.links === null ? [] : [...proc.links],
      monitors: proc.monitors === null ? [] : [...proc.monitors.values()],
      monitoredBy: proc.watchers === null ? [] : [...proc.watchers.values()],
      parent: proc.parent,
      messagesHandled: proc.handled,
      messagesDropped: proc.dropped,
    };
  }

  /** A timeout list ran empty and its timer ended: forget it (timeouts may take any value). */
  private readonly deadlinesIdle = (list: Deadlines): void => {
    if (this.deadlineLists.get(list.ms) === list) this.deadlineLists.delete(list.ms);
    if (this.lastDeadlines === list) this.lastDeadlines = null;
  };

  /** A call of this system timed out (reported to the logger and telemetry). */
  private readonly timedOut = (target: string, timeoutMs: number): void => {
    this.logger.warn({ label: 'call_timeout', target, timeoutMs }, 'call timed out');
    this.telemetry?.({ type: 'call_timeout', target, timeoutMs });
  };

  /**
   * Ends every process: each process without a parent is asked to stop with
   * `shutdown` (an orderly stop: a GenServer's `terminate` runs, a
   * supervisor stops its children in order), newest first, and waited for
   * up to `timeoutMs` (default 5000); whatever is still alive then is killed.
   * Later spawns fail.
   */
  async shutdown(timeoutMs = 5000): Promise<void> {
    checkTimeout(timeoutMs, 'shutdown');
    // Runtime helpers (the watchers behind whenExited, stop, Application)
    // are not roots: they must outlive what they watch.
    const roots = [...this.procs.values()]
      .filter((p) => p.parent === null && !p.internal)
      .reverse();
    for (const proc of roots) {
      if (proc.status === S_DEAD) continue;
      const exited = this.whenExited(proc.self, timeoutMs).catch(() => undefined);
      this.deliverSystem(proc, KIND_STOP, 'shutdown');
      await exited;
    }
    for (const hook of this.shutdownHooks.splice(0)) await hook(timeoutMs);
    // What is left is killed; the runtime's watchers go last, once they have
    // seen what they watch exit (whenExited and stop then settle).
    for (const proc of [...this.procs.values()]) if (!proc.internal) this.kill(proc, 'killed');
    for (let turn = 0; turn < 3 && this.procs.size > 0; turn++) {
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    for (const proc of [...this.procs.values()]) this.kill(proc, 'killed');
    this.stopped = true;
  }

  /**
   * Runs `hook(timeoutMs)` during `shutdown`, after the roots stopped (thread
   * nodes stop there, within the shutdown's timeout). @internal
   */
  onShutdown(hook: (timeoutMs: number) => Promise<void> | void): void {
    this.shutdownHooks.push(hook);
  }
}

/** What each spawn option must be (unknown keys are left alone: start options add their own). */
const SPAWN_OPTION_RULES: readonly [keyof SpawnOptions, (v: unknown) => boolean, string][] = [
  ['name', (v) => typeof v === 'string' && v.length > 0, 'a non-empty string'],
  ['trapExit', (v) => typeof v === 'boolean', 'a boolean'],
  ['link', (v) => v instanceof Pid, 'a pid'],
  ['mailbox', (v) => v !== null && typeof v === 'object', 'an object { capacity, overflow? }'],
  ['priority', (v) => PRIORITIES.has(v), "one of 'high', 'normal', 'low'"],
];

function checkSpawnOptions(options: unknown): void {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new InvalidArgumentError(
      `spawn options must be an object, got ${describeValue(options)}`,
    );
  }
  const record = options as Record<string, unknown>;
  for (const [key, test, expected] of SPAWN_OPTION_RULES) {
    const value = record[key];
    if (value !== undefined && !test(value)) {
      throw new InvalidArgumentError(
        `options.${key} must be ${expected}, got ${describeValue(value)}`,
      );
    }
  }
}

function checkMailboxOptions(mailbox: { capacity: number; overflow?: OverflowPolicy }): void {
  const { capacity, overflow } = mailbox;
  if (!Number.isInteger(capacity) || capacity < 1) {
    throw new InvalidArgumentError(
      `options.mailbox.capacity must be an integer >= 1, got ${describeValue(capacity)}`,
    );
  }
  if (overflow !== undefined && !OVERFLOW_POLICIES.includes(overflow)) {
    throw new InvalidArgumentError(
      `options.mailbox.overflow must be one of ${OVERFLOW_POLICIES.join(', ')}, got ${describeValue(overflow)}`,
    );
  }
}

/**
 * Resolves a `via` name through its resolver, checking what the resolver is
 * and what it answers (a pid or undefined), so that a faulty name service
 * fails with an `InvalidArgumentError` naming it rather than a TypeError.
 * @internal
 */
export function whereVia(dest: Via): Pid | undefined {
  const resolver = dest.via;
  if (resolver === null || typeof resolver !== 'object' || typeof resolver.whereis !== 'function') {
    throw new InvalidArgumentError(
      `a via name needs a resolver with a whereis method, got ${describeValue(resolver)}`,
    );
  }
  const pid: unknown = resolver.whereis(dest.key);
  if (pid === undefined || pid instanceof Pid) return pid;
  throw new InvalidArgumentError(
    `the via resolver's whereis(${describeValue(dest.key)}) answered ${describeValue(pid)}, not a pid or undefined`,
  );
}

const CLOCK_METHODS = ['now', 'setTimeout', 'clearTimeout'] as const;
const LOGGER_METHODS = ['error', 'warn', 'info', 'debug'] as const;

/** Refuses a clock, logger or telemetry hook that would fail later, far from the cause. */
function checkSystemOptions(options: SystemOptions): void {
  if (options === null || typeof options !== 'object') {
    throw new InvalidArgumentError(
      `ActorSystem options must be an object, got ${describeValue(options)}`,
    );
  }
  const needMethods = (key: string, value: unknown, methods: readonly string[]): void => {
    if (value === undefined) return;
    const missing =
      value === null || typeof value !== 'object'
        ? methods
        : methods.filter((m) => typeof (value as Record<string, unknown>)[m] !== 'function');
    if (missing.length > 0) {
      throw new InvalidArgumentError(
        `ActorSystem option ${key} must be an object with the methods ${methods.join(', ')}; ` +
          `got ${describeValue(value)} (missing ${missing.join(', ')})`,
      );
    }
  };
  needMethods('clock', options.clock, CLOCK_METHODS);
  needMethods('logger', options.logger, LOGGER_METHODS);
  if (options.telemetry !== undefined && typeof options.telemetry !== 'function') {
    throw new InvalidArgumentError(
      `ActorSystem option telemetry must be a function, got ${describeValue(options.telemetry)}`,
    );
  }
}
