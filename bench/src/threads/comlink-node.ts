/**
 * The comlink baseline of the threads suite: a worker thread exposing one
 * function with comlink on a `MessagePort` it receives from the main thread,
 * as the runtime's control plane exposes its API to the main thread.
 * The main thread wraps the other end and calls `echo` in sequence.
 */
import { parentPort, type MessagePort } from 'node:worker_threads';
import * as Comlink from 'comlink';

/** What the worker exposes. */
export interface EchoApi {
  echo(value: number): number;
}

const api: EchoApi = {
  echo: (value) => value,
};

parentPort?.once('message', (port: MessagePort) => {
  // A Node MessagePort is an EventTarget whose events carry `data`: the
  // endpoint shape comlink expects.
  Comlink.expose(api, port as unknown as Comlink.Endpoint);
  parentPort!.postMessage('ready');
});
