/**
 * The broker's structured records and telemetry events, as closed unions.
 * The broker never prints: records go to `BrokerOptions.logger` (silent by
 * default), events to `BrokerOptions.telemetry` (none by default). A pino
 * logger fits `BrokerLogger` as it is. Both are guarded: a logger or hook
 * that throws is counted (`health().hookFailures`) and otherwise ignored,
 * so it never changes what happens to a message, a publish or a
 * subscription.
 */
import type { Ref } from '@ratatoskr/actors';

/** Every broker log record carries a stable `label`. */
export type BrokerLogRecord =
  | {
      label: 'subscriber_error';
      topic: string;
      ref: string;
      subscriberId: string | null;
      error: unknown;
    }
  | {
      /** A notice (`SubscriptionEnd`, `SubscriberFailure`) its owner's mailbox refused. */
      label: 'owner_notice_refused';
      topic: string;
      ref: string;
      subscriberId: string | null;
      notice: 'subscription_end' | 'subscriber_failure';
      error: unknown;
    }
  | {
      label: 'subscriber_disconnected';
      topic: string;
      ref: string;
      subscriberId: string | null;
      capacity: number;
    }
  | {
      label: 'topic_restarted';
      topic: string;
      restarts: number;
      subscribers: number;
      /** Messages retained; null for a topic on a thread node (its log is there). */
      retained: number | null;
    }
  | {
      /**
       * Messages of a topic on a thread node that its relay never received
       * (forwarded to a relay that crashed, or was restarted with the tree),
       * found when the next message reached this subscription.
       */
      label: 'messages_lost';
      topic: string;
      ref: string;
      subscriberId: string | null;
      lost: number;
    }
  | { label: 'topic_created'; topic: string }
  | { label: 'topic_deleted'; topic: string; subscribers: number };

/** Where broker records go. Same shape as the runtime's `Logger` (and pino's). */
export interface BrokerLogger {
  error(record: BrokerLogRecord, message?: string): void;
  warn(record: BrokerLogRecord, message?: string): void;
  info(record: BrokerLogRecord, message?: string): void;
  debug(record: BrokerLogRecord, message?: string): void;
}

/** A logger that discards everything: the default. */
export const silentLogger: BrokerLogger = {
  error() {},
  warn() {},
  info() {},
  debug() {},
};

/**
 * Broker telemetry events. `message_dropped` is emitted once per dropped
 * message (by `drop_oldest` or `drop_newest`), `subscriber_disconnected` once
 * per `disconnect`, with the number of queued messages it discarded.
 */
export type BrokerTelemetryEvent =
  | { type: 'topic_created'; topic: string }
  | { type: 'topic_deleted'; topic: string }
  | { type: 'topic_restarted'; topic: string; restarts: number }
  | { type: 'message_dropped'; topic: string; ref: Ref; policy: 'drop_oldest' | 'drop_newest' }
  | { type: 'subscriber_disconnected'; topic: string; ref: Ref; discarded: number }
  | { type: 'subscriber_error'; topic: string; ref: Ref; error: unknown }
  | { type: 'subscription_ended'; topic: string; ref: Ref; reason: string };

/**
 * Receives broker telemetry events. It runs inline, in whichever broker
 * process emits the event (a topic accepting a message, a subscription
 * failing): keep it cheap. A hook that throws changes nothing the broker
 * does: the event is dropped and counted (`health().hookFailures`).
 */
export type BrokerTelemetryHook = (event: BrokerTelemetryEvent) => void;

/** Records and events that a throwing logger or telemetry hook failed to take. */
export interface HookFailures {
  count: number;
}

/**
 * Wraps the broker's logger so that one that throws never changes what
 * happens to a message or a subscription: the record is dropped and counted.
 */
export function guardLogger(logger: BrokerLogger, failures: HookFailures): BrokerLogger {
  if (logger === silentLogger) return logger;
  const guard =
    (level: keyof BrokerLogger) =>
    (record: BrokerLogRecord, message?: string): void => {
      try {
        logger[level](record, message);
      } catch {
        failures.count++;
      }
    };
  return { error: guard('error'), warn: guard('warn'), info: guard('info'), debug: guard('debug') };
}

/** Wraps the telemetry hook likewise: an event it throws on is dropped and counted. */
export function guardTelemetry(
  hook: BrokerTelemetryHook | null,
  failures: HookFailures,
): BrokerTelemetryHook | null {
  if (hook === null) return null;
  return (event) => {
    try {
      hook(event);
    } catch {
      failures.count++;
    }
  };
}
