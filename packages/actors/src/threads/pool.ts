/**
 * A pool of worker threads for CPU-bound work, on piscina.
 *
 * Where thread nodes (`Threads`) host long-lived processes, a `TaskPool`
 * runs short functions: `run` calls a function exported by a module on a
 * free worker and resolves with its result. Tasks queue when every worker is
 * busy; a busy worker never blocks the main thread.
 *
 * Tasks as processes: `async` runs a pool task inside a `Task` process
 * (linked to the caller, monitorable, killable); killing that process, or
 * the caller's exit, aborts the pool task. `stream` maps a collection over
 * the pool with bounded concurrency and ordered results (`asyncStream`).
 *
 * Failure: a worker that exits mid-task (a crash, `process.exit`) rejects
 * that task with `PoolWorkerExitError` carrying the exit code; the queue
 * keeps going and piscina starts a replacement worker. Errors thrown by a
 * task keep their name, message, stack and `code`.
 */
import { Piscina } from 'piscina';
import { describeValue } from '../describe.js';
import { ActorError, InvalidArgumentError, registerErrorClasses } from '../reasons.js';
import type { Context } from '../process.js';
import { Task, asyncStream, type AsyncStreamOptions, type Task as TaskHandle } from '../task.js';
import type { Proc } from '../process.js';
import { Pid } from '../pid.js';
import { decode, encode, type Reviver } from './codec.js';
import { checkModuleSpec, type ModuleExport } from './control.js';

/** A function to run on the pool: a module, its export, and the argument. */
export interface PoolTaskSpec extends ModuleExport {
  arg?: unknown;
}

/** Options of a `TaskPool`; piscina's defaults apply where omitted. */
export interface TaskPoolOptions {
  /** Fewest workers kept alive. Default: piscina's (about half the cores). */
  minThreads?: number;
  /** Most workers at once. Default: piscina's (about 1.5x the cores). */
  maxThreads?: number;
  /** A worker idle this long is ended (ms). Default: piscina's. */
  idleTimeoutMs?: number;
  /**
   * Hears errors piscina reports on the pool itself rather than on a task
   * (such as a result arriving for a task that was aborted meanwhile).
   * They never end the process; each is counted in `stats().poolErrors`.
   * Default: none (counted only).
   */
  onError?: (error: unknown) => void;
}

/** A pool worker exited while running a task. */
export class PoolWorkerExitError extends ActorError {
  override name = 'PoolWorkerExitError';
  constructor(
    readonly exitCode: number | null,
    cause: unknown,
  ) {
    super(
      'worker_exited',
      `a pool worker exited with code ${String(exitCode)} while running the task`,
      {
        cause,
      },
    );
  }
}

registerErrorClasses(PoolWorkerExitError);

/** Refuses options piscina would reject with its own errors, naming the option. */
function checkPoolOptions(options: TaskPoolOptions): void {
  if (options === null || typeof options !== 'object') {
    throw new InvalidArgumentError(
      `TaskPool options must be an object, got ${describeValue(options)}`,
    );
  }
  const count = (key: 'minThreads' | 'maxThreads', least: number): void => {
    const value = options[key];
    if (value !== undefined && !(Number.isInteger(value) && value >= least)) {
      throw new InvalidArgumentError(
        `TaskPool option ${key} must be an integer >= ${least}, got ${describeValue(value)}`,
      );
    }
  };
  count('minThreads', 0);
  count('maxThreads', 1);
  const { minThreads, maxThreads, idleTimeoutMs } = options;
  if (minThreads !== undefined && maxThreads !== undefined && minThreads > maxThreads) {
    throw new InvalidArgumentError(
      `TaskPool option minThreads (${minThreads}) must not exceed maxThreads (${maxThreads})`,
    );
  }
  if (options.onError !== undefined && typeof options.onError !== 'function') {
    throw new InvalidArgumentError(
      `TaskPool option onError must be a function, got ${describeValue(options.onError)}`,
    );
  }
  if (idleTimeoutMs !== undefined && !(typeof idleTimeoutMs === 'number' && idleTimeoutMs >= 0)) {
    throw new InvalidArgumentError(
      `TaskPool option idleTimeoutMs must be a number >= 0, got ${describeValue(idleTimeoutMs)}`,
    );
  }
}

// Pids inside pool results have no process behind them on the pool side.
const reviver: Reviver = {
  pid: (node, id) => new Pid(node, id, null),
  ref: (node, id) => ({ node, id }) as never,
};

/**
 * A piscina pool running module functions on worker threads; see the module
 * doc. The pool's workers are plain piscina workers, not thread nodes: code
 * run there is not connected to any `ActorSystem` and cannot send to
 * processes; it gets its argument and returns its result (both cloned).
 */
export class TaskPool {
  private readonly pool: Piscina;
  private destroyed = false;
  private poolErrors = 0;

  constructor(options: TaskPoolOptions = {}) {
    checkPoolOptions(options);
    this.pool = new Piscina({
      filename: new URL('./pool-worker.js', import.meta.url).href,
      ...(options.minThreads !== undefined ? { minThreads: options.minThreads } : {}),
      ...(options.maxThreads !== undefined ? { maxThreads: options.maxThreads } : {}),
      ...(options.idleTimeoutMs !== undefined ? { idleTimeout: options.idleTimeoutMs } : {}),
    });
    // Piscina emits some errors on the pool, not on a task (a result that
    // arrives for a task aborted meanwhile: "Unexpected message from
    // Worker"). Unheard, an 'error' event would end the whole process.
    const onError = options.onError;
    this.pool.on('error', (error: unknown) => {
      this.poolErrors++;
      if (onError === undefined) return;
      try {
        onError(error);
      } catch {
        // The hook's own failure changes nothing for the pool.
      }
    });
  }

  /** Runs one function on the pool. Abort it with `signal` (rejects with piscina's AbortError). */
  async run<R>(spec: PoolTaskSpec, options: { signal?: AbortSignal } = {}): Promise<R> {
    if (this.destroyed) throw new ActorError('pool_destroyed', 'the task pool has been destroyed');
    checkModuleSpec('TaskPool.run', spec);
    // An argument that cannot cross is refused here, with the path to it.
    const arg = encode(spec.arg).data;
    let result: { ok: unknown } | { error: unknown };
    try {
      result = (await this.pool.run(
        { module: spec.module, export: spec.export ?? 'default', arg },
        options.signal !== undefined ? { signal: options.signal } : {},
      )) as { ok: unknown } | { error: unknown };
    } catch (error) {
      if (this.destroyed && !isAbort(error)) {
        throw new ActorError(
          'pool_destroyed',
          'the task pool was destroyed with this task pending',
          {
            cause: error,
          },
        );
      }
      const exited = /worker exited with code: (-?\d+)/.exec(String((error as Error)?.message));
      if (exited !== null) throw new PoolWorkerExitError(Number(exited[1]), error);
      throw error;
    }
    if ('error' in result) throw decode(result.error, reviver);
    return decode(result.ok, reviver) as R;
  }

  /**
   * Runs a pool task as a `Task` process of the caller (linked, as
   * `Task.async`). Killing the task process aborts the pool task.
   */
  async<R>(ctx: Context, spec: PoolTaskSpec): TaskHandle<R> {
    return Task.async(ctx, (taskCtx) => this.runIn(taskCtx, spec)) as TaskHandle<R>;
  }

  /**
   * Maps `taskFor(item)` over `items` on the pool, at most `maxConcurrency`
   * at a time, results in input order unless `ordered: false` (see
   * `asyncStream` for the failure and timeout options).
   */
  stream<T, R>(
    ctx: Context,
    items: Iterable<T> | AsyncIterable<T>,
    taskFor: (item: T) => PoolTaskSpec,
    options?: AsyncStreamOptions & { onExit?: 'throw' },
  ): AsyncIterable<R> {
    const fn = (item: T, taskCtx: Context): Promise<R> => this.runIn<R>(taskCtx, taskFor(item));
    return asyncStream(ctx, items, fn, options);
  }

  /** Queue and worker counts, and the errors piscina reported on the pool (see `onError`). */
  stats(): { threads: number; queued: number; completed: number; poolErrors: number } {
    return {
      threads: this.pool.threads.length,
      queued: this.pool.queueSize,
      completed: this.pool.completed,
      poolErrors: this.poolErrors,
    };
  }

  /** Ends every worker; queued tasks reject. */
  async destroy(): Promise<void> {
    this.destroyed = true;
    await this.pool.destroy();
  }

  private runIn<R>(taskCtx: Context, spec: PoolTaskSpec): Promise<R> {
    const abort = new AbortController();
    const proc = taskCtx as Proc;
    const hook = (): void => abort.abort();
    proc.addExitHook(hook);
    return this.run<R>(spec, { signal: abort.signal }).finally(() => proc.removeExitHook(hook));
  }
}

/** Whether `error` is piscina's abort error (a task cancelled through its signal). */
function isAbort(error: unknown): boolean {
  return (error as { name?: unknown } | null)?.name === 'AbortError';
}
