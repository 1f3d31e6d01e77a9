/**
 * Batching for the plain-Node baselines of the threads suite: what the
 * runtime's router does (one `postMessage` per batch), done by hand.
 */
import type { MessagePort } from 'node:worker_threads';

/** The small message every cross-thread workload sends. */
export interface Seq {
  readonly seq: number;
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
): (seq: number) => void {
  let batch: Seq[] = [];
  return (seq) => {
    batch.push({ seq });
    if (batch.length === burst || seq === n - 1) {
      port.postMessage(batch);
      batch = [];
    }
  };
}
