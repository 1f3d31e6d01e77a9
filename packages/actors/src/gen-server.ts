import { enableMapSet, produce, type Draft } from 'immer';

// Server states may hold Maps and Sets; immer needs its plugin for recipes on them.
enableMapSet();
import { From, settleReply } from './call.js';
import type { Clock, TimerHandle } from './clock.js';
import { describeDest, describeValue } from './describe.js';
import {
  ExitMessage,
  KIND_CALL,
  KIND_CAST,
  KIND_INFO,
  KIND_INIT,
  KIND_STOP,
  type DownMessage,
} from './messages.js';
import type { Pid } from './pid.js';
import { S_DEAD, thrownReason, type Context, type Proc, type ProcessLogic } from './process.js';
import type { AnyProtocol, CallOf, CastOf, Dest, ReplyOf, Via } from './protocol.js';
import {
  ActorError,
  InvalidArgumentError,
  StartError,
  checkExitReason,
  isExitReason,
  formatReason,
  type ExitReason,
  registerErrorClasses,
} from './reasons.js';
import { ActorSystem, type SpawnOptions } from './system.js';

/**
 * The next state: a new value, or an immer recipe that edits a draft of the
 * current state (`draft => { draft.count += 1 }`), applied with `produce`.
 * Either way the committed state is only replaced once the handler has
 * returned: a handler that throws leaves it untouched. (A server's state
 * cannot itself be a function.)
 */
export type NextState<S> = S | ((draft: Draft<S>) => void | S);

/** Options common to results that keep the server running. */
export interface ContinueOption {
  /** Run `handleContinue(arg)` before any other message. */
  continue?: unknown;
}

/** `init` succeeded: the server runs with `state`. */
export interface InitOk<S> {
  readonly kind: 'ok';
  readonly state: S;
  readonly continue?: unknown;
}
/** `init` refused to start: the start rejects with `reason`, the process exits with it. */
export interface InitStop {
  readonly kind: 'stop';
  readonly reason: ExitReason;
}
/** `init` chose not to start: the start rejects with `StartError('start_ignored')`, exit `normal`. */
export interface InitIgnore {
  readonly kind: 'ignore';
}
/** What `init` returns: `ok(state)`, `stop(reason)` or `ignore()`. */
export type InitResult<S> = InitOk<S> | InitStop | InitIgnore;

/** Reply to the caller now and keep running. */
export interface Reply<S, R> {
  readonly kind: 'reply';
  readonly reply: R;
  readonly state: NextState<S>;
  readonly continue?: unknown;
}
/** Keep running; a call is answered later with `GenServer.reply(from, value)`. */
export interface NoReply<S> {
  readonly kind: 'noreply';
  readonly state: NextState<S>;
  readonly continue?: unknown;
}
/** Stop with `reason` after committing `state` (and replying, in a call, when `reply` is given). */
export interface Stop<S, R = unknown> {
  readonly kind: 'stop';
  readonly reason: ExitReason;
  readonly state: NextState<S>;
  readonly hasReply: boolean;
  readonly reply?: R;
}
/** What `handleCall` returns: `reply(...)`, `noreply(...)` or `stop(...)`. */
export type CallResult<S, R> = Reply<S, R> | NoReply<S> | Stop<S, R>;
/** What `handleCast`, `handleInfo` and `handleContinue` return: `noreply(...)` or `stop(...)`. */
export type NoReplyResult<S> = NoReply<S> | Stop<S>;

/** Results may be returned directly or from an async handler. */
export type MaybePromise<T> = T | Promise<T>;

/**
 * A GenServer's callbacks. `S` is the state, `A` the `init` argument, `P` the
 * protocol (requests, replies and casts; see `Protocol`), `I` the info
 * messages it expects besides DOWN/EXIT.
 *
 * Each callback runs inside the server process, one message at a time. An
 * async callback suspends only this server: its mailbox keeps filling and
 * other processes keep running.
 */
export interface GenServer<S, A = void, P = AnyProtocol, I = unknown> {
  /**
   * Runs in the new process before `start` resolves. Returns:
   * - `ok(state, { continue })`: start resolves with the pid; with `continue`,
   *   `handleContinue` runs before any other message;
   * - `stop(reason)`: start rejects with a `StartError` carrying `reason`; the
   *   process exits with it;
   * - `ignore()`: start rejects with `StartError` code `start_ignored` (a
   *   supervisor records the child as not running); the process exits `normal`.
   * Throwing is like `stop(error)`. Exceeding the `timeout` start option
   * kills the process and rejects with code `init_timeout`. In every failure
   * the name is free afterwards and no EXIT reaches the parent.
   */
  init(args: A, ctx: Context): MaybePromise<InitResult<S>>;
  /**
   * Handles a `call`. Returns:
   * - `reply(value, next, { continue })`: the caller gets `value`;
   * - `noreply(next, { continue })`: answer later with `GenServer.reply(from, value)`;
   * - `stop(reason, next, value?)`: stop (replying first if `value` is given);
   *   a caller left without reply rejects with `CallExitError`.
   * Throwing crashes the server; the caller's call rejects with the error as reason.
   * If absent, a call crashes the server with code `unexpected_call`.
   */
  handleCall?(
    request: CallOf<P>,
    from: From<ReplyOf<P, CallOf<P>>>,
    state: S,
    ctx: Context,
  ): MaybePromise<CallResult<S, ReplyOf<P, CallOf<P>>>>;
  /**
   * Handles a `cast`. Returns `noreply(next, { continue })` or `stop(reason, next)`.
   * If absent, a cast crashes the server with code `unexpected_cast`.
   */
  handleCast?(message: CastOf<P>, state: S, ctx: Context): MaybePromise<NoReplyResult<S>>;
  /**
   * Handles any other message: plain sends, timer messages, DOWN from
   * monitors, EXIT from links when trapping exits (except an EXIT from the
   * parent, which stops the server with that reason). Returns
   * `noreply(next, { continue })` or `stop(reason, next)`. If absent, such
   * messages are ignored.
   */
  handleInfo?(
    message: I | DownMessage | ExitMessage,
    state: S,
    ctx: Context,
  ): MaybePromise<NoReplyResult<S>>;
  /** Runs after a result that carried `continue`. Returns like `handleCast`. */
  handleContinue?(arg: unknown, state: S, ctx: Context): MaybePromise<NoReplyResult<S>>;
  /**
   * Runs before the server exits because a callback returned `stop` or
   * threw, because of `GenServer.stop`, or because its parent sent an exit
   * signal while it traps exits. Not run when it is killed, or when an exit
   * signal ends it without trapping (as in OTP). Its result is ignored; a
   * throw is logged and the exit goes on with the original reason.
   */
  terminate?(reason: ExitReason, state: S, ctx: Context): void | Promise<void>;
  /** What crash reports show of the state (redact secrets here). Default: the state itself. */
  formatState?(state: S): unknown;
}

/** `init` result: start with `state`. */
export function ok<S>(state: S, options?: ContinueOption): InitOk<S> {
  return options?.continue === undefined
    ? { kind: 'ok', state }
    : { kind: 'ok', state, continue: options.continue };
}

/** `init` result: do not start, and exit quietly. */
export function ignore(): InitIgnore {
  return IGNORE;
}
const IGNORE: InitIgnore = Object.freeze({ kind: 'ignore' });

/** `handleCall` result: reply `value` and continue with `state`. */
export function reply<S, R>(value: R, state: NextState<S>, options?: ContinueOption): Reply<S, R> {
  // Forgetting the state is a common slip in untyped code; it would become
  // `undefined` and fail much later, far from the cause.
  if (arguments.length < 2) throw missingState('reply(value, state)');
  // One object shape whatever the options, so the runtime's reads stay monomorphic.
  return { kind: 'reply', reply: value, state, continue: options?.continue };
}

/** Result: continue with `state` without replying (yet). */
export function noreply<S>(state: NextState<S>, options?: ContinueOption): NoReply<S> {
  if (arguments.length < 1) throw missingState('noreply(state)');
  return { kind: 'noreply', state, continue: options?.continue };
}

/**
 * Result: stop with `reason`. In `init`, only the reason is given. In
 * `handleCall`, a third argument is the reply sent before stopping.
 */
export function stop(reason: ExitReason): InitStop;
export function stop<S>(reason: ExitReason, state: NextState<S>): Stop<S, never>;
export function stop<S, R>(reason: ExitReason, state: NextState<S>, replyValue: R): Stop<S, R>;
export function stop(reason: ExitReason, ...rest: unknown[]): InitStop | Stop<unknown, unknown> {
  if (rest.length === 0) return { kind: 'stop', reason } as InitStop;
  if (rest.length === 1) return { kind: 'stop', reason, state: rest[0], hasReply: false };
  return { kind: 'stop', reason, state: rest[0], hasReply: true, reply: rest[1] };
}

function missingState(form: string): InvalidArgumentError {
  return new InvalidArgumentError(
    `${form} needs the next state; pass the current one to keep it (state may be undefined only when passed explicitly)`,
  );
}

/** A callback returned something that is not one of its documented results. */
export class BadReturnError extends ActorError {
  override name = 'BadReturnError';
  constructor(
    readonly callback: string,
    readonly value: unknown,
  ) {
    super(
      'bad_return',
      `${callback} returned ${describeValue(value)}; expected one of its documented results ` +
        `(ok/ignore/stop for init, reply/noreply/stop for handleCall, noreply/stop otherwise)`,
    );
  }
}

registerErrorClasses(BadReturnError);

interface StartControl {
  resolve(pid: Pid): void;
  reject(error: unknown): void;
  clock: Clock;
  timer: TimerHandle | null;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    typeof value === 'object' &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

/** Runs a `GenServer` behaviour inside a process. @internal */
class ServerLogic<S> implements ProcessLogic {
  state: S = undefined as S;
  private start: StartControl | null;

  constructor(
    private readonly behaviour: GenServer<S, unknown, AnyProtocol, unknown>,
    start: StartControl,
  ) {
    this.start = start;
  }

  handle(proc: Proc, kind: number, payload: unknown): unknown {
    const b = this.behaviour;
    switch (kind) {
      case KIND_CAST:
        if (b.handleCast === undefined) throw unexpected('cast', payload);
        return this.afterNoreply(proc, b.handleCast(payload, this.state, proc), 'handleCast');
      case KIND_CALL: {
        const from = payload as From;
        if (b.handleCall === undefined) throw unexpected('call', from.request);
        return this.afterCall(proc, from, b.handleCall(from.request, from, this.state, proc));
      }
      case KIND_INFO:
        if (payload instanceof ExitMessage && proc.trapExits && payload.from === proc.parent) {
          // As in OTP: an exit signal from the parent of a server that traps
          // exits means "stop", and terminate runs with the parent's reason.
          proc.system.stopProcess(proc, payload.reason);
          return undefined;
        }
        if (b.handleInfo === undefined) return undefined;
        return this.afterNoreply(proc, b.handleInfo(payload, this.state, proc), 'handleInfo');
      case KIND_INIT:
        return this.init(proc, payload);
      case KIND_STOP:
        proc.system.stopProcess(proc, payload as ExitReason);
        return undefined;
      default:
        return undefined;
    }
  }

  terminate(proc: Proc, reason: ExitReason): unknown {
    const t = this.behaviour.terminate;
    if (t === undefined || this.start !== null) return undefined;
    return t.call(this.behaviour, reason, this.state, proc);
  }

  describeState(): unknown {
    const format = this.behaviour.formatState;
    return format === undefined ? this.state : format.call(this.behaviour, this.state);
  }

  // ------------------------------------------------------------ results

  private afterNoreply(proc: Proc, result: unknown, callback: string): unknown {
    // The common case, a synchronous noreply, commits without a promise check.
    if (
      result !== null &&
      typeof result === 'object' &&
      (result as NoReply<S>).kind === 'noreply'
    ) {
      const r = result as NoReply<S>;
      this.state = this.next(r.state);
      return r.continue === undefined ? undefined : this.runContinue(proc, r.continue);
    }
    if (isThenable(result)) return result.then((r) => this.commitNoreply(proc, r, callback));
    return this.commitNoreply(proc, result, callback);
  }

  private commitNoreply(proc: Proc, result: unknown, callback: string): unknown {
    if (proc.status === S_DEAD) return undefined;
    const r = result as NoReplyResult<S> | null;
    switch (r?.kind) {
      case 'noreply':
        this.state = this.next(r.state);
        return r.continue === undefined ? undefined : this.runContinue(proc, r.continue);
      case 'stop': {
        const reason = checkExitReason(r.reason, `${callback}'s stop result`);
        this.state = this.next(r.state);
        proc.system.stopProcess(proc, reason);
        return undefined;
      }
      default:
        throw new BadReturnError(callback, result);
    }
  }

  private afterCall(proc: Proc, from: From, result: unknown): unknown {
    if (
      result !== null &&
      typeof result === 'object' &&
      (result as Reply<S, unknown>).kind === 'reply'
    ) {
      const r = result as Reply<S, unknown>;
      this.state = this.next(r.state);
      settleReply(from, r.reply);
      return r.continue === undefined ? undefined : this.runContinue(proc, r.continue);
    }
    if (isThenable(result)) return result.then((r) => this.commitCall(proc, from, r));
    return this.commitCall(proc, from, result);
  }

  private commitCall(proc: Proc, from: From, result: unknown): unknown {
    if (proc.status === S_DEAD) return undefined;
    const r = result as CallResult<S, unknown> | null;
    switch (r?.kind) {
      case 'reply':
        this.state = this.next(r.state);
        settleReply(from, r.reply);
        return r.continue === undefined ? undefined : this.runContinue(proc, r.continue);
      case 'noreply':
        this.state = this.next(r.state);
        return r.continue === undefined ? undefined : this.runContinue(proc, r.continue);
      case 'stop': {
        const reason = checkExitReason(r.reason, "handleCall's stop result");
        this.state = this.next(r.state);
        if (r.hasReply) settleReply(from, r.reply);
        proc.system.stopProcess(proc, reason);
        return undefined;
      }
      default:
        throw new BadReturnError('handleCall', result);
    }
  }

  private runContinue(proc: Proc, arg: unknown): unknown {
    const hc = this.behaviour.handleContinue;
    if (hc === undefined) {
      throw new ActorError(
        'no_handle_continue',
        `a result asked to continue with ${describeValue(arg)} but the server has no handleContinue`,
      );
    }
    return this.afterNoreply(
      proc,
      hc.call(this.behaviour, arg, this.state, proc),
      'handleContinue',
    );
  }

  private next(value: NextState<S>): S {
    if (typeof value === 'function') {
      return produce(this.state, value as (draft: Draft<S>) => void) as S;
    }
    return value;
  }

  // ------------------------------------------------------------ init

  private init(proc: Proc, args: unknown): unknown {
    let result: unknown;
    try {
      result = this.behaviour.init(args, proc);
    } catch (thrown) {
      this.failStart(proc, thrownReason(thrown));
      return undefined;
    }
    if (isThenable(result)) {
      return result.then(
        (r) => this.commitInit(proc, r),
        (thrown: unknown) => this.failStart(proc, thrownReason(thrown)),
      );
    }
    return this.commitInit(proc, result);
  }

  private commitInit(proc: Proc, result: unknown): unknown {
    const start = this.start;
    if (start === null || proc.status === S_DEAD) return undefined;
    const r = result as InitResult<S> | null;
    switch (r?.kind) {
      case 'ok':
        this.state = r.state;
        this.settleStart();
        start.resolve(proc.self);
        return r.continue === undefined ? undefined : this.runContinue(proc, r.continue);
      case 'stop':
        this.failStart(
          proc,
          isExitReason(r.reason) ? r.reason : new BadReturnError('init', result),
        );
        return undefined;
      case 'ignore':
        this.failStart(proc, 'normal', 'ignore');
        return undefined;
      default:
        this.failStart(proc, new BadReturnError('init', result));
        return undefined;
    }
  }

  private settleStart(): void {
    const start = this.start;
    if (start !== null && start.timer !== null) {
      start.clock.clearTimeout(start.timer);
      start.timer = null;
    }
    this.start = null;
    const watched = this.watched;
    if (watched !== null) {
      this.watched = null;
      watched.removeExitHook(this.startHook);
    }
  }

  /** The process being started, watched so that its death during init settles the start. */
  private watched: Proc | null = null;
  private readonly startHook = (reason: ExitReason): void => {
    if (this.watched !== null) this.exitedDuringStart(this.watched.self, reason);
  };

  /** Killed (or ended by an exit signal) while init is pending: the start must still settle. */
  watchStart(proc: Proc): void {
    this.watched = proc;
    proc.addExitHook(this.startHook);
  }

  /**
   * Init failed (or timed out): reject the start, then end the process. The
   * link to the parent is removed first, so no EXIT reaches it: the parent
   * learns of the failure from the start's rejection, once.
   */
  failStart(
    proc: Proc,
    reason: ExitReason,
    outcome: 'failed' | 'ignore' | 'timeout' = 'failed',
  ): void {
    const start = this.start;
    if (start === null) return;
    this.settleStart();
    if (proc.parent !== null) proc.system.unlink(proc, proc.parent);
    start.reject(startError(proc.self, reason, outcome));
    proc.system.kill(proc, outcome === 'timeout' ? 'killed' : reason);
  }

  /** The process died before init returned (a kill, an exit signal): reject the start. */
  exitedDuringStart(pid: Pid, reason: ExitReason): void {
    const start = this.start;
    if (start === null) return;
    this.settleStart();
    // Exit hooks run before links fire: unlinking now keeps the EXIT from the
    // parent, which learns of the failure from the start's rejection, once.
    const proc = pid._proc;
    if (proc !== null && proc.parent !== null) proc.system.unlink(proc, proc.parent);
    start.reject(
      new StartError('start_failed', `${pid} exited during init: ${formatReason(reason)}`, reason),
    );
  }

  /** The start was refused before init ran: end the process without a trace. */
  abandon(proc: Proc): void {
    this.settleStart();
    if (proc.parent !== null) proc.system.unlink(proc, proc.parent);
    proc.system.kill(proc, 'normal');
  }
}

function startError(
  pid: Pid,
  reason: ExitReason,
  outcome: 'failed' | 'ignore' | 'timeout',
): StartError {
  switch (outcome) {
    case 'ignore':
      return new StartError('start_ignored', `${pid}: init returned ignore`, 'ignore');
    case 'timeout':
      return new StartError(
        'init_timeout',
        `${pid}: init did not finish within its timeout`,
        'killed',
      );
    case 'failed':
      return new StartError('start_failed', `${pid}: init failed: ${formatReason(reason)}`, reason);
  }
}

function unexpected(what: 'call' | 'cast', message: unknown): ActorError {
  return new ActorError(
    `unexpected_${what}`,
    `received a ${what} (${describeValue(message)}) but the server defines no handle${what === 'call' ? 'Call' : 'Cast'}`,
  );
}

/** Options for `GenServer.start`. */
export interface StartOptions extends Omit<SpawnOptions, 'link' | 'name'> {
  /** A local name, or a `via` name registered before `init` runs. */
  name?: string | Via;
  /** Milliseconds `init` may take before the process is killed and the start rejects. Default 5000; `Infinity` allowed. */
  timeout?: number;
}

/** Something a server can be started from: the system, or a process's context. */
export type Spawner = ActorSystem | Context;

function systemOf(spawner: Spawner): ActorSystem {
  if (spawner instanceof ActorSystem) return spawner;
  if (spawner !== null && typeof spawner === 'object' && spawner.system instanceof ActorSystem) {
    return spawner.system;
  }
  throw new InvalidArgumentError(
    `expected an ActorSystem or a process context, got ${describeValue(spawner)}`,
  );
}

function startServer<S, A, P>(
  spawner: Spawner,
  behaviour: GenServer<S, A, P>,
  args: A,
  options: StartOptions,
  linked: boolean,
  parentPid?: Pid,
): Promise<Pid<P>> {
  const system = systemOf(spawner);
  if (behaviour === null || typeof behaviour !== 'object' || typeof behaviour.init !== 'function') {
    return Promise.reject(
      new InvalidArgumentError(
        `expected a GenServer behaviour with an init function, got ${describeValue(behaviour)}`,
      ),
    );
  }
  if (options === null || typeof options !== 'object') {
    return Promise.reject(
      new InvalidArgumentError(`start options must be an object, got ${describeValue(options)}`),
    );
  }
  const { name, timeout = 5000, ...spawnOptions } = options;
  if (name !== undefined && typeof name !== 'string' && !isViaName(name)) {
    return Promise.reject(
      new InvalidArgumentError(
        `options.name must be a string or via(registry, key), got ${describeValue(name)}`,
      ),
    );
  }
  if (typeof timeout !== 'number' || !(timeout >= 0)) {
    return Promise.reject(
      new InvalidArgumentError(
        `options.timeout must be a number >= 0 or Infinity, got ${String(timeout)}`,
      ),
    );
  }
  const parent = parentPid ?? (spawner instanceof ActorSystem ? undefined : spawner.self);
  return new Promise<Pid<P>>((resolve, reject) => {
    const control: StartControl = {
      resolve: resolve as (pid: Pid) => void,
      reject,
      clock: system.clock,
      timer: null,
    };
    const logic = new ServerLogic(
      behaviour as GenServer<S, unknown, AnyProtocol, unknown>,
      control,
    );
    const localName = typeof name === 'string' ? name : undefined;
    const pid = system.spawnLogic(
      logic,
      { ...spawnOptions, name: localName, link: linked ? parent : undefined },
      { kind: KIND_INIT, payload: args },
      parent,
    );
    logic.watchStart(pid._proc!);
    if (name !== undefined && typeof name !== 'string') {
      try {
        registerVia(name, pid);
      } catch (error) {
        // The process has not run yet: end it without a trace, then refuse.
        logic.abandon(pid._proc!);
        reject(error);
        return;
      }
    }
    if (timeout !== Infinity) {
      control.timer = system.clock.setTimeout(
        () => {
          control.timer = null;
          const proc = pid._proc;
          if (proc !== null) logic.failStart(proc, 'killed', 'timeout');
        },
        timeout,
        undefined,
      );
    }
  });
}

function isViaName(name: unknown): name is Via {
  return (
    name !== null &&
    typeof name === 'object' &&
    'via' in name &&
    typeof (name as Via).via?.whereis === 'function'
  );
}

function registerVia(name: Via, pid: Pid): void {
  const resolver = name.via as Via['via'] & { registerName?(key: unknown, pid: Pid): void };
  if (typeof resolver.registerName !== 'function') {
    throw new InvalidArgumentError(
      `${describeDest(name)} cannot register names: its resolver has no registerName(key, pid)`,
    );
  }
  resolver.registerName(name.key, pid);
}

/** Starting, stopping and replying: the GenServer module functions. */
export const GenServer = {
  /**
   * Starts a server, unlinked, and resolves with its pid once `init` has
   * returned `ok`. From a process context the process becomes its parent.
   */
  start<S, A, P>(
    spawner: Spawner,
    behaviour: GenServer<S, A, P>,
    args: A,
    options: StartOptions = {},
  ): Promise<Pid<P>> {
    return startServer(spawner, behaviour, args, options, false);
  },

  /** Starts a server linked to the calling process (its parent). */
  startLink<S, A, P>(
    ctx: Context,
    behaviour: GenServer<S, A, P>,
    args: A,
    options: StartOptions = {},
  ): Promise<Pid<P>> {
    if (ctx instanceof ActorSystem) {
      return Promise.reject(
        new InvalidArgumentError(
          'startLink needs a process context to link to; use start from outside a process',
        ),
      );
    }
    return startServer(ctx, behaviour, args, options, true);
  },

  /** Replies to a call deferred with `noreply`. Returns false if the caller stopped waiting. */
  reply<R>(from: From<R>, value: R): boolean {
    if (!(from instanceof From)) {
      throw new InvalidArgumentError(
        `GenServer.reply expects the from given to handleCall, got ${describeValue(from)}`,
      );
    }
    return settleReply(from, value);
  },

  /**
   * Stops a server in an orderly way (`terminate` runs) with `reason`
   * (default `normal`), resolving once it has exited with that reason. See
   * `ActorSystem.stop` for its errors (`NoProcError`, `UnexpectedExitError`,
   * `CallTimeoutError`, `CallSelfError`).
   */
  stop(
    system: ActorSystem | Context,
    dest: Dest,
    reason: ExitReason = 'normal',
    timeoutMs = Infinity,
  ): Promise<void> {
    // From a process, its context stands for the system (as for `start`).
    let sys: ActorSystem;
    try {
      sys = systemOf(system);
    } catch (error) {
      return Promise.reject(error);
    }
    return sys.stop(dest, reason, timeoutMs);
  },

  /** Calls a server from outside any process (see `ActorSystem.call`). */
  call<P, Q extends CallOf<P>>(
    system: ActorSystem,
    dest: Dest<P>,
    request: Q,
    timeoutMs = 5000,
  ): Promise<ReplyOf<P, Q>> {
    return system.call(dest, request, timeoutMs);
  },

  /** Casts to a server (see `ActorSystem.cast`). */
  cast<P>(system: ActorSystem, dest: Dest<P>, message: CastOf<P>): void {
    system.cast(dest, message);
  },
};

/**
 * Starts a server whose parent is `parent`, possibly a process of another
 * thread, linked to it when `linked`. Used by thread nodes. @internal
 */
export function startServerWithParent<S, A, P>(
  system: ActorSystem,
  behaviour: GenServer<S, A, P>,
  args: A,
  options: StartOptions,
  parent: Pid | undefined,
  linked: boolean,
): Promise<Pid<P>> {
  return startServer(system, behaviour, args, options, linked && parent !== undefined, parent);
}
