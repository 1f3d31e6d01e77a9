/**
 * Starting and stopping topics hosted on thread nodes (`Broker.start({
 * threads })`). Each such topic is two children of the broker's topics
 * supervisor, both `transient`:
 * - its relay (`relay.ts`), on this thread, started first so that the
 *   server's stream always has somewhere to go;
 * - its server (`thread-host.ts`), started on a thread node and linked to
 *   the supervisor across threads, so that its crash, and the death of its
 *   thread (`noconnection`), reach the supervisor, which restarts it.
 *
 * ## Placement
 * A topic's server starts on the thread that holds its table entry, as long
 * as that thread is alive: a crashed server comes back to its retained
 * messages. A new topic, or one whose thread died, goes to the live thread
 * chosen by the hash of its name (`Threads` placement `{ key: name }`, over
 * the live nodes in node order), so placement spreads topics evenly and
 * moves only the topics of a thread that died (on a later restart the
 * node set may differ: a topic already placed stays where it is).
 *
 * ## Restart bookkeeping (on this thread, in the supervisor's start)
 * Before a server starts, the record forgets the previous one (publishes
 * fail fast with `topic_unavailable` meanwhile) and the joins sent to that
 * one fail (it may never report them); once the new one runs, the record
 * points at it, the restart is counted and reported, and the relay is told
 * to watch it.
 */
import {
  DynamicSupervisor,
  StartError,
  childSpec,
  type Caller,
  type ChildSpec,
  type Context,
  type Pid,
  type Placement,
} from '@ratatoskr/actors';
import { Relay, ServerStarted } from './relay.js';
import { RemoteTopic } from './remote-topic.js';
import type { BrokerRuntime } from './runtime.js';
import type { TopicRecord } from './table.js';
import type { ThreadTopicArgs } from './thread-protocol.js';
import { noteRestart } from './topic-server.js';
import { stopTopic } from './topics.js';

/** The module thread nodes import to host topics: part of this package's build. */
const THREAD_HOST = new URL('./thread-host.js', import.meta.url).href;

/** Gives a new record its thread-side part (called once, when the topic is created). */
export function hostOnThreads(runtime: BrokerRuntime, record: TopicRecord): void {
  record.remote = new RemoteTopic(record, runtime.topicKey(record.name));
}

/** Starts a topic's relay, then its server; if the server cannot start, the relay is stopped. */
export async function startThreadTopic(
  ctx: Context,
  runtime: BrokerRuntime,
  record: TopicRecord,
): Promise<void> {
  await startRelay(ctx, runtime, record);
  await startServer(ctx, runtime, record);
}

/** Starts whichever of the relay and the server is not running (`running`: the supervisor's children). */
export async function restoreThreadTopic(
  ctx: Context,
  runtime: BrokerRuntime,
  record: TopicRecord,
  running: ReadonlySet<Pid>,
): Promise<void> {
  const relay = record.remote!.relay;
  if (relay === null || !running.has(relay)) await startRelay(ctx, runtime, record);
  const server = record.server;
  if (server === null || !running.has(server)) await startServer(ctx, runtime, record);
}

async function startRelay(
  ctx: Context,
  runtime: BrokerRuntime,
  record: TopicRecord,
): Promise<void> {
  const spec = childSpec(
    Relay,
    { record, runtime },
    { id: `relay:${record.name}`, restart: 'transient', name: record.remote!.key },
  );
  await DynamicSupervisor.startChild(ctx, runtime.names.topics, spec);
}

async function startServer(
  ctx: Context,
  runtime: BrokerRuntime,
  record: TopicRecord,
): Promise<void> {
  try {
    await DynamicSupervisor.startChild(ctx, runtime.names.topics, serverSpec(runtime, record));
  } catch (error) {
    const relay = record.remote!.relay;
    if (relay !== null) await stopTopic(ctx, runtime, relay);
    throw error;
  }
}

function serverSpec(runtime: BrokerRuntime, record: TopicRecord): ChildSpec {
  return {
    id: record.name,
    restart: 'transient',
    start: (ctx: Context) => startOnThread(ctx, runtime, record),
  };
}

/** The child's start: places the server, starts it linked to the supervisor, and records it. */
async function startOnThread(
  ctx: Context,
  runtime: BrokerRuntime,
  record: TopicRecord,
): Promise<Pid | 'ignore'> {
  const remote = record.remote!;
  if (record.deleted) return 'ignore';
  // The previous server is gone or about to be superseded: forget it (publishes
  // fail fast meanwhile), and fail the joins sent to it, which it may never report.
  record.server = null;
  remote.failJoins(null);
  const threads = runtime.threads!;
  const args: ThreadTopicArgs = {
    key: remote.key,
    name: record.name,
    options: record.options,
    cells: remote.cells.buffer,
    relayNode: runtime.system.node,
    relayName: remote.key,
    forwarding: record.subs.length > 0,
  };
  let pid: Pid;
  try {
    pid = await threads.startServer(
      ctx,
      {
        module: THREAD_HOST,
        export: 'ThreadTopicServer',
        args,
        thread: placement(runtime, record),
        // Trapping, a shutdown from the supervisor runs `terminate`, which
        // drops the thread's entry of a deleted topic.
        options: { trapExit: true },
      },
      true,
    );
  } catch (error) {
    if (error instanceof StartError && error.code === 'start_ignored') return 'ignore';
    throw error;
  }
  record.server = pid;
  remote.node = pid.node;
  if (++record.incarnations > 1) noteRestart(record, runtime, null);
  const relay = remote.relay;
  if (relay !== null && runtime.system.isAlive(relay)) ctx.send(relay, new ServerStarted(pid));
  return pid;
}

/** The thread that holds the topic's entry if it is alive, else the hash of its name. */
function placement(runtime: BrokerRuntime, record: TopicRecord): Placement {
  const node = record.remote!.node;
  if (node !== null && runtime.threads!.list().includes(node)) return node;
  return { key: record.name };
}

/** Stops a topic's server and relay (the topic is deleted, or not in the table). */
export async function stopThreadTopic(
  caller: Caller,
  runtime: BrokerRuntime,
  record: TopicRecord,
): Promise<void> {
  const { server } = record;
  const relay = record.remote!.relay;
  if (server !== null) await stopTopic(caller, runtime, server);
  if (relay !== null) await stopTopic(caller, runtime, relay);
}

/** The pids of the topics supervisor's running children. */
export async function runningChildren(ctx: Context, runtime: BrokerRuntime): Promise<Set<Pid>> {
  const children = await DynamicSupervisor.whichChildren(ctx, runtime.names.topics);
  const out = new Set<Pid>();
  for (const child of children) if (child.pid !== null) out.add(child.pid);
  return out;
}
