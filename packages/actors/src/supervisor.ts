/**
 * Supervisors: processes whose only job is to start other processes (their
 * children), watch them and restart them by a fixed set of rules, after OTP's
 * `supervisor` and Elixir's `Supervisor`. A supervisor is itself a GenServer
 * that traps exits, so supervisors nest into a supervision tree.
 *
 * ## Children
 * A child is described by a `ChildSpec`: an `id` unique within its
 * supervisor, a `start` function that starts the child linked to the
 * supervisor, a restart type, a shutdown and a type. `start` may return (or
 * resolve with) a pid, or `'ignore'`; `GenServer.startLink` rejecting with
 * code `start_ignored` also counts as `'ignore'`. Anything else it returns,
 * or any error it throws, is a start failure (`ChildStartError`, code
 * `start_failed`, with the thrown error as `cause`). The supervisor links to
 * the returned pid as well, so a child whose process was not linked (or died
 * before the supervisor saw it) is still watched.
 *
 * Children start one at a time, in list order, each after the previous one's
 * `start` settled. If one fails while the supervisor starts, the children
 * already started are stopped in reverse order and `Supervisor.start`
 * rejects with that child's `ChildStartError`. A child whose start returns
 * `'ignore'` keeps its spec with no pid (a `temporary` one is dropped).
 *
 * ## Restart types: what happens when a child exits
 * | restart     | `normal`, `shutdown`, `{ shutdown: x }`  | any other reason (crash, `killed`, ...) |
 * |-------------|------------------------------------------|-----------------------------------------|
 * | `permanent` | restarted                                | restarted                               |
 * | `transient` | not restarted; spec kept, pid null       | restarted                               |
 * | `temporary` | not restarted; spec removed              | not restarted; spec removed             |
 *
 * ## Strategies: what a restart restarts
 * - `one_for_one`: only the child that exited.
 * - `one_for_all`: every other child is stopped (reverse start order), then
 *   all children are started again in order.
 * - `rest_for_one`: the children started after the one that exited
 *   (including those added later with `startChild`) are stopped in reverse
 *   order, then it and they are started again in order.
 *
 * Children stopped by a restart that are `temporary` are removed, not
 * restarted. A restart starts every spec of its group, also those that had
 * no pid (a transient child that had finished, one stopped with
 * `terminateChild`), as OTP does.
 *
 * ## Shutdown: how a child is stopped
 * The supervisor monitors the child, sends it an exit signal and waits for
 * it to be gone; the link stays until then, so a supervisor killed mid-way
 * still takes the child with it.
 * - `'brutal_kill'`: signal `kill`; the child cannot run any cleanup.
 * - a number of ms (default 5000 for workers): signal `shutdown`; a child
 *   still alive after that many ms is killed. A GenServer started with
 *   `startLink` that traps exits runs `terminate` in that time.
 * - `'infinity'` (default for supervisors): signal `shutdown`, wait as long
 *   as it takes (a nested supervisor stops its own children first).
 * Children stop one at a time, the next only once the previous is gone, in
 * reverse start order: when the supervisor stops, when a strategy stops
 * siblings, and when a start fails during the supervisor's start. A child
 * that stops with another reason than the one expected (for example one
 * killed at its timeout) is logged as a `shutdown` supervisor report.
 *
 * ## Intensity: when the supervisor gives up
 * Each restart decision is stamped with `system.clock.now()`. If more than
 * `maxRestarts` stamps fall within the last `maxSeconds` (a sliding window:
 * a stamp counts while `now - stamp <= maxSeconds * 1000`), the supervisor
 * logs `intensity_exceeded`, emits the `intensity_exceeded` telemetry event,
 * stops all its children in reverse order and exits with `'shutdown'`: its
 * parent sees that exit and applies its own rules (escalation).
 *
 * ## Failed restarts
 * A restart whose `start` fails is logged (`start_error`) and tried again by
 * a message the supervisor sends itself, so calls queued meanwhile are
 * served first. Each retry is a new restart: it counts toward the intensity
 * and applies the strategy again (one_for_all stops the children started by
 * the failed attempt and starts them all again). A child that cannot start
 * thus ends in `intensity_exceeded`, as in OTP. While a retry is pending
 * the child has no pid, and `restartChild` and `deleteChild` reject with
 * code `restarting`.
 *
 * ## Backoff (optional, off by default)
 * With `backoff`, a restart stops the siblings its strategy names at once but
 * starts the children only after `min(maxMs, initialMs * factor ** k)` ms of
 * `system.clock`, where `k` is the number of earlier restarts still in the
 * intensity window. The wait is a timer owned by the supervisor: it dies with
 * it. Stamps are taken when a restart is decided, not when it happens.
 *
 * ## Reports
 * Through `system.logger`, with label `supervisor_report`: `child_terminated`
 * (a child exited abnormally, or a permanent one exited at all),
 * `child_restarted` (info, one per child started by a restart),
 * `start_error`, `shutdown` and `intensity_exceeded`. Telemetry: `restart`
 * (one per child started by a restart) and `intensity_exceeded`.
 *
 * ## Limitations
 * Operations on a supervisor are calls to it, served one at a time: a child
 * whose `init` or `terminate` calls its own supervisor waits until the
 * supervisor is done with the operation that started or stops that child,
 * which may be forever (as in OTP). Restart stamps use millisecond precision
 * where OTP uses whole seconds.
 */
import { describeDest, describeValue } from './describe.js';
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
import type { SupervisorReport } from './observability.js';
import { isPid, type Pid } from './pid.js';
import type { Context } from './process.js';
import type { Dest, Protocol, Via } from './protocol.js';
import {
  ActorError,
  InvalidArgumentError,
  NoProcError,
  StartError,
  formatReason,
  isAbnormalExit,
  isOrderlyExit,
  type ExitReason,
  registerErrorClasses,
} from './reasons.js';
import { ActorSystem, whereVia } from './system.js';

// ------------------------------------------------------------------ public types

/**
 * When a child is restarted after it exits (see the module doc's table):
 * `permanent` always, `transient` only after an abnormal exit, `temporary`
 * never (its spec is removed once it exits).
 */
export type RestartType = 'permanent' | 'transient' | 'temporary';

/**
 * How a child is stopped: `'brutal_kill'` (untrappable kill), a number of
 * milliseconds (>= 0) to wait after the `shutdown` signal before killing it,
 * or `'infinity'` (wait as long as it takes; meant for nested supervisors).
 */
export type Shutdown = number | 'brutal_kill' | 'infinity';

/** What a child is: a worker, or a supervisor of its own subtree. */
export type ChildType = 'worker' | 'supervisor';

/** Which children a restart affects; see the module doc. */
export type Strategy = 'one_for_one' | 'one_for_all' | 'rest_for_one';

/** A description of a child, from which the supervisor starts and restarts it. */
export interface ChildSpec {
  /** Unique within the supervisor (a DynamicSupervisor ignores it). */
  id: string;
  /**
   * Starts the child linked to the supervisor (use
   * `GenServer.startLink(ctx, ...)` or `ctx.spawnLink`); `ctx` is the
   * supervisor's context. Returns or resolves with the child's pid, or
   * `'ignore'` to leave it not running. Throwing, rejecting or returning
   * anything else is a start failure (`ChildStartError`).
   */
  start: (ctx: Context) => Promise<Pid | 'ignore'> | Pid | 'ignore';
  /** Default `'permanent'`. */
  restart?: RestartType;
  /** Default 5000 for workers, `'infinity'` for supervisors. */
  shutdown?: Shutdown;
  /** Default `'worker'`. */
  type?: ChildType;
}

/** One child as `whichChildren` reports it. `pid` is null when it is not running. */
export interface ChildInfo {
  /** The spec's id; undefined for the children of a DynamicSupervisor. */
  id: string | undefined;
  pid: Pid | null;
  type: ChildType;
  restart: RestartType;
}

/** Totals as `countChildren` reports them. */
export interface ChildCounts {
  /** Child specs held, running or not. */
  specs: number;
  /** Children whose process is alive. */
  active: number;
  /** Specs of type `supervisor`. */
  supervisors: number;
  /** Specs of type `worker`. */
  workers: number;
}

/** Exponential delay between restarts; see the module doc. */
export interface BackoffOptions {
  /** Delay of a restart with no earlier restart in the window, in ms (>= 0). */
  initialMs: number;
  /** Upper bound of the delay, in ms (>= initialMs). */
  maxMs: number;
  /** Growth per earlier restart in the window (>= 1). Default 2. */
  factor?: number;
}

/** Options of `Supervisor.start`. Every field is optional. */
export interface SupervisorOptions {
  /** Default `'one_for_one'`. */
  strategy?: Strategy;
  /** Restarts allowed within `maxSeconds`; one more stops the supervisor. Default 3; an integer >= 0. */
  maxRestarts?: number;
  /** Length of the sliding intensity window, in seconds of `system.clock`. Default 5; > 0. */
  maxSeconds?: number;
  /** Delay restarts exponentially. Default: no delay. */
  backoff?: BackoffOptions;
  /** Registers the supervisor under a local name or a `via` name. */
  name?: string | Via;
}

/** Who performs an operation on a supervisor: the system, or a process's context. */
export type Caller = ActorSystem | Context;

/** A supervision tree as data, from `supervisionTree`. */
export interface TreeNode {
  /** The child's id; undefined for the root and for DynamicSupervisor children. */
  id: string | undefined;
  /** Null when the child is not running. */
  pid: Pid | null;
  type: ChildType;
  /** Undefined for the root. */
  restart: RestartType | undefined;
  /** The children of a running supervisor, in start order; empty for workers. */
  children: TreeNode[];
}

// ------------------------------------------------------------------ errors

/** No child with that id (or pid) is known to the supervisor. */
export class ChildNotFoundError extends ActorError {
  override name = 'ChildNotFoundError';
  constructor(
    readonly supervisor: string,
    readonly child: string,
  ) {
    super('not_found', `supervisor ${supervisor} has no child ${child}`);
  }
}

/** `startChild` with an id whose spec is present but not running. */
export class ChildAlreadyPresentError extends ActorError {
  override name = 'ChildAlreadyPresentError';
  constructor(
    readonly supervisor: string,
    readonly childId: string,
  ) {
    super(
      'already_present',
      `supervisor ${supervisor} already holds a spec with id ${JSON.stringify(childId)} ` +
        `(not running); use restartChild, or deleteChild before starting a new spec`,
    );
  }
}

/** `startChild` with an id whose child is running. */
export class ChildAlreadyStartedError extends ActorError {
  override name = 'ChildAlreadyStartedError';
  constructor(
    readonly supervisor: string,
    readonly childId: string,
    readonly pid: Pid,
  ) {
    super(
      'already_started',
      `supervisor ${supervisor} already runs child ${JSON.stringify(childId)} as ${pid}`,
    );
  }
}

/** `restartChild` or `deleteChild` on a running child. */
export class ChildRunningError extends ActorError {
  override name = 'ChildRunningError';
  constructor(
    readonly supervisor: string,
    readonly childId: string,
    readonly pid: Pid,
  ) {
    super(
      'running',
      `child ${JSON.stringify(childId)} of supervisor ${supervisor} is running as ${pid}; ` +
        `stop it with terminateChild first`,
    );
  }
}

/** `restartChild` or `deleteChild` on a child whose restart is pending. */
export class ChildRestartingError extends ActorError {
  override name = 'ChildRestartingError';
  constructor(
    readonly supervisor: string,
    readonly childId: string,
  ) {
    super(
      'restarting',
      `child ${JSON.stringify(childId)} of supervisor ${supervisor} is being restarted; ` +
        `try again once it runs, or stop it with terminateChild`,
    );
  }
}

/** A child's `start` threw, rejected or returned something other than a pid or `'ignore'`. */
export class ChildStartError extends ActorError {
  override name = 'ChildStartError';
  constructor(
    /** The spec's id (undefined for a DynamicSupervisor child). */
    readonly childId: string | undefined,
    /** What `start` threw or rejected with; also the error's `cause`. */
    readonly error: unknown,
  ) {
    super(
      'start_failed',
      `child ${childId === undefined ? '(dynamic)' : JSON.stringify(childId)} failed to start: ` +
        describeError(error),
      { cause: error },
    );
  }
}

registerErrorClasses(
  ChildNotFoundError,
  ChildAlreadyPresentError,
  ChildAlreadyStartedError,
  ChildRunningError,
  ChildRestartingError,
  ChildStartError,
);

function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : describeValue(error);
}

// ------------------------------------------------------------------ validation

/** One option or field: a test and what it expects, for the error message. @internal */
export interface Rule {
  readonly test: (value: unknown) => boolean;
  readonly expected: string;
}

const RESTART_TYPES: readonly RestartType[] = ['permanent', 'transient', 'temporary'];
const CHILD_TYPES: readonly ChildType[] = ['worker', 'supervisor'];
const STRATEGIES: readonly Strategy[] = ['one_for_one', 'one_for_all', 'rest_for_one'];

function oneOf(values: readonly string[]): Rule {
  return {
    test: (v) => typeof v === 'string' && values.includes(v),
    expected: `one of ${values.map((v) => `'${v}'`).join(', ')}`,
  };
}

const isNonNegative = (v: unknown): boolean => typeof v === 'number' && v >= 0 && v !== Infinity;

/** @internal */
export const COMMON_RULES = {
  maxRestarts: {
    test: (v: unknown) => Number.isInteger(v) && (v as number) >= 0,
    expected: 'an integer >= 0',
  },
  maxSeconds: {
    test: (v: unknown) => typeof v === 'number' && v > 0 && Number.isFinite(v),
    expected: 'a finite number > 0',
  },
  name: {
    test: (v: unknown) =>
      (typeof v === 'string' && v.length > 0) ||
      (v !== null && typeof v === 'object' && 'via' in v && 'key' in v),
    expected: 'a non-empty string or a via name',
  },
} satisfies Record<string, Rule>;

const OPTION_RULES: Record<keyof SupervisorOptions, Rule> = {
  ...COMMON_RULES,
  strategy: oneOf(STRATEGIES),
  backoff: {
    test: (v) => {
      if (v === null || typeof v !== 'object') return false;
      const { initialMs, maxMs, factor = 2 } = v as BackoffOptions;
      return isNonNegative(initialMs) && isNonNegative(maxMs) && maxMs >= initialMs && factor >= 1;
    },
    expected: '{ initialMs: finite >= 0, maxMs: finite >= initialMs, factor?: >= 1 }',
  },
};

const SPEC_RULES: Record<keyof ChildSpec, Rule> = {
  id: { test: (v) => typeof v === 'string' && v.length > 0, expected: 'a non-empty string' },
  start: {
    test: (v) => typeof v === 'function',
    expected: "a function (ctx) => pid | 'ignore' (or a promise of one)",
  },
  restart: oneOf(RESTART_TYPES),
  shutdown: {
    test: (v) => v === 'brutal_kill' || v === 'infinity' || isNonNegative(v),
    expected: "a finite number of ms >= 0, 'brutal_kill' or 'infinity'",
  },
  type: oneOf(CHILD_TYPES),
};

/**
 * Checks the fields of `value` named in `rules` (undefined fields pass unless
 * listed in `required`). Throws `InvalidArgumentError` naming the first bad one.
 * @internal
 */
export function checkFields(
  where: string,
  value: unknown,
  rules: Record<string, Rule>,
  required: readonly string[] = [],
): void {
  if (value === null || typeof value !== 'object') {
    throw new InvalidArgumentError(`${where} must be an object, got ${describeValue(value)}`);
  }
  const fields = value as Record<string, unknown>;
  for (const [key, rule] of Object.entries(rules)) {
    const v = fields[key];
    if (v === undefined && !required.includes(key)) continue;
    if (!rule.test(v)) {
      throw new InvalidArgumentError(
        `${where}.${key} must be ${rule.expected}, got ${describeValue(v)}`,
      );
    }
  }
}

/** A child spec with every default applied. @internal */
export interface NormalizedSpec {
  readonly id: string;
  readonly start: ChildSpec['start'];
  readonly restart: RestartType;
  readonly shutdown: Shutdown;
  readonly type: ChildType;
}

/** Validates a child spec and applies its defaults. @internal */
export function normalizeSpec(spec: ChildSpec, where: string, requireId = true): NormalizedSpec {
  checkFields(where, spec, SPEC_RULES, requireId ? ['id', 'start'] : ['start']);
  const type = spec.type ?? 'worker';
  return {
    id: typeof spec.id === 'string' ? spec.id : '',
    start: spec.start,
    restart: spec.restart ?? 'permanent',
    shutdown: spec.shutdown ?? (type === 'supervisor' ? 'infinity' : 5000),
    type,
  };
}

interface ResolvedOptions {
  readonly strategy: Strategy;
  readonly maxRestarts: number;
  readonly maxSeconds: number;
  readonly backoff: Required<BackoffOptions> | null;
  readonly name: string | Via | undefined;
}

function resolveOptions(options: SupervisorOptions): ResolvedOptions {
  checkFields('options', options, OPTION_RULES);
  const { backoff } = options;
  return {
    strategy: options.strategy ?? 'one_for_one',
    maxRestarts: options.maxRestarts ?? 3,
    maxSeconds: options.maxSeconds ?? 5,
    backoff: backoff === undefined ? null : { factor: 2, ...backoff },
    name: options.name,
  };
}

function normalizeChildren(children: readonly ChildSpec[]): NormalizedSpec[] {
  if (!Array.isArray(children)) {
    throw new InvalidArgumentError(
      `children must be an array of child specs, got ${describeValue(children)}`,
    );
  }
  const seen = new Set<string>();
  return children.map((spec, i) => {
    const normalized = normalizeSpec(spec, `children[${i}]`);
    if (seen.has(normalized.id)) {
      throw new InvalidArgumentError(
        `children[${i}].id ${JSON.stringify(normalized.id)} is used twice; ids must be unique within a supervisor`,
      );
    }
    seen.add(normalized.id);
    return normalized;
  });
}

// ------------------------------------------------------------------ shared machinery

/**
 * The intensity window: restart stamps within the last `windowMs`. Shared by
 * both supervisor kinds. @internal
 */
export class RestartWindow {
  private readonly stamps: number[] = [];

  constructor(
    readonly maxRestarts: number,
    readonly windowMs: number,
  ) {}

  /** Records a restart at `now`; returns false if it is one too many. */
  add(now: number): boolean {
    this.stamps.push(now);
    const from = now - this.windowMs;
    while (this.stamps.length > 0 && this.stamps[0]! < from) this.stamps.shift();
    return this.stamps.length <= this.maxRestarts;
  }

  /** Restarts currently in the window. */
  get count(): number {
    return this.stamps.length;
  }
}

/** Whether a child with `restart` type is restarted after exiting with `reason`. @internal */
export function restartWanted(restart: RestartType, reason: ExitReason): boolean {
  if (restart === 'permanent') return true;
  if (restart === 'temporary') return false;
  return isAbnormalExit(reason);
}

/**
 * Runs a spec's `start` from the supervisor's context and links to the pid
 * it returns. Never throws: a failure comes back as a `ChildStartError`.
 * @internal
 */
export async function invokeStart(
  ctx: Context,
  spec: NormalizedSpec,
  childId: string | undefined,
): Promise<Pid | 'ignore' | ChildStartError> {
  let result: unknown;
  try {
    result = await spec.start(ctx);
  } catch (error) {
    if (error instanceof StartError && error.code === 'start_ignored') return 'ignore';
    return new ChildStartError(childId, error);
  }
  if (result === 'ignore') return 'ignore';
  if (!isPid(result)) {
    const bad = new InvalidArgumentError(
      `start returned ${describeValue(result)}; expected a pid or 'ignore'`,
    );
    return new ChildStartError(childId, bad);
  }
  // Idempotent for a child started linked; for one that was not (or that
  // already died), this makes its exit reach the supervisor as an EXIT.
  ctx.link(result);
  return result;
}

/**
 * Stops one child as its `shutdown` says and resolves with the reason it
 * exited with (`noproc` if it was already gone). The child is monitored (via
 * `whenExited`) before the signal is sent; the link is only removed once it
 * is gone, so the EXIT it sends is ignored by the caller, which has already
 * forgotten the pid.
 * @internal
 */
export async function shutdownChild(
  ctx: Context,
  pid: Pid,
  shutdown: Shutdown,
): Promise<ExitReason> {
  const system = ctx.system;
  let reason: ExitReason;
  if (shutdown === 'brutal_kill') {
    const down = system.whenExited(pid);
    ctx.exit(pid, 'kill');
    reason = await down;
  } else {
    const down = system.whenExited(pid, shutdown === 'infinity' ? Infinity : shutdown);
    ctx.exit(pid, 'shutdown');
    try {
      reason = await down;
    } catch {
      // Still alive at its timeout: kill it, and wait for that too.
      const killed = system.whenExited(pid);
      ctx.exit(pid, 'kill');
      reason = await killed;
    }
  }
  ctx.unlink(pid);
  return reason;
}

/** Whether `reason` is what a child stopped with `shutdown` is expected to exit with. @internal */
export function isExpectedShutdown(reason: ExitReason, spec: NormalizedSpec): boolean {
  if (reason === 'noproc') return true;
  if (spec.shutdown === 'brutal_kill' && reason === 'killed') return true;
  if (reason === 'shutdown') return true;
  return spec.restart !== 'permanent' && isOrderlyExit(reason);
}

/** Writes a supervisor report to the system's logger. @internal */
export function report(
  ctx: Context,
  supervisor: string,
  level: 'error' | 'warn' | 'info',
  event: SupervisorReport['event'],
  fields: { childId?: string; pid?: Pid | null; reason?: ExitReason | string },
  message: string,
): void {
  const record: SupervisorReport = { label: 'supervisor_report', supervisor, event };
  if (fields.childId !== undefined) record.childId = fields.childId;
  if (fields.pid !== undefined && fields.pid !== null) record.pid = fields.pid.toString();
  if (fields.reason !== undefined) record.reason = fields.reason;
  ctx.system.logger[level](record, message);
}

/** How a report names a child: by its id (a Supervisor's) or by its pid (a DynamicSupervisor's). */
function childName(childId: string | undefined, pid: Pid | null): string {
  return childId === undefined ? String(pid) : JSON.stringify(childId);
}

/**
 * Shuts a child down as its spec says, and reports an exit other than the
 * one a shutdown expects. Both supervisor kinds stop children this way. @internal
 */
export async function stopChild(
  ctx: Context,
  supervisor: string,
  spec: NormalizedSpec,
  pid: Pid,
  childId: string | undefined,
): Promise<void> {
  const reason = await shutdownChild(ctx, pid, spec.shutdown);
  if (isExpectedShutdown(reason, spec)) return;
  report(
    ctx,
    supervisor,
    'error',
    'shutdown',
    { childId, pid, reason },
    `child ${childName(childId, pid)} exited with ${formatReason(reason)} while being shut down`,
  );
}

/** Reports a child's exit: abnormal ones, and any exit of a permanent child. @internal */
export function reportChildExit(
  ctx: Context,
  supervisor: string,
  spec: NormalizedSpec,
  pid: Pid | null,
  childId: string | undefined,
  reason: ExitReason,
): void {
  if (!isAbnormalExit(reason) && spec.restart !== 'permanent') return;
  report(
    ctx,
    supervisor,
    isAbnormalExit(reason) ? 'error' : 'info',
    'child_terminated',
    { childId, pid, reason },
    `child ${childName(childId, pid)} exited: ${formatReason(reason)}`,
  );
}

/** Reports a restart to the logger and the telemetry hook. @internal */
export function reportRestart(
  ctx: Context,
  supervisor: string,
  childId: string | undefined,
  telemetryId: string,
  pid: Pid,
  reason: ExitReason,
): void {
  report(
    ctx,
    supervisor,
    'info',
    'child_restarted',
    { childId, pid },
    `child ${childId === undefined ? '' : `${JSON.stringify(childId)} `}restarted as ${pid}`,
  );
  ctx.system.telemetry?.({
    type: 'restart',
    supervisor: ctx.self,
    childId: telemetryId,
    pid,
    reason,
  });
}

/** Reports that the restart intensity was exceeded (the supervisor then shuts down). @internal */
export function reportIntensityExceeded(
  ctx: Context,
  supervisor: string,
  limits: { readonly maxRestarts: number; readonly maxSeconds: number },
  restarts: number,
  childId: string | undefined,
  reason: ExitReason,
): void {
  const { maxRestarts, maxSeconds } = limits;
  report(
    ctx,
    supervisor,
    'error',
    'intensity_exceeded',
    { childId, reason },
    `more than ${maxRestarts} restarts within ${maxSeconds} s; shutting down`,
  );
  ctx.system.telemetry?.({
    type: 'intensity_exceeded',
    supervisor: ctx.self,
    restarts,
    withinMs: maxSeconds * 1000,
  });
}

/** The name a supervisor reports under: its registered name, or its pid. @internal */
export function supervisorLabel(ctx: Context, name: string | Via | undefined): string {
  if (name === undefined) return ctx.self.toString();
  return typeof name === 'string' ? name : describeDest(name);
}

/** A supervisor's reply to a call: a value, or the error the API function throws. @internal */
export type Outcome<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: ActorError };

/** @internal */
export function success<T>(value: T): Outcome<T> {
  return { ok: true, value };
}

/** @internal */
export function failure(error: ActorError): Outcome<never> {
  return { ok: false, error };
}

/** Calls a supervisor and unwraps its `Outcome`. Supervisor calls never time out (as in OTP). @internal */
export async function callSupervisor<T>(caller: Caller, sup: Dest, request: unknown): Promise<T> {
  if (!(caller instanceof ActorSystem) && (caller === null || typeof caller?.call !== 'function')) {
    throw new InvalidArgumentError(
      `expected an ActorSystem or a process context as caller, got ${describeValue(caller)}`,
    );
  }
  const outcome = (await caller.call(sup, request, Infinity)) as Outcome<T> | null;
  if (outcome === null || typeof outcome !== 'object' || typeof outcome.ok !== 'boolean') {
    throw new InvalidArgumentError(
      `${describeDest(sup)} is not a supervisor: it answered ${describeValue(outcome)} to a supervisor request`,
    );
  }
  if (!outcome.ok) throw outcome.error;
  return outcome.value;
}

/** A request naming a child by id: the id is checked before anything is asked. */
function callById<T>(
  caller: Caller,
  sup: Dest,
  operation: string,
  request: { type: string; id: string },
): Promise<T> {
  if (typeof request.id !== 'string') {
    return Promise.reject(
      new InvalidArgumentError(
        `Supervisor.${operation} expects a child id (a string), got ${describeValue(request.id)}`,
      ),
    );
  }
  return callSupervisor(caller, sup, request);
}

/** The requests both supervisor kinds answer; `supervisionTree` relies on them. @internal */
export const WHICH_CHILDREN = { type: 'which_children' } as const;
/** @internal */
export const COUNT_CHILDREN = { type: 'count_children' } as const;

/** Counts children for `countChildren`. @internal */
export function countOf(
  system: ActorSystem,
  children: Iterable<{ readonly spec: NormalizedSpec; readonly pid: Pid | null }>,
): ChildCounts {
  const counts: ChildCounts = { specs: 0, active: 0, supervisors: 0, workers: 0 };
  for (const child of children) {
    counts.specs++;
    // A child of another thread counts as active until its exit arrives.
    const pid = child.pid;
    if (pid !== null && (pid.node !== system.node || system.isAlive(pid))) counts.active++;
    if (child.spec.type === 'supervisor') counts.supervisors++;
    else counts.workers++;
  }
  return counts;
}

// ------------------------------------------------------------------ the supervisor process

type SupervisorRequest =
  | { readonly type: 'start_child'; readonly spec: NormalizedSpec }
  | { readonly type: 'terminate_child'; readonly id: string }
  | { readonly type: 'restart_child'; readonly id: string }
  | { readonly type: 'delete_child'; readonly id: string }
  | typeof WHICH_CHILDREN
  | typeof COUNT_CHILDREN;

type SupervisorProtocol = Protocol<
  SupervisorRequest,
  Record<SupervisorRequest['type'], Outcome<unknown>>,
  never
>;

interface SupervisorArgs {
  readonly children: readonly NormalizedSpec[];
  readonly options: ResolvedOptions;
}

/** One child of a supervisor. `pending` is the token of a scheduled restart, or 0. */
interface Child {
  readonly spec: NormalizedSpec;
  pid: Pid | null;
  pending: number;
}

/**
 * A restart the supervisor scheduled for itself: `retry` runs a whole
 * restart again (a failed start), `start` runs the start half of a restart
 * whose backoff delay is over. Ignored unless the child still carries `token`.
 */
class PendingRestart {
  constructor(
    readonly id: string,
    readonly token: number,
    readonly phase: 'retry' | 'start',
    readonly reason: ExitReason,
  ) {}
}

type After = 'ok' | 'shutdown';

/**
 * The supervisor's state. It is a mutable object on purpose: a restart is a
 * sequence of awaited steps (stop B, stop A, start A, ...), and the record
 * must say which children are alive after every step, so that the
 * supervisor's `terminate` (which may run after a step fails) stops exactly
 * those. GenServer's commit-on-return state would show it a stale list.
 */
class SupervisorState {
  /** In start order. */
  readonly children: Child[] = [];
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

  // ---------------------------------------------------------------- start and stop

  /** Starts the initial children in order; on a failure, stops those started and returns it. */
  async startInitial(specs: readonly NormalizedSpec[]): Promise<ChildStartError | null> {
    for (const spec of specs) {
      const outcome = await invokeStart(this.ctx, spec, spec.id);
      if (outcome instanceof ChildStartError) {
        this.reportStartError(spec, outcome);
        await this.stopAll();
        return outcome;
      }
      if (outcome === 'ignore' && spec.restart === 'temporary') continue;
      this.children.push({ spec, pid: outcome === 'ignore' ? null : outcome, pending: 0 });
    }
    return null;
  }

  /** Stops every child, one at a time, in reverse start order. */
  async stopAll(): Promise<void> {
    for (let i = this.children.length - 1; i >= 0; i--) {
      const child = this.children[i]!;
      child.pending = 0;
      if (child.pid !== null) await this.stopOne(child);
    }
  }

  private async stopOne(child: Child): Promise<void> {
    const pid = child.pid!;
    await stopChild(this.ctx, this.label, child.spec, pid, child.spec.id);
    child.pid = null;
  }

  // ---------------------------------------------------------------- exits and restarts

  /** A linked process exited. Returns `shutdown` when the supervisor must give up. */
  async childExited(from: Pid | null, reason: ExitReason): Promise<After> {
    const child = from === null ? undefined : this.children.find((c) => c.pid === from);
    if (child === undefined) return 'ok'; // not (or no longer) a child: a stopped one, or a stranger
    child.pid = null;
    reportChildExit(this.ctx, this.label, child.spec, from, child.spec.id, reason);
    if (!restartWanted(child.spec.restart, reason)) {
      if (child.spec.restart === 'temporary') this.remove(child);
      return 'ok';
    }
    return this.restart(child, reason);
  }

  /** A restart the supervisor scheduled for itself came due. */
  async pendingDue(message: PendingRestart): Promise<After> {
    const child = this.find(message.id);
    if (child === undefined || child.pending !== message.token) return 'ok';
    child.pending = 0;
    if (message.phase === 'retry') return this.restart(child, message.reason);
    await this.startGroup(child, message.reason);
    return 'ok';
  }

  private async restart(child: Child, reason: ExitReason): Promise<After> {
    if (!this.window.add(this.ctx.system.clock.now())) {
      this.intensityExceeded(child, reason);
      return 'shutdown';
    }
    await this.stopSiblings(child);
    const delay = this.backoffDelay();
    if (delay > 0) this.schedule(child, 'start', delay, reason);
    else await this.startGroup(child, reason);
    return 'ok';
  }

  /** The children a restart of `child` affects, in start order. */
  private group(child: Child): Child[] {
    switch (this.options.strategy) {
      case 'one_for_one':
        return [child];
      case 'one_for_all':
        return [...this.children];
      case 'rest_for_one': {
        const at = this.children.indexOf(child);
        return at < 0 ? [child] : this.children.slice(at);
      }
    }
  }

  /** Stops the rest of `trigger`'s group in reverse start order; temporary ones are removed. */
  private async stopSiblings(trigger: Child): Promise<void> {
    const group = this.group(trigger);
    for (let i = group.length - 1; i >= 0; i--) {
      const sibling = group[i]!;
      if (sibling === trigger) continue;
      sibling.pending = 0;
      if (sibling.pid !== null) await this.stopOne(sibling);
      if (sibling.spec.restart === 'temporary') this.remove(sibling);
    }
  }

  /**
   * Starts every child of `trigger`'s group that is not running, in order.
   * The first failure stops the walk and schedules a retry for that child;
   * the children started before it keep running.
   */
  private async startGroup(trigger: Child, reason: ExitReason): Promise<void> {
    for (const child of this.group(trigger)) {
      if (child.pid !== null || !this.children.includes(child)) continue;
      const outcome = await invokeStart(this.ctx, child.spec, child.spec.id);
      if (outcome instanceof ChildStartError) {
        this.reportStartError(child.spec, outcome);
        this.schedule(child, 'retry', 0, reason);
        return;
      }
      child.pending = 0;
      if (outcome === 'ignore') {
        if (child.spec.restart === 'temporary') this.remove(child);
        continue;
      }
      child.pid = outcome;
      reportRestart(this.ctx, this.label, child.spec.id, child.spec.id, outcome, reason);
    }
  }

  private schedule(
    child: Child,
    phase: PendingRestart['phase'],
    delayMs: number,
    reason: ExitReason,
  ): void {
    const token = ++this.tokens;
    child.pending = token;
    const message = new PendingRestart(child.spec.id, token, phase, reason);
    // A message to self, not a loop: calls queued meanwhile are served first.
    if (delayMs > 0) this.ctx.sendAfter(this.ctx.self, message, delayMs);
    else this.ctx.send(this.ctx.self, message);
  }

  private backoffDelay(): number {
    const backoff = this.options.backoff;
    if (backoff === null) return 0;
    const earlier = this.window.count - 1;
    return Math.min(backoff.maxMs, backoff.initialMs * backoff.factor ** earlier);
  }

  private intensityExceeded(child: Child, reason: ExitReason): void {
    const restarts = this.window.count;
    reportIntensityExceeded(this.ctx, this.label, this.options, restarts, child.spec.id, reason);
  }

  private reportStartError(spec: NormalizedSpec, error: ChildStartError): void {
    report(
      this.ctx,
      this.label,
      'error',
      'start_error',
      { childId: spec.id, reason: describeError(error.error) },
      error.message,
    );
  }

  // ---------------------------------------------------------------- calls

  async handle(request: SupervisorRequest): Promise<Outcome<unknown>> {
    switch (request.type) {
      case 'start_child':
        return this.startChild(request.spec);
      case 'terminate_child':
        return this.terminateChild(request.id);
      case 'restart_child':
        return this.restartChild(request.id);
      case 'delete_child':
        return this.deleteChild(request.id);
      case 'which_children':
        return success(this.children.map(infoOf));
      case 'count_children':
        return success(countOf(this.ctx.system, this.children));
      default:
        return failure(
          new InvalidArgumentError(`supervisor got an unknown request ${describeValue(request)}`),
        );
    }
  }

  private async startChild(spec: NormalizedSpec): Promise<Outcome<Pid | 'ignore'>> {
    const existing = this.find(spec.id);
    if (existing !== undefined) {
      return failure(
        existing.pid !== null
          ? new ChildAlreadyStartedError(this.label, spec.id, existing.pid)
          : new ChildAlreadyPresentError(this.label, spec.id),
      );
    }
    const outcome = await invokeStart(this.ctx, spec, spec.id);
    if (outcome instanceof ChildStartError) return failure(outcome);
    if (outcome !== 'ignore' || spec.restart !== 'temporary') {
      this.children.push({ spec, pid: outcome === 'ignore' ? null : outcome, pending: 0 });
    }
    return success(outcome);
  }

  private async terminateChild(id: string): Promise<Outcome<undefined>> {
    const child = this.find(id);
    if (child === undefined) return failure(new ChildNotFoundError(this.label, JSON.stringify(id)));
    child.pending = 0;
    if (child.pid !== null) await this.stopOne(child);
    if (child.spec.restart === 'temporary') this.remove(child);
    return success(undefined);
  }

  private async restartChild(id: string): Promise<Outcome<Pid | 'ignore'>> {
    const child = this.find(id);
    const refused = this.refuseChange(id, child);
    if (refused !== null) return refused;
    const outcome = await invokeStart(this.ctx, child!.spec, id);
    if (outcome instanceof ChildStartError) return failure(outcome);
    if (outcome !== 'ignore') child!.pid = outcome;
    return success(outcome);
  }

  private deleteChild(id: string): Outcome<undefined> {
    const child = this.find(id);
    const refused = this.refuseChange(id, child);
    if (refused !== null) return refused;
    this.remove(child!);
    return success(undefined);
  }

  /** Why `restartChild`/`deleteChild` may not touch `child`, or null if they may. */
  private refuseChange(id: string, child: Child | undefined): Outcome<never> | null {
    if (child === undefined) return failure(new ChildNotFoundError(this.label, JSON.stringify(id)));
    if (child.pending !== 0) return failure(new ChildRestartingError(this.label, id));
    if (child.pid !== null) return failure(new ChildRunningError(this.label, id, child.pid));
    return null;
  }

  // ---------------------------------------------------------------- helpers

  private find(id: string): Child | undefined {
    return this.children.find((c) => c.spec.id === id);
  }

  private remove(child: Child): void {
    const i = this.children.indexOf(child);
    if (i >= 0) this.children.splice(i, 1);
  }

  describe(): unknown {
    return {
      strategy: this.options.strategy,
      children: this.children.map((c) => ({ id: c.spec.id, pid: c.pid?.toString() ?? null })),
    };
  }
}

function infoOf(child: Child): ChildInfo {
  const { id, type, restart } = child.spec;
  return { id, pid: child.pid, type, restart };
}

/** The supervisor as a GenServer behaviour. */
const supervisorServer: GenServer<SupervisorState, SupervisorArgs, SupervisorProtocol> = {
  async init({ children, options }, ctx) {
    const state = new SupervisorState(ctx, options);
    const failed = await state.startInitial(children);
    // `{ shutdown: error }`: an orderly exit (no crash report); the start
    // rejects with the child's error, unwrapped by `Supervisor.start`.
    return failed === null ? ok(state) : stop({ shutdown: failed });
  },

  async handleCall(request, _from, state) {
    return reply(await state.handle(request), state);
  },

  async handleInfo(message: PendingRestart | DownMessage | ExitMessage, state) {
    let after: After = 'ok';
    if (message instanceof ExitMessage)
      after = await state.childExited(message.from, message.reason);
    else if (message instanceof PendingRestart) after = await state.pendingDue(message);
    return after === 'shutdown' ? stop('shutdown', state) : noreply(state);
  },

  async terminate(_reason, state) {
    await state.stopAll();
  },

  formatState(state) {
    return state.describe();
  },
};

// ------------------------------------------------------------------ public API

function startOptionsOf(options: ResolvedOptions): StartOptions {
  // A supervisor's init waits for all its children: no init timeout. It
  // traps exits from birth, so no EXIT can kill it before init runs.
  const start: StartOptions = { timeout: Infinity, trapExit: true };
  if (options.name !== undefined) start.name = options.name;
  return start;
}

/** A failed supervisor start rejects with the child's `ChildStartError`, not GenServer's wrapper. */
function unwrapStartError(error: unknown): unknown {
  if (!(error instanceof StartError)) return error;
  const reason = error.reason;
  if (reason !== null && typeof reason === 'object' && !(reason instanceof Error)) {
    if (reason.shutdown instanceof ChildStartError) return reason.shutdown;
  }
  return error;
}

type ServerStarter = (
  behaviour: typeof supervisorServer,
  args: SupervisorArgs,
  options: StartOptions,
) => Promise<Pid>;

async function startSupervisor(
  children: readonly ChildSpec[],
  options: SupervisorOptions,
  startServer: ServerStarter,
): Promise<Pid> {
  const args: SupervisorArgs = {
    children: normalizeChildren(children),
    options: resolveOptions(options),
  };
  try {
    return await startServer(supervisorServer, args, startOptionsOf(args.options));
  } catch (error) {
    throw unwrapStartError(error);
  }
}

/** Options of `childSpec`: the child spec fields besides `start`, and GenServer start options. */
export interface ChildSpecOptions extends StartOptions {
  id: string;
  restart?: RestartType;
  shutdown?: Shutdown;
  type?: ChildType;
}

/**
 * A child spec that starts `behaviour` with `GenServer.startLink(ctx,
 * behaviour, args, startOptions)`, where the start options are `options`
 * without the spec fields (`id`, `restart`, `shutdown`, `type`). An `init`
 * returning `ignore` makes the child `'ignore'`d.
 */
export function childSpec<S, A, P>(
  behaviour: GenServer<S, A, P>,
  args: A,
  options: ChildSpecOptions,
): ChildSpec {
  if (options === null || typeof options !== 'object') {
    throw new InvalidArgumentError(
      `childSpec expects options with at least an id, got ${describeValue(options)}`,
    );
  }
  const { id, restart, shutdown, type, ...startOptions } = options;
  const spec: ChildSpec = {
    id,
    start: (ctx) => GenServer.startLink(ctx, behaviour, args, startOptions),
  };
  if (restart !== undefined) spec.restart = restart;
  if (shutdown !== undefined) spec.shutdown = shutdown;
  if (type !== undefined) spec.type = type;
  return spec;
}

/**
 * Starting supervisors and operating on them. Every operation is a call to
 * the supervisor process (served in turn with restarts, never timing out);
 * it rejects with `NoProcError` if the supervisor is not alive, and with
 * the typed errors listed on each function.
 */
export const Supervisor = {
  /**
   * Starts a supervisor, unlinked, with `children` started in order. From a
   * process context, that process becomes its parent (an exit signal from it
   * stops the supervisor). Resolves with its pid once every child has
   * started; rejects with `InvalidArgumentError` for a bad spec or option
   * (nothing is started then), with `ChildStartError` (code `start_failed`)
   * if a child fails to start, after the children already started were
   * stopped in reverse order, and with `NameTakenError` if the name is taken.
   */
  start(spawner: Spawner, children: ChildSpec[], options: SupervisorOptions = {}): Promise<Pid> {
    return startSupervisor(children, options, (behaviour, args, start) =>
      GenServer.start(spawner, behaviour, args, start),
    );
  },

  /** Like `start`, linked to the calling process (its parent). */
  startLink(ctx: Context, children: ChildSpec[], options: SupervisorOptions = {}): Promise<Pid> {
    if (ctx instanceof ActorSystem) {
      return Promise.reject(
        new InvalidArgumentError(
          'startLink needs a process context to link to; use start from outside a process',
        ),
      );
    }
    return startSupervisor(children, options, (behaviour, args, start) =>
      GenServer.startLink(ctx, behaviour, args, start),
    );
  },

  /**
   * A child spec that starts a nested supervisor with `children` and
   * `options` (type `supervisor`, shutdown `infinity`; `restart` default
   * `permanent`). Options are checked now: a bad one throws here.
   */
  childSpec(
    id: string,
    children: ChildSpec[],
    options: SupervisorOptions & { restart?: RestartType } = {},
  ): ChildSpec {
    const { restart, ...supervisorOptions } = options;
    resolveOptions(supervisorOptions);
    const spec: ChildSpec = {
      id,
      type: 'supervisor',
      shutdown: 'infinity',
      start: (ctx) => Supervisor.startLink(ctx, children, supervisorOptions),
    };
    if (restart !== undefined) spec.restart = restart;
    return spec;
  },

  /**
   * Adds a child at the end of the start order and starts it. Resolves with
   * its pid, or `'ignore'` (the spec is kept without a pid, unless
   * temporary). Rejects with `ChildAlreadyStartedError` (`already_started`)
   * or `ChildAlreadyPresentError` (`already_present`) if the id is taken,
   * `ChildStartError` (`start_failed`; nothing is kept) if it fails to start.
   */
  startChild(caller: Caller, sup: Dest, spec: ChildSpec): Promise<Pid | 'ignore'> {
    let normalized: NormalizedSpec;
    try {
      normalized = normalizeSpec(spec, 'spec');
    } catch (error) {
      return Promise.reject(error);
    }
    return callSupervisor(caller, sup, { type: 'start_child', spec: normalized });
  },

  /**
   * Stops a child as its `shutdown` says; it is not restarted. Its spec stays
   * (pid null) so that `restartChild` can start it again, except for a
   * temporary child, whose spec is removed. A pending restart of it is
   * cancelled. Rejects with `ChildNotFoundError` (`not_found`).
   */
  terminateChild(caller: Caller, sup: Dest, id: string): Promise<void> {
    return callById(caller, sup, 'terminateChild', { type: 'terminate_child', id });
  },

  /**
   * Starts a child whose spec is present but not running. Resolves with its
   * pid or `'ignore'`. Rejects with `not_found`, `running`
   * (`ChildRunningError`), `restarting` (`ChildRestartingError`) or
   * `start_failed` (the spec stays, without a pid). Does not count toward
   * the intensity.
   */
  restartChild(caller: Caller, sup: Dest, id: string): Promise<Pid | 'ignore'> {
    return callById(caller, sup, 'restartChild', { type: 'restart_child', id });
  },

  /** Removes the spec of a child that is not running. Rejects with `not_found`, `running` or `restarting`. */
  deleteChild(caller: Caller, sup: Dest, id: string): Promise<void> {
    return callById(caller, sup, 'deleteChild', { type: 'delete_child', id });
  },

  /** Every child spec with its pid (null if not running), in start order. */
  whichChildren(caller: Caller, sup: Dest): Promise<ChildInfo[]> {
    return callSupervisor(caller, sup, WHICH_CHILDREN);
  },

  /** Totals of specs, live children, supervisors and workers. */
  countChildren(caller: Caller, sup: Dest): Promise<ChildCounts> {
    return callSupervisor(caller, sup, COUNT_CHILDREN);
  },

  /**
   * Stops the supervisor with `reason` (default `normal`): it stops its
   * children in reverse order, then exits. Resolves once it has exited;
   * rejects with `NoProcError` if it is not alive and with
   * `CallTimeoutError` if it is still alive after `timeoutMs` (default
   * `Infinity`).
   */
  stop(
    system: ActorSystem,
    sup: Dest,
    reason: ExitReason = 'normal',
    timeoutMs = Infinity,
  ): Promise<void> {
    return system.stop(sup, reason, timeoutMs);
  },
};

// ------------------------------------------------------------------ the tree as data

function systemOf(caller: Caller): ActorSystem {
  return caller instanceof ActorSystem ? caller : caller.system;
}

function pidOf(system: ActorSystem, dest: Dest): Pid | undefined {
  if (isPid(dest)) return dest.node !== system.node || system.isAlive(dest) ? dest : undefined;
  if (typeof dest === 'string') return system.whereis(dest);
  if ('via' in dest) return whereVia(dest);
  // A name on another thread: only that thread can resolve it.
  return undefined;
}

/**
 * The supervision tree under `sup` as data: each child with its id, pid,
 * type, restart type and, for running supervisors (either kind), their own
 * children, in start order. The walk asks each supervisor in turn; a nested
 * supervisor that exits during the walk shows no children. Rejects with
 * `NoProcError` if `sup` is not alive.
 */
export async function supervisionTree(caller: Caller, sup: Dest): Promise<TreeNode> {
  const pid = pidOf(systemOf(caller), sup);
  if (pid === undefined) throw new NoProcError(describeDest(sup));
  const children = await subtree(caller, pid);
  return { id: undefined, pid, type: 'supervisor', restart: undefined, children };
}

async function subtree(caller: Caller, sup: Pid): Promise<TreeNode[]> {
  const infos = await callSupervisor<ChildInfo[]>(caller, sup, WHICH_CHILDREN);
  const nodes: TreeNode[] = [];
  for (const info of infos) {
    let children: TreeNode[] = [];
    if (info.type === 'supervisor' && info.pid !== null) {
      children = await subtree(caller, info.pid).catch(() => []);
    }
    nodes.push({ ...info, children });
  }
  return nodes;
}
