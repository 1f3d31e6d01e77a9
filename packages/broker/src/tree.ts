/**
 * The broker's supervision tree.
 */
import { GenServer, type Pid } from '@ratatoskr/actors';
import { BrokerServer } from './broker-server.js';
import type { BrokerRuntime } from './runtime.js';
import { Store } from './store.js';

export interface BrokerTree {
  /** The root of the tree. */
  readonly root: Pid;
  stop(): Promise<void>;
}

export async function startTree(runtime: BrokerRuntime, serverName: string): Promise<BrokerTree> {
  const system = runtime.system;
  const store = await GenServer.start(system, Store, runtime);
  await runtime.registry.start(system);
  await GenServer.start(system, BrokerServer, runtime, { name: serverName });
  return {
    root: store,
    async stop() {
      for (const pid of system.processes().reverse()) {
        if (system.isAlive(pid)) system.exit(pid, 'kill');
      }
    },
  };
}
