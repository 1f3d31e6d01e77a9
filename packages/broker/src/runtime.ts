/**
 * What every process of one broker shares: the actor system, the topic
 * registry, the current topic table, the logger and telemetry hook, the
 * clock and the id source. One `BrokerRuntime` lives as long as its broker;
 * the table inside it is replaced when the store process restarts (see
 * `store.ts`), exactly as an ETS table dies with its owner.
 */
import type { ActorSystem, Pid, Registry } from '@ratatoskr/actors';
import { IdSource } from './message.js';
import type { ResolvedTopicOptions } from './options.js';
import type { TopicTable } from './table.js';
import type { BrokerLogger, BrokerTelemetryHook } from './telemetry.js';

/** Local names (in the actor system) of a broker's processes. */
export interface BrokerNames {
  /** The broker server. */
  readonly server: string;
  /** The DynamicSupervisor of topic servers. */
  readonly topics: string;
  /** The topic registry's owner. */
  readonly registry: string;
}

export class BrokerRuntime {
  /** The table of the running store; null while the store is down. */
  table: TopicTable | null = null;
  /** The running store process, or null. Subscriber processes monitor it. */
  storePid: Pid | null = null;
  readonly ids = new IdSource();
  /** Epoch milliseconds at clock time 0, so that `now()` reads the injected clock. */
  private readonly epoch: number;

  constructor(
    /** Local names of the tree's processes, unique per broker. */
    readonly names: BrokerNames,
    readonly system: ActorSystem,
    readonly registry: Registry<string, unknown>,
    readonly logger: BrokerLogger,
    readonly telemetry: BrokerTelemetryHook | null,
    readonly topicDefaults: ResolvedTopicOptions,
  ) {
    this.epoch = Date.now() - system.clock.now();
  }

  /** Wall-clock time in epoch ms, advancing with the system's clock (a `SimulatedClock` in tests). */
  now(): number {
    return this.epoch + this.system.clock.now();
  }
}
