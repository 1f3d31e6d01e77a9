/**
 * A local key → process registry, after Elixir's `Registry`.
 *
 * A registry maps keys to the processes that registered them, each entry with
 * a value. With `keys: 'unique'` a key points to at most one process; with
 * `keys: 'duplicate'` a key may point to any number of processes, and one
 * process may register the same key many times. Different keys may name the
 * same process in both kinds. Keys are compared as `Map` keys are
 * (SameValueZero): use strings, numbers or the same object.
 *
 * Lifetime.
 * - The table is plain memory owned by the `Registry` object; an *owner*
 *   process (started with `start`, or by a supervisor through `childSpec`)
 *   defines its lifetime. Every operation except `describe` throws
 *   `RegistryNotRunningError` (code `registry_not_running`) before the owner
 *   is started and after it has exited.
 * - When the owner exits every entry is dropped at once, and `start` may be
 *   called again: a restart gives a fresh, empty table behind the same
 *   `Registry` object, so `via(registry, key)` names stay valid.
 * - As in Elixir, a process that holds at least one key is linked to the
 *   owner: if the owner dies abnormally (killed, crashed, shut down) the
 *   registered processes get that exit signal too, so their supervisors
 *   restart them and they register again in the fresh table, instead of
 *   running on unreachable. The link goes away with the process's last key.
 *   A registered process that exits never takes the owner down: its link is
 *   removed before its exit signals are sent.
 *
 * Cleanup is synchronous with the exit. Entries of a process are removed by
 * an exit hook that runs inside the runtime's exit sequence, right after the
 * process's local name is removed and before any monitor or link hears of
 * the exit, so `lookup`, `whereis` and every other read never return a
 * process that has exited, not even for a moment, and a restarted successor
 * can take the key at once. A process that unregisters its last key has its
 * hook and link removed, so registrations leave nothing behind.
 *
 * Cost: `register`, `unregister`, `lookup`, `whereis`, `values` and `count`
 * are O(1) in the size of the registry (Maps keyed by key and by pid); for
 * duplicate keys, reads of one key are O(entries under that key). `select`
 * scans every entry.
 *
 * Differences from Elixir: no partitions (one thread, one table), no
 * listeners or metadata; `match` and `select` take predicates instead of
 * match specs; errors are thrown (`KeyTakenError` and friends) rather than
 * returned as tuples; `register` from a process that has already exited does
 * nothing, as other `Context` operations do.
 */
import { settleError, type From } from './call.js';
import { describeValue } from './describe.js';
import { KIND_CALL, KIND_STOP } from './messages.js';
import { Pid } from './pid.js';
import { S_DEAD, type Context, type Proc, type ProcessLogic } from './process.js';
import type { NameResolver } from './protocol.js';
import {
  ActorError,
  InvalidArgumentError,
  type ExitReason,
  registerErrorClasses,
} from './reasons.js';
import { ActorSystem } from './system.js';

/** Whether a key names at most one process (`unique`) or any number (`duplicate`). */
export type RegistryKeys = 'unique' | 'duplicate';

/** Options of a `Registry`. */
export interface RegistryOptions {
  /** `'unique'` or `'duplicate'`; required. */
  keys: RegistryKeys;
  /**
   * A local name for the owner process (see `ActorSystem.register`), also used
   * in error messages. Default: none. A non-empty string.
   */
  name?: string;
}

/** A child spec that starts a registry's owner under a supervisor. */
export interface RegistryChildSpec {
  id: string;
  start: (ctx: Context) => Promise<Pid>;
  restart: 'permanent';
  shutdown: number;
  type: 'worker';
}

/** One entry, as `select` returns it. */
export interface RegistryEntry<K, V> {
  key: K;
  pid: Pid;
  value: V;
}

/** The registry's owner is not running: it was never started, or it has exited. */
export class RegistryNotRunningError extends ActorError {
  override name = 'RegistryNotRunningError';
  constructor(
    readonly registry: string,
    readonly operation: string,
  ) {
    super(
      'registry_not_running',
      `${operation} needs a running registry, but ${registry} is not running: ` +
        `call registry.start(system) first, or start it under a supervisor with childSpec()`,
    );
  }
}

/** A unique key is already held by a live process (`holder`). */
export class KeyTakenError extends ActorError {
  override name = 'KeyTakenError';
  constructor(
    readonly key: unknown,
    readonly holder: Pid,
    registry: string,
  ) {
    super(
      'already_registered',
      `key ${describeValue(key)} in ${registry} is already registered to ${holder}`,
    );
  }
}

/** An operation that only one kind of registry supports was used on the other kind. */
export class RegistryKeysError extends ActorError {
  override name = 'RegistryKeysError';
  constructor(
    readonly operation: string,
    readonly expected: RegistryKeys,
    registry: string,
  ) {
    super(
      'wrong_registry_keys',
      `${operation} needs a registry with ${expected} keys, but ${registry} has ` +
        `${expected === 'unique' ? 'duplicate' : 'unique'} keys`,
    );
  }
}

/** `updateValue` was called by a process that does not hold the key. */
export class KeyNotHeldError extends ActorError {
  override name = 'KeyNotHeldError';
  constructor(
    readonly key: unknown,
    readonly caller: Pid,
    registry: string,
  ) {
    super(
      'not_registered',
      `${caller} does not hold key ${describeValue(key)} in ${registry}; ` +
        `only the process that registered a key can update its value`,
    );
  }
}

/** `start` was called while the owner is still running. */
export class RegistryAlreadyStartedError extends ActorError {
  override name = 'RegistryAlreadyStartedError';
  constructor(
    readonly owner: Pid,
    registry: string,
  ) {
    super(
      'already_started',
      `${registry} is already running with owner ${owner}; stop it before starting it again`,
    );
  }
}

registerErrorClasses(
  RegistryNotRunningError,
  KeyTakenError,
  RegistryKeysError,
  KeyNotHeldError,
  RegistryAlreadyStartedError,
);

interface OptionRule {
  readonly required: boolean;
  readonly valid: (value: unknown) => boolean;
  readonly expected: string;
}

const OPTION_RULES: Readonly<Record<keyof RegistryOptions, OptionRule>> = {
  keys: {
    required: true,
    valid: (v) => v === 'unique' || v === 'duplicate',
    expected: "'unique' or 'duplicate'",
  },
  name: {
    required: false,
    valid: (v) => typeof v === 'string' && v.length > 0,
    expected: 'a non-empty string',
  },
};

function checkOptions(options: RegistryOptions): void {
  if (options === null || typeof options !== 'object') {
    throw new InvalidArgumentError(
      `Registry expects an options object such as { keys: 'unique' }, got ${describeValue(options)}`,
    );
  }
  for (const [field, rule] of Object.entries(OPTION_RULES)) {
    const value = (options as unknown as Record<string, unknown>)[field];
    if (value === undefined && !rule.required) continue;
    if (!rule.valid(value)) {
      throw new InvalidArgumentError(
        `options.${field} must be ${rule.expected}, got ${describeValue(value)}`,
      );
    }
  }
}

function checkFunction(what: string, fn: unknown): void {
  if (typeof fn !== 'function') {
    throw new InvalidArgumentError(`${what} must be a function, got ${describeValue(fn)}`);
  }
}

function checkPid(what: string, pid: unknown): asserts pid is Pid {
  if (!(pid instanceof Pid)) {
    throw new InvalidArgumentError(`${what} must be a pid, got ${describeValue(pid)}`);
  }
}

/** The live process behind a pid, or null once it has exited (or is exiting its last steps). */
function liveProc(pid: Pid): Proc | null {
  const proc = pid._proc;
  return proc === null || proc.status === S_DEAD ? null : proc;
}

/** A unique key's single entry. */
interface Slot<V> {
  readonly pid: Pid;
  readonly value: V;
}

/** What the registry keeps per registered process. */
interface Holder<K> {
  /** Cancels the exit hook that drops this process's entries. */
  readonly cancel: () => void;
  /** Entries per key this process holds (always 1 per key for unique keys). */
  readonly keys: Map<K, number>;
}

/** The owner process: it holds no state of its own and only defines the table's lifetime. */
class OwnerLogic implements ProcessLogic {
  constructor(private readonly registry: Registry<unknown, unknown>) {}

  handle(proc: Proc, kind: number, payload: unknown): undefined {
    if (kind === KIND_STOP) proc.system.stopProcess(proc, payload as ExitReason);
    else if (kind === KIND_CALL) {
      settleError(
        payload as From,
        new ActorError(
          'unexpected_call',
          `${this.registry.label()} answers no calls; use the Registry object's methods`,
        ),
      );
    }
    // Casts and plain messages have no meaning for the owner: they are dropped.
    return undefined;
  }

  terminate(): undefined {
    return undefined;
  }

  describeState(): unknown {
    return { keys: this.registry.keys, entries: this.registry.size() };
  }
}

/**
 * A registry of processes by key. See the module documentation for the
 * lifetime rules; every method documents what it does with dead processes.
 *
 * ```ts
 * const registry = new Registry<string, number>({ keys: 'unique', name: 'topics' });
 * await registry.start(system);
 * await GenServer.start(system, TopicServer, 'orders', { name: via(registry, 'orders') });
 * await system.call(via(registry, 'orders'), 'stats');
 * ```
 */
export class Registry<K = string, V = unknown> implements NameResolver {
  /** `'unique'` or `'duplicate'`, fixed at construction. */
  readonly keys: RegistryKeys;
  private readonly ownerName: string | undefined;
  private owner: Proc | null = null;
  /** Unique keys: key → its one entry. */
  private readonly unique = new Map<K, Slot<V>>();
  /** Duplicate keys: key → pid → that pid's values under the key, oldest first. */
  private readonly duplicate = new Map<K, Map<Pid, V[]>>();
  private readonly holders = new Map<Pid, Holder<K>>();
  private entries = 0;

  /** Throws `InvalidArgumentError` if `keys` is missing or `name` is not a non-empty string. */
  constructor(options: RegistryOptions) {
    checkOptions(options);
    this.keys = options.keys;
    this.ownerName = options.name;
  }

  // ------------------------------------------------------------ lifetime

  /**
   * Starts the owner process and resolves with its pid. From an
   * `ActorSystem` the owner is unlinked; from a process `Context` it is
   * linked to that process, which becomes its parent (a supervisor does
   * this through `childSpec`). With `options.name` the owner is registered
   * under that local name.
   *
   * Rejects with `RegistryAlreadyStartedError` while an owner is running,
   * with `NameTakenError` if the name is held by another process, and with
   * `InvalidArgumentError` for anything that is not a system or a context.
   */
  async start(spawner: ActorSystem | Context): Promise<Pid> {
    const system = systemOf(spawner);
    const running = this.owner;
    if (running !== null) throw new RegistryAlreadyStartedError(running.self, this.label());
    const parent = spawner instanceof ActorSystem ? undefined : spawner.self;
    const pid = system.spawnLogic(
      new OwnerLogic(this as Registry<unknown, unknown>),
      { name: this.ownerName, link: parent },
      undefined,
      parent,
    );
    const owner = pid._proc!;
    owner.addExitHook(() => this.ownerExited(owner));
    this.owner = owner;
    return pid;
  }

  /**
   * A child spec for a supervisor: a `worker` started with `start(ctx)`,
   * `permanent`, with a 5000 ms shutdown (the owner does not trap exits, so a
   * shutdown signal ends it at once). `id` defaults to the registry's name,
   * or `'registry'`. A restart gives a fresh, empty table.
   */
  childSpec(id?: string): RegistryChildSpec {
    return {
      id: id ?? this.ownerName ?? 'registry',
      start: (ctx: Context) => this.start(ctx),
      restart: 'permanent',
      shutdown: 5000,
      type: 'worker',
    };
  }

  /** The owner's pid while it runs; undefined before `start` and after it exited. */
  get pid(): Pid | undefined {
    return this.owner?.self;
  }

  // ------------------------------------------------------------ writes

  /**
   * Registers the calling process (`ctx.self`) under `key` with `value`.
   *
   * Unique keys: throws `KeyTakenError` (code `already_registered`, naming
   * the holder, which may be the caller itself) if a live process holds the
   * key; nothing is changed then. Duplicate keys: the same process may
   * register the same key any number of times, each with its own entry.
   *
   * A caller that has already exited (an async handler that outlived a
   * kill) registers nothing. Throws `RegistryNotRunningError` when the
   * registry is not running.
   */
  register(ctx: Context, key: K, value: V): void {
    this.running('register');
    const pid = callerPid(ctx, 'register');
    if (liveProc(pid) !== null) this.insert(pid, key, value);
  }

  /**
   * Registers `pid` itself under `key` with an `undefined` value: what
   * `GenServer.start(..., { name: via(registry, key) })` calls before `init`
   * runs. Unique keys only (`RegistryKeysError` otherwise: a `via` name must
   * denote one process). Throws `KeyTakenError` if a live process holds the
   * key, and `InvalidArgumentError` if `pid` is not a pid or has exited; in
   * every refusal nothing is registered.
   */
  registerName(key: K, pid: Pid): void {
    this.running('registerName');
    this.requireKeys('registerName', 'unique');
    checkPid('registerName pid', pid);
    // A process of another thread cannot be checked synchronously: it is
    // registered, and dropped when its exit notice (or its thread's) arrives.
    const remote = pid.node !== this.owner!.system.node && pid._proc === null;
    if (!remote && liveProc(pid) === null) {
      throw new InvalidArgumentError(
        `registerName needs a live process, but ${pid} has exited; nothing was registered`,
      );
    }
    this.insert(pid, key, undefined as V);
  }

  /**
   * Removes every entry the calling process holds under `key`; a no-op if
   * it holds none. When that was its last key, the exit hook and the link
   * to the owner are removed too.
   */
  unregister(ctx: Context, key: K): void {
    this.running('unregister');
    const pid = callerPid(ctx, 'unregister');
    const holder = this.holders.get(pid);
    if (holder === undefined || !holder.keys.has(key)) return;
    this.removeKey(pid, holder, key);
  }

  /**
   * Removes the calling process's entries under `key` whose value satisfies
   * `pattern` (a predicate: true removes the entry). If `pattern` throws,
   * the error propagates and nothing is removed.
   */
  unregisterMatch(ctx: Context, key: K, pattern: (value: V) => boolean): void {
    this.running('unregisterMatch');
    checkFunction('unregisterMatch pattern', pattern);
    const pid = callerPid(ctx, 'unregisterMatch');
    const holder = this.holders.get(pid);
    if (holder === undefined || !holder.keys.has(key)) return;
    if (this.keys === 'unique') {
      if (pattern(this.unique.get(key)!.value)) this.removeKey(pid, holder, key);
      return;
    }
    const pids = this.duplicate.get(key)!;
    const values = pids.get(pid)!;
    // Decide every entry before changing any, so a throwing pattern changes nothing.
    const kept = values.filter((value) => !pattern(value));
    if (kept.length === values.length) return;
    if (kept.length === 0) {
      this.removeKey(pid, holder, key);
      return;
    }
    pids.set(pid, kept);
    holder.keys.set(key, kept.length);
    this.entries -= values.length - kept.length;
  }

  /**
   * Replaces the value of `key`, held by the calling process, with
   * `update(current)` and returns the new value. Unique keys only
   * (`RegistryKeysError` otherwise). Throws `KeyNotHeldError` (code
   * `not_registered`) if the caller does not hold the key; if `update`
   * throws, the value is unchanged and the error propagates.
   */
  updateValue(ctx: Context, key: K, update: (value: V) => V): V {
    this.running('updateValue');
    this.requireKeys('updateValue', 'unique');
    checkFunction('updateValue update', update);
    const pid = callerPid(ctx, 'updateValue');
    const slot = this.unique.get(key);
    if (slot === undefined || slot.pid !== pid) throw new KeyNotHeldError(key, pid, this.label());
    const value = update(slot.value);
    this.unique.set(key, { pid, value });
    return value;
  }

  // ------------------------------------------------------------ reads

  /**
   * The `[pid, value]` entries under `key`: at most one for unique keys; for
   * duplicate keys grouped by process, processes in the order they started
   * holding the key (a process that removed all its entries and registers
   * again goes last), each process's values oldest first. Never returns a
   * process that has exited.
   */
  lookup(key: K): Array<[Pid, V]> {
    this.running('lookup');
    if (this.keys === 'unique') {
      const slot = this.unique.get(key);
      return slot === undefined ? [] : [[slot.pid, slot.value]];
    }
    const out: Array<[Pid, V]> = [];
    const pids = this.duplicate.get(key);
    if (pids !== undefined) {
      for (const [pid, values] of pids) for (const value of values) out.push([pid, value]);
    }
    return out;
  }

  /**
   * `NameResolver`: the process holding `key`, or undefined. Unique keys
   * only: on a duplicate registry it throws `RegistryKeysError`, since a
   * `via` name must denote one process.
   */
  whereis(key: K): Pid | undefined {
    this.running('whereis');
    this.requireKeys('whereis', 'unique');
    return this.unique.get(key)?.pid;
  }

  /** `NameResolver`: renders `key` for error messages. Works whether or not the registry runs. */
  describe(key: K): string {
    return `${describeValue(key)} in ${this.label()}`;
  }

  /**
   * The keys `pid` holds, in the order it started holding them: each once
   * for unique keys; for duplicate keys a key appears once per entry, its
   * repetitions side by side (as in Elixir's `Registry.keys`). Empty for a
   * process that has exited or holds none.
   */
  keysOf(pid: Pid): K[] {
    this.running('keysOf');
    checkPid('keysOf pid', pid);
    const holder = this.holders.get(pid);
    if (holder === undefined) return [];
    const out: K[] = [];
    for (const [key, n] of holder.keys) for (let i = 0; i < n; i++) out.push(key);
    return out;
  }

  /** The values `pid` registered under `key`, oldest first (at most one for unique keys). */
  values(key: K, pid: Pid): V[] {
    this.running('values');
    checkPid('values pid', pid);
    if (this.keys === 'unique') {
      const slot = this.unique.get(key);
      return slot !== undefined && slot.pid === pid ? [slot.value] : [];
    }
    return [...(this.duplicate.get(key)?.get(pid) ?? [])];
  }

  /** How many entries the registry holds (for duplicate keys, every entry counts). O(1). */
  count(): number {
    this.running('count');
    return this.entries;
  }

  /** How many entries under `key` have a value satisfying `pattern` (all of them without one). */
  countMatch(key: K, pattern?: (value: V) => boolean): number {
    this.running('countMatch');
    if (pattern === undefined) return this.countKey(key);
    checkFunction('countMatch pattern', pattern);
    let n = 0;
    for (const [, value] of this.lookup(key)) if (pattern(value)) n++;
    return n;
  }

  /** The entries under `key` whose value satisfies `pattern`, in `lookup` order. */
  match(key: K, pattern: (value: V) => boolean): Array<[Pid, V]> {
    this.running('match');
    checkFunction('match pattern', pattern);
    return this.lookup(key).filter(([, value]) => pattern(value));
  }

  /** Every entry for which `filter(key, pid, value)` returns true. Scans the whole registry. */
  select(filter: (key: K, pid: Pid, value: V) => boolean): Array<RegistryEntry<K, V>> {
    this.running('select');
    checkFunction('select filter', filter);
    const out: Array<RegistryEntry<K, V>> = [];
    if (this.keys === 'unique') {
      for (const [key, { pid, value }] of this.unique) {
        if (filter(key, pid, value)) out.push({ key, pid, value });
      }
      return out;
    }
    for (const [key, pids] of this.duplicate) {
      for (const [pid, values] of pids) {
        for (const value of values) if (filter(key, pid, value)) out.push({ key, pid, value });
      }
    }
    return out;
  }

  /**
   * Calls `fn` with the entries under `key`, synchronously in the calling
   * code; `fn` is not called when there are none. What `fn` returns is
   * ignored; what it throws propagates to the caller. Typical use: send a
   * message to every subscriber of a key.
   */
  dispatch(key: K, fn: (entries: Array<[Pid, V]>) => void): void {
    this.running('dispatch');
    checkFunction('dispatch callback', fn);
    const entries = this.lookup(key);
    if (entries.length > 0) fn(entries);
  }

  // ------------------------------------------------------------ internals

  /** How the registry names itself in messages. @internal */
  label(): string {
    if (this.ownerName !== undefined) return `registry ${JSON.stringify(this.ownerName)}`;
    const owner = this.owner;
    return owner === null ? 'an unnamed registry' : `registry ${owner.self}`;
  }

  /** Entries held, without the running check (for crash reports). @internal */
  size(): number {
    return this.entries;
  }

  /** How many processes hold at least one key, and internal table sizes. For tests. @internal */
  debugSizes(): { holders: number; keys: number; entries: number } {
    const keys = this.keys === 'unique' ? this.unique.size : this.duplicate.size;
    return { holders: this.holders.size, keys, entries: this.entries };
  }

  private running(operation: string): Proc {
    const owner = this.owner;
    if (owner === null || owner.status === S_DEAD) {
      throw new RegistryNotRunningError(this.label(), operation);
    }
    return owner;
  }

  private requireKeys(operation: string, expected: RegistryKeys): void {
    if (this.keys !== expected) throw new RegistryKeysError(operation, expected, this.label());
  }

  private countKey(key: K): number {
    if (this.keys === 'unique') return this.unique.has(key) ? 1 : 0;
    let n = 0;
    const pids = this.duplicate.get(key);
    if (pids !== undefined) for (const values of pids.values()) n += values.length;
    return n;
  }

  /** Adds one entry for a live `proc`. Every check comes first, so a refusal changes nothing. */
  private insert(pid: Pid, key: K, value: V): void {
    if (this.keys === 'unique') {
      const slot = this.unique.get(key);
      if (slot !== undefined) throw new KeyTakenError(key, slot.pid, this.label());
      this.unique.set(key, { pid, value });
    } else {
      let pids = this.duplicate.get(key);
      if (pids === undefined) this.duplicate.set(key, (pids = new Map()));
      const values = pids.get(pid);
      if (values === undefined) pids.set(pid, [value]);
      else values.push(value);
    }
    const holder = this.holders.get(pid) ?? this.addHolder(pid);
    holder.keys.set(key, (holder.keys.get(key) ?? 0) + 1);
    this.entries++;
  }

  /** First key of a process: hook its exit and link it to the owner. */
  private addHolder(pid: Pid): Holder<K> {
    const owner = this.owner!;
    const cancel = owner.system.onExit(pid, () => this.processExited(pid));
    const holder: Holder<K> = { cancel, keys: new Map() };
    this.holders.set(pid, holder);
    // A process of another thread is not linked: its exit signal would reach
    // the owner before the notice that removes its entries.
    if (pid._proc !== null) owner.link(pid);
    return holder;
  }

  /** Removes all of `pid`'s entries under `key`, and the holder with its last key. */
  private removeKey(pid: Pid, holder: Holder<K>, key: K): void {
    const n = holder.keys.get(key) ?? 0;
    if (this.keys === 'unique') this.unique.delete(key);
    else {
      const pids = this.duplicate.get(key)!;
      pids.delete(pid);
      if (pids.size === 0) this.duplicate.delete(key);
    }
    holder.keys.delete(key);
    this.entries -= n;
    if (holder.keys.size === 0) this.removeHolder(pid, holder);
  }

  private removeHolder(pid: Pid, holder: Holder<K>): void {
    this.holders.delete(pid);
    holder.cancel();
    this.owner?.unlink(pid);
  }

  /**
   * Exit hook of a registered process: runs inside its exit sequence, before
   * its links fire. Unlinking from the owner here is what keeps a crashing
   * registrant from taking the owner down.
   */
  private processExited(pid: Pid): void {
    const holder = this.holders.get(pid);
    if (holder === undefined) return;
    for (const key of [...holder.keys.keys()]) this.removeKey(pid, holder, key);
  }

  /**
   * Exit hook of the owner: drop the whole table. The links to registered
   * processes are left in place on purpose, so that they receive the
   * owner's exit signal (see the module documentation).
   */
  private ownerExited(owner: Proc): void {
    if (this.owner !== owner) return;
    for (const holder of this.holders.values()) holder.cancel();
    this.holders.clear();
    this.unique.clear();
    this.duplicate.clear();
    this.entries = 0;
    this.owner = null;
  }
}

function systemOf(spawner: ActorSystem | Context): ActorSystem {
  if (spawner instanceof ActorSystem) return spawner;
  if (spawner !== null && typeof spawner === 'object' && spawner.system instanceof ActorSystem) {
    return spawner.system;
  }
  throw new InvalidArgumentError(
    `expected an ActorSystem or a process context, got ${describeValue(spawner)}`,
  );
}

function callerPid(ctx: Context, operation: string): Pid {
  const pid = ctx !== null && typeof ctx === 'object' ? (ctx as { self?: unknown }).self : ctx;
  if (!(pid instanceof Pid)) {
    throw new InvalidArgumentError(
      `${operation} expects the calling process's context, got ${describeValue(ctx)}`,
    );
  }
  return pid;
}
