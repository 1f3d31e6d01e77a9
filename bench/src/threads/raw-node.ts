/**
 * The plain-Node side of the threads suite: a worker thread with no actor
 * runtime, doing with bare `postMessage` what the runtime's thread nodes do
 * with processes, so that the two can be measured against each other in one
 * run. It is told its part over its parent port:
 *
 * - `sink`: on the given port, batches (arrays of `{ seq }`, or another
 *   `BatchShape` of `raw-batch.ts`) are counted in order; a `{ t: 'count' }` message answers `{ count }` on the same port,
 *   after every batch posted before it (a port keeps order), as the runtime's
 *   sink answers its `count` call;
 * - `source`: on `{ t: 'go', n, burst }` from its control port, posts `n`
 *   messages to the peer port in batches of `burst`, a turn of the event loop
 *   between batches (the same `sendInBursts` the runtime's source uses), then
 *   asks the peer for its count and answers it on the control port;
 * - `echo`: answers every message on the given port with itself.
 */
import { parentPort, type MessagePort } from 'node:worker_threads';
import { sendInBursts } from '../workload.js';
import { batchSender, countInOrder, type BatchShape } from './raw-batch.js';

/** What the main thread tells this worker to be. */
export type RawPart =
  | { readonly part: 'sink'; readonly port: MessagePort; readonly shape?: BatchShape }
  | { readonly part: 'source'; readonly control: MessagePort; readonly peer: MessagePort }
  | { readonly part: 'echo'; readonly port: MessagePort };

/** Messages on a sink's port: batches, or a request for the count. */
export type SinkInput = unknown[] | { readonly t: 'count' };

/** Asks a source to send. */
export interface RawGo {
  readonly t: 'go';
  readonly n: number;
  readonly burst: number;
}

function sink(port: MessagePort, shape: BatchShape): void {
  let next = 0;
  port.on('message', (input: SinkInput) => {
    if (Array.isArray(input)) next = countInOrder(input, next, shape);
    else port.postMessage({ count: next });
  });
}

function source(control: MessagePort, peer: MessagePort): void {
  control.on('message', async (go: RawGo) => {
    await sendInBursts(go.n, batchSender(peer, go.n, go.burst), go.burst);
    const counted = new Promise<{ count: number }>((resolve) => peer.once('message', resolve));
    peer.postMessage({ t: 'count' });
    control.postMessage(await counted);
  });
}

function echo(port: MessagePort): void {
  port.on('message', (message: unknown) => port.postMessage(message));
}

parentPort?.once('message', (part: RawPart) => {
  if (part.part === 'sink') sink(part.port, part.shape ?? 'bare');
  else if (part.part === 'source') source(part.control, part.peer);
  else echo(part.port);
  parentPort!.postMessage('ready');
});
