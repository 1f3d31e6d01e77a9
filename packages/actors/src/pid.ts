import { threadId } from 'node:worker_threads';
import type { Proc } from './process.js';

/** Process ids and references are unique per thread and never reused. */
let nextId = 1;

/** The node (thread) this module runs on: 0 on the main thread. */
export const localNode: number = threadId;

export function nextSerial(): number {
  return nextId++;
}

/**
 * A process identifier: opaque, printable (`<0.42.0>`), unique for the life
 * of the runtime and never reused. Compare pids with `===`.
 *
 * The type parameter is a phantom: it names the protocol the process speaks
 * (see `Protocol`) so that `call` and `cast` can check requests and replies at
 * compile time. It has no runtime presence.
 */
export class Pid<P = unknown> {
  /** @internal The live process behind this pid on this thread, or null once it has exited. */
  _proc: Proc | null;
  declare readonly __protocol?: P;

  /** @internal */
  constructor(
    /** The node (thread) the process lives on. */
    readonly node: number,
    /** Serial number of the process on its node. */
    readonly id: number,
    proc: Proc | null,
  ) {
    this._proc = proc;
  }

  toString(): string {
    return `<${this.node}.${this.id}.0>`;
  }

  toJSON(): string {
    return this.toString();
  }
}

/** A unique reference, as made by `monitor` or `makeRef`. Compare with `===`. */
export class Ref {
  /** @internal */
  constructor(
    readonly node: number,
    readonly id: number,
  ) {}

  toString(): string {
    return `#Ref<${this.node}.${this.id}>`;
  }

  toJSON(): string {
    return this.toString();
  }
}

/** Makes a new unique reference. */
export function makeRef(): Ref {
  return new Ref(localNode, nextId++);
}

/** Whether `value` is a `Pid` (of this thread or another). */
export function isPid(value: unknown): value is Pid {
  return value instanceof Pid;
}
