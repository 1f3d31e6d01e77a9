/**
 * Starting and stopping topic servers.
 *
 * Topic servers are children of the broker's DynamicSupervisor of topics,
 * `transient` (restarted after a crash or a kill, not after a deletion),
 * registered in the topic registry under their topic's name.
 */
import { GenServer, via, type Context, type Pid } from '@ratatoskr/actors';
import type { BrokerRuntime } from './runtime.js';
import type { TopicRecord } from './table.js';
import { TopicServer } from './topic-server.js';

/** Starts the server of `record` and resolves with its pid. */
export function startTopic(
  ctx: Context,
  runtime: BrokerRuntime,
  record: TopicRecord,
): Promise<Pid> {
  return GenServer.start(
    ctx,
    TopicServer,
    { record, runtime },
    {
      name: via(runtime.registry, record.name),
    },
  );
}

/** Stops the server registered under `name`, if any, and resolves once it has exited. */
export async function stopTopic(ctx: Context, runtime: BrokerRuntime, name: string): Promise<void> {
  let pid: Pid | undefined;
  try {
    pid = runtime.registry.whereis(name);
  } catch {
    return;
  }
  if (pid === undefined) return;
  const exited = ctx.system.whenExited(pid);
  ctx.exit(pid, 'shutdown');
  await exited;
}
