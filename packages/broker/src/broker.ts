/**
 * The broker's public handle: `Broker.start(options)` starts a broker (its
 * supervision tree) and resolves with a `Broker` whose methods are the API.
 *
 * Reads (`listTopics`, `topicExists`) come straight from the topic table.
 * Creating and deleting topics are calls to the broker server. Publishing,
 * subscribing and stats are calls (or, for `publishNoWait`, a cast) to the
 * topic's own server (registered in the topic registry; the handle uses the
 * pid the server recorded in its topic's record, which saves a registry
 * lookup per publish and names the same process); every check on a
 * publish runs here, in the caller, before anything is sent, so an invalid
 * publish fails at once and never reaches the topic.
 *
 * With `threads`, topic servers run on thread nodes (see `thread-topics.ts`,
 * `thread-host.ts`, `relay.ts`): publishes go to the topic's server on its
 * thread as tuples (`remote-topic.ts`), a subscribe sends its join there
 * too, and unsubscribe and stats go to the topic's relay on this thread.
 * The checks, the subscriptions and the subscriber code stay here.
 */
import {
  ActorError,
  ActorSystem,
  CallExitError,
  NoProcError,
  Registry,
  Threads,
  isPid,
  makeRef,
  type ApplicationHandle,
  type Pid,
  type Ref,
} from '@ratatoskr/actors';
import {
  BrokerDownError,
  BrokerStoppedError,
  InvalidBatchError,
  InvalidOptionError,
  InvalidPayloadError,
  MaxSubscribersReachedError,
  PayloadTooLargeError,
  SubscriptionNotFoundError,
  TopicNotFoundError,
  TopicOverloadedError,
  TopicUnavailableError,
  Unreadable,
} from './errors.js';
import {
  CreateTopicRequest,
  DeleteTopicRequest,
  type BrokerServerProtocol,
} from './broker-server.js';
import {
  EMPTY_METADATA,
  Message,
  checkMetadata,
  metadataBytes,
  type MessageId,
  type Metadata,
} from './message.js';
import { describeThrown, measurePayload, metInstances, stringBytes } from './size.js';
import { checkTopicName } from './names.js';
import {
  checkPublishOptions,
  resolveBrokerOptions,
  resolveSubscribeOptions,
  resolveTopicOptions,
  type PublishOptionsInput,
  type ResolvedBrokerOptions,
  type ResolvedTopicOptions,
  type SubscribeOptions,
  type TopicOptions,
} from './options.js';
import type { RelayProtocol } from './relay.js';
import { BrokerRuntime } from './runtime.js';
import { MessageStream } from './stream.js';
import {
  KIND_CALLBACK,
  KIND_PROCESS,
  KIND_STREAM,
  Subscription,
  type MessageHandler,
  type SubscriptionKind,
} from './subscription.js';
import { topicCallError, type TopicRecord } from './table.js';
import type { BrokerLogger, BrokerTelemetryHook } from './telemetry.js';
import {
  BatchRequest,
  STATS_REQUEST,
  SubscribeRequest,
  UnsubscribeRequest,
  type TopicProtocol,
  type TopicStats,
} from './topic-server.js';
import { startTree } from './tree.js';

/** Options of `Broker.start`. Every field is optional. */
export interface BrokerOptions {
  /**
   * The actor system to run in. Default: a new one, owned by the broker and
   * shut down by `stop()`. Pass one to share it, or to inject a
   * `SimulatedClock` (retention ages and timestamps follow its clock).
   */
  system?: ActorSystem;
  /**
   * Where topic servers run. `0` (default): on the broker's own thread. A
   * count (1..256): the broker starts that many thread nodes
   * (`Threads.start(system, { count })`), places each topic on one by the
   * hash of its name, and stops them on `stop()`. A `Threads` instance:
   * those nodes (started on `system`, or on their own system when `system`
   * is not given), left running by `stop()`. Subscriber code stays on the
   * broker's thread either way; see the README, "Topics on thread nodes",
   * for what is copied, what is batched, and what a thread's death does.
   * Each thread node costs about 45 ms to start and about 11 MiB of memory
   * (measured here); more nodes than cores only add turn-taking.
   */
  threads?: number | Threads;
  /** Defaults for every topic's options (see `TopicOptions`); each `createTopic` may override them. */
  topicDefaults?: TopicOptions;
  /** Receives the broker's structured records. Default: silent. */
  logger?: BrokerLogger;
  /** Receives the broker's telemetry events. Default: none. */
  telemetry?: BrokerTelemetryHook;
}

/** Options of `publish`, `publishNoWait`, and each `publishBatch` item. */
export interface PublishOptions {
  /** A flat map of string keys to string values. Default: none (`EMPTY_METADATA`). */
  metadata?: Metadata;
  /** Carried on the message as `partitionKey`. A string; default null. */
  partitionKey?: string;
}

/** One item of `publishBatch`. */
export interface BatchItem extends PublishOptions {
  payload: unknown;
}

/** What `health()` returns. */
export interface BrokerHealth {
  /**
   * `running`: every part of the tree is up; `degraded`: some part is
   * restarting; `down`: the tree gave up after repeated crashes (terminal:
   * every operation fails with `BrokerDownError`; call `stop()`); `stopped`.
   */
  status: 'running' | 'degraded' | 'down' | 'stopped';
  topics: number;
  /** Topics whose server is running right now. */
  topicServers: number;
  subscriptions: number;
  /** Topic restarts after crashes, summed over the live topics. */
  topicRestarts: number;
  /** Whether each process of the tree is alive. */
  processes: { store: boolean; registry: boolean; topics: boolean; server: boolean };
  /**
   * Log records and telemetry events that the broker's logger or telemetry
   * hook threw on (each dropped, nothing else affected), since the start.
   */
  hookFailures: number;
}

/** The pids of a broker's tree, as `processes()` returns them. */
export interface BrokerProcesses {
  /** The root supervisor (`rest_for_one`). */
  root: Pid | undefined;
  /** The owner of the topic table. */
  store: Pid | undefined;
  /** The owner of the topic registry. */
  registry: Pid | undefined;
  /** The DynamicSupervisor of topic servers. */
  topics: Pid | undefined;
  /** The broker server. */
  server: Pid | undefined;
}

let brokers = 0;

/** Event-loop turns `stop()` waits for subscription processes to finish before killing them. */
const STOP_TURNS = 100;

/** Real time a create or delete waits for the broker server to be restarted. */
const SERVER_RESTART_MS = 5000;

/** A running broker. Start one with `Broker.start()`. */
export class Broker {
  /** The actor system the broker runs in. */
  readonly system: ActorSystem;
  /** The thread nodes hosting the topics, or null when topics run on the broker's thread. */
  readonly threads: Threads | null;
  private readonly runtime: BrokerRuntime;
  private readonly ownsSystem: boolean;
  private readonly ownsThreads: boolean;
  private tree: ApplicationHandle | null = null;
  private stopped = false;
  /** Stopped or down: no operation is served (one flag, checked on every publish). */
  private closed = false;
  private stopping: Promise<void> | null = null;
  /** The tree gave up (its root exceeded its restart intensity): see `BrokerDownError`. */
  private down = false;

  private constructor(
    options: ResolvedBrokerOptions,
    topicDefaults: ResolvedTopicOptions,
    system: ActorSystem,
    threads: Threads | null,
  ) {
    this.system = system;
    this.threads = threads;
    this.ownsSystem = options.system === null && !(options.threads instanceof Threads);
    this.ownsThreads = typeof options.threads === 'number' && threads !== null;
    const n = ++brokers;
    const names = {
      server: `ratatoskr.${n}.server`,
      topics: `ratatoskr.${n}.topics`,
      registry: `ratatoskr.${n}.registry`,
      relay: `ratatoskr.${n}.relay.`,
    };
    const registry = new Registry<string, unknown>({ keys: 'unique', name: names.registry });
    this.runtime = new BrokerRuntime(
      names,
      system,
      registry,
      options.logger,
      options.telemetry,
      topicDefaults,
      threads,
    );
  }

  /**
   * Starts a broker: its supervision tree, with an empty topic table (and,
   * with a `threads` count, its thread nodes first).
   */
  static async start(options: BrokerOptions = {}): Promise<Broker> {
    // Every option is checked before anything starts.
    const resolved = resolveBrokerOptions(options);
    const topicDefaults = resolveTopicOptions(
      resolved.topicDefaults ?? undefined,
      undefined,
      'topicDefaults.',
    );
    const given = resolved.threads instanceof Threads ? resolved.threads : null;
    const system = resolved.system ?? given?.system ?? new ActorSystem();
    const count = typeof resolved.threads === 'number' ? resolved.threads : 0;
    let threads = given;
    try {
      if (count > 0) threads = await Threads.start(system, { count });
      const broker = new Broker(resolved, topicDefaults, system, threads);
      const tree = await startTree(broker.runtime);
      broker.tree = tree;
      void tree.exited.then(() => broker.treeExited());
      return broker;
    } catch (error) {
      // Release what this start made: its thread nodes, its system.
      if (count > 0) await threads?.stop();
      if (resolved.system === null && given === null) await system.shutdown();
      throw error;
    }
  }

  // ---------------------------------------------------------------- topics

  /**
   * Creates a topic and resolves with its name. Rejects with
   * `InvalidTopicNameError`, `InvalidOptionError`, or
   * `TopicAlreadyExistsError`; in each case nothing changes.
   */
  async createTopic(name: string, options?: TopicOptions): Promise<string> {
    this.ensureRunning('createTopic');
    checkTopicName(name);
    const resolved = resolveTopicOptions(options, this.runtime.topicDefaults);
    const result = await this.callServer(new CreateTopicRequest(name, resolved));
    if (result instanceof Error) throw result;
    return result;
  }

  /**
   * Deletes a topic: its subscriptions end (reason `topic_deleted`), its
   * retained messages are dropped, and publishes pending on it or made later
   * fail with `TopicNotFoundError`. Rejects with `TopicNotFoundError` if it
   * does not exist.
   */
  async deleteTopic(name: string): Promise<void> {
    this.ensureRunning('deleteTopic');
    checkTopicName(name);
    const result = await this.callServer(new DeleteTopicRequest(name));
    if (result instanceof Error) throw result;
  }

  /** The names of every topic, in creation order. */
  async listTopics(): Promise<string[]> {
    this.ensureRunning('listTopics');
    return [...this.table().topics.keys()];
  }

  /** Whether the topic exists. Rejects with `InvalidTopicNameError` for a name that breaks the rules. */
  async topicExists(name: string): Promise<boolean> {
    this.ensureRunning('topicExists');
    checkTopicName(name);
    return this.table().topics.has(name);
  }

  // ---------------------------------------------------------------- publishing

  /**
   * Publishes `payload` and resolves with the message id once the topic has
   * accepted it (it is then retained and queued for every subscriber).
   * Rejects at once, without sending anything, with `InvalidTopicNameError`,
   * `TopicNotFoundError`, `InvalidOptionError` (options that are not an
   * object, or have a key but `metadata` and `partitionKey`),
   * `InvalidPayloadError`, `PayloadTooLargeError` (payload, metadata and
   * partition key together), `InvalidMetadataError` or
   * `TopicOverloadedError`; with `TopicNotFoundError` if the topic is
   * deleted while the publish is pending, with `TopicUnavailableError` if
   * its process crashed with the publish pending (it was not accepted then),
   * and with `BrokerStoppedError` (`pending: true`) if `stop()` came first.
   */
  publish<T>(topic: string, payload: T, options?: PublishOptions): Promise<MessageId> {
    let record: TopicRecord;
    let message: Message;
    let pid: Pid<TopicProtocol>;
    try {
      record = this.recordOf(topic, 'publish');
      message = this.prepare(record, payload, options);
      pid = this.serverOf(record);
    } catch (error) {
      return Promise.reject(error);
    }
    if (record.remote !== null) return record.remote.publish(this.system, pid, message);
    record.pending++;
    // A Message request is answered with its id (see topic-server.ts).
    const accepted = this.system.call(pid, message, Infinity) as Promise<MessageId>;
    return accepted.then(undefined, record.rejectCall);
  }

  /**
   * Publishes without waiting: checks everything `publish` checks and
   * throws the same errors synchronously, then sends the message to the
   * topic and returns its id at once. If the topic crashes before handling
   * it, the message is lost without notice: use `publish` when that matters.
   */
  publishNoWait<T>(topic: string, payload: T, options?: PublishOptions): MessageId {
    const record = this.recordOf(topic, 'publishNoWait');
    const message = this.prepare(record, payload, options);
    const confirm = metInstances();
    const pid = this.serverOf(record);
    if (record.remote !== null) record.remote.publishNoWait(this.system, pid, message, confirm);
    else {
      record.pending++;
      this.system.cast(pid, message);
    }
    return message.id;
  }

  /**
   * Publishes several messages at consecutive offsets, all or nothing:
   * every item is checked first, and if any is invalid the batch rejects
   * with `InvalidBatchError` (naming the first invalid item, with its error
   * as `cause`; a hole in the array is an invalid item) and nothing is
   * published. A topic with `maxPendingPublishes` publishes waiting refuses
   * the whole batch with `TopicOverloadedError` (retryable, as for
   * `publish`). Otherwise the topic accepts them all in one step (no other
   * publish interleaves) and the ids resolve in item order.
   */
  async publishBatch(topic: string, items: readonly BatchItem[]): Promise<MessageId[]> {
    const record = this.recordOf(topic, 'publishBatch');
    if (!Array.isArray(items)) {
      throw new InvalidOptionError(
        'items',
        'an array of { payload, metadata?, partitionKey? }',
        items,
        'publishBatch items',
      );
    }
    // Indexed, not `map`: a hole is an item too (`undefined`, refused), and
    // the first invalid item stops the checks.
    const count = items.length;
    const messages: Message[] = [];
    for (let index = 0; index < count; index++) {
      try {
        let item: unknown;
        try {
          item = items[index];
        } catch (error) {
          // An accessor at this index threw: the item cannot be read.
          throw new InvalidOptionError(
            `items[${index}]`,
            'an object { payload, metadata?, partitionKey? }',
            new Unreadable(`a getter that threw (${describeThrown(error)})`),
            `publishBatch items[${index}]`,
          );
        }
        if (item === null || typeof item !== 'object') {
          throw new InvalidOptionError(
            `items[${index}]`,
            'an object { payload, metadata?, partitionKey? }',
            item,
            `publishBatch items[${index}]`,
          );
        }
        const fields = checkPublishOptions(item, true);
        messages.push(this.prepare(record, fields.payload, fields, true));
      } catch (error) {
        throw error instanceof ActorError ? new InvalidBatchError(topic, index, error) : error;
      }
    }
    // Overload is the topic's state, not an item's fault: retryable, as for `publish`.
    this.checkPending(record);
    const pid = this.serverOf(record);
    if (record.remote !== null) return record.remote.publishBatch(this.system, pid, messages);
    record.pending++;
    try {
      return await this.system.call(pid, new BatchRequest(messages), Infinity);
    } catch (error) {
      throw topicCallError(record, error, 'publishBatch');
    }
  }

  // ---------------------------------------------------------------- subscribing

  /**
   * Subscribes a callback: `handler(message)` runs in the subscription's own
   * process for each message; a returned promise is awaited before the
   * next. Resolves with the subscription's ref. Rejects with
   * `InvalidTopicNameError`, `TopicNotFoundError`, `InvalidOptionError` or
   * `MaxSubscribersReachedError`; with `BrokerStoppedError` (`pending:
   * true`) if `stop()` came before the subscription was established (it is
   * ended then; a stream just ends).
   */
  subscribe<T = unknown>(
    topic: string,
    handler: MessageHandler<T>,
    options?: SubscribeOptions,
  ): Promise<Ref>;
  /**
   * Subscribes a process: each `Message` arrives in `pid`'s mailbox as an
   * info message, and the subscription ends when `pid` exits. The process
   * also receives `SubscriptionEnd` and `SubscriberFailure` notices.
   */
  subscribe(topic: string, pid: Pid, options?: SubscribeOptions): Promise<Ref>;
  /** Subscribes an async iterator (see `MessageStream`). */
  subscribe<T = unknown>(topic: string, options?: SubscribeOptions): MessageStream<T>;
  subscribe(
    topic: string,
    target?: MessageHandler | Pid | SubscribeOptions,
    options?: SubscribeOptions,
  ): Promise<Ref> | MessageStream {
    if (typeof target === 'function') {
      return this.subscribeWith(KIND_CALLBACK, topic, target as MessageHandler, null, options).then(
        (sub) => sub.ref,
      );
    }
    if (isPid(target)) {
      return this.subscribeWith(KIND_PROCESS, topic, null, target, options).then((sub) => sub.ref);
    }
    const subscribed = this.subscribeWith(KIND_STREAM, topic, null, null, target);
    const stream = new MessageStream(topic, subscribed, (sub) => this.unsubscribe(topic, sub.ref));
    this.abandoned.register(stream, subscribed);
    return stream;
  }

  /**
   * Streams dropped without being ended (never read to the end, never
   * `return()`ed): once one is garbage-collected, its subscription, which
   * nothing can read any more, is unsubscribed, so that it stops taking a
   * place under `maxSubscribers` and a queue. The held value is the
   * subscribe's promise, which does not reference the stream.
   */
  private readonly abandoned = new FinalizationRegistry<Promise<Subscription>>((subscribed) => {
    subscribed.then(
      (sub) => {
        if (sub.open && !this.closed) this.unsubscribe(sub.topic, sub.ref).catch(() => undefined);
      },
      () => undefined,
    );
  });

  /**
   * Ends a subscription: it receives nothing more from this moment, even a
   * message already queued for it (so it is safe to call from inside its
   * own handler). Rejects with `SubscriptionNotFoundError` if `ref` is not a
   * live subscription of `topic`.
   */
  async unsubscribe(topic: string, ref: Ref): Promise<void> {
    const record = this.recordOf(topic, 'unsubscribe');
    const sub = record.byRef.get(ref);
    // Stop deliveries now, before the topic even hears of it.
    sub?.close('unsubscribed');
    let found: boolean;
    try {
      const request = new UnsubscribeRequest(ref);
      found =
        record.remote === null
          ? await this.system.call(this.serverOf(record), request, Infinity)
          : await this.system.call(this.relayOf(record), request, Infinity);
    } catch (error) {
      // The topic (or relay) is restarting: it drops the ended subscription when it comes back.
      if (sub !== undefined && !record.deleted) return;
      throw topicCallError(record, error, 'unsubscribe');
    }
    if (!found) throw new SubscriptionNotFoundError(topic, ref);
  }

  private async subscribeWith(
    kind: SubscriptionKind,
    topic: string,
    handler: MessageHandler | null,
    target: Pid | null,
    options: SubscribeOptions | undefined,
  ): Promise<Subscription> {
    const record = this.recordOf(topic, 'subscribe');
    const resolved = resolveSubscribeOptions(options);
    const runtime = this.runtime;
    const sub = new Subscription(
      makeRef(),
      topic,
      kind,
      handler,
      target,
      resolved,
      record.counters,
      runtime,
    );
    if (record.remote !== null) return this.joinRemote(record, sub);
    let result: Ref | MaxSubscribersReachedError;
    try {
      result = await this.system.call(this.serverOf(record), new SubscribeRequest(sub), Infinity);
    } catch (error) {
      throw topicCallError(record, error, 'subscribe');
    }
    if (result instanceof MaxSubscribersReachedError) throw result;
    return this.established(sub);
  }

  /**
   * A subscribe that raced `stop()` (or the tree giving up): the topic made
   * the subscription after `stop()` ended every subscription it knew. End it
   * now, and fail the subscribe, rather than resolve on a stopped broker.
   */
  private established(sub: Subscription): Subscription {
    if (!this.closed) return sub;
    sub.close('broker_stopped');
    throw this.gone('subscribe', true);
  }

  /**
   * Subscribes to a topic on a thread node. Everything up to the join is
   * synchronous, like the in-thread call it replaces: the join leaves now,
   * before any publish this caller makes after `subscribe` returns.
   */
  private joinRemote(record: TopicRecord, sub: Subscription): Promise<Subscription> {
    const remote = record.remote!;
    const server = this.serverOf(record);
    this.relayOf(record);
    const limit = record.options.maxSubscribers;
    if (record.subs.length + remote.joining.size >= limit) {
      throw new MaxSubscribersReachedError(record.name, limit);
    }
    return remote.join(this.system, server, sub).then((joined) => this.established(joined));
  }

  // ---------------------------------------------------------------- introspection

  /** Statistics of a topic (see `TopicStats`). Rejects with `TopicNotFoundError`. */
  async stats(topic: string): Promise<TopicStats> {
    const record = this.recordOf(topic, 'stats');
    let result: TopicStats | Error;
    try {
      result =
        record.remote === null
          ? await this.system.call(this.serverOf(record), STATS_REQUEST, Infinity)
          : await this.system.call(this.relayOf(record), STATS_REQUEST, Infinity);
    } catch (error) {
      throw topicCallError(record, error, 'stats');
    }
    if (result instanceof Error) throw result;
    return result;
  }

  /** The broker's health at this moment. */
  async health(): Promise<BrokerHealth> {
    const runtime = this.runtime;
    const alive = (pid: Pid | null | undefined) => pid != null && this.system.isAlive(pid);
    const processes = {
      store: alive(runtime.storePid),
      registry: alive(runtime.registry.pid),
      topics: alive(this.system.whereis(runtime.names.topics)),
      server: alive(this.system.whereis(runtime.names.server)),
    };
    const records = runtime.table === null ? [] : [...runtime.table.topics.values()];
    let topicServers = 0;
    let subscriptions = 0;
    let topicRestarts = 0;
    for (const record of records) {
      if (this.serverRunning(record, processes.registry)) topicServers++;
      for (const sub of record.subs) if (sub.open) subscriptions++;
      topicRestarts += record.counters.restarts;
    }
    const up = Object.values(processes).every(Boolean) && topicServers === records.length;
    return {
      status: this.stopped ? 'stopped' : this.down ? 'down' : up ? 'running' : 'degraded',
      topics: records.length,
      topicServers,
      subscriptions,
      topicRestarts,
      processes,
      hookFailures: runtime.hookFailures.count,
    };
  }

  /**
   * Whether a topic's server runs: for a topic on a thread node, as far as
   * this thread knows (its relay runs, and no exit of its server was seen).
   */
  private serverRunning(record: TopicRecord, registryUp: boolean): boolean {
    const remote = record.remote;
    if (remote === null) {
      return registryUp && this.isLive(this.runtime.registry.whereis(record.name));
    }
    return record.server !== null && this.isLive(remote.relay);
  }

  private isLive(pid: Pid | null | undefined): boolean {
    return pid != null && this.system.isAlive(pid);
  }

  /**
   * The pids of the tree's processes right now (undefined while one
   * restarts): for introspection, and for tests that crash them on purpose.
   */
  processes(): BrokerProcesses {
    const { runtime, system } = this;
    const alive = (pid: Pid | null | undefined) =>
      pid != null && system.isAlive(pid) ? pid : undefined;
    return {
      root: alive(this.tree?.pid),
      store: alive(runtime.storePid),
      registry: alive(runtime.registry.pid),
      topics: system.whereis(runtime.names.topics),
      server: system.whereis(runtime.names.server),
    };
  }

  /**
   * The pid of a topic's server right now, or undefined (for introspection
   * and tests). For a topic on a thread node this is a pid of that thread
   * (`pid.node`), as last started; undefined once its exit was seen, until
   * the next one runs, and after `stop()`. Throws `InvalidTopicNameError`
   * for a name that breaks the rules.
   */
  topicPid(topic: string): Pid | undefined {
    checkTopicName(topic);
    if (this.stopped) return undefined;
    const record = this.runtime.table?.topics.get(topic);
    if (record?.remote != null) return record.server ?? undefined;
    try {
      return this.runtime.registry.whereis(topic);
    } catch {
      return undefined;
    }
  }

  /**
   * For a topic on a thread node: the pid of its relay, the process on this
   * thread that holds its subscriptions (it monitors their processes and
   * fills their queues). Undefined for a topic on this thread (its server
   * does that), for a missing topic, and while the relay restarts.
   */
  relayPid(topic: string): Pid | undefined {
    checkTopicName(topic);
    if (this.stopped) return undefined;
    const relay = this.runtime.table?.topics.get(topic)?.remote?.relay;
    return relay != null && this.system.isAlive(relay) ? relay : undefined;
  }

  /**
   * Stops the broker: every subscription ends (reason `broker_stopped`), the
   * tree stops in order, every subscription process the broker made is
   * ended (one stuck in a handler that never returns is killed after a
   * bounded number of event-loop turns), and, if the broker started its own
   * thread nodes or made its own actor system, those are stopped too.
   * Operations pending at that moment settle: a publish, subscribe, stats,
   * createTopic or deleteTopic that had not completed fails with
   * `BrokerStoppedError` (`pending: true`), and a stream ends. Later
   * operations fail with `BrokerStoppedError`. Idempotent: later calls
   * return the first call's promise.
   */
  stop(): Promise<void> {
    this.stopping ??= this.stopAll();
    return this.stopping;
  }

  private async stopAll(): Promise<void> {
    this.stopped = true;
    this.closed = true;
    this.runtime.table?.endAll('broker_stopped', true);
    await this.tree?.stop();
    // What a subscribe racing this stop made after `endAll` ends here, and
    // every subscription process the broker made (listed or not, such as an
    // unsubscribed one stuck in its handler) is ended.
    const subs = [...this.runtime.subscriptions];
    for (const sub of subs) sub.close('broker_stopped');
    await this.endSubscriptionProcesses(subs);
    if (this.ownsThreads) await this.threads!.stop();
    if (this.ownsSystem) await this.system.shutdown();
  }

  /**
   * Ended subscriptions' processes exit on their own as soon as they run:
   * give them a bounded number of event-loop turns, then kill any stuck in a
   * handler that never returns.
   */
  private async endSubscriptionProcesses(subs: Subscription[]): Promise<void> {
    const system = this.system;
    const live = () => subs.filter((sub) => sub.pid !== null && system.isAlive(sub.pid));
    for (let turn = 0; turn < STOP_TURNS && live().length > 0; turn++) {
      await new Promise((resolve) => setImmediate(resolve));
    }
    // Killed, they cannot finish on their own: their onEnd runs here.
    for (const sub of live()) {
      system.exit(sub.pid!, 'kill');
      sub.killed();
    }
    this.runtime.subscriptions.clear();
  }

  // ---------------------------------------------------------------- internals

  private ensureRunning(operation: string): void {
    if (this.closed) throw this.gone(operation, false);
  }

  /** The error for `operation` on a broker that is stopped (or was, while it was `pending`), or down. */
  private gone(operation: string, pending: boolean): BrokerStoppedError | BrokerDownError {
    return this.stopped
      ? new BrokerStoppedError(operation, pending)
      : new BrokerDownError(operation);
  }

  /**
   * The root supervisor exited. After `stop()` that is expected; otherwise
   * the tree gave up after repeated crashes: the broker is down for good.
   * Its subscriptions end (`broker_stopped`: the broker will not serve them
   * again) and every later operation fails with `BrokerDownError` at once.
   */
  private treeExited(): void {
    if (this.stopped) return;
    this.down = true;
    this.closed = true;
    this.runtime.table?.endAll('broker_stopped', false);
    for (const sub of this.runtime.subscriptions) sub.close('broker_stopped');
  }

  private table() {
    const table = this.runtime.table;
    if (table === null) throw new BrokerStoppedError('the topic table');
    return table;
  }

  /** The topic's record; throws for a bad name, a missing topic, or a stopped broker. */
  private recordOf(topic: string, operation: string): TopicRecord {
    const record = this.runtime.table?.topics.get(topic);
    if (record !== undefined && !this.closed) return record;
    checkTopicName(topic);
    this.ensureRunning(operation);
    throw new TopicNotFoundError(topic);
  }

  /** The topic's running server; throws `TopicUnavailableError` while it restarts. */
  private serverOf(record: TopicRecord): Pid<TopicProtocol> {
    // The server's pid as its init recorded it: the same process the registry
    // names, without a registry lookup per publish. A dead one means a restart.
    // A server on a thread node cannot be asked synchronously; its record
    // forgets it as soon as its exit is seen here (see relay.ts).
    const pid = record.server;
    if (pid === null || (record.remote === null && !this.system.isAlive(pid))) {
      throw this.unavailable(record);
    }
    return pid as Pid<TopicProtocol>;
  }

  /** The relay of a topic on a thread node; throws `TopicUnavailableError` while it restarts. */
  private relayOf(record: TopicRecord): Pid<RelayProtocol> {
    const pid = record.remote!.relay;
    if (pid === null || !this.system.isAlive(pid)) throw this.unavailable(record);
    return pid as Pid<RelayProtocol>;
  }

  private unavailable(record: TopicRecord): TopicNotFoundError | TopicUnavailableError {
    return record.deleted
      ? new TopicNotFoundError(record.name)
      : new TopicUnavailableError(record.name);
  }

  /**
   * Checks a publish and builds its message (the topic stamps its offset and
   * timestamp). The size counts the payload, the metadata and the partition
   * key, and the measure stops once past `maxPayloadBytes`. With `item`,
   * `options` are a batch item's fields as `checkPublishOptions` returned
   * them (and the batch checks the pending count once, for all items).
   */
  private prepare(record: TopicRecord, payload: unknown, options: unknown, item = false): Message {
    const limits = record.options;
    const limit = limits.maxPayloadBytes;
    const measured = measurePayload(payload, limit);
    if (typeof measured !== 'number') {
      throw new InvalidPayloadError(record.name, measured.what, measured.path);
    }
    let size = measured;
    let metadata = EMPTY_METADATA;
    let partitionKey: string | null = null;
    if (options !== undefined) {
      // A batch item's fields were read and checked by `publishBatch` already.
      const given = item ? (options as PublishOptionsInput) : checkPublishOptions(options, false);
      metadata = checkMetadata(given.metadata);
      if (metadata !== EMPTY_METADATA) size += metadataBytes(metadata, limit - size);
      const key = given.partitionKey;
      if (key !== undefined) {
        if (typeof key !== 'string') throw new InvalidOptionError('partitionKey', 'a string', key);
        partitionKey = key;
        size += stringBytes(key, limit - size);
      }
    }
    if (size > limit) throw new PayloadTooLargeError(record.name, limit, size);
    if (!item) this.checkPending(record);
    return new Message(this.runtime.ids.take(), record.name, payload, metadata, partitionKey, size);
  }

  /** Throws `TopicOverloadedError` if the topic has `maxPendingPublishes` publishes waiting. */
  private checkPending(record: TopicRecord): void {
    const remote = record.remote;
    const pending = remote === null ? record.pending : remote.cells.pending();
    const limit = record.options.maxPendingPublishes;
    if (pending >= limit) throw new TopicOverloadedError(record.name, limit);
  }

  /**
   * Calls the broker server, waiting through a restart of it: usually a few
   * scheduler turns; longer when topics on thread nodes must be started or
   * stopped first. Retries for up to `SERVER_RESTART_MS` of real time (each
   * turn at first, then every millisecond), then fails with the last error.
   */
  private async callServer<Q extends CreateTopicRequest | DeleteTopicRequest>(request: Q) {
    const started = performance.now();
    for (let attempt = 0; ; attempt++) {
      try {
        const server = this.runtime.names.server;
        return await this.system.call<BrokerServerProtocol, Q>(server, request, Infinity);
      } catch (error) {
        const restarting = error instanceof NoProcError || error instanceof CallExitError;
        if (restarting && this.closed) throw this.gone(request.operation, true);
        const waited = performance.now() - started;
        if (!restarting || waited > SERVER_RESTART_MS) throw error;
        await new Promise((resolve) =>
          attempt < 200 ? setImmediate(resolve) : setTimeout(resolve, 1),
        );
      }
    }
  }
}
