/**
 * Application: the root supervisor of a program, tied to the life of the
 * Node process, after OTP's applications.
 *
 * `Application.start(system, children, options)` starts a `Supervisor` with
 * `children` (no parent: it is a root) and installs handlers for SIGINT and
 * SIGTERM (or the `signals` given). Then:
 * - `stop()` stops the tree gracefully: the root stops its children in
 *   reverse start order, one at a time, each nested supervisor its own
 *   children first; it resolves once the root has exited. It removes the
 *   signal handlers first. Calling it again returns the same promise.
 * - A signal does what `stop()` does. Then, unless `exitOnSignal` is false,
 *   the same signal is sent again to this Node process with our handlers
 *   gone, so the process ends as it would have without them (if other code
 *   also listens to that signal, Node leaves the decision to it).
 * - If the root exits on its own (its restart intensity was exceeded), the
 *   handlers are removed and `exited` resolves with its reason; nothing
 *   restarts it.
 *
 * Only one handler per signal is installed per application, and none stays
 * behind once the application has stopped.
 */
import { constants as osConstants } from 'node:os';
import { describeValue } from './describe.js';
import type { Pid } from './pid.js';
import {
  InvalidArgumentError,
  NoProcError,
  UnexpectedExitError,
  type ExitReason,
} from './reasons.js';
import {
  Supervisor,
  checkFields,
  type ChildSpec,
  type Rule,
  type SupervisorOptions,
} from './supervisor.js';
import type { ActorSystem } from './system.js';

/** Options of `Application.start`: the root supervisor's options, and signal handling. */
export interface ApplicationOptions extends SupervisorOptions {
  /** Signals that stop the tree gracefully. Default `['SIGINT', 'SIGTERM']`; `[]` installs none. */
  signals?: readonly NodeJS.Signals[];
  /**
   * After a signal has stopped the tree, send the same signal again with the
   * handlers removed, so the Node process ends as it would have. Default true.
   */
  exitOnSignal?: boolean;
}

/** A running application. */
export interface ApplicationHandle {
  /** The root supervisor. */
  readonly pid: Pid;
  /**
   * Stops the tree in order with `reason` (default `'shutdown'`) and removes
   * the signal handlers; resolves once the root has exited (at once if it
   * already had). Idempotent: later calls return the first call's promise.
   */
  stop(reason?: ExitReason): Promise<void>;
  /** Resolves with the root's exit reason once it has exited, however that happened. */
  readonly exited: Promise<ExitReason>;
}

const DEFAULT_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM'];

/** Signals a process can handle: those Node knows, minus the two no process can catch. */
const CATCHABLE = new Set(
  Object.keys(osConstants.signals).filter((s) => s !== 'SIGKILL' && s !== 'SIGSTOP'),
);

const APPLICATION_RULES: Record<'signals' | 'exitOnSignal', Rule> = {
  signals: {
    test: (v) => Array.isArray(v) && v.every((s: unknown) => CATCHABLE.has(s as string)),
    expected:
      "an array of signal names a process can catch, such as 'SIGINT' (not SIGKILL or SIGSTOP)",
  },
  exitOnSignal: { test: (v) => typeof v === 'boolean', expected: 'a boolean' },
};

class RunningApplication implements ApplicationHandle {
  readonly exited: Promise<ExitReason>;
  private stopping: Promise<void> | null = null;
  private installed = false;

  constructor(
    private readonly system: ActorSystem,
    readonly pid: Pid,
    private readonly signals: readonly NodeJS.Signals[],
    private readonly exitOnSignal: boolean,
  ) {
    try {
      for (const signal of signals) process.on(signal, this.onSignal);
    } catch (error) {
      for (const signal of signals) process.off(signal, this.onSignal);
      throw new InvalidArgumentError(
        `options.signals: cannot handle ${describeValue(signals)}: ${String((error as Error)?.message ?? error)}`,
      );
    }
    this.installed = true;
    this.exited = system.whenExited(pid).then((reason) => {
      this.removeHandlers();
      return reason;
    });
  }

  stop(reason: ExitReason = 'shutdown'): Promise<void> {
    this.stopping ??= this.stopTree(reason);
    return this.stopping;
  }

  private async stopTree(reason: ExitReason): Promise<void> {
    this.removeHandlers();
    try {
      await this.system.stop(this.pid, reason);
    } catch (error) {
      // It had exited already, or ended otherwise while stopping: either way it is gone.
      if (!(error instanceof NoProcError) && !(error instanceof UnexpectedExitError)) throw error;
    }
    await this.exited;
  }

  private readonly onSignal = (signal: NodeJS.Signals): void => {
    void this.stop('shutdown').then(() => {
      if (this.exitOnSignal) process.kill(process.pid, signal);
    });
  };

  private removeHandlers(): void {
    if (!this.installed) return;
    this.installed = false;
    for (const signal of this.signals) process.off(signal, this.onSignal);
  }
}

/** Starting an application: a root supervision tree bound to the process's signals. */
export const Application = {
  /**
   * Starts the root supervisor with `children` and `options` (see
   * `Supervisor.start`), then installs the signal handlers. Rejects as
   * `Supervisor.start` does (no handler is installed then), and with
   * `InvalidArgumentError` for a bad `signals` or `exitOnSignal`.
   */
  async start(
    system: ActorSystem,
    children: ChildSpec[],
    options: ApplicationOptions = {},
  ): Promise<ApplicationHandle> {
    checkFields('options', options, APPLICATION_RULES);
    const { signals = DEFAULT_SIGNALS, exitOnSignal = true, ...supervisorOptions } = options;
    if (new Set(signals).size !== signals.length) {
      throw new InvalidArgumentError(
        `options.signals lists a signal twice: ${describeValue(signals)}`,
      );
    }
    const pid = await Supervisor.start(system, children, supervisorOptions);
    try {
      return new RunningApplication(system, pid, signals, exitOnSignal);
    } catch (error) {
      // Installing a handler failed: leave nothing behind, tree included.
      await system.stop(pid, 'shutdown').catch(() => undefined);
      throw error;
    }
  },
};
