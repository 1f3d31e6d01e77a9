/**
 * Runs the broker's test suites in both of its modes: topics on the
 * broker's own thread (the default) and topics on two thread nodes
 * (`Broker.start({ threads })`). A suite wraps its tests in
 * `describe.each(BROKER_MODES)` and starts its brokers with
 * `useBrokerMode(mode).start(...)`.
 *
 * Starting thread nodes costs about 50 ms per thread, so in the threads mode
 * every broker of a suite shares one actor system and one pair of thread
 * nodes (started once per suite); a broker that needs its own system (a
 * `SimulatedClock`, or a test of a broker on a caller's system) gets its own
 * thread nodes on it, owned and stopped by the broker.
 */
import { afterAll, beforeAll } from 'vitest';
import { ActorSystem, Threads, type Pid } from '@ratatoskr/actors';
import { Broker, type BrokerOptions } from '@ratatoskr/broker';

export interface BrokerMode {
  /** Shown in test names. */
  readonly name: string;
  /** Thread nodes hosting the topics; 0 for topics on the broker's thread. */
  readonly threads: number;
}

export const BROKER_MODES: readonly BrokerMode[] = [
  { name: 'topics in-thread', threads: 0 },
  { name: 'topics on 2 threads', threads: 2 },
];

export interface BrokerEnv {
  readonly mode: BrokerMode;
  /** Whether topics run on thread nodes. */
  readonly onThreads: boolean;
  /** Starts a broker in this mode (see the module doc for what is shared). */
  start(options?: BrokerOptions): Promise<Broker>;
}

/** Registers the suite's shared thread nodes (threads mode) and returns how to start brokers. */
export function useBrokerMode(mode: BrokerMode): BrokerEnv {
  let shared: { system: ActorSystem; threads: Threads } | null = null;

  beforeAll(async () => {
    if (mode.threads === 0) return;
    const system = new ActorSystem();
    shared = { system, threads: await Threads.start(system, { count: mode.threads }) };
  });

  afterAll(async () => {
    if (shared === null) return;
    await shared.threads.stop();
    await shared.system.shutdown();
    shared = null;
  });

  return {
    mode,
    onThreads: mode.threads > 0,
    start(options: BrokerOptions = {}) {
      if (mode.threads === 0) return Broker.start(options);
      if (options.system !== undefined) return Broker.start({ ...options, threads: mode.threads });
      return Broker.start({ ...options, threads: shared!.threads });
    },
  };
}

/** Whether `pid` is alive, on this thread or on one of the broker's thread nodes. */
export async function isAlive(broker: Broker, pid: Pid): Promise<boolean> {
  if (pid.node === broker.system.node) return broker.system.isAlive(pid);
  return (await broker.threads?.processInfo(pid)) !== undefined;
}

/**
 * The process that monitors a topic's subscription processes: its server
 * in-thread, its relay (on the broker's thread) for a topic on a thread node.
 */
export function subscriptionWatcher(broker: Broker, topic: string): Pid | undefined {
  return broker.relayPid(topic) ?? broker.topicPid(topic);
}
