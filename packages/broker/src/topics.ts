/**
 * Starting and stopping topic servers: children of the broker's
 * DynamicSupervisor of topics, `transient` (restarted after a crash or a
 * kill, not after a deletion), registered in the topic registry under their
 * topic's name.
 */
import {
  DynamicSupervisor,
  childSpec,
  via,
  type Caller,
  type Context,
  type Pid,
} from '@ratatoskr/actors';
import type { BrokerRuntime } from './runtime.js';
import type { TopicRecord } from './table.js';
import { TopicServer } from './topic-server.js';

/** Starts the server of `record` under the topics supervisor. */
export async function startTopic(
  ctx: Context,
  runtime: BrokerRuntime,
  record: TopicRecord,
): Promise<void> {
  const spec = childSpec(
    TopicServer,
    { record, runtime },
    { id: record.name, restart: 'transient', name: via(runtime.registry, record.name) },
  );
  await DynamicSupervisor.startChild(ctx, runtime.names.topics, spec);
}

/**
 * Stops a child of the topics supervisor (a topic server, or a relay) and
 * resolves once it has exited; for a process of another thread, once the
 * shutdown signal is sent (a supervisor does not wait for a process of
 * another thread to exit). `caller` may be the system itself, for a caller
 * whose process has exited.
 */
export function stopTopic(caller: Caller, runtime: BrokerRuntime, pid: Pid): Promise<void> {
  return DynamicSupervisor.terminateChild(caller, runtime.names.topics, pid).catch(() => undefined);
}

/** The topic server registered under `name`, or undefined (also while the registry restarts). */
export function topicServer(runtime: BrokerRuntime, name: string): Pid | undefined {
  try {
    return runtime.registry.whereis(name);
  } catch {
    return undefined;
  }
}

/** Every running topic server with the topic name it is registered under. */
export async function runningTopics(
  ctx: Context,
  runtime: BrokerRuntime,
): Promise<{ pid: Pid; name: string | undefined }[]> {
  const children = await DynamicSupervisor.whichChildren(ctx, runtime.names.topics);
  const out: { pid: Pid; name: string | undefined }[] = [];
  for (const child of children) {
    if (child.pid === null) continue;
    let name: string | undefined;
    try {
      name = runtime.registry.keysOf(child.pid)[0];
    } catch {
      name = undefined;
    }
    out.push({ pid: child.pid, name });
  }
  return out;
}
