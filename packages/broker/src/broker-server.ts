/**
 * The broker server: owner of the topic set. Creating and deleting a topic
 * go through it, one at a time, so that the table's topic set and the topic
 * processes alive never disagree for long:
 *
 * - create: the topic's server is started first (the fallible step); only
 *   once it runs is the record added to the table. A failed start leaves
 *   nothing behind.
 * - delete: the record is marked deleted, removed from the table and its
 *   subscriptions are ended, all in one synchronous step; then its server is
 *   stopped. A pending publish on the deleted topic fails with
 *   `topic_not_found` (the server stops rather than accept it).
 * - init (also after a crash of this server, or of the registry, whose
 *   restart also restarts the topics' supervisor): reconcile. Every topic of
 *   the table gets a running server, and any topic server whose name is not
 *   in the table (left by a crash in the middle of a delete) is stopped.
 *
 * For a topic hosted on a thread node, "its server" is its relay and its
 * server (see `thread-topics.ts`); on delete, its shared `deleted` cell is
 * set in the same synchronous step, so its server refuses what is queued.
 *
 * A server killed in the middle of an async handler does not stop that
 * handler: it runs on after each `await`. So after each `await`, a handler
 * checks that its server still runs before it touches the table; a create
 * whose server was killed stops what it started instead (its caller was
 * told `server_exited` and retries on the successor).
 *
 * Requests answer with a value or with the typed error as the reply (never
 * by crashing the server); the broker's handle throws the error.
 */
import { noreply, ok, reply, type Context, type GenServer, type Protocol } from '@ratatoskr/actors';
import { TopicAlreadyExistsError, TopicNotFoundError, TopicUnavailableError } from './errors.js';
import type { ResolvedTopicOptions } from './options.js';
import type { BrokerRuntime } from './runtime.js';
import { TopicRecord } from './table.js';
import {
  hostOnThreads,
  restoreThreadTopic,
  runningChildren,
  startThreadTopic,
  stopThreadTopic,
} from './thread-topics.js';
import { runningTopics, startTopic, stopTopic, topicServer } from './topics.js';

export class CreateTopicRequest {
  readonly type = 'create' as const;
  readonly operation = 'createTopic';
  constructor(
    readonly name: string,
    readonly options: ResolvedTopicOptions,
  ) {}
}

export class DeleteTopicRequest {
  readonly type = 'delete' as const;
  readonly operation = 'deleteTopic';
  constructor(readonly name: string) {}
}

export type BrokerServerProtocol = Protocol<
  CreateTopicRequest | DeleteTopicRequest,
  { create: string | TopicAlreadyExistsError | Error; delete: true | TopicNotFoundError },
  never
>;

export interface BrokerServerState {
  readonly runtime: BrokerRuntime;
}

export const BrokerServer: GenServer<BrokerServerState, BrokerRuntime, BrokerServerProtocol> = {
  async init(runtime, ctx) {
    await reconcile(runtime, ctx);
    return ok({ runtime });
  },

  async handleCall(request, _from, state, ctx) {
    switch (request.type) {
      case 'create':
        return reply(await create(state.runtime, request, ctx), state);
      case 'delete':
        return reply(await remove(state.runtime, request.name, ctx), state);
    }
  },

  handleInfo(_message, state) {
    return noreply(state);
  },

  formatState(state) {
    return { topics: state.runtime.table?.topics.size ?? 0 };
  },
};

async function create(
  runtime: BrokerRuntime,
  request: CreateTopicRequest,
  ctx: Context,
): Promise<string | Error> {
  const table = runtime.table!;
  const { name } = request;
  if (table.topics.has(name)) return new TopicAlreadyExistsError(name);
  const record = new TopicRecord(name, request.options, runtime.now());
  try {
    if (runtime.threads === null) await startTopic(ctx, runtime, record);
    else {
      hostOnThreads(runtime, record);
      await startThreadTopic(ctx, runtime, record);
    }
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error));
  }
  if (!running(ctx)) return abandon(runtime, record);
  table.topics.set(name, record);
  runtime.telemetry?.({ type: 'topic_created', topic: name });
  runtime.logger.info({ label: 'topic_created', topic: name });
  return name;
}

/**
 * Whether this server still runs. A server killed in the middle of an async
 * handler does not stop that handler: it runs on after each `await`. Its
 * caller was already told (`server_exited`, and the broker's handle retries
 * on the successor), and the successor owns the topic set, so the handler
 * must not change the table any more.
 */
function running(ctx: Context): boolean {
  return ctx.system.isAlive(ctx.self);
}

/** A create whose server was killed while the topic started: stop what was started, add nothing. */
async function abandon(runtime: BrokerRuntime, record: TopicRecord): Promise<Error> {
  record.deleted = true;
  record.remote?.cells.markDeleted();
  // The dead server's context can no longer call; the system can.
  const system = runtime.system;
  if (record.remote !== null) await stopThreadTopic(system, runtime, record);
  else if (record.server !== null) await stopTopic(system, runtime, record.server);
  return new TopicUnavailableError(record.name);
}

async function remove(
  runtime: BrokerRuntime,
  name: string,
  ctx: Context,
): Promise<true | TopicNotFoundError> {
  const table = runtime.table!;
  const record = table.topics.get(name);
  if (record === undefined) return new TopicNotFoundError(name);

  // One synchronous step: from here on the topic does not exist for anyone
  // (on its thread too, for a topic hosted on one).
  record.deleted = true;
  record.remote?.cells.markDeleted();
  record.remote?.failJoins(null);
  table.topics.delete(name);
  const subscribers = record.subs.length;
  for (const sub of [...record.subs]) {
    record.remove(sub);
    sub.close('topic_deleted');
  }

  if (record.remote !== null) await stopThreadTopic(ctx, runtime, record);
  else {
    const pid = topicServer(runtime, name);
    if (pid !== undefined) await stopTopic(ctx, runtime, pid);
  }
  runtime.telemetry?.({ type: 'topic_deleted', topic: name });
  runtime.logger.info({ label: 'topic_deleted', topic: name, subscribers });
  return true;
}

/**
 * Makes the topic processes match the table: a server for every topic, and
 * none for a name the table does not hold.
 */
async function reconcile(runtime: BrokerRuntime, ctx: Context): Promise<void> {
  const table = runtime.table;
  if (table === null) return;
  if (runtime.threads !== null) return reconcileThreadTopics(runtime, ctx);
  for (const { pid, name } of await runningTopics(ctx, runtime)) {
    if (name === undefined || !table.topics.has(name)) await stopTopic(ctx, runtime, pid);
  }
  for (const record of table.topics.values()) {
    if (!running(ctx)) return;
    if (topicServer(runtime, record.name) === undefined) await startTopic(ctx, runtime, record);
  }
}

/**
 * `reconcile` for topics hosted on thread nodes: a child of the topics
 * supervisor that is neither the server nor the relay of a topic in the
 * table is stopped; every topic gets whichever of the two is missing.
 */
async function reconcileThreadTopics(runtime: BrokerRuntime, ctx: Context): Promise<void> {
  const records = [...runtime.table!.topics.values()];
  const children = await runningChildren(ctx, runtime);
  const owned = new Set<unknown>();
  for (const record of records) owned.add(record.server).add(record.remote!.relay);
  for (const pid of children) if (!owned.has(pid)) await stopTopic(ctx, runtime, pid);
  for (const record of records) {
    if (!running(ctx)) return;
    await restoreThreadTopic(ctx, runtime, record, children);
  }
}
