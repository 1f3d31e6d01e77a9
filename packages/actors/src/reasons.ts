import type { Pid } from './pid.js';

/**
 * Why a process exited. The vocabulary is closed and decides what is logged,
 * what propagates through links and what a supervisor restarts:
 *
 * | reason             | meaning                                   | kills linked (non-trapping) | crash report | `transient` restarts |
 * |--------------------|-------------------------------------------|-----------------------------|--------------|----------------------|
 * | `'normal'`         | finished its work                         | no                          | no           | no                   |
 * | `'shutdown'`       | told to stop by its supervisor or owner   | yes                         | no           | no                   |
 * | `{ shutdown: x }`  | shutdown with a detail                    | yes                         | no           | no                   |
 * | `'kill'`           | untrappable kill *signal*; never an exit reason, observers see `'killed'` | - | - | - |
 * | `'killed'`         | was killed with `'kill'`                  | yes                         | yes          | yes                  |
 * | `'noproc'`         | the process did not exist (monitor/link)  | yes                         | yes          | yes                  |
 * | `'noconnection'`   | its thread died                           | yes                         | yes          | yes                  |
 * | an `Error`         | a crash: what the handler threw           | yes                         | yes          | yes                  |
 */
export type ExitReason =
  'normal' | 'shutdown' | ShutdownWith | 'kill' | 'killed' | 'noproc' | 'noconnection' | Error;

/** `{ shutdown: detail }`: an orderly stop that carries a detail. */
export interface ShutdownWith {
  readonly shutdown: unknown;
}

/** True for `normal`, `shutdown` and `{ shutdown: x }`: exits that are not failures. */
export function isOrderlyExit(reason: ExitReason): boolean {
  return (
    reason === 'normal' ||
    reason === 'shutdown' ||
    (typeof reason === 'object' &&
      reason !== null &&
      !(reason instanceof Error) &&
      'shutdown' in reason)
  );
}

const REASON_WORDS: ReadonlySet<unknown> = new Set([
  'normal',
  'shutdown',
  'kill',
  'killed',
  'noproc',
  'noconnection',
]);

/** Whether `value` is in the exit reason vocabulary (see `ExitReason`). */
export function isExitReason(value: unknown): value is ExitReason {
  if (REASON_WORDS.has(value) || value instanceof Error) return true;
  return typeof value === 'object' && value !== null && 'shutdown' in value;
}

/**
 * Checks a reason given to an API (`exit`, `stop`, a `stop` result): one of
 * the vocabulary's words, `{ shutdown: detail }` or an Error. Anything else
 * (null, a number, an unknown string: typical of untyped code) is refused
 * with `InvalidArgumentError` naming it.
 */
export function checkExitReason(value: unknown, where: string): ExitReason {
  if (isExitReason(value)) return value;
  throw new InvalidArgumentError(
    `${where} expects an exit reason ('normal', 'shutdown', { shutdown: detail }, 'kill', ` +
      `'killed', 'noproc', 'noconnection' or an Error), got ${safeString(value)}`,
  );
}

/** True for every reason except `normal` and orderly shutdowns. */
export function isAbnormalExit(reason: ExitReason): boolean {
  return !isOrderlyExit(reason);
}

/** Turns anything thrown into a valid exit reason: Errors stay as they are. */
export function toExitReason(thrown: unknown): ExitReason {
  if (thrown instanceof Error) return thrown;
  return new ThrownValueError(thrown);
}

/** Renders a reason for logs and error messages. */
export function formatReason(reason: ExitReason): string {
  if (typeof reason === 'string') return reason;
  if (reason instanceof Error) return `${reason.name}: ${reason.message}`;
  // Anything outside the vocabulary (untyped callers) is rendered as it is.
  if (!isExitReason(reason)) return safeString(reason);
  return `{shutdown: ${safeString(reason.shutdown)}}`;
}

function safeString(value: unknown): string {
  try {
    return typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  } catch {
    try {
      return String(value);
    } catch {
      return 'a value that cannot be rendered';
    }
  }
}

/**
 * Base of every error the runtime raises: `code` is stable and machine
 * readable, the message says what was expected and what happened.
 */
export class ActorError extends Error {
  override name = 'ActorError';
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A handler threw something that is not an Error; `value` holds it. */
export class ThrownValueError extends ActorError {
  override name = 'ThrownValueError';
  constructor(readonly value: unknown) {
    super('thrown_value', `a handler threw a non-Error value: ${safeString(value)}`);
  }
}

/** The target of a call, link or start does not exist (or has exited). */
export class NoProcError extends ActorError {
  override name = 'NoProcError';
  constructor(readonly target: string) {
    super('noproc', `no process for ${target}: it is not alive or the name is not registered`);
  }
}

/** A call got no reply within its timeout. A reply that comes later is discarded. */
export class CallTimeoutError extends ActorError {
  override name = 'CallTimeoutError';
  constructor(
    readonly target: string,
    readonly timeoutMs: number,
  ) {
    super('call_timeout', `call to ${target} got no reply within ${timeoutMs} ms`);
  }
}

/** The server exited before replying; `reason` is its exit reason. */
export class CallExitError extends ActorError {
  override name = 'CallExitError';
  constructor(
    readonly target: string,
    readonly reason: ExitReason,
  ) {
    super('server_exited', `${target} exited before replying: ${formatReason(reason)}`, {
      cause: reason instanceof Error ? reason : undefined,
    });
  }
}

/**
 * `stop(dest, reason)` saw the process exit with another reason than the one
 * asked for: it crashed, or was killed, before or during its `terminate`
 * (OTP's `proc_lib:stop` exits with that reason). `reason` is how it ended.
 */
export class UnexpectedExitError extends ActorError {
  override name = 'UnexpectedExitError';
  constructor(
    readonly target: string,
    readonly requested: ExitReason,
    readonly reason: ExitReason,
  ) {
    super(
      'unexpected_exit',
      `${target} was asked to stop with ${formatReason(requested)} but exited with ${formatReason(reason)}`,
      { cause: reason instanceof Error ? reason : undefined },
    );
  }
}

/**
 * Whether `actual` is the exit reason `requested` asks for: the same value,
 * `killed` for `kill`, an equal `{ shutdown }` detail, or, for a reason that
 * crossed threads (a clone), an Error of the same name and message.
 */
export function sameExitReason(requested: ExitReason, actual: ExitReason): boolean {
  if (requested === actual) return true;
  if (requested === 'kill') return actual === 'killed';
  if (typeof requested !== 'object' || typeof actual !== 'object') return false;
  if (requested instanceof Error || actual instanceof Error) {
    return (
      requested instanceof Error &&
      actual instanceof Error &&
      requested.name === actual.name &&
      requested.message === actual.message
    );
  }
  // Details that render alike match too: a detail cloned across threads.
  return (
    Object.is(requested.shutdown, actual.shutdown) ||
    safeString(requested.shutdown) === safeString(actual.shutdown)
  );
}

/** A process called itself: it would wait on its own mailbox forever. */
export class CallSelfError extends ActorError {
  override name = 'CallSelfError';
  constructor(readonly target: string) {
    super('calling_self', `${target} called itself; a process cannot wait for its own reply`);
  }
}

/** An option or argument was out of its documented range. */
export class InvalidArgumentError extends ActorError {
  override name = 'InvalidArgumentError';
  constructor(message: string) {
    super('invalid_argument', message);
  }
}

/** A name was already taken by a live process. */
export class NameTakenError extends ActorError {
  override name = 'NameTakenError';
  constructor(
    readonly registeredName: string,
    readonly holder: Pid,
  ) {
    super(
      'already_registered',
      `name ${JSON.stringify(registeredName)} is already registered to ${holder}`,
    );
  }
}

/** A bounded mailbox with the `reject` policy was full. */
export class MailboxFullError extends ActorError {
  override name = 'MailboxFullError';
  constructor(
    readonly target: string,
    readonly capacity: number,
  ) {
    super(
      'mailbox_full',
      `mailbox of ${target} is full (capacity ${capacity}); the message was refused`,
    );
  }
}

/** `GenServer.start` failed: init threw, returned `stop` or `ignore`, or timed out. */
export class StartError extends ActorError {
  override name = 'StartError';
  constructor(
    code: 'start_failed' | 'start_ignored' | 'init_timeout',
    message: string,
    readonly reason: ExitReason | 'ignore',
  ) {
    super(code, message, { cause: reason instanceof Error ? reason : undefined });
  }
}

type ErrorClass = abstract new (...args: never[]) => Error;
const revivable = new Map<string, ErrorClass>();

/**
 * Makes error classes revivable by name when they cross a thread boundary:
 * an error whose `name` matches a registered class arrives as an instance of
 * that class (with its fields), not as a plain `Error`. Each class's `name`
 * must be its class name. Libraries on the runtime register their own.
 */
export function registerErrorClasses(...classes: ErrorClass[]): void {
  for (const errorClass of classes) revivable.set(errorClass.name, errorClass);
}

/** The registered class for an error name, if any. @internal */
export function revivableErrorClass(name: string): ErrorClass | undefined {
  return revivable.get(name);
}

registerErrorClasses(
  ActorError,
  ThrownValueError,
  NoProcError,
  CallTimeoutError,
  CallExitError,
  CallSelfError,
  UnexpectedExitError,
  InvalidArgumentError,
  NameTakenError,
  MailboxFullError,
  StartError,
);

/** Checks a timeout option: a number of ms >= 0, or `Infinity`. */
export function checkTimeout(value: unknown, where: string): number {
  if (typeof value === 'number' && value >= 0) return value;
  throw new InvalidArgumentError(
    `${where} timeout must be a number of ms >= 0 or Infinity, got ${typeof value === 'number' ? String(value) : safeString(value)}`,
  );
}
