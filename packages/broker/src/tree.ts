/**
 * The broker's supervision tree, an `Application` whose root supervisor uses
 * `rest_for_one`, with its children in this order:
 *
 * | child    | what                                   | restart   | if it dies, restarted with it     |
 * |----------|----------------------------------------|-----------|-----------------------------------|
 * | `store`  | owner of the topic table (`store.ts`)  | permanent | everything: the table is new and empty, every subscription ends (`broker_stopped`) |
 * | `registry` | the topic Registry (unique keys)     | permanent | `topics` and `server`: topic servers come back from the table, with their subscribers and retained messages |
 * | `topics` | DynamicSupervisor of topic servers (each `transient`) | permanent | `server`, which restarts every topic from the table |
 * | `server` | the broker server (`broker-server.ts`) | permanent | nothing else; it reconciles on start |
 *
 * With `threads`, the topics supervisor holds two children per topic: the
 * topic's relay (on this thread) and its server (on a thread node, linked
 * across threads; see `thread-topics.ts`). The registry is then unused by
 * topics, and keeps its place so that the tree and its restarts are the
 * same in both modes.
 *
 * The order is the dependency order: each child needs only those before it,
 * so `rest_for_one` restarts exactly what depends on a failed child. The root
 * allows 5 restarts in 5 s (default intensity is 3 in 5); the topics
 * supervisor allows 100 in 5 s, since it holds many independent topics. No
 * signal handler is installed: the program embedding the broker decides
 * what SIGINT means.
 */
import {
  Application,
  DynamicSupervisor,
  childSpec,
  type ApplicationHandle,
} from '@ratatoskr/actors';
import { BrokerServer } from './broker-server.js';
import type { BrokerRuntime } from './runtime.js';
import { Store } from './store.js';

/** Restarts the root allows within `ROOT_MAX_SECONDS`. */
export const ROOT_MAX_RESTARTS = 5;
export const ROOT_MAX_SECONDS = 5;
/** Restarts the topics supervisor allows within `TOPICS_MAX_SECONDS`. */
export const TOPICS_MAX_RESTARTS = 100;
export const TOPICS_MAX_SECONDS = 5;

/** Starts the tree and resolves once every child runs. */
export function startTree(runtime: BrokerRuntime): Promise<ApplicationHandle> {
  const { names } = runtime;
  return Application.start(
    runtime.system,
    [
      childSpec(Store, runtime, { id: 'store' }),
      runtime.registry.childSpec('registry'),
      DynamicSupervisor.childSpec('topics', {
        name: names.topics,
        maxRestarts: TOPICS_MAX_RESTARTS,
        maxSeconds: TOPICS_MAX_SECONDS,
      }),
      childSpec(BrokerServer, runtime, { id: 'server', name: names.server }),
    ],
    {
      strategy: 'rest_for_one',
      maxRestarts: ROOT_MAX_RESTARTS,
      maxSeconds: ROOT_MAX_SECONDS,
      signals: [],
    },
  );
}
