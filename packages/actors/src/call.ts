import type { Clock, TimerHandle } from './clock.js';
import { localNode, type Pid } from './pid.js';
import type { Proc } from './process.js';
import { describeDest } from './describe.js';
import { CallExitError, CallTimeoutError, NoProcError, type ExitReason } from './reasons.js';

/**
 * Identifies a pending call: the server replies to it, now (a `reply` result)
 * or later (`reply(from, value)` after returning `noreply`). A reply after the
 * caller gave up (timeout, or the server died) is discarded; it never reaches
 * any mailbox. Replying twice is a no-op.
 *
 * While pending, a `From` sits in its server's intrusive list of in-flight
 * calls, so that a server that exits rejects every call waiting on it at once,
 * whatever the timeout (`Infinity` included).
 */
export class From<R = unknown> {
  /** @internal */ done = false;
  /** @internal */ timeoutMs = 0;
  /** @internal When the call times out (clock ms); valid while `deadlines` is set. */
  deadline = 0;
  /** @internal The timeout list this call waits in, and its neighbours there. */
  deadlines: Deadlines | null = null;
  /** @internal */ tprev: From | null = null;
  /** @internal */ tnext: From | null = null;
  /** @internal */ prev: From | null = null;
  /** @internal */ next: From | null = null;
  /** @internal */ resolve: (value: R) => void = noop;
  /** @internal */ reject: (error: unknown) => void = noop;
  /** @internal For a call to another node: its table of pending calls, and its id there. */
  remote: Map<number, From> | null = null;
  /** @internal */ callId = 0;
  /** @internal Where the call was made, when the system captures caller stacks. */
  site: { stack?: string } | null = null;

  /** @internal */
  constructor(
    /** The calling process, or null for a call from outside any process. */
    readonly caller: Pid | null,
    /** The request as sent. */
    readonly request: unknown,
    /** @internal The server the call waits on; null once settled. */
    public server: Proc | null,
    /** @internal How the caller named the server. */
    readonly dest: unknown,
  ) {}

  /** @internal How the caller named the server, for error messages. */
  get target(): string {
    return describeDest(this.dest);
  }

  /** Whether the caller is still waiting for a reply (false once it has exited). */
  get pending(): boolean {
    return !this.done && !callerGone(this);
  }
}

/** Whether the call's caller is a process of this thread that has exited. */
function callerGone(from: { readonly caller: Pid | null }): boolean {
  const caller = from.caller;
  return caller !== null && caller._proc === null && caller.node === localNode;
}

function noop(): void {}

/** Adds `from` to its server's list of in-flight calls. */
export function trackCall(server: Proc, from: From): void {
  const head = server.inflight;
  from.next = head;
  if (head !== null) head.prev = from;
  server.inflight = from;
}

function untrack<R>(from: From<R>): void {
  const server = from.server;
  if (server === null) return;
  if (from.prev !== null) from.prev.next = from.next;
  else server.inflight = from.next;
  if (from.next !== null) from.next.prev = from.prev;
  from.prev = from.next = null;
  from.server = null;
}

function finish<R>(from: From<R>): void {
  from.done = true;
  untrack(from);
  if (from.remote !== null) {
    from.remote.delete(from.callId);
    from.remote = null;
  }
  if (from.deadlines !== null) from.deadlines.remove(from as From);
}

/** Settles `from` with a reply. Returns false if the caller was no longer waiting. */
export function settleReply<R>(from: From<R>, value: R): boolean {
  if (from.done) return false;
  finish(from);
  from.resolve(value);
  // A caller that exited meanwhile never sees the reply.
  return !callerGone(from);
}

/** Settles `from` with an error. Returns false if it was already settled. */
export function settleError(from: From, error: unknown): boolean {
  if (from.done) return false;
  finish(from);
  if (from.site !== null && error instanceof Error) appendCallSite(error, from.site);
  from.reject(error);
  return true;
}

/**
 * A call that fails later (timeout, the server's exit) fails in a timer or in
 * another process's exit, so its own stack says nothing useful. With
 * `callerStacks` on, the stack of the `call` site is appended.
 */
function appendCallSite(error: Error, site: { stack?: string }): void {
  const frames = site.stack?.split('\n').slice(1).join('\n');
  if (frames) error.stack = `${error.stack ?? String(error)}\n    --- call made at ---\n${frames}`;
}

/**
 * The calls waiting with one timeout value, in deadline order. Calls with the
 * same timeout expire in the order they were made, so appending keeps the
 * list sorted, and one clock timer (for the head) serves them all: a call
 * costs a list append and unlink instead of a timer of its own.
 *
 * The timer is not cancelled when its head is answered; when it fires it
 * rejects what has expired and re-arms for the new head, or stops when the
 * list is empty (and the list is dropped). So a burst of answered calls
 * leaves at most one pending timer per timeout value, which fires once and
 * ends; while the list is empty that timer does not keep the process alive.
 */
export class Deadlines {
  private head: From | null = null;
  private tail: From | null = null;
  private timer: TimerHandle | null = null;

  constructor(
    private readonly clock: Clock,
    readonly ms: number,
    private readonly onTimeout: (target: string, timeoutMs: number) => void,
    private readonly onIdle: (list: Deadlines) => void,
  ) {}

  add(from: From): void {
    from.deadline = this.clock.now() + this.ms;
    from.deadlines = this;
    from.tprev = this.tail;
    if (this.tail !== null) this.tail.tnext = from;
    else {
      this.head = from;
      // A call waits again: the timer keeps the process alive meanwhile.
      if (this.timer !== null) this.clock.ref?.(this.timer);
    }
    this.tail = from;
    if (this.timer === null) this.arm(this.ms);
  }

  remove(from: From): void {
    if (from.tprev !== null) from.tprev.tnext = from.tnext;
    else this.head = from.tnext;
    if (from.tnext !== null) from.tnext.tprev = from.tprev;
    else this.tail = from.tprev;
    from.tprev = from.tnext = null;
    from.deadlines = null;
    if (this.head === null && this.timer !== null) this.clock.unref?.(this.timer);
  }

  private arm(ms: number): void {
    this.timer = this.clock.setTimeout(expire, Math.max(0, ms), this);
  }

  /** @internal */
  expire(): void {
    this.timer = null;
    const now = this.clock.now();
    let from = this.head;
    while (from !== null && from.deadline <= now) {
      const next = from.tnext;
      const target = from.target;
      settleError(from, new CallTimeoutError(target, from.timeoutMs));
      // A caller that exited gave up its call: not a timeout worth reporting.
      if (!callerGone(from)) this.onTimeout(target, from.timeoutMs);
      from = next;
    }
    if (this.head !== null) this.arm(this.head.deadline - now);
    else this.onIdle(this);
  }
}

function expire(deadlines: Deadlines): void {
  deadlines.expire();
}

/** Starts the timeout of a call; at expiry the call rejects with `CallTimeoutError`. */
export function armCallTimer(from: From, deadlines: Deadlines): void {
  from.timeoutMs = deadlines.ms;
  deadlines.add(from);
}

/** Rejects every call waiting on `server`, which is exiting with `reason`. */
export function rejectInflight(server: Proc, reason: ExitReason): void {
  let from = server.inflight;
  while (from !== null) {
    const next = from.next;
    const error =
      reason === 'noproc' ? new NoProcError(from.target) : new CallExitError(from.target, reason);
    settleError(from, error);
    from = next;
  }
  server.inflight = null;
}

/**
 * A call sent with `sendRequest`, whose response is collected later with
 * `receiveResponse`. Holding one does not keep anything alive.
 */
export class RequestId<R> {
  /** @internal */
  constructor(
    /** @internal Null when the request failed before it was sent. */
    readonly from: From | null,
    /** @internal */
    readonly promise: Promise<R>,
  ) {
    // A request whose response is never collected must not surface as an
    // unhandled rejection; receiveResponse still sees the rejection.
    promise.catch(noop);
  }
}
