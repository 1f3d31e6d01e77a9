import { describeValue } from './describe.js';
import type { Pid } from './pid.js';
import { InvalidArgumentError } from './reasons.js';

/**
 * What a server speaks, at the type level only: the requests `call` accepts,
 * the reply each one produces, and the messages `cast` accepts.
 *
 * Requests are strings (like atoms) or objects tagged by a `type` field;
 * `Replies` maps each request string or tag to its reply type:
 *
 * ```ts
 * type CounterCall = 'get' | { type: 'add'; by: number };
 * type CounterProtocol = Protocol<CounterCall, { get: number; add: number }, 'reset'>;
 * const n: number = await call(counter, { type: 'add', by: 2 });
 * ```
 */
export interface Protocol<Call = unknown, Replies = unknown, Cast = unknown> {
  readonly call: Call;
  readonly replies: Replies;
  readonly cast: Cast;
}

// `any` is the widest protocol: with it, any request type-checks.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyProtocol = Protocol<any, any, any>;

/** Requests a server with protocol `P` accepts. */
export type CallOf<P> = P extends Protocol<infer C, unknown, unknown> ? C : unknown;

/** Casts a server with protocol `P` accepts. */
export type CastOf<P> = P extends Protocol<unknown, unknown, infer C> ? C : unknown;

/** The reply to request `Q` from a server with protocol `P`. */
export type ReplyOf<P, Q> =
  P extends Protocol<unknown, infer R, unknown>
    ? Q extends string
      ? Q extends keyof R
        ? R[Q]
        : unknown
      : Q extends { readonly type: infer T }
        ? T extends keyof R
          ? R[T]
          : unknown
        : unknown
    : unknown;

/**
 * Something that resolves a key to a pid: a `Registry`, or any name service.
 * `via(resolver, key)` makes a name usable wherever a pid is.
 */
export interface NameResolver {
  whereis(key: unknown): Pid | undefined;
  /** Describes a key for error messages. */
  describe?(key: unknown): string;
}

/** A name resolved through a `NameResolver` at each use. */
export interface Via<P = unknown> {
  readonly via: NameResolver;
  readonly key: unknown;
  readonly __protocol?: P;
}

/** Makes a `via` name: `send(via(registry, 'orders'), msg)`. */
export function via<P = unknown>(resolver: NameResolver, key: unknown): Via<P> {
  if (resolver === null || typeof resolver !== 'object' || typeof resolver.whereis !== 'function') {
    throw new InvalidArgumentError(
      `via expects a name resolver (an object with a whereis method, such as a Registry), got ${describeValue(resolver)}`,
    );
  }
  return { via: resolver, key };
}

/** A name registered in the system of another node (thread): `{ name, node }`. */
export interface RemoteName<P = unknown> {
  readonly name: string;
  readonly node: number;
  readonly __protocol?: P;
}

/**
 * Where a message can go: a pid (of any thread), a name registered in the
 * same system, a name on another node, or a `via` name.
 */
export type Dest<P = unknown> = Pid<P> | string | Via<P> | RemoteName<P>;

export function isRemoteName(dest: unknown): dest is RemoteName {
  return (
    dest !== null &&
    typeof dest === 'object' &&
    typeof (dest as RemoteName).name === 'string' &&
    typeof (dest as RemoteName).node === 'number'
  );
}

/** Names a process registered as `name` on node (thread) `node`. */
export function remoteName<P = unknown>(node: number, name: string): RemoteName<P> {
  if (!Number.isInteger(node) || node < 0) {
    throw new InvalidArgumentError(
      `remoteName expects a node id (an integer >= 0), got ${describeValue(node)}`,
    );
  }
  if (typeof name !== 'string' || name === '') {
    throw new InvalidArgumentError(
      `remoteName expects a name (a non-empty string), got ${describeValue(name)}`,
    );
  }
  return { name, node };
}
