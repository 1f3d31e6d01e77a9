/**
 * The wire protocol between the nodes (threads) of one runtime: a tagged
 * union of message kinds. Every value in a message is structured-clone safe;
 * user data and exit reasons travel encoded by `codec.ts` (`revive` says
 * whether the receiver must decode them).
 *
 * Messages from one node to another are sent in batches: every message a
 * node produces for a peer during one scheduler turn goes out in a single
 * `postMessage` (an array of these). Order between two nodes is preserved,
 * as Erlang preserves signal order between two processes.
 *
 * Addresses: a process on the receiving node is named by its serial `id`; a
 * process elsewhere travels as `[node, id]`.
 */

/** A pid as it travels: [node, id]. */
export type WirePid = readonly [node: number, id: number];

/** Where a message goes on the receiving node: a pid serial, or a registered name. */
export type WireTarget = number | { readonly name: string };

export type Wire =
  /** A message (`kind`: info or cast) for a process. */
  | { t: 'send'; to: WireTarget; kind: number; data: unknown; revive: boolean }
  /** A call; the receiving node answers with `reply` or `fail` carrying the same `call`. */
  | {
      t: 'call';
      to: WireTarget;
      call: number;
      caller: WirePid | null;
      data: unknown;
      revive: boolean;
    }
  | { t: 'reply'; call: number; data: unknown; revive: boolean }
  | { t: 'fail'; call: number; error: unknown }
  /** An exit signal; `link` says whether it comes from a link (then `kill` is trappable as `killed`). */
  | { t: 'exit'; from: WirePid | null; to: number; reason: unknown; link: boolean }
  /** `from` (on the sending node) linked itself to `to`. */
  | { t: 'link'; from: WirePid; to: number }
  | { t: 'unlink'; from: WirePid; to: number }
  /** `watcher` monitors `to` under `ref`. */
  | { t: 'monitor'; watcher: WirePid; to: WireTarget; ref: WirePid }
  | { t: 'demonitor'; to: number; ref: WirePid }
  /** The monitored process `pid` went down; for the watcher `to`. */
  | { t: 'down'; to: number; ref: WirePid; pid: WirePid; reason: unknown };

/** The first message a node's data port carries: who is on the other side. */
export interface Hello {
  t: 'hello';
  node: number;
}

/*
 * The two entries that carry nearly all traffic, messages to a pid and call
 * replies, travel flat in the batch array instead of as objects: an envelope
 * object per message costs more to clone than a small message itself
 * (measured between two threads: 4 M small messages/s bare, 1.8 M with an
 * object envelope). Consecutive messages to one process with the same kind
 * share one header, so a burst costs one slot per message, as a bare array
 * of the messages would. A flat entry starts with a number; no `Wire` object
 * is a number, so the reader tells them apart:
 *
 *   messages:  id * FLAGS + kind (+ REVIVE), count, data_1 ... data_count
 *   a reply:   -(call * FLAGS + (REVIVE or 0)) - 1, data
 *
 * where `id` is the target process's serial on the receiving node and
 * REVIVE says the data must be decoded (`codec.ts`).
 */
export const FLAGS = 32;
export const REVIVE = 16;

/** Slots taken by the entry that starts at `batch[i]`. */
export function entrySize(batch: readonly unknown[], i: number): number {
  const head = batch[i];
  if (typeof head !== 'number') return 1;
  return head >= 0 ? 2 + (batch[i + 1] as number) : 2;
}

/** A batch, as posted: `Wire` objects and flat entries, in order. */
export type Batch = unknown[];
