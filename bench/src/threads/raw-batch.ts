/**
 * Batching for the plain-Node baselines of the threads suite: what the
 * runtime's router does (one `postMessage` per batch), done by hand.
 *
 * A batch can take three shapes, so that the cost of the router's envelope
 * can be measured apart from the cost of the messages themselves:
 * - `bare`: an array of the messages (`{ seq }`): the baseline;
 * - `wire`: an array of envelopes shaped as the router's `send` entries
 *   (`{ t: 'send', to, kind, data, revive }`, `threads/protocol.ts` of the
 *   runtime), one object per message around the message;
 * - `flat`: one array holding `to, kind, data` of each message in a row:
 *   the same information with no object per entry.
 */
import type { MessagePort } from 'node:worker_threads';

/** The small message every cross-thread workload sends. */
export interface Seq {
  readonly seq: number;
}

export type BatchShape = 'bare' | 'wire' | 'flat';

/** The pid serial and mailbox-entry kind (a cast) the envelopes carry; values do not matter. */
const TO = 7;
const KIND = 1;

/** Adds message `seq` to `batch` in `shape`. */
function append(batch: unknown[], seq: number, shape: BatchShape): void {
  if (shape === 'bare') batch.push({ seq });
  else if (shape === 'wire')
    batch.push({ t: 'send', to: TO, kind: KIND, data: { seq }, revive: false });
  else batch.push(TO, KIND, { seq });
}

/** Builds one batch of `count` messages from `first`, in `shape` (for clone-cost measurements). */
export function makeBatch(first: number, count: number, shape: BatchShape): unknown[] {
  const batch: unknown[] = [];
  for (let seq = first; seq < first + count; seq++) append(batch, seq, shape);
  return batch;
}

/** Counts the messages of `batch` that continue the sequence from `next`; returns the new `next`. */
export function countInOrder(batch: readonly unknown[], next: number, shape: BatchShape): number {
  if (shape === 'flat') {
    for (let i = 2; i < batch.length; i += 3) if ((batch[i] as Seq).seq === next) next++;
  } else if (shape === 'wire') {
    for (const entry of batch) if ((entry as { data: Seq }).data.seq === next) next++;
  } else {
    for (const entry of batch) if ((entry as Seq).seq === next) next++;
  }
  return next;
}

/**
 * A `send(seq)` for `sendInBursts(n, send, burst)` that collects each burst
 * into one array and posts it when the burst is complete (or `seq` is the
 * last of `n`): one `postMessage` per burst, as the router posts one batch
 * per scheduler turn.
 */
export function batchSender(
  port: Pick<MessagePort, 'postMessage'>,
  n: number,
  burst: number,
  shape: BatchShape = 'bare',
): (seq: number) => void {
  let batch: unknown[] = [];
  let queued = 0;
  return (seq) => {
    append(batch, seq, shape);
    if (++queued === burst || seq === n - 1) {
      port.postMessage(batch);
      batch = [];
      queued = 0;
    }
  };
}
