/**
 * Tasks: run one function in its own process and collect its result, after
 * Elixir's `Task`, `Task.Supervisor` and `Task.async_stream`.
 *
 * A task is a process that runs `fn(ctx)` once, records what it returned (or
 * what its promise resolved to) and exits `normal`. If `fn` throws or its
 * promise rejects, the task crashes with that error as its exit reason, and
 * the runtime writes a crash report. Messages sent to a task wait in its
 * mailbox and are never handled (a call to it rejects with `CallExitError`
 * when it exits); `system.stop(task.pid)` takes effect once `fn` has
 * settled. Exit signals act on it as on any process.
 *
 * The result does not travel as a message: it is kept with the `Task` handle
 * and read with `Task.await`, `Task.yield` or `Task.shutdown`, which return
 * promises. The owner (the process that started the task) monitors it, so a
 * task that is never awaited still reports its end as a `DownMessage`
 * carrying `task.ref` (a GenServer sees it in `handleInfo`). Reading the
 * result consumes that DOWN message, as `Task.await` does in Elixir: it is
 * never delivered when someone was already waiting, and removed from the
 * owner's mailbox if it is still queued there.
 *
 * Ways to start one:
 * - `Task.async(ctx, fn)`: linked to `ctx`. A crash propagates through the
 *   link, as in Elixir: the owner dies with the task's reason unless it
 *   traps exits (then it gets an `ExitMessage`, and `await` rejects).
 * - `TaskSupervisor.asyncNolink(caller, sup, fn)`: linked to a task
 *   supervisor, not to the caller. A crash is reported (DOWN, and `await`
 *   rejects with `TaskExitError`), never propagated to the caller.
 * - `TaskSupervisor.async(ctx, sup, fn)`: supervised and linked to `ctx`.
 * - `TaskSupervisor.startChild(caller, sup, fn)`: supervised fire-and-forget.
 * - `asyncStream(caller, items, fn)` and `TaskSupervisor.asyncStreamNolink`:
 *   one task per item, at most `maxConcurrency` at once.
 *
 * Differences from Elixir, all because a result is a promise here: `await`
 * on a timeout rejects and kills the task instead of exiting the caller; any
 * code may await a task (Elixir allows only the owner); awaiting twice
 * returns the same outcome; a stream item that fails is reported through the
 * iterator rather than by exiting the caller (see `asyncStream`). Tasks and
 * task supervisors live on one thread: a supervisor is used through its pid
 * or name on the thread that runs it.
 */
import { availableParallelism } from 'node:os';
import { settleError, type From } from './call.js';
import type { TimerHandle } from './clock.js';
import { describeDest, describeValue } from './describe.js';
import { ExitMessage, KIND_CALL, KIND_INFO, KIND_INIT, KIND_STOP } from './messages.js';
import { Pid, makeRef, type Ref } from './pid.js';
import { S_DEAD, S_EXITING, type Context, type Proc, type ProcessLogic } from './process.js';
import type { Dest } from './protocol.js';
import {
  ActorError,
  CallTimeoutError,
  InvalidArgumentError,
  NoProcError,
  formatReason,
  type ExitReason,
  registerErrorClasses,
} from './reasons.js';
import { ActorSystem } from './system.js';

/** How a task ended: `{ ok: value }` if `fn` returned, `{ exit: reason }` if it exited without a result. */
export type TaskResult<T> = { readonly ok: T } | { readonly exit: ExitReason };

/** A function run as a task: gets the task process's context; may be async. */
export type TaskFn<T> = (ctx: Context) => T | Promise<T>;

/** A running or finished task, as returned by `Task.async` and the `TaskSupervisor` functions. */
export interface Task<T> {
  /** The task's process. */
  readonly pid: Pid;
  /**
   * The owner's monitor on the task: the `DownMessage` that reports the
   * task's end carries it. For a task started from outside any process, a
   * plain unique ref that no message carries.
   */
  readonly ref: Ref;
  /** The process that started the task, or null when started from outside any process. */
  readonly owner: Pid | null;
  /** Phantom: the result type. No runtime presence. */
  readonly __result?: T;
}

/** The task exited without a result: it crashed, was killed or shut down, or exited on purpose. */
export class TaskExitError extends ActorError {
  override name = 'TaskExitError';
  constructor(
    readonly pid: Pid,
    readonly reason: ExitReason,
  ) {
    super('task_exited', `task ${pid} exited without a result: ${formatReason(reason)}`, {
      cause: reason instanceof Error ? reason : undefined,
    });
  }
}

/** A task supervisor already runs `maxChildren` tasks; the new one was not started. */
export class TaskSupervisorFullError extends ActorError {
  override name = 'TaskSupervisorFullError';
  constructor(
    readonly supervisor: Pid,
    readonly maxChildren: number,
  ) {
    super(
      'max_children',
      `task supervisor ${supervisor} already runs its maxChildren (${maxChildren}) tasks; ` +
        `nothing was started: wait for some to finish or raise maxChildren`,
    );
  }
}

registerErrorClasses(TaskExitError, TaskSupervisorFullError);

// ------------------------------------------------------------------ validation

interface Rule {
  readonly test: (value: unknown) => boolean;
  readonly expected: string;
}

function checkFields(where: string, value: unknown, rules: Record<string, Rule>): void {
  if (value === null || typeof value !== 'object') {
    throw new InvalidArgumentError(`${where} must be an object, got ${describeValue(value)}`);
  }
  for (const [key, rule] of Object.entries(rules)) {
    const v = (value as Record<string, unknown>)[key];
    if (v !== undefined && !rule.test(v)) {
      throw new InvalidArgumentError(
        `${where}.${key} must be ${rule.expected}, got ${describeValue(v)}`,
      );
    }
  }
}

const isTimeout = (v: unknown): boolean => typeof v === 'number' && v >= 0;
const TIMEOUT_RULE: Rule = { test: isTimeout, expected: 'a number of ms >= 0, or Infinity' };

function checkTimeout(where: string, timeoutMs: unknown): void {
  if (!isTimeout(timeoutMs)) {
    throw new InvalidArgumentError(
      `${where} must be ${TIMEOUT_RULE.expected}, got ${describeValue(timeoutMs)}`,
    );
  }
}

function checkFn(where: string, fn: unknown): void {
  if (typeof fn !== 'function') {
    throw new InvalidArgumentError(`${where} must be a function, got ${describeValue(fn)}`);
  }
}

/** The process behind a context, or an `InvalidArgumentError` that says what was expected. */
function contextProc(ctx: unknown, where: string): Proc {
  const pid = ctx !== null && typeof ctx === 'object' ? (ctx as { self?: unknown }).self : ctx;
  const proc = pid instanceof Pid ? pid._proc : undefined;
  if (ctx instanceof ActorSystem || !(pid instanceof Pid)) {
    throw new InvalidArgumentError(
      `${where} needs the calling process's context (a task is linked to or monitored by it), ` +
        `got ${ctx instanceof ActorSystem ? 'an ActorSystem' : describeValue(ctx)}`,
    );
  }
  if (proc === null || proc === undefined || proc.status === S_DEAD) {
    throw new NoProcError(pid.toString());
  }
  return proc;
}

function systemOf(spawner: unknown, where: string): ActorSystem {
  if (spawner instanceof ActorSystem) return spawner;
  const system =
    spawner !== null && typeof spawner === 'object' ? (spawner as Context).system : null;
  if (system instanceof ActorSystem) return system;
  throw new InvalidArgumentError(
    `${where} expects an ActorSystem or a process context, got ${describeValue(spawner)}`,
  );
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    typeof value === 'object' &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

function unexpectedCall(from: From, what: string): void {
  settleError(
    from,
    new ActorError('unexpected_call', `${what} answers no calls; use the Task functions`),
  );
}

// ------------------------------------------------------------------ the task process

/** @internal */
class TaskRecord<T> implements Task<T> {
  /** Set, synchronously, when the task process exits. */
  outcome: TaskResult<T> | null = null;
  /** The error of the `Task.await` that timed out (and killed the task), if one did. */
  timedOut: CallTimeoutError | null = null;
  private value: T | undefined;
  private completed = false;
  private waiters: Array<(outcome: TaskResult<T>) => void> = [];

  constructor(
    readonly pid: Pid,
    readonly ref: Ref,
    readonly owner: Pid | null,
    private readonly ownerProc: Proc | null,
    readonly system: ActorSystem,
  ) {}

  /** `fn` returned `value`; the process exits `normal` right after. */
  complete(value: T): void {
    this.completed = true;
    this.value = value;
  }

  /** Exit hook: runs inside the task's exit, before its monitors and links fire. */
  exited(reason: ExitReason): void {
    const outcome: TaskResult<T> = this.completed ? { ok: this.value as T } : { exit: reason };
    this.outcome = outcome;
    const waiters = this.waiters;
    if (waiters.length === 0) return;
    this.waiters = [];
    // Someone is reading the result: the DOWN message would only be noise.
    this.consume();
    for (const resolve of waiters) resolve(outcome);
  }

  /** Resolves with the outcome, or with null after `timeoutMs`. Leaves no timer behind. */
  wait(timeoutMs: number): Promise<TaskResult<T> | null> {
    if (this.outcome !== null) return Promise.resolve(this.outcome);
    return new Promise((resolve) => {
      const clock = this.system.clock;
      let timer: TimerHandle | null = null;
      const waiter = (outcome: TaskResult<T>) => {
        if (timer !== null) clock.clearTimeout(timer);
        resolve(outcome);
      };
      this.waiters.push(waiter);
      if (timeoutMs === Infinity) return;
      timer = clock.setTimeout(
        () => {
          this.waiters = this.waiters.filter((w) => w !== waiter);
          resolve(null);
        },
        timeoutMs,
        undefined,
      );
    });
  }

  /** The result has been read: drop the owner's monitor and its DOWN message if queued. */
  consume(): void {
    this.ownerProc?.demonitor(this.ref, { flush: true });
  }

  /** Cuts the task loose from its owner (link and monitor) before stopping it. */
  detach(): void {
    const owner = this.ownerProc;
    if (owner === null) return;
    owner.unlink(this.pid);
    owner.demonitor(this.ref, { flush: true });
  }
}

/** Runs the task's function once, on the first mailbox entry. @internal */
class TaskLogic<T> implements ProcessLogic {
  record: TaskRecord<T> | null = null;

  constructor(private readonly fn: TaskFn<T>) {}

  handle(proc: Proc, kind: number, payload: unknown): unknown {
    switch (kind) {
      case KIND_INIT:
        return this.run(proc);
      case KIND_STOP:
        proc.system.stopProcess(proc, payload as ExitReason);
        return undefined;
      default:
        return undefined;
    }
  }

  terminate(): undefined {
    return undefined;
  }

  describeState(): unknown {
    return { task: this.fn.name || '(anonymous)' };
  }

  private run(proc: Proc): unknown {
    const result = this.fn(proc);
    if (isThenable(result)) return Promise.resolve(result).then((v) => this.finish(proc, v));
    this.finish(proc, result);
    return undefined;
  }

  private finish(proc: Proc, value: T): void {
    // A task killed while its promise was pending has already exited.
    if (proc.status === S_DEAD) return;
    this.record!.complete(value);
    proc.system.stopProcess(proc, 'normal');
  }
}

interface SpawnPlan {
  /** The process that owns (monitors, may be linked to) the task; null for none. */
  owner: Proc | null;
  /** Link the task to its owner. */
  linkOwner: boolean;
  /** A task supervisor to run under (linked, as its parent). */
  supervisor: TaskSupervisorLogic | null;
  /** The parent when there is no supervisor; default: the owner. */
  parent?: Pid;
}

/**
 * Spawns a task process. Everything that can refuse (a full supervisor, a
 * dead owner) is checked before the process exists, so a refusal leaves no
 * process behind.
 */
function spawnTask<T>(system: ActorSystem, fn: TaskFn<T>, plan: SpawnPlan): TaskRecord<T> {
  const { owner, supervisor } = plan;
  supervisor?.checkRoom();
  const logic = new TaskLogic(fn);
  const parent = supervisor?.proc.self ?? plan.parent ?? owner?.self;
  const linkTo =
    supervisor !== null ? supervisor.proc.self : plan.linkOwner ? owner!.self : undefined;
  const pid = system.spawnLogic(
    logic,
    { link: linkTo },
    { kind: KIND_INIT, payload: undefined },
    parent,
  );
  const proc = pid._proc!;
  if (supervisor !== null && plan.linkOwner) proc.link(owner!.self);
  const ref = owner !== null ? owner.monitor(pid) : makeRef();
  const record = new TaskRecord<T>(pid, ref, owner?.self ?? null, owner, system);
  logic.record = record;
  proc.addExitHook((reason) => record.exited(reason));
  supervisor?.adopt(proc);
  return record;
}

function recordOf<T>(task: Task<T>, where: string): TaskRecord<T> {
  if (!(task instanceof TaskRecord)) {
    throw new InvalidArgumentError(
      `${where} expects a task made by Task.async or a TaskSupervisor function, got ${describeValue(task)}`,
    );
  }
  return task as TaskRecord<T>;
}

function describeTask(record: { readonly pid: Pid }): string {
  return `task ${record.pid}`;
}

// ------------------------------------------------------------------ Task

/** How `Task.shutdown` stops a task: `'brutal_kill'`, or ms to wait after a `shutdown` signal before killing. */
export type TaskShutdown = 'brutal_kill' | number;

/** Starting tasks and collecting their results. */
export const Task = {
  /**
   * Runs `fn` in a new process linked to `ctx` and monitored by it, and
   * returns its handle at once. A crash propagates through the link: `ctx`
   * dies with the task's reason unless it traps exits. Throws
   * `InvalidArgumentError` when `ctx` is not a process context (from outside
   * any process use `TaskSupervisor.asyncNolink`), and `NoProcError` when
   * that process has exited.
   */
  async<T>(ctx: Context, fn: TaskFn<T>): Task<T> {
    const owner = contextProc(ctx, 'Task.async');
    checkFn('Task.async fn', fn);
    return spawnTask(owner.system, fn, { owner, linkOwner: true, supervisor: null });
  },

  /**
   * Waits for the task's result and resolves with it. Rejects with
   * `TaskExitError` (carrying the reason, and the error as `cause` for a
   * crash) if the task exited without a result, and with `CallTimeoutError`
   * after `timeoutMs` (default 5000; `Infinity` waits forever); on a timeout
   * the task is unlinked from its owner and killed, as Elixir's
   * `Task.await` ends it. Consumes the owner's DOWN message. Awaiting again
   * gives the same outcome.
   */
  async await<T>(task: Task<T>, timeoutMs = 5000): Promise<T> {
    const record = recordOf(task, 'Task.await');
    checkTimeout('Task.await timeoutMs', timeoutMs);
    // Timed out once: the task was killed for it, and every await says so.
    if (record.timedOut !== null) throw record.timedOut;
    const outcome = await record.wait(timeoutMs);
    if (outcome === null) {
      if (record.timedOut !== null) throw record.timedOut;
      record.timedOut = new CallTimeoutError(describeTask(record), timeoutMs);
      record.detach();
      record.system.exit(record.pid, 'kill');
      throw record.timedOut;
    }
    // Another await timed out meanwhile and killed the task: the same outcome here.
    if (record.timedOut !== null) throw record.timedOut;
    record.consume();
    if ('ok' in outcome) return outcome.ok;
    throw new TaskExitError(record.pid, outcome.exit);
  },

  /**
   * Waits up to `timeoutMs` (default 5000; `Infinity` allowed) and resolves
   * with `{ ok: value }` if the task returned, `{ exit: reason }` if it
   * exited without a result, or `null` if it is still running, which it is
   * then left to do: yield again later, or shut it down. Never rejects for
   * the task's sake. A non-null answer consumes the owner's DOWN message.
   */
  async yield<T>(task: Task<T>, timeoutMs = 5000): Promise<TaskResult<T> | null> {
    const record = recordOf(task, 'Task.yield');
    checkTimeout('Task.yield timeoutMs', timeoutMs);
    const outcome = await record.wait(timeoutMs);
    if (outcome !== null) record.consume();
    return outcome;
  },

  /**
   * Stops the task unless it has already finished: it is unlinked from its
   * owner (so its end never reaches the owner), then sent a `shutdown` exit
   * signal and given `how` ms (default 5000; `Infinity` allowed) before it
   * is killed, or killed at once with `'brutal_kill'`. Resolves with:
   * - `{ ok: value }` if the task had returned (possibly while being stopped);
   * - `{ exit: reason }` if it had exited for a reason of its own;
   * - `null` if it was stopped by this call.
   */
  async shutdown<T>(task: Task<T>, how: TaskShutdown = 5000): Promise<TaskResult<T> | null> {
    const record = recordOf(task, 'Task.shutdown');
    if (how !== 'brutal_kill') checkTimeout('Task.shutdown how', how);
    if (record.outcome === null) {
      record.detach();
      if (how === 'brutal_kill') {
        record.system.exit(record.pid, 'kill');
      } else {
        record.system.exit(record.pid, 'shutdown');
        // A task that traps exits may finish meanwhile; else it is killed at the deadline.
        if ((await record.wait(how)) === null) record.system.exit(record.pid, 'kill');
      }
    }
    record.consume();
    const outcome = record.outcome!;
    if ('ok' in outcome) return outcome;
    return outcome.exit === 'shutdown' || outcome.exit === 'killed' ? null : outcome;
  },
};

// ------------------------------------------------------------------ TaskSupervisor

/** Options of a task supervisor. Every field is optional. */
export interface TaskSupervisorOptions {
  /** A local name for the supervisor process. Default: none. A non-empty string. */
  name?: string;
  /** Most tasks running at once; starting one more throws `TaskSupervisorFullError`. Default `Infinity`; an integer >= 1. */
  maxChildren?: number;
  /**
   * How each task is stopped when the supervisor stops or `terminateChild`
   * is called: ms to wait after a `shutdown` signal before killing it
   * (default 5000; `Infinity` allowed), or `'brutal_kill'`.
   */
  shutdown?: TaskShutdown;
}

/** A child spec that starts a task supervisor under a supervisor. */
export interface TaskSupervisorChildSpec {
  id: string;
  start: (ctx: Context) => Promise<Pid>;
  restart: 'permanent';
  shutdown: 'infinity';
  type: 'supervisor';
}

const SUPERVISOR_RULES: Record<keyof TaskSupervisorOptions, Rule> = {
  name: { test: (v) => typeof v === 'string' && v.length > 0, expected: 'a non-empty string' },
  maxChildren: {
    test: (v) => v === Infinity || (Number.isInteger(v) && (v as number) >= 1),
    expected: 'an integer >= 1, or Infinity',
  },
  shutdown: {
    test: (v) => v === 'brutal_kill' || isTimeout(v),
    expected: "a number of ms >= 0, Infinity or 'brutal_kill'",
  },
};

/**
 * The supervisor process: traps exits, is linked to and the parent of every
 * task it runs, and never restarts one (tasks are `temporary`). When its
 * parent sends it an exit signal (or it is stopped), it stops every task as
 * `options.shutdown` says, then exits with that reason; while it does, new
 * tasks are refused with `NoProcError`. Exit signals from anyone else are
 * ignored, and a task's end never reaches it as a message: the link is
 * removed as the task exits (its crash has been reported by the runtime).
 * @internal
 */
class TaskSupervisorLogic implements ProcessLogic {
  readonly children = new Set<Pid>();
  proc!: Proc;
  private readonly maxChildren: number;
  readonly shutdown: TaskShutdown;
  private allGone: (() => void) | null = null;

  constructor(options: TaskSupervisorOptions) {
    this.maxChildren = options.maxChildren ?? Infinity;
    this.shutdown = options.shutdown ?? 5000;
  }

  handle(proc: Proc, kind: number, payload: unknown): undefined {
    if (kind === KIND_INFO && payload instanceof ExitMessage && payload.from === proc.parent) {
      proc.system.stopProcess(proc, payload.reason);
    } else if (kind === KIND_STOP) {
      proc.system.stopProcess(proc, payload as ExitReason);
    } else if (kind === KIND_CALL) {
      unexpectedCall(payload as From, `task supervisor ${proc.self}`);
    }
    return undefined;
  }

  /** Stops every task before the supervisor exits; resolves once all are gone. */
  terminate(proc: Proc): Promise<void> | undefined {
    if (this.children.size === 0) return undefined;
    return new Promise((resolve) => {
      const clock = proc.system.clock;
      let timer: TimerHandle | null = null;
      this.allGone = () => {
        this.allGone = null;
        if (timer !== null) clock.clearTimeout(timer);
        resolve();
      };
      const kill = () => {
        timer = null;
        for (const child of [...this.children]) proc.exit(child, 'kill');
      };
      if (this.shutdown === 'brutal_kill') {
        kill();
        return;
      }
      for (const child of [...this.children]) proc.exit(child, 'shutdown');
      // Tasks that trap exits get until the deadline, then are killed.
      if (this.children.size > 0 && this.shutdown !== Infinity) {
        timer = clock.setTimeout(kill, this.shutdown, undefined);
      }
    });
  }

  describeState(): unknown {
    return { tasks: this.children.size, maxChildren: this.maxChildren };
  }

  checkRoom(): void {
    // A supervisor that is stopping takes no new tasks.
    if (this.proc.status >= S_EXITING) throw new NoProcError(this.proc.self.toString());
    if (this.children.size >= this.maxChildren) {
      throw new TaskSupervisorFullError(this.proc.self, this.maxChildren);
    }
  }

  adopt(child: Proc): void {
    const pid = child.self;
    this.children.add(pid);
    child.addExitHook(() => {
      // Runs before the task's links fire: unlinking here spares the
      // supervisor an EXIT message it would only ignore.
      this.proc.unlink(pid);
      this.children.delete(pid);
      if (this.children.size === 0) this.allGone?.();
    });
  }
}

function supervisorOf(caller: unknown, sup: Dest, where: string): TaskSupervisorLogic {
  const system = systemOf(caller, where);
  const proc = system.resolve(sup);
  if (proc === null || proc.status === S_DEAD) throw new NoProcError(describeDest(sup));
  if (!(proc.logic instanceof TaskSupervisorLogic)) {
    throw new InvalidArgumentError(
      `${where} expects a task supervisor (started with TaskSupervisor.start), but ${describeDest(sup)} is another kind of process`,
    );
  }
  return proc.logic;
}

/** Supervised tasks: a supervisor that runs tasks and stops them when it stops. */
export const TaskSupervisor = {
  /**
   * Starts a task supervisor and resolves with its pid. From a process
   * context it is linked to that process, its parent; from an
   * `ActorSystem` it is unlinked. Rejects with `InvalidArgumentError` for
   * bad options and `NameTakenError` for a taken name.
   */
  async start(spawner: ActorSystem | Context, options: TaskSupervisorOptions = {}): Promise<Pid> {
    const system = systemOf(spawner, 'TaskSupervisor.start');
    checkFields('options', options, SUPERVISOR_RULES);
    const parent = spawner instanceof ActorSystem ? undefined : spawner.self;
    const logic = new TaskSupervisorLogic(options);
    const pid = system.spawnLogic(
      logic,
      { name: options.name, link: parent, trapExit: true },
      undefined,
      parent,
    );
    logic.proc = pid._proc!;
    return pid;
  },

  /**
   * A child spec for a supervisor: type `'supervisor'`, `permanent`,
   * shutdown `'infinity'` (it stops its own tasks within
   * `options.shutdown`). `options.id` defaults to the name, or `'task_supervisor'`.
   */
  childSpec(options: TaskSupervisorOptions & { id?: string } = {}): TaskSupervisorChildSpec {
    const { id, ...rest } = options;
    checkFields('options', rest, SUPERVISOR_RULES);
    return {
      id: id ?? rest.name ?? 'task_supervisor',
      start: (ctx: Context) => TaskSupervisor.start(ctx, rest),
      restart: 'permanent',
      shutdown: 'infinity',
      type: 'supervisor',
    };
  },

  /**
   * Runs `fn` under `sup`, linked to `ctx` too and monitored by it: like
   * `Task.async`, a crash propagates to `ctx`; the supervisor stops the task
   * when it stops. Throws `TaskSupervisorFullError` when `sup` is full.
   */
  async<T>(ctx: Context, sup: Dest, fn: TaskFn<T>): Task<T> {
    const owner = contextProc(ctx, 'TaskSupervisor.async');
    checkFn('TaskSupervisor.async fn', fn);
    const supervisor = supervisorOf(ctx, sup, 'TaskSupervisor.async');
    return spawnTask(owner.system, fn, { owner, linkOwner: true, supervisor });
  },

  /**
   * Runs `fn` under `sup`, not linked to the caller: a crash is reported (a
   * DOWN message to a calling process, `TaskExitError` from `await`) and
   * never propagated. From an `ActorSystem` the task has no owner and no
   * DOWN message. Throws `TaskSupervisorFullError` when `sup` is full.
   */
  asyncNolink<T>(caller: ActorSystem | Context, sup: Dest, fn: TaskFn<T>): Task<T> {
    checkFn('TaskSupervisor.asyncNolink fn', fn);
    const supervisor = supervisorOf(caller, sup, 'TaskSupervisor.asyncNolink');
    const owner =
      caller instanceof ActorSystem ? null : contextProc(caller, 'TaskSupervisor.asyncNolink');
    return spawnTask(supervisor.proc.system, fn, { owner, linkOwner: false, supervisor });
  },

  /**
   * Runs `fn` under `sup` with no owner: fire-and-forget. Returns the task's
   * pid; its result is discarded and a crash only reported by the runtime.
   */
  startChild(caller: ActorSystem | Context, sup: Dest, fn: TaskFn<unknown>): Pid {
    checkFn('TaskSupervisor.startChild fn', fn);
    const supervisor = supervisorOf(caller, sup, 'TaskSupervisor.startChild');
    return spawnTask(supervisor.proc.system, fn, { owner: null, linkOwner: false, supervisor }).pid;
  },

  /** The pids of the tasks `sup` runs now, oldest first. */
  children(caller: ActorSystem | Context, sup: Dest): Pid[] {
    return [...supervisorOf(caller, sup, 'TaskSupervisor.children').children];
  },

  /**
   * Stops one of `sup`'s tasks as the supervisor's `shutdown` option says
   * and resolves true once it has exited; resolves false if `pid` is not one
   * of its running tasks.
   */
  async terminateChild(caller: ActorSystem | Context, sup: Dest, pid: Pid): Promise<boolean> {
    if (!(pid instanceof Pid)) {
      throw new InvalidArgumentError(
        `TaskSupervisor.terminateChild expects a task's pid, got ${describeValue(pid)}`,
      );
    }
    const supervisor = supervisorOf(caller, sup, 'TaskSupervisor.terminateChild');
    if (!supervisor.children.has(pid)) return false;
    const system = supervisor.proc.system;
    const how = supervisor.shutdown;
    if (how === 'brutal_kill') {
      supervisor.proc.exit(pid, 'kill');
      return true;
    }
    const exited = system.whenExited(pid, how).catch(() => {
      supervisor.proc.exit(pid, 'kill');
    });
    supervisor.proc.exit(pid, 'shutdown');
    await exited;
    return true;
  },

  /**
   * Like `asyncStream`, with each item's task run under `sup` (linked to it,
   * not to the caller); `maxChildren` of `sup` applies on top of
   * `maxConcurrency`: a full supervisor fails the stream with
   * `TaskSupervisorFullError`.
   */
  asyncStreamNolink,
};

// ------------------------------------------------------------------ asyncStream

/** Options of `asyncStream`. Every field is optional. */
export interface AsyncStreamOptions {
  /** Most tasks running at once. Default `2 × os.availableParallelism()`; an integer >= 1. */
  maxConcurrency?: number;
  /** Results in input order (true, the default; results that finish early wait) or in completion order. */
  ordered?: boolean;
  /** Ms each item's task may run, counted from its start; then it is killed. Default 5000; `Infinity` allowed. */
  timeout?: number;
  /**
   * What an item that fails (its task crashed, was killed, or timed out) does:
   * - `'throw'` (default): the iteration rejects, at the next `next()`, with
   *   `TaskExitError` (or `CallTimeoutError`); every other task is killed
   *   at once and unread results are dropped; the iterator is then done.
   * - `'yield'`: every item yields a `TaskResult`: `{ ok: value }` or
   *   `{ exit: reason }` (a `CallTimeoutError` as reason for a timeout), and
   *   the stream goes on.
   */
  onExit?: 'throw' | 'yield';
}

const STREAM_RULES: Record<keyof AsyncStreamOptions, Rule> = {
  maxConcurrency: {
    test: (v) => Number.isInteger(v) && (v as number) >= 1,
    expected: 'an integer >= 1',
  },
  ordered: { test: (v) => typeof v === 'boolean', expected: 'a boolean' },
  timeout: TIMEOUT_RULE,
  onExit: { test: (v) => v === 'throw' || v === 'yield', expected: "'throw' or 'yield'" },
};

/** The item function of a stream: gets the item and the task's context. */
export type StreamFn<T, R> = (item: T, ctx: Context) => R | Promise<R>;

/**
 * Maps `fn` over `items` (an iterable or async iterable), each item in its
 * own task, at most `maxConcurrency` at once, and iterates the results: in
 * input order by default, in completion order with `ordered: false`.
 *
 * Items are pulled lazily, one at a time, and tasks start only while the
 * consumer is waiting in `next()`: a slow consumer holds back new tasks
 * (tasks already running finish, their results wait). Each task is a child
 * of `caller` (for a context) but not linked to it: a failing item is
 * reported through the iterator, as `options.onExit` says, never by killing
 * the caller; a failure left uncaught in a handler crashes the caller
 * anyway, which is what Elixir's link would have done.
 *
 * Cleanup: when the iteration ends (all items done, a failure thrown, or
 * `return()` called, as `break` in `for await` does) every task still
 * running is killed, every timer cleared and the source's `return()` called.
 * If `caller` is a context and its process exits, the stream ends the same
 * way. A consumer that just stops calling `next()` without `return()`
 * leaves its running tasks to finish or time out.
 *
 * `fn` may throw or reject; that is the item's failure. An error thrown by
 * the source itself rejects the iteration in both modes. Throws
 * `InvalidArgumentError` at once for bad arguments.
 */
export function asyncStream<T, R>(
  caller: ActorSystem | Context,
  items: Iterable<T> | AsyncIterable<T>,
  fn: StreamFn<T, R>,
  options?: AsyncStreamOptions & { onExit?: 'throw' },
): AsyncIterableIterator<R>;
export function asyncStream<T, R>(
  caller: ActorSystem | Context,
  items: Iterable<T> | AsyncIterable<T>,
  fn: StreamFn<T, R>,
  options: AsyncStreamOptions & { onExit: 'yield' },
): AsyncIterableIterator<TaskResult<R>>;
export function asyncStream<T, R>(
  caller: ActorSystem | Context,
  items: Iterable<T> | AsyncIterable<T>,
  fn: StreamFn<T, R>,
  options: AsyncStreamOptions = {},
): AsyncIterableIterator<R | TaskResult<R>> {
  return startStream(caller, null, items, fn, options, 'asyncStream');
}

/** `asyncStream` with each task under the task supervisor `sup`. See `TaskSupervisor.asyncStreamNolink`. */
function asyncStreamNolink<T, R>(
  caller: ActorSystem | Context,
  sup: Dest,
  items: Iterable<T> | AsyncIterable<T>,
  fn: StreamFn<T, R>,
  options?: AsyncStreamOptions & { onExit?: 'throw' },
): AsyncIterableIterator<R>;
function asyncStreamNolink<T, R>(
  caller: ActorSystem | Context,
  sup: Dest,
  items: Iterable<T> | AsyncIterable<T>,
  fn: StreamFn<T, R>,
  options: AsyncStreamOptions & { onExit: 'yield' },
): AsyncIterableIterator<TaskResult<R>>;
function asyncStreamNolink<T, R>(
  caller: ActorSystem | Context,
  sup: Dest,
  items: Iterable<T> | AsyncIterable<T>,
  fn: StreamFn<T, R>,
  options: AsyncStreamOptions = {},
): AsyncIterableIterator<R | TaskResult<R>> {
  const where = 'TaskSupervisor.asyncStreamNolink';
  return startStream(caller, supervisorOf(caller, sup, where), items, fn, options, where);
}

function startStream<T, R>(
  caller: ActorSystem | Context,
  supervisor: TaskSupervisorLogic | null,
  items: Iterable<T> | AsyncIterable<T>,
  fn: StreamFn<T, R>,
  options: AsyncStreamOptions,
  where: string,
): AsyncIterableIterator<R | TaskResult<R>> {
  const system = systemOf(caller, where);
  const owner = caller instanceof ActorSystem ? null : contextProc(caller, where);
  checkFn(`${where} fn`, fn);
  checkFields('options', options, STREAM_RULES);
  const source = openSource(items, where);
  return new StreamRun<T, R>(system, owner, supervisor, source, fn, {
    maxConcurrency: options.maxConcurrency ?? 2 * availableParallelism(),
    ordered: options.ordered ?? true,
    timeout: options.timeout ?? 5000,
    onExit: options.onExit ?? 'throw',
  });
}

type Source<T> =
  | { readonly async: false; readonly it: Iterator<T> }
  | { readonly async: true; readonly it: AsyncIterator<T> };

function openSource<T>(items: Iterable<T> | AsyncIterable<T>, where: string): Source<T> {
  if (items !== null && typeof items === 'object') {
    const asyncOpen = (items as AsyncIterable<T>)[Symbol.asyncIterator];
    if (typeof asyncOpen === 'function') return { async: true, it: asyncOpen.call(items) };
  }
  const open =
    items === null || items === undefined ? undefined : (items as Iterable<T>)[Symbol.iterator];
  if (typeof open === 'function') return { async: false, it: open.call(items) };
  throw new InvalidArgumentError(
    `${where} items must be an iterable or an async iterable, got ${describeValue(items)}`,
  );
}

interface InFlight<R> {
  readonly task: TaskRecord<R>;
  timer: TimerHandle | null;
  timedOut: boolean;
}

type StreamState = 'open' | 'failed' | 'done';

type Waiter<X> = {
  resolve: (result: IteratorResult<X>) => void;
  reject: (error: unknown) => void;
};

/**
 * One run of a stream. Every event (a `next()` call, an item pulled, a task
 * exit) calls `pump`, which starts tasks while there is room and a consumer
 * waiting, hands out a ready result, or ends the iteration.
 *
 * States: `open` runs; `failed` holds a failure for the next `next()` (tasks
 * already killed); `done` answers every `next()` with `done: true`.
 * @internal
 */
class StreamRun<T, R> implements AsyncIterableIterator<R | TaskResult<R>> {
  private state: StreamState = 'open';
  private failure: unknown = null;
  private sourceDone = false;
  private pulling = false;
  /** An item an async source delivered after the consumer stopped waiting: started at the next `next()`. */
  private held: { readonly item: T } | null = null;
  private started = 0;
  private emitted = 0;
  private readonly running = new Map<number, InFlight<R>>();
  /** Ordered mode: finished results by input index, waiting for their turn. */
  private readonly byIndex = new Map<number, TaskResult<R>>();
  /** Unordered mode: finished results in completion order. */
  private readonly queue: TaskResult<R>[] = [];
  private waiter: Waiter<R | TaskResult<R>> | null = null;
  private chain: Promise<unknown> = Promise.resolve();
  private readonly ownerHook = () => this.close();

  constructor(
    private readonly system: ActorSystem,
    private readonly owner: Proc | null,
    private readonly supervisor: TaskSupervisorLogic | null,
    private readonly source: Source<T>,
    private readonly fn: StreamFn<T, R>,
    private readonly options: Required<AsyncStreamOptions>,
  ) {
    owner?.addExitHook(this.ownerHook);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** The next result. Calls made while one is pending are answered in order. */
  next(): Promise<IteratorResult<R | TaskResult<R>>> {
    const step = this.chain.then(
      () =>
        new Promise<IteratorResult<R | TaskResult<R>>>((resolve, reject) => {
          this.waiter = { resolve, reject };
          this.pump();
        }),
    );
    this.chain = step.catch(() => undefined);
    return step;
  }

  /** Ends the iteration early (`break` calls it): running tasks are killed, the source closed. */
  async return(): Promise<IteratorResult<R | TaskResult<R>>> {
    this.close();
    return { done: true, value: undefined };
  }

  // ---------------------------------------------------------------- events

  private pump(): void {
    const waiter = this.waiter;
    if (waiter === null) return;
    if (this.state === 'open') this.fill();
    if (this.state === 'failed') {
      this.waiter = null;
      this.state = 'done';
      waiter.reject(this.failure);
      return;
    }
    const result = this.state === 'open' ? this.take() : undefined;
    if (result !== undefined) {
      this.waiter = null;
      waiter.resolve({ done: false, value: this.emit(result) });
    } else if (
      this.state === 'done' ||
      (this.sourceDone && this.held === null && this.running.size === 0)
    ) {
      this.close();
    }
  }

  private take(): TaskResult<R> | undefined {
    if (!this.options.ordered) return this.queue.shift();
    const result = this.byIndex.get(this.emitted);
    if (result !== undefined) {
      this.byIndex.delete(this.emitted);
      this.emitted++;
    }
    return result;
  }

  private emit(result: TaskResult<R>): R | TaskResult<R> {
    if (this.options.onExit === 'yield') return result;
    return (result as { ok: R }).ok;
  }

  /** Starts tasks while there is room and items; pulls from an async source one at a time. */
  private fill(): void {
    const source = this.source;
    const held = this.held;
    if (held !== null && this.running.size < this.options.maxConcurrency) {
      this.held = null;
      this.start(held.item);
    }
    while (this.state === 'open' && !this.sourceDone && !this.pulling && this.held === null) {
      if (this.running.size >= this.options.maxConcurrency) return;
      if (source.async) {
        this.pulling = true;
        source.it.next().then(
          (r) => this.pulled(r),
          (error: unknown) => this.fail(error),
        );
        return;
      }
      let r: IteratorResult<T>;
      try {
        r = source.it.next();
      } catch (error) {
        this.fail(error);
        return;
      }
      if (r.done === true) this.sourceDone = true;
      else this.start(r.value);
    }
  }

  private pulled(r: IteratorResult<T>): void {
    this.pulling = false;
    if (this.state !== 'open') return;
    if (r.done === true) this.sourceDone = true;
    else this.held = { item: r.value };
    // pump starts the held item only if the consumer is still waiting.
    this.pump();
  }

  private start(item: T): void {
    const index = this.started++;
    const fn = this.fn;
    let task: TaskRecord<R>;
    try {
      task = spawnTask(this.system, (ctx) => fn(item, ctx), {
        owner: null,
        linkOwner: false,
        supervisor: this.supervisor,
        parent: this.owner?.self,
      });
    } catch (error) {
      this.fail(error);
      return;
    }
    const entry: InFlight<R> = { task, timer: null, timedOut: false };
    this.running.set(index, entry);
    task.pid._proc!.addExitHook(() => this.taskExited(index, entry));
    const timeout = this.options.timeout;
    if (timeout !== Infinity) {
      entry.timer = this.system.clock.setTimeout(() => this.timedOut(entry), timeout, undefined);
    }
  }

  private timedOut(entry: InFlight<R>): void {
    entry.timer = null;
    entry.timedOut = true;
    this.system.exit(entry.task.pid, 'kill');
  }

  /** Exit hook of an item's task: keep its result, or fail the stream. */
  private taskExited(index: number, entry: InFlight<R>): void {
    if (!this.running.delete(index)) return;
    if (entry.timer !== null) this.system.clock.clearTimeout(entry.timer);
    if (this.state !== 'open') return;
    const task = entry.task;
    const result: TaskResult<R> = entry.timedOut
      ? {
          exit: new CallTimeoutError(`${describeTask(task)} (item ${index})`, this.options.timeout),
        }
      : task.outcome!;
    if ('exit' in result && this.options.onExit === 'throw') {
      const reason = result.exit;
      this.fail(reason instanceof CallTimeoutError ? reason : new TaskExitError(task.pid, reason));
      return;
    }
    if (this.options.ordered) this.byIndex.set(index, result);
    else this.queue.push(result);
    this.pump();
  }

  // ---------------------------------------------------------------- endings

  private fail(error: unknown): void {
    if (this.state !== 'open') return;
    this.state = 'failed';
    this.failure = error;
    this.release();
    this.pump();
  }

  /** Ends the iteration: a pending `next()` resolves done. Idempotent. */
  private close(): void {
    const wasOpen = this.state === 'open';
    this.state = 'done';
    if (wasOpen) this.release();
    const waiter = this.waiter;
    if (waiter !== null) {
      this.waiter = null;
      waiter.resolve({ done: true, value: undefined });
    }
  }

  /**
   * Kills running tasks, clears their timers and the buffers, closes the
   * source and unhooks the owner. The state has left `open` first, so the
   * exits this causes are ignored.
   */
  private release(): void {
    this.owner?.removeExitHook(this.ownerHook);
    for (const entry of [...this.running.values()]) {
      if (entry.timer !== null) this.system.clock.clearTimeout(entry.timer);
      entry.timer = null;
      this.system.exit(entry.task.pid, 'kill');
    }
    this.running.clear();
    this.held = null;
    this.byIndex.clear();
    this.queue.length = 0;
    if (!this.sourceDone) {
      this.sourceDone = true;
      closeSource(this.source);
    }
  }
}

function closeSource(source: Source<unknown>): void {
  try {
    const closing = source.it.return?.();
    if (isThenable(closing)) closing.then(undefined, () => undefined);
  } catch {
    // A source that fails to close holds nothing we could release.
  }
}
