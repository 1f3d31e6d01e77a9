/**
 * The control plane of a thread node, carried by comlink over its own
 * MessageChannel: spawning on the thread, introspection, shutdown. The data
 * plane (messages and signals) does not go through here; it uses the
 * router's batched protocol.
 *
 * Errors crossing this channel are serialized on purpose with the codec, so
 * a rejected start keeps its class, `code`, `reason` and stack.
 */
import * as Comlink from 'comlink';
import type { ProcessInfo, SpawnOptions } from '../system.js';
import type { StartOptions } from '../gen-server.js';
import { decode, encodeSafe, type Reviver } from './codec.js';
import type { WirePid } from './protocol.js';
import { describeValue } from '../describe.js';
import { InvalidArgumentError } from '../reasons.js';

/** Names code by module and export: functions cannot cross threads. */
export interface ModuleExport {
  /** A module specifier the thread can import: an absolute path, a file URL, or a package name. */
  module: string;
  /** The export holding the GenServer behaviour (or the process handler). Default `default`. */
  export?: string;
}

/** Checks a module export spec (`module`, `export`) given to `spawn` or `startServer`. */
export function checkModuleSpec(where: string, spec: unknown): void {
  if (spec === null || typeof spec !== 'object') {
    throw new InvalidArgumentError(`${where} expects a spec object, got ${describeValue(spec)}`);
  }
  const { module, export: name } = spec as { module?: unknown; export?: unknown };
  if (typeof module !== 'string' || module === '') {
    throw new InvalidArgumentError(
      `${where}: module must be a module specifier (a non-empty string), got ${describeValue(module)}`,
    );
  }
  if (name !== undefined && typeof name !== 'string') {
    throw new InvalidArgumentError(`${where}: export must be a string, got ${describeValue(name)}`);
  }
}

export interface StartServerRequest extends ModuleExport {
  args: unknown;
  options: Omit<StartOptions, 'name'> & { name?: string };
  parent: WirePid | null;
  link: boolean;
}

export interface SpawnRequest extends ModuleExport {
  options: Omit<SpawnOptions, 'link'>;
  link: WirePid | null;
}

/** What a thread node answers on its control channel. */
export interface ControlApi {
  startServer(request: StartServerRequest): Promise<WirePid>;
  spawn(request: SpawnRequest): Promise<WirePid>;
  processes(): WirePid[];
  /** Process info with pids encoded (decode on arrival). */
  processInfo(id: number): unknown;
  load(): { processes: number; queued: number };
  shutdown(timeoutMs: number): Promise<void>;
}

/** Encoded `ProcessInfo`, as it crosses the control channel. */
export type WireProcessInfo = ProcessInfo;

let installed = false;

/**
 * Replaces comlink's error serialization (name, message and stack only) with
 * the codec's, which keeps the error class, `code` and other fields. The
 * receiving side revives pids inside errors with `reviver`.
 */
export function installErrorTransfer(reviver: Reviver): void {
  if (installed) return;
  installed = true;
  // comlink marks thrown values with a private symbol; its own handler knows it.
  const original = Comlink.transferHandlers.get('throw')!;
  Comlink.transferHandlers.set('throw', {
    canHandle: original.canHandle,
    serialize: ({ value }: { value: unknown }) => [{ encoded: encodeSafe(value) }, []],
    deserialize: (serialized: unknown) => {
      throw decode((serialized as { encoded: unknown }).encoded, reviver);
    },
  } as Comlink.TransferHandler<unknown, unknown>);
}
