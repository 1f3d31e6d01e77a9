/**
 * Thread nodes: worker threads that each host their own `ActorSystem` and
 * scheduler, so processes run on every core.
 *
 * `Threads.start(system, { count })` starts the threads and connects them to
 * `system` (and to each other). Processes are placed on a thread when they
 * are started: on a given node, on the least loaded one, or by the hash of a
 * key. Their pids carry the node; `send`, `cast`, `call`, links, monitors and
 * exit signals then work exactly as within one thread (see `router.ts`).
 *
 * Costs a user should know:
 * - a message to another thread is copied (structured clone) and walked once
 *   for pids, refs and errors; in-thread messages are passed by reference;
 * - messages to a thread are batched: everything sent to it during one
 *   scheduler turn travels in one `postMessage`;
 * - functions cannot cross: code is named by module and export, and the
 *   thread imports it.
 *
 * A thread that dies (an uncaught error, `process.exit` inside it, or
 * `terminate`) takes its processes with it: they end with reason
 * `noconnection`, links and monitors on other threads fire with that reason,
 * calls into it reject at once, and (with `replace`, the default) a new
 * thread takes its place, so a supervisor restarting its children finds one.
 */
import { availableParallelism } from 'node:os';
import { MessageChannel, Worker } from 'node:worker_threads';
import * as Comlink from 'comlink';
import { ActorError, InvalidArgumentError, StartError, registerErrorClasses } from '../reasons.js';
import { Pid as PidClass, type Pid } from '../pid.js';
import type { Context } from '../process.js';
import { ActorSystem, MAX_PROCESS_BUDGET, MAX_TURN_BUDGET, type ProcessInfo } from '../system.js';
import type { StartOptions } from '../gen-server.js';
import type { ChildSpec } from '../supervisor.js';
import { describeValue } from '../describe.js';
import { decode, encode } from './codec.js';
import {
  checkModuleSpec,
  installErrorTransfer,
  type ControlApi,
  type ModuleExport,
} from './control.js';
import type { WirePid } from './protocol.js';
import { Router, type PortLike } from './router.js';

/** Where a process goes: a node id, the least loaded thread, or a thread chosen by hashing a key. */
export type Placement = 'any' | number | { readonly key: string };

/** Options of `Threads.start`. */
export interface ThreadsOptions {
  /** Threads to start. Default: available cores - 1, at least 1; range 1..256. */
  count?: number;
  /** Start a new thread when one dies. Default true. */
  replace?: boolean;
  /** `processBudget` of each thread's system (see `SystemOptions`). Default 256. */
  processBudget?: number;
  /** `turnBudget` of each thread's system (see `SystemOptions`). Default 8192. */
  turnBudget?: number;
}

/** A GenServer to start on a thread: its module, export, init argument and start options. */
export interface ThreadServerSpec extends ModuleExport {
  args?: unknown;
  options?: Omit<StartOptions, 'name'> & { name?: string };
  /** Where to start it. Default `'any'`. */
  thread?: Placement;
}

/** A thread died (or was not there) while a control request was waiting on it. */
export class NodeDownError extends ActorError {
  override name = 'NodeDownError';
  constructor(readonly node: number) {
    super('noconnection', `thread node ${node} is not running`);
  }
}

registerErrorClasses(NodeDownError);

interface ThreadNode {
  readonly node: number;
  readonly worker: Worker;
  readonly control: Comlink.Remote<ControlApi>;
  readonly exited: Promise<number>;
  alive: boolean;
  /** Rejections of the control requests waiting on this node, run if it exits. */
  readonly waiting: Set<(error: unknown) => void>;
}

const WORKER_URL = new URL('./worker.js', import.meta.url);

const INTEGER_RANGES: Record<string, readonly [number, number]> = {
  count: [1, 256],
  processBudget: [1, MAX_PROCESS_BUDGET],
  turnBudget: [1, MAX_TURN_BUDGET],
};

/** Checks `Threads.start` options: an object of known keys, each in its range. */
function checkThreadsOptions(options: unknown): ThreadsOptions {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new InvalidArgumentError(
      `Threads.start options must be an object, got ${describeValue(options)}`,
    );
  }
  const fields = options as Record<string, unknown>;
  for (const key of Object.keys(fields)) {
    const value = fields[key];
    if (value === undefined) continue;
    const range = INTEGER_RANGES[key];
    if (range !== undefined) {
      if (
        !Number.isInteger(value) ||
        (value as number) < range[0] ||
        (value as number) > range[1]
      ) {
        throw new InvalidArgumentError(
          `options.${key} must be an integer in ${range[0]}..${range[1]}, got ${describeValue(value)}`,
        );
      }
    } else if (key === 'replace') {
      if (typeof value !== 'boolean') {
        throw new InvalidArgumentError(
          `options.replace must be a boolean, got ${describeValue(value)}`,
        );
      }
    } else {
      throw new InvalidArgumentError(
        `options.${key} is not a Threads option (count, replace, processBudget, turnBudget)`,
      );
    }
  }
  return options as ThreadsOptions;
}

/** The thread count: as given (checked by `checkThreadsOptions`), else cores - 1, at least 1. */
function threadCount(count: number | undefined): number {
  return count ?? Math.max(1, availableParallelism() - 1);
}

function checkPlacement(placement: unknown): void {
  if (placement === 'any' || (typeof placement === 'number' && Number.isInteger(placement))) return;
  if (
    placement !== null &&
    typeof placement === 'object' &&
    typeof (placement as { key?: unknown }).key === 'string'
  ) {
    return;
  }
  throw new InvalidArgumentError(
    `thread placement must be 'any', a node id or { key: string }, got ${describeValue(placement)}`,
  );
}

function hash(key: string): number {
  let h = 2166136261;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 16777619);
  return h >>> 0;
}

/** The thread nodes of a system. */
export class Threads {
  private readonly nodes = new Map<number, ThreadNode>();
  private stopping = false;
  private stopped: Promise<void> | null = null;
  private replacing: Promise<ThreadNode> | null = null;

  private constructor(
    readonly system: ActorSystem,
    private readonly router: Router,
    private readonly options: ThreadsOptions,
  ) {}

  /** Starts `count` threads connected to `system`; resolves once all are ready. */
  static async start(system: ActorSystem, options: ThreadsOptions = {}): Promise<Threads> {
    if (!(system instanceof ActorSystem)) {
      throw new InvalidArgumentError(
        `Threads.start expects an ActorSystem, got ${describeValue(system)}`,
      );
    }
    const count = threadCount(checkThreadsOptions(options).count);
    const router = system.remote ?? new Router(system);
    installErrorTransfer(router);
    const threads = new Threads(system, router, options);
    // The system's shutdown stops its threads too, so nothing outlives it.
    system.onShutdown((timeoutMs) => threads.stop(timeoutMs));
    for (let i = 0; i < count; i++) await threads.addNode();
    return threads;
  }

  /** Ids of the live thread nodes (not counting the main thread, node 0). */
  list(): number[] {
    return [...this.nodes.values()].filter((n) => n.alive).map((n) => n.node);
  }

  private async addNode(): Promise<ThreadNode> {
    const data = new MessageChannel();
    const control = new MessageChannel();
    const worker = new Worker(WORKER_URL, {
      workerData: {
        dataPort: data.port2,
        controlPort: control.port2,
        system: { processBudget: this.options.processBudget, turnBudget: this.options.turnBudget },
      },
      transferList: [data.port2, control.port2],
    });
    const ready = new Promise<void>((resolve, reject) => {
      worker.once('message', () => resolve());
      worker.once('error', reject);
    });
    const exited = new Promise<number>((resolve) => worker.once('exit', resolve));
    const entry: ThreadNode = {
      node: worker.threadId,
      worker,
      control: Comlink.wrap<ControlApi>(control.port1 as unknown as Comlink.Endpoint),
      exited,
      alive: true,
      waiting: new Set(),
    };
    this.router.connect(entry.node, data.port1 as unknown as PortLike);
    for (const other of this.nodes.values()) {
      if (!other.alive) continue;
      const link = new MessageChannel();
      other.worker.postMessage({ t: 'peer', node: entry.node, port: link.port1 }, [link.port1]);
      worker.postMessage({ t: 'peer', node: other.node, port: link.port2 }, [link.port2]);
    }
    this.nodes.set(entry.node, entry);
    void exited.then((code) => this.nodeExited(entry, code, [data.port1, control.port1]));
    await ready;
    return entry;
  }

  private nodeExited(entry: ThreadNode, code: number, ports: { close(): void }[]): void {
    entry.alive = false;
    for (const reject of entry.waiting) reject(new NodeDownError(entry.node));
    entry.waiting.clear();
    for (const port of ports) port.close();
    entry.control[Comlink.releaseProxy]();
    this.nodes.delete(entry.node);
    this.router.nodeDown(entry.node);
    for (const other of this.nodes.values()) {
      if (other.alive) other.worker.postMessage({ t: 'node_down', node: entry.node });
    }
    if (this.stopping) return;
    this.system.logger.warn({ label: 'thread_exit', node: entry.node, code });
    if (this.options.replace !== false) {
      const next = this.addNode();
      this.replacing = next;
      next.then(
        () => {
          if (this.replacing === next) this.replacing = null;
        },
        (error: unknown) => {
          this.system.logger.error({ label: 'thread_start_failed', error });
        },
      );
    }
  }

  /** Runs a control request on a node; rejects with `NodeDownError` if the thread dies meanwhile. */
  private guard<T>(
    entry: ThreadNode,
    request: (control: Comlink.Remote<ControlApi>) => Promise<T>,
  ): Promise<T> {
    if (!entry.alive) return Promise.reject(new NodeDownError(entry.node));
    // One entry per waiting request, removed when it settles: nothing is
    // left attached to the node's exit (a race on `exited` leaked a reaction
    // per request for the node's lifetime).
    return new Promise<T>((resolve, reject) => {
      entry.waiting.add(reject);
      request(entry.control).then(
        (value) => {
          entry.waiting.delete(reject);
          resolve(value);
        },
        (error: unknown) => {
          entry.waiting.delete(reject);
          reject(error);
        },
      );
    });
  }

  private async pick(placement: Placement): Promise<ThreadNode> {
    if (this.stopping) {
      throw new ActorError('threads_stopped', 'the thread nodes have been stopped');
    }
    checkPlacement(placement);
    let live = [...this.nodes.values()].filter((n) => n.alive);
    if (live.length === 0 && this.replacing !== null) {
      await this.replacing;
      live = [...this.nodes.values()].filter((n) => n.alive);
    }
    if (live.length === 0) throw new NodeDownError(-1);
    if (typeof placement === 'number') {
      const entry = this.nodes.get(placement);
      if (entry === undefined || !entry.alive) throw new NodeDownError(placement);
      return entry;
    }
    if (placement !== 'any') {
      live.sort((a, b) => a.node - b.node);
      return live[hash(placement.key) % live.length]!;
    }
    const loads = await Promise.all(
      live.map((n) => this.guard(n, (c) => c.load()).catch(() => ({ processes: Infinity }))),
    );
    let best = 0;
    for (let i = 1; i < live.length; i++)
      if (loads[i]!.processes < loads[best]!.processes) best = i;
    return live[best]!;
  }

  /** The node a placement resolves to now (for hashing topics to threads, say). */
  async nodeFor(placement: Placement): Promise<number> {
    return (await this.pick(placement)).node;
  }

  /**
   * Starts a GenServer on a thread. From a process context, that process is
   * its parent; with `link`, they are linked (as `GenServer.startLink`).
   * Rejects like `GenServer.start` (`StartError` with the init's reason), or
   * with `NodeDownError` if the thread dies first.
   */
  async startServer<P = unknown>(
    parent: ActorSystem | Context,
    spec: ThreadServerSpec,
    link = false,
  ): Promise<Pid<P>> {
    if (link && parent instanceof ActorSystem) {
      throw new InvalidArgumentError('a linked start needs a process context to link to');
    }
    checkModuleSpec('threads.startServer', spec);
    const entry = await this.pick(spec.thread ?? 'any');
    const parentPid = parent instanceof ActorSystem ? null : parent.self;
    const pid = await this.guard(entry, (c) =>
      c.startServer({
        module: spec.module,
        export: spec.export,
        // Pids and errors in the init argument travel as they do in messages;
        // what cannot cross is refused here, with the path to it.
        args: encode(spec.args).data,
        options: encode(spec.options ?? {}).data as NonNullable<ThreadServerSpec['options']>,
        parent: parentPid === null ? null : [parentPid.node, parentPid.id],
        link,
      }),
    );
    return this.revive(pid) as Pid<P>;
  }

  /**
   * A child spec that starts the server on a thread, linked to its
   * supervisor. When the thread dies the child exits with `noconnection` and
   * the supervisor's restart places it on a live thread.
   */
  childSpec(
    spec: ThreadServerSpec & Pick<ChildSpec, 'id' | 'restart' | 'shutdown' | 'type'>,
  ): ChildSpec {
    const { id, restart, shutdown, type, ...server } = spec;
    return {
      id,
      ...(restart !== undefined ? { restart } : {}),
      ...(shutdown !== undefined ? { shutdown } : {}),
      ...(type !== undefined ? { type } : {}),
      start: (ctx: Context) =>
        this.startServer(ctx, server, true).catch((error: unknown) => {
          if (error instanceof StartError && error.code === 'start_ignored')
            return 'ignore' as const;
          throw error;
        }),
    };
  }

  /** Spawns a plain process on a thread, running the handler a module exports. */
  async spawn(spec: ModuleExport & { thread?: Placement; link?: Pid }): Promise<Pid> {
    checkModuleSpec('threads.spawn', spec);
    if (spec.link !== undefined && !(spec.link instanceof PidClass)) {
      throw new InvalidArgumentError(
        `threads.spawn: link must be a pid, got ${describeValue(spec.link)}`,
      );
    }
    const entry = await this.pick(spec.thread ?? 'any');
    const link = spec.link === undefined ? null : ([spec.link.node, spec.link.id] as const);
    const pid = await this.guard(entry, (c) =>
      c.spawn({ module: spec.module, export: spec.export, options: {}, link }),
    );
    return this.revive(pid);
  }

  /** Live processes on every node, the main thread's first. */
  async processes(): Promise<{ node: number; pids: Pid[] }[]> {
    const out = [{ node: this.system.node, pids: this.system.processes() }];
    for (const entry of this.nodes.values()) {
      if (!entry.alive) continue;
      const pids = await this.guard(entry, (c) => Promise.resolve(c.processes())).catch(() => []);
      out.push({ node: entry.node, pids: pids.map((p) => this.revive(p)) });
    }
    return out;
  }

  /** `processInfo` for a process on any node. */
  async processInfo(pid: Pid): Promise<ProcessInfo | undefined> {
    if (!(pid instanceof PidClass)) {
      throw new InvalidArgumentError(
        `threads.processInfo expects a pid, got ${describeValue(pid)}`,
      );
    }
    if (pid.node === this.system.node) return this.system.processInfo(pid);
    const entry = this.nodes.get(pid.node);
    if (entry === undefined || !entry.alive) return undefined;
    const info = await this.guard(entry, (c) => Promise.resolve(c.processInfo(pid.id)));
    return info === undefined ? undefined : (decode(info, this.router) as ProcessInfo);
  }

  /** Ends a thread abruptly, as a crash would (for tests and chaos drills). */
  async terminate(node: number): Promise<void> {
    if (!Number.isInteger(node)) {
      throw new InvalidArgumentError(
        `threads.terminate expects a node id (an integer), got ${describeValue(node)}`,
      );
    }
    const entry = this.nodes.get(node);
    if (entry === undefined) return;
    await entry.worker.terminate();
    await entry.exited;
  }

  /** Stops every thread: each shuts its system down, then the thread ends. */
  stop(timeoutMs = 5000): Promise<void> {
    this.stopped ??= this.stopAll(timeoutMs);
    return this.stopped;
  }

  private async stopAll(timeoutMs: number): Promise<void> {
    this.stopping = true;
    const entries = [...this.nodes.values()];
    await Promise.all(
      entries.map(async (entry) => {
        await this.guard(entry, (c) => c.shutdown(timeoutMs)).catch(() => undefined);
        await entry.worker.terminate();
        await entry.exited;
      }),
    );
  }

  private revive(pid: WirePid): Pid {
    return this.router.pid(pid[0], pid[1]);
  }
}
