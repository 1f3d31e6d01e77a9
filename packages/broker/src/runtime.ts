/**
 * What every process of one broker shares: the actor system, the topic
 * registry, the thread nodes hosting topics (if any), the current topic
 * table, the logger and telemetry hook, the clock and the id source. One
 * `BrokerRuntime` lives as long as its broker; the table inside it is
 * replaced when the store process restarts (see `store.ts`), exactly as an
 * ETS table dies with its owner.
 */
import type { ActorSystem, Pid, Registry, Threads } from '@ratatoskr/actors';
import { IdSource } from './message.js';
import type { ResolvedTopicOptions } from './options.js';
import type { Subscription } from './subscription.js';
import type { TopicTable } from './table.js';
import {
  guardLogger,
  guardTelemetry,
  type BrokerLogger,
  type BrokerTelemetryHook,
  type HookFailures,
} from './telemetry.js';

/** Local names (in the actor system) of a broker's processes. */
export interface BrokerNames {
  /** The broker server. */
  readonly server: string;
  /** The DynamicSupervisor of topic servers. */
  readonly topics: string;
  /** The topic registry's owner. */
  readonly registry: string;
  /** Prefix of the keys of topics on thread nodes (and of their relays' names). */
  readonly relay: string;
}

const RESOLVED = Promise.resolve();

export class BrokerRuntime {
  /** The table of the running store; null while the store is down. */
  table: TopicTable | null = null;
  /** The running store process, or null. Subscriber processes monitor it. */
  storePid: Pid | null = null;
  readonly ids = new IdSource();
  /**
   * Every subscription whose process was spawned and has not finished: what
   * `stop()` ends, listed or not (an unsubscribed one may still be stuck in
   * its handler). A subscription leaves it when its process finishes, or
   * when its topic or relay sees the process go down.
   */
  readonly subscriptions = new Set<Subscription>();
  /** Records and events the logger or telemetry hook threw on (see `guardLogger`). */
  readonly hookFailures: HookFailures = { count: 0 };
  /** The logger, guarded: it never throws. */
  readonly logger: BrokerLogger;
  /** The telemetry hook, guarded: it never throws. Null when none was given. */
  readonly telemetry: BrokerTelemetryHook | null;
  private topicKeys = 0;
  /** The current burst of deliveries (see `Subscription.beginBurst`); advances at a microtask boundary. */
  burstId = 0;
  private burstEnding = false;
  private readonly endBurst = (): void => {
    this.burstEnding = false;
    this.burstId++;
  };
  /**
   * The last id given to a burst of its own: negative, so never a `burstId`,
   * and below -1, so never a new subscription's `burstSeen`.
   */
  private ownBursts = -1;
  /** Epoch milliseconds at clock time 0, so that `now()` reads the injected clock. */
  private readonly epoch: number;

  constructor(
    /** Local names of the tree's processes, unique per broker. */
    readonly names: BrokerNames,
    readonly system: ActorSystem,
    readonly registry: Registry<string, unknown>,
    logger: BrokerLogger,
    telemetry: BrokerTelemetryHook | null,
    readonly topicDefaults: ResolvedTopicOptions,
    /** The thread nodes that host this broker's topics; null when topics run on this thread. */
    readonly threads: Threads | null,
  ) {
    this.epoch = Date.now() - system.clock.now();
    // A throwing logger or hook must not crash a topic mid-accept, a relay
    // mid-batch or a subscription mid-report: both are guarded, failures counted.
    this.logger = guardLogger(logger, this.hookFailures);
    this.telemetry = guardTelemetry(telemetry, this.hookFailures);
  }

  /**
   * A key for a new topic hosted on a thread, never given twice in this
   * process: it names the topic's entry in its thread's table and is the
   * local name of its relay.
   */
  topicKey(name: string): string {
    return `${this.names.relay}${name}#${++this.topicKeys}`;
  }

  /**
   * A subscription's first offer of the current burst: makes sure the burst
   * ends once the code running now is done. Returns the burst's id.
   */
  beginBurst(): number {
    if (!this.burstEnding) {
      this.burstEnding = true;
      void RESOLVED.then(this.endBurst);
    }
    return this.burstId;
  }

  /**
   * An id for a burst that spans several microtasks: a relay handing one
   * forwarded batch over in steps offers all of it under this id, so the
   * batch is one burst, as one in-thread batch is.
   */
  ownBurst(): number {
    return --this.ownBursts;
  }

  /**
   * Wall-clock time in whole epoch ms (as `Date.now()`), advancing with the
   * system's clock (a `SimulatedClock` in tests): message timestamps and
   * `createdAt`. Whole, so that they compare and serialize like `Date.now()`;
   * the monotonic clock under them keeps them from going backwards.
   */
  now(): number {
    return Math.floor(this.epoch + this.system.clock.now());
  }
}
