import type { Pid, Ref } from './pid.js';
import type { ExitReason } from './reasons.js';

/**
 * Delivered to a monitoring process when the monitored one exits (or at once,
 * with reason `noproc`, when it was not alive). Exactly one per monitor.
 */
export class DownMessage {
  readonly type = 'DOWN' as const;
  /** @internal */
  constructor(
    /** The ref `monitor` returned. */
    readonly ref: Ref,
    /** The process that went down. */
    readonly pid: Pid,
    readonly reason: ExitReason,
  ) {}
}

/**
 * Delivered to a process that traps exits when a linked process exits, or when
 * another process sends it an exit signal. `from` is null for a signal sent
 * from outside any process (`system.exit`).
 */
export class ExitMessage {
  readonly type = 'EXIT' as const;
  /** @internal */
  constructor(
    readonly from: Pid | null,
    readonly reason: ExitReason,
  ) {}
}

/** Whether `message` is a `DownMessage` (from a monitor). */
export function isDown(message: unknown): message is DownMessage {
  return message instanceof DownMessage;
}

/** Whether `message` is an `ExitMessage` (an exit signal received while trapping exits). */
export function isExit(message: unknown): message is ExitMessage {
  return message instanceof ExitMessage;
}

/*
 * Kinds of mailbox entries (internal). A mailbox entry is `(kind, payload)`;
 * the kind tells the process's logic how to read the payload.
 */
/** A plain message (`send`), DOWN/EXIT messages, timer messages. */
export const KIND_INFO = 0;
/** A `cast`: payload is the message. */
export const KIND_CAST = 1;
/** A `call`: payload is the `From`. */
export const KIND_CALL = 2;
/** Start-up: payload is the logic's start argument. Always the first entry. */
export const KIND_INIT = 3;
/** An orderly stop request (`GenServer.stop`): payload is the exit reason. */
export const KIND_STOP = 4;
