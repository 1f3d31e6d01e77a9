import type { Pid } from './pid.js';
import type { ExitReason } from './reasons.js';

/**
 * Where the runtime sends its structured records. The shape matches pino's
 * (`logger.error(fields, message)`), so a pino logger can be passed as is;
 * any object with these four methods works. The default logs nothing:
 * library code never prints.
 */
export interface Logger {
  error(record: LogRecord, message?: string): void;
  warn(record: LogRecord, message?: string): void;
  info(record: LogRecord, message?: string): void;
  debug(record: LogRecord, message?: string): void;
}

/** Every record carries a stable `label`; the other fields depend on it. */
export type LogRecord =
  | CrashReport
  | SupervisorReport
  | { label: 'call_timeout'; target: string; timeoutMs: number }
  | { label: 'mailbox_overflow'; pid: string; policy: string; capacity: number }
  | { label: 'terminate_failed'; pid: string; error: unknown }
  | { label: 'handler_error'; pid: string; error: unknown; context: string }
  | { label: 'thread_exit'; node: number; code: number }
  | { label: 'hook_failed'; hook: 'telemetry'; error: unknown }
  | { label: 'thread_start_failed'; error: unknown };

/** A process exited abnormally. */
export interface CrashReport {
  label: 'crash_report';
  pid: string;
  name?: string;
  reason: ExitReason;
  /** The message being handled when the process crashed, if any. */
  lastMessage?: unknown;
  /** The server state, as its `formatState` option renders it. */
  state?: unknown;
}

/** A supervisor restarted a child, failed to start one, or gave up. */
export interface SupervisorReport {
  label: 'supervisor_report';
  supervisor: string;
  event: 'child_terminated' | 'child_restarted' | 'start_error' | 'shutdown' | 'intensity_exceeded';
  childId?: string;
  pid?: string;
  reason?: ExitReason | string;
}

/** A logger that discards everything: the default. */
export const nullLogger: Logger = {
  error() {},
  warn() {},
  info() {},
  debug() {},
};

/** Events for a telemetry hook: counters and histograms are built from these. */
export type TelemetryEvent =
  | { type: 'spawn'; pid: Pid }
  | { type: 'exit'; pid: Pid; reason: ExitReason }
  | { type: 'restart'; supervisor: Pid; childId: string; pid: Pid | null; reason: ExitReason }
  | { type: 'intensity_exceeded'; supervisor: Pid; restarts: number; withinMs: number }
  | { type: 'call_timeout'; target: string; timeoutMs: number }
  | { type: 'mailbox_overflow'; pid: Pid; policy: string };

/**
 * Receives every telemetry event, synchronously, on the thread that emits it.
 * It runs inside the runtime's own steps (a spawn, an exit): keep it cheap,
 * and do not throw from it.
 */
export type TelemetryHook = (event: TelemetryEvent) => void;

/**
 * Wraps a logger so that a failing one (a transport that throws) can never
 * break the runtime: records it fails on are dropped and counted.
 * @internal
 */
export function guardLogger(logger: Logger, failures: { count: number }): Logger {
  if (logger === nullLogger) return logger;
  const guard =
    (level: keyof Logger) =>
    (record: LogRecord, message?: string): void => {
      try {
        logger[level](record, message);
      } catch {
        failures.count++;
      }
    };
  return { error: guard('error'), warn: guard('warn'), info: guard('info'), debug: guard('debug') };
}

/**
 * Wraps a telemetry hook so that one that throws never breaks the runtime
 * (an exit half processed, a spawn half done): the failure is counted and
 * logged once per hook with the label `hook_failed`.
 * @internal
 */
export function guardTelemetry(
  hook: TelemetryHook,
  logger: Logger,
  failures: { count: number },
): TelemetryHook {
  return (event) => {
    try {
      hook(event);
    } catch (error) {
      if (failures.count++ === 0) logger.error({ label: 'hook_failed', hook: 'telemetry', error });
    }
  };
}
