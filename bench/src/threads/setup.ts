/**
 * Setting up the threads workloads: thread nodes of the runtime, plain
 * workers for the baselines, and an instrument that counts (and times) the
 * `postMessage` calls made on this thread.
 */
import { fileURLToPath } from 'node:url';
import { MessagePort, Worker } from 'node:worker_threads';
import { ActorSystem, Threads } from '@ratatoskr/actors';
import type { RawPart } from './raw-node.js';

/** The module of behaviours thread nodes import by path. */
export const BEHAVIOURS = fileURLToPath(new URL('./behaviours.js', import.meta.url));
const RAW_NODE = new URL('./raw-node.js', import.meta.url);
export const COMLINK_NODE = new URL('./comlink-node.js', import.meta.url);

/** How long a run waits for the last message before it counts what arrived. */
export const DEADLINE_MS = 60_000;

/** Runs `body` with a fresh system and `count` thread nodes, stopped afterwards. */
export async function withThreads<T>(
  count: number,
  body: (system: ActorSystem, threads: Threads) => Promise<T>,
): Promise<T> {
  const system = new ActorSystem();
  const threads = await Threads.start(system, { count });
  try {
    return await body(system, threads);
  } finally {
    await threads.stop();
    await system.shutdown();
  }
}

/** Starts a plain worker running `file` and tells it its part; resolves once it is ready. */
export async function startWorker(
  file: URL,
  part: unknown,
  transfer: MessagePort[],
): Promise<Worker> {
  const worker = new Worker(file);
  const ready = new Promise<void>((resolve, reject) => {
    worker.once('message', () => resolve());
    worker.once('error', reject);
  });
  worker.postMessage(part, transfer);
  await ready;
  return worker;
}

/** Starts a plain worker of `raw-node.ts` playing `part`. */
export function startRaw(part: RawPart, transfer: MessagePort[]): Promise<Worker> {
  return startWorker(RAW_NODE, part, transfer);
}

/** The next message on `port`, or `fallback` after the deadline. */
export function nextMessage<T>(port: MessagePort, fallback: T): Promise<T> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(fallback), DEADLINE_MS);
    port.once('message', (message: T) => {
      clearTimeout(timer);
      resolve(message);
    });
  });
}

/** What `countingPosts` saw. */
export interface Posts {
  /** `postMessage` calls on this thread's ports. */
  readonly posts: number;
  /** Milliseconds spent inside them (serializing and queueing the batches). */
  readonly ms: number;
}

/**
 * Counts and times the `postMessage` calls made on this thread's
 * `MessagePort`s while `body` runs (the router's data ports are
 * MessagePorts): a wrapper around the original method, removed afterwards.
 */
export async function countingPosts(body: () => Promise<void>): Promise<Posts> {
  const proto = MessagePort.prototype;
  const original = proto.postMessage;
  let posts = 0;
  let ms = 0;
  proto.postMessage = function (
    this: MessagePort,
    ...args: Parameters<MessagePort['postMessage']>
  ) {
    posts++;
    const t = performance.now();
    original.apply(this, args);
    ms += performance.now() - t;
  };
  try {
    await body();
  } finally {
    proto.postMessage = original;
  }
  return { posts, ms };
}
