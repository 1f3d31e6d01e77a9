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
 * The two entries that carry nearly all traffic, messages and call replies,
 * travel flat in the batch array instead of as objects: an envelope object
 * per message costs more to clone than the message itself (measured: 1.8 M
 * against 4 M small messages/s between two threads). A flat entry starts
 * with a number tag, which no `Wire` object can be mistaken for:
 *
 *   FLAT_SEND,  to (WireTarget), kind | REVIVE if the data needs decoding, data
 *   FLAT_REPLY, call id,         REVIVE or 0,                             data
 */
export const FLAT_SEND = 1;
export const FLAT_REPLY = 2;
/** Flag in a flat entry's third slot: the data must be decoded (`codec.ts`). */
export const REVIVE = 16;
/** Slots a flat entry takes. */
export const FLAT_SIZE = 4;

/** A batch, as posted: `Wire` objects and flat entries, in order. */
export type Batch = unknown[];
