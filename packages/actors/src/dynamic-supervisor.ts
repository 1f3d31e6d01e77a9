/**
 * DynamicSupervisor: a supervisor that starts with no children and starts
 * them on demand, after Elixir's `DynamicSupervisor`. It is meant for many
 * children of the same kind that come and go (a topic server per topic, a
 * worker per connection).
 *
 * ## Children
 * `startChild` takes a `ChildSpec` (the same shape a `Supervisor` takes; its
 * `id` is ignored: children are known by pid). The rules for starting,
 * `'ignore'`, start failures (`ChildStartError`) and linking are those of
 * `Supervisor`. At most `maxChildren` children exist at once (children whose
 * restart is pending count); one more is refused with `MaxChildrenError`
 * (code `max_children`) without calling `start`.
 *
 * ## Restarts
 * The strategy is always `one_for_one`. Restart types behave as in
 * `Supervisor`, except that a child that is not restarted (a transient one
 * that exited in an orderly way, any temporary one) is forgotten: there is
 * no spec to restart by id. A restart whose `start` returns `'ignore'` also
 * forgets the child. A failed restart is retried by a message to self, and
 * each attempt counts toward the intensity (`maxRestarts` within
 * `maxSeconds`, as in `Supervisor`); exceeding it stops every child and
 * exits the supervisor with `'shutdown'`.
 *
 * ## Shutdown
 * When the supervisor stops, all its children are sent their shutdown
 * signal at once and awaited together, each killed at its own `shutdown`
 * timeout: there is no order among dynamic children (as in OTP and Elixir),
 * and stopping thousands of them does not take thousands of timeouts.
 * `terminateChild` stops one child the same way and forgets it.
 *
 * Reports and telemetry are those of `Supervisor`; reports carry no child id.
 */
import { describeValue } from './describe.js';
import {
  GenServer,
  noreply,
  ok,
  reply,
  stop,
  type Spawner,
  type StartOptions,
} from './gen-server.js';
import { ExitMessage, type DownMessage } from './messages.js';
import { isPid, type Pid } from './pid.js';
import type { Context } from './process.js';
import type { Dest, Protocol, Via } from './protocol.js';
import {
  ActorError,
  InvalidArgumentError,
  type ExitReason,
  registerErrorClasses,
} from './reasons.js';
import {
  COMMON_RULES,
  COUNT_CHILDREN,
  ChildNotFoundError,
  ChildStartError,
  RestartWindow,
  WHICH_CHILDREN,
  callSupervisor,
  checkFields,
  countOf,
  failure,
  invokeStart,
  normalizeSpec,
  report,
  reportChildExit,
  reportIntensityExceeded,
  reportRestart,
  restartWanted,
  stopChild,
  success,
  supervisorLabel,
  type Caller,
  type ChildCounts,
  type ChildInfo,
  type ChildSpec,
  type NormalizedSpec,
  type Outcome,
  type RestartType,
  type Rule,
} from './supervisor.js';
import { ActorSystem } from './system.js';

/** Options of `DynamicSupervisor.start`. Every field is optional. */
export interface DynamicSupervisorOptions {
  /** Most children at once; `startChild` beyond it rejects with `max_children`. Default `Infinity`; an integer >= 0. */
  maxChildren?: number;
  /** Restarts allowed within `maxSeconds`; one more stops the supervisor. Default 3; an integer >= 0. */
  maxRestarts?: number;
  /** Length of the sliding intensity window, in seconds of `system.clock`. Default 5; > 0. */
  maxSeconds?: number;
  /** Registers the supervisor under a local name or a `via` name. */
  name?: string | Via;
  /** Always `one_for_one`, the only strategy of a dynamic supervisor; anything else is refused. */
  strategy?: 'one_for_one';
}

/** `startChild` on a supervisor that already has `maxChildren` children. */
export class MaxChildrenError extends ActorError {
  override name = 'MaxChildrenError';
  constructor(
    readonly supervisor: string,
    readonly maxChildren: number,
  ) {
    super(
      'max_children',
      `dynamic supervisor ${supervisor} already has its maximum of ${maxChildren} children; ` +
        `terminate one first or raise maxChildren`,
    );
  }
}

registerErrorClasses(MaxChildrenError);

const OPTION_RULES: Record<keyof DynamicSupervisorOptions, Rule> = {
  ...COMMON_RULES,
  maxChildren: {
    test: (v) => v === Infinity || (Number.isInteger(v) && (v as number) >= 0),
    expected: 'an integer >= 0 or Infinity',
  },
  strategy: {
    test: (v) => v === 'one_for_one',
    expected: "'one_for_one' (a dynamic supervisor has no other strategy)",
  },
};

interface ResolvedOptions {
  readonly maxChildren: number;
  readonly maxRestarts: number;
  readonly maxSeconds: number;
  readonly name: string | Via | undefined;
}

function resolveOptions(options: DynamicSupervisorOptions): ResolvedOptions {
  checkFields('options', options, OPTION_RULES);
  return {
    maxChildren: options.maxChildren ?? Infinity,
    maxRestarts: options.maxRestarts ?? 3,
    maxSeconds: options.maxSeconds ?? 5,
    name: options.name,
  };
}

type DynamicRequest =
  | { readonly type: 'start_child'; readonly spec: NormalizedSpec }
  | { readonly type: 'terminate_child'; readonly pid: Pid }
  | typeof WHICH_CHILDREN
  | typeof COUNT_CHILDREN;

type DynamicProtocol = Protocol<
  DynamicRequest,
  Record<DynamicRequest['type'], Outcome<unknown>>,
  never
>;

/**
 * One child. `key` names it in the table: its pid while it runs, its last
 * pid while a restart is pending (so `terminateChild` with that pid still
 * finds it). `pending` is the token of a scheduled retry, or 0.
 */
interface DynChild {
  readonly spec: NormalizedSpec;
  key: Pid;
  pid: Pid | null;
  pending: number;
}

/** A failed restart to try again; ignored unless the child still carries `token`. */
class RetryRestart {
  constructor(
    readonly key: Pid,
    readonly token: number,
    readonly reason: ExitReason,
  ) {}
}

type After = 'ok' | 'shutdown';

/** The supervisor's state; mutable for the reason given on `Supervisor`'s state. */
class DynamicState {
  readonly children = new Map<Pid, DynChild>();
  readonly label: string;
  private readonly window: RestartWindow;
  private tokens = 0;

  constructor(
    private readonly ctx: Context,
    private readonly options: ResolvedOptions,
  ) {
    this.label = supervisorLabel(ctx, options.name);
    this.window = new RestartWindow(options.maxRestarts, options.maxSeconds * 1000);
  }

  async handle(request: DynamicRequest): Promise<Outcome<unknown>> {
    switch (request.type) {
      case 'start_child':
        return this.startChild(request.spec);
      case 'terminate_child':
        return this.terminateChild(request.pid);
      case 'which_children':
        return success([...this.children.values()].map(infoOf));
      case 'count_children':
        return success(countOf(this.ctx.system, this.children.values()));
      default:
        return failure(
          new InvalidArgumentError(
            `dynamic supervisor got an unknown request ${describeValue(request)}`,
          ),
        );
    }
  }

  private async startChild(spec: NormalizedSpec): Promise<Outcome<Pid | 'ignore'>> {
    const { maxChildren } = this.options;
    if (this.children.size >= maxChildren)
      return failure(new MaxChildrenError(this.label, maxChildren));
    const outcome = await invokeStart(this.ctx, spec, undefined);
    if (outcome instanceof ChildStartError) return failure(outcome);
    if (outcome !== 'ignore')
      this.children.set(outcome, { spec, key: outcome, pid: outcome, pending: 0 });
    return success(outcome);
  }

  private async terminateChild(pid: Pid): Promise<Outcome<undefined>> {
    const child = this.children.get(pid);
    if (child === undefined) return failure(new ChildNotFoundError(this.label, pid.toString()));
    this.children.delete(child.key);
    if (child.pid !== null) await this.stopOne(child);
    return success(undefined);
  }

  /** Stops every child at once and waits for them all. */
  async stopAll(): Promise<void> {
    const running = [...this.children.values()].filter((c) => c.pid !== null);
    this.children.clear();
    await Promise.all(running.map((child) => this.stopOne(child)));
  }

  private async stopOne(child: DynChild): Promise<void> {
    const pid = child.pid!;
    await stopChild(this.ctx, this.label, child.spec, pid, undefined);
    child.pid = null;
  }

  async childExited(from: Pid | null, reason: ExitReason): Promise<After> {
    const child = from === null ? undefined : this.children.get(from);
    if (child === undefined || child.pid !== from) return 'ok';
    child.pid = null;
    reportChildExit(this.ctx, this.label, child.spec, from, undefined, reason);
    if (!restartWanted(child.spec.restart, reason)) {
      this.children.delete(child.key);
      return 'ok';
    }
    return this.restart(child, reason);
  }

  async retryDue(message: RetryRestart): Promise<After> {
    const child = this.children.get(message.key);
    if (child === undefined || child.pending !== message.token) return 'ok';
    child.pending = 0;
    return this.restart(child, message.reason);
  }

  private async restart(child: DynChild, reason: ExitReason): Promise<After> {
    if (!this.window.add(this.ctx.system.clock.now())) {
      this.children.delete(child.key);
      this.intensityExceeded(reason);
      return 'shutdown';
    }
    const outcome = await invokeStart(this.ctx, child.spec, undefined);
    if (outcome instanceof ChildStartError) {
      report(this.ctx, this.label, 'error', 'start_error', { pid: child.key }, outcome.message);
      child.pending = ++this.tokens;
      this.ctx.send(this.ctx.self, new RetryRestart(child.key, child.pending, reason));
      return 'ok';
    }
    this.children.delete(child.key);
    if (outcome === 'ignore') return 'ok';
    child.key = outcome;
    child.pid = outcome;
    this.children.set(outcome, child);
    reportRestart(this.ctx, this.label, undefined, child.spec.id, outcome, reason);
    return 'ok';
  }

  private intensityExceeded(reason: ExitReason): void {
    const restarts = this.window.count;
    reportIntensityExceeded(this.ctx, this.label, this.options, restarts, undefined, reason);
  }

  describe(): unknown {
    return { children: this.children.size, maxChildren: this.options.maxChildren };
  }
}

function infoOf(child: DynChild): ChildInfo {
  return { id: undefined, pid: child.pid, type: child.spec.type, restart: child.spec.restart };
}

const dynamicServer: GenServer<DynamicState, ResolvedOptions, DynamicProtocol> = {
  init(options, ctx) {
    return ok(new DynamicState(ctx, options));
  },

  async handleCall(request, _from, state) {
    return reply(await state.handle(request), state);
  },

  async handleInfo(message: RetryRestart | DownMessage | ExitMessage, state) {
    let after: After = 'ok';
    if (message instanceof ExitMessage)
      after = await state.childExited(message.from, message.reason);
    else if (message instanceof RetryRestart) after = await state.retryDue(message);
    return after === 'shutdown' ? stop('shutdown', state) : noreply(state);
  },

  async terminate(_reason, state) {
    await state.stopAll();
  },

  formatState(state) {
    return state.describe();
  },
};

function startDynamic(
  options: DynamicSupervisorOptions,
  startServer: (args: ResolvedOptions, start: StartOptions) => Promise<Pid>,
): Promise<Pid> {
  let resolved: ResolvedOptions;
  try {
    resolved = resolveOptions(options);
  } catch (error) {
    return Promise.reject(error);
  }
  const startOptions: StartOptions = { timeout: Infinity, trapExit: true };
  if (resolved.name !== undefined) startOptions.name = resolved.name;
  return startServer(resolved, startOptions);
}

/**
 * Starting dynamic supervisors and operating on them. Every operation is a
 * call to the supervisor (never timing out); it rejects with `NoProcError`
 * if the supervisor is not alive, and with the typed errors listed.
 */
export const DynamicSupervisor = {
  /**
   * Starts a dynamic supervisor with no children, unlinked (from a process
   * context, that process is its parent). Rejects with
   * `InvalidArgumentError` for a bad option and `NameTakenError` for a
   * taken name.
   */
  start(spawner: Spawner, options: DynamicSupervisorOptions = {}): Promise<Pid> {
    return startDynamic(options, (args, start) =>
      GenServer.start(spawner, dynamicServer, args, start),
    );
  },

  /** Like `start`, linked to the calling process (its parent). */
  startLink(ctx: Context, options: DynamicSupervisorOptions = {}): Promise<Pid> {
    if (ctx instanceof ActorSystem) {
      return Promise.reject(
        new InvalidArgumentError(
          'startLink needs a process context to link to; use start from outside a process',
        ),
      );
    }
    return startDynamic(options, (args, start) =>
      GenServer.startLink(ctx, dynamicServer, args, start),
    );
  },

  /**
   * A child spec that starts a dynamic supervisor under a `Supervisor`
   * (type `supervisor`, shutdown `infinity`, `restart` default `permanent`).
   * Options are checked now: a bad one throws here.
   */
  childSpec(
    id: string,
    options: DynamicSupervisorOptions & { restart?: RestartType } = {},
  ): ChildSpec {
    const { restart, ...supervisorOptions } = options;
    resolveOptions(supervisorOptions);
    const spec: ChildSpec = {
      id,
      type: 'supervisor',
      shutdown: 'infinity',
      start: (ctx) => DynamicSupervisor.startLink(ctx, supervisorOptions),
    };
    if (restart !== undefined) spec.restart = restart;
    return spec;
  },

  /**
   * Starts a child from `spec`. Resolves with its pid, or `'ignore'` (nothing
   * is kept). Rejects with `MaxChildrenError` (`max_children`) when full,
   * `ChildStartError` (`start_failed`) when it fails to start, and
   * `InvalidArgumentError` for a bad spec.
   */
  startChild(caller: Caller, sup: Dest, spec: ChildSpec): Promise<Pid | 'ignore'> {
    let normalized: NormalizedSpec;
    try {
      normalized = normalizeSpec(spec, 'spec', false);
    } catch (error) {
      return Promise.reject(error);
    }
    return callSupervisor(caller, sup, { type: 'start_child', spec: normalized });
  },

  /**
   * Stops the child `pid` as its shutdown says and forgets it. A child whose
   * restart is pending is found by its last pid. Rejects with
   * `ChildNotFoundError` (`not_found`) for a pid that is not its child.
   */
  terminateChild(caller: Caller, sup: Dest, pid: Pid): Promise<void> {
    if (!isPid(pid)) {
      return Promise.reject(
        new InvalidArgumentError(`terminateChild expects a child's pid, got ${describeValue(pid)}`),
      );
    }
    return callSupervisor(caller, sup, { type: 'terminate_child', pid });
  },

  /** Every child (id undefined; pid null while its restart is pending). */
  whichChildren(caller: Caller, sup: Dest): Promise<ChildInfo[]> {
    return callSupervisor(caller, sup, WHICH_CHILDREN);
  },

  /** Totals of children, live ones, supervisors and workers. */
  countChildren(caller: Caller, sup: Dest): Promise<ChildCounts> {
    return callSupervisor(caller, sup, COUNT_CHILDREN);
  },
};
