/**
 * The broker's ETS-like table: every topic's durable state, kept outside the
 * topic's process so that a topic crash cannot take it.
 *
 * The table is owned by the store process (`store.ts`), the first and
 * simplest process of the broker's tree, and is replaced by a fresh one only
 * when the store restarts. Writers are fixed, so no two processes ever race
 * on one field:
 * - the topic set (`topics`) is written only by the broker server;
 * - a record's log, subscription list and publish counters are written only
 *   by that topic's server, after the handler's fallible work is done;
 * - a subscription's queue is written by the topic (producer) and read by
 *   the subscription's own process (consumer); its delivery counters are
 *   written by that process.
 * For a topic hosted on a thread node, the record's log stays empty (the
 * log is on the thread, see `thread-host.ts`), and its subscription list
 * and queues are written by the topic's relay on this thread instead of
 * its server (see `relay.ts`); `server` is written by the server's start.
 * Anyone may read. Records are plain class instances, never drafted by immer:
 * copying them per message would cost O(n) per publish.
 */
import { CallExitError, NoProcError, type Context, type Pid, type Ref } from '@ratatoskr/actors';
import { BrokerStoppedError, TopicNotFoundError, TopicUnavailableError } from './errors.js';
import { RetainedLog } from './log.js';
import type { ResolvedTopicOptions } from './options.js';
import type { SubscriptionEndReason } from './notices.js';
import type { RemoteTopic } from './remote-topic.js';
import type { Subscription } from './subscription.js';

/** Per-topic counters, shared by the topic server and its subscriptions. */
export class TopicCounters {
  /** Messages accepted since the topic was created. */
  published = 0;
  /** Messages handed to subscribers (callback called, message forwarded, iterator yielded). */
  delivered = 0;
  /** Messages dropped by overflow policies (including those discarded by a disconnect). */
  dropped = 0;
  /** Handler, filter and `onError` failures. */
  errors = 0;
  /** Subscriptions ended by the `disconnect` policy. */
  disconnects = 0;
  /** Times the topic's process was restarted after a crash. */
  restarts = 0;
}

/** One topic's durable state. */
export class TopicRecord {
  readonly log: RetainedLog;
  /** Live subscriptions, in no particular order (removal swaps with the last). */
  readonly subs: Subscription[] = [];
  readonly byRef = new Map<Ref, Subscription>();
  readonly counters = new TopicCounters();
  /** Set by the broker server when the topic is deleted; a restarting server then does not come back. */
  deleted = false;
  /** Set when the broker stops with this topic in its table: calls that fail then say `broker_stopped`. */
  stopped = false;
  /**
   * The topic's server, as its latest incarnation recorded it in `init` (it
   * is also registered in the topic registry under the topic's name). May be
   * a dead pid while the server restarts. For a topic on a thread node: the
   * server last started there (recorded by its start), null from the moment
   * its exit is seen here until the next one runs.
   */
  server: Pid | null = null;
  /** Topic server processes started for this record so far. */
  incarnations = 0;
  /**
   * For a topic hosted on a thread node: its main-thread part (see
   * `remote-topic.ts`); its `log` then stays empty, the log being on the
   * thread. Null for a topic on this thread.
   */
  remote: RemoteTopic | null = null;
  /** Publish requests sent and not yet handled (bounded by `maxPendingPublishes`). */
  pending = 0;
  /**
   * Rethrows a failed call to this topic's server as what it means to the
   * caller (`topicCallError`). Made once per topic, so a publish allocates
   * no closure for its error path.
   */
  readonly rejectCall = (error: unknown): never => {
    throw topicCallError(this, error);
  };

  constructor(
    readonly name: string,
    readonly options: ResolvedTopicOptions,
    /** Epoch ms when the topic was created. */
    readonly createdAt: number,
  ) {
    this.log = new RetainedLog(options.retention);
  }

  add(sub: Subscription): void {
    sub.slot = this.subs.length;
    this.subs.push(sub);
    this.byRef.set(sub.ref, sub);
  }

  /** Removes `sub` if it is still listed. Returns whether it was. */
  remove(sub: Subscription): boolean {
    if (this.byRef.get(sub.ref) !== sub) return false;
    this.byRef.delete(sub.ref);
    const subs = this.subs;
    const last = subs.pop()!;
    if (last !== sub) {
      subs[sub.slot] = last;
      last.slot = sub.slot;
    }
    sub.slot = -1;
    return true;
  }

  /**
   * Ends the subscription `ref` on request (`unsubscribe`): unlists it, drops
   * the monitor the current server or relay holds on its process (with any
   * DOWN already queued), and closes it. Returns false if it is not listed.
   */
  unsubscribe(ref: Ref, monitors: Map<Ref, Subscription>, ctx: Context): boolean {
    const sub = this.byRef.get(ref);
    if (sub === undefined) return false;
    this.remove(sub);
    const monitorRef = sub.monitorRef;
    if (monitorRef !== null) {
      ctx.demonitor(monitorRef, { flush: true });
      monitors.delete(monitorRef);
      sub.monitorRef = null;
    }
    sub.close('unsubscribed');
    return true;
  }

  /** Removes every subscription that has ended. */
  removeClosed(): void {
    for (let i = this.subs.length - 1; i >= 0; i--) {
      const sub = this.subs[i]!;
      if (!sub.open) this.remove(sub);
    }
  }
}

/**
 * What a failed call to a topic's server means to the caller: the server was
 * gone (`NoProcError`) or died with the call pending (`CallExitError`)
 * because the broker stopped (`BrokerStoppedError`, for `operation`), the
 * topic was deleted (`TopicNotFoundError`) or it crashed
 * (`TopicUnavailableError`, retry). Any other error is returned as it is.
 */
export function topicCallError(
  record: TopicRecord,
  error: unknown,
  operation = 'publish',
): unknown {
  if (!(error instanceof NoProcError || error instanceof CallExitError)) return error;
  if (record.stopped) return new BrokerStoppedError(operation, true);
  if (record.deleted) return new TopicNotFoundError(record.name);
  return new TopicUnavailableError(record.name, error);
}

/** The topic set. Only the broker server adds or removes topics. */
export class TopicTable {
  readonly topics = new Map<string, TopicRecord>();

  /**
   * Ends every subscription of every topic (the table is being dropped), and
   * marks every topic hosted on a thread deleted, so that its server stops
   * and its thread drops its state; subscriptions still joining such a topic
   * fail with `BrokerStoppedError`. `stopping`: the broker is stopping (not
   * losing its table to a crash), so calls still pending on its topics fail
   * with `BrokerStoppedError` too.
   */
  endAll(reason: SubscriptionEndReason, stopping: boolean): void {
    for (const record of this.topics.values()) {
      if (stopping) record.stopped = true;
      const remote = record.remote;
      if (remote !== null) {
        remote.cells.markDeleted();
        remote.failJoins(null, new BrokerStoppedError('subscribe', true));
      }
      for (const sub of record.subs) sub.close(reason);
    }
  }
}
