/**
 * What crosses a thread boundary, and how.
 *
 * Messages between threads are structured-cloned (by `postMessage`). Three
 * kinds of values need more than a clone:
 * - pids and refs: a clone of a `Pid` would lose its identity (and try to
 *   copy the live process behind it), so they travel as small markers and
 *   are revived on arrival as the receiving thread's canonical `Pid`/`Ref`
 *   objects, so `===` keeps working for pids seen before;
 * - errors: exit reasons and rejected calls keep `name`, `message`, `stack`,
 *   `code` and `cause` on purpose (a plain clone drops custom fields), and
 *   the runtime's own error classes come back as instances of those classes;
 * - everything else is left to the structured clone. Class instances lose
 *   their prototype (they arrive as plain objects); Maps, Sets, Dates,
 *   typed arrays and ArrayBuffers survive as themselves. A typed array or
 *   `DataView` over part of a larger buffer is copied to a buffer of its own
 *   first (see `compactView`): the clone would copy the whole buffer.
 *
 * The sender walks each message once, at the moment it is sent: it copies
 * only the containers on the path to a pid, ref or error (copy on write),
 * tells the receiver whether there is anything to revive (so plain data is
 * not walked twice), and refuses what cannot cross (functions, symbols,
 * promises, weak collections) with an `UncloneableError` naming where the
 * value sits, so the sender learns at once and nothing else is affected. The
 * walk stops at depth 64: deeper values are left to the clone as they are.
 */
import { Pid, Ref } from '../pid.js';
import { ActorError, registerErrorClasses, revivableErrorClass } from '../reasons.js';

const MARK = '$ratatoskr';
const MAX_DEPTH = 64;

interface PidMark {
  [MARK]: 'pid';
  n: number;
  i: number;
}
interface RefMark {
  [MARK]: 'ref';
  n: number;
  i: number;
}
/** An error as it travels. */
export interface ErrorMark {
  [MARK]: 'error';
  name: string;
  message: string;
  stack: string | undefined;
  fields: Record<string, unknown>;
  cause?: unknown;
}

/** Revives pids and refs of a node: the receiving side decides which objects to hand out. */
export interface Reviver {
  pid(node: number, id: number): Pid;
  ref(node: number, id: number): Ref;
}

/** Whether the last `encode` call found anything the receiver must revive. */
let marked = false;
/** Objects visited by the current walk. */
let visits = 0;
/**
 * Objects already walked, with what they became, once a walk has visited
 * more than VISIT_BUDGET objects: a value that shares references (a DAG, a
 * cycle) would otherwise be walked once per path, exponentially many. Small
 * messages never pay for the map.
 */
let seen: Map<object, unknown> | null = null;
const VISIT_BUDGET = 1000;

/** Thrown to restart a walk that ran past its budget with the `seen` map on. */
const RESTART = Symbol('restart with a seen map');

/**
 * Prepares `value` for `postMessage`. Returns the value to post (the same
 * object when it holds no pid, ref or error) and whether it needs `decode`.
 */
export function encode(value: unknown): { data: unknown; revive: boolean } {
  marked = false;
  visits = 0;
  try {
    let data: unknown;
    try {
      data = enc(value, 0);
    } catch (thrown) {
      if (thrown !== RESTART) throw thrown;
      marked = false;
      seen = new Map();
      data = enc(value, 0);
    }
    return { data, revive: marked };
  } catch (error) {
    if (error instanceof UncloneableError) {
      throw new UncloneableError(locate(value, 'message', 0, new Set()), error.valueType);
    }
    throw error;
  } finally {
    seen = null;
    compacted = null;
  }
}

/** Finds the path to the first value the walk refuses (only on the failure path). */
function locate(value: unknown, path: string, depth: number, visited: Set<object>): string {
  if (typeof value === 'function' || typeof value === 'symbol') return path;
  if (typeof value === 'object' && value !== null) {
    if (visited.has(value)) return '';
    visited.add(value);
  }
  if (typeof value !== 'object' || value === null || depth >= MAX_DEPTH) return '';
  if (
    value instanceof Promise ||
    value instanceof WeakMap ||
    value instanceof WeakSet ||
    value instanceof WeakRef
  ) {
    return path;
  }
  if (value instanceof Pid || value instanceof Ref || ArrayBuffer.isView(value)) return '';
  const entries: [string, unknown][] =
    value instanceof Map
      ? [...value].map(([k, v], i) => [`${path}.get(${String(k)})#${i}`, v])
      : value instanceof Set
        ? [...value].map((v, i) => [`${path}[set ${i}]`, v])
        : Array.isArray(value)
          ? value.map((v, i) => [`${path}[${i}]`, v])
          : Object.entries(value).map(([k, v]) => [`${path}.${k}`, v]);
  for (const [p, v] of entries) {
    const found = locate(v, p, depth + 1, visited);
    if (found !== '') return found;
  }
  return '';
}

/** A message holds something a structured clone cannot carry; nothing was sent. */
export class UncloneableError extends ActorError {
  override name = 'UncloneableError';
  constructor(
    /** Where the value sits, e.g. `message.handlers[2]`. */
    readonly path: string,
    readonly valueType: string,
  ) {
    super(
      'uncloneable',
      `cannot send a ${valueType} to another thread (at ${path}); messages between threads ` +
        'are structured-cloned: send plain data, and name code by module and export instead',
    );
  }
}

registerErrorClasses(UncloneableError);

function refuse(value: unknown): never {
  throw new UncloneableError('', kindOf(value));
}

function kindOf(value: unknown): string {
  if (typeof value === 'function') return 'function';
  if (typeof value === 'symbol') return 'symbol';
  if (value instanceof Promise) return 'Promise';
  if (value instanceof WeakMap) return 'WeakMap';
  if (value instanceof WeakSet) return 'WeakSet';
  if (value instanceof WeakRef) return 'WeakRef';
  return typeof value;
}

function enc(value: unknown, depth: number): unknown {
  if (typeof value !== 'object' || value === null) {
    if (typeof value === 'function' || typeof value === 'symbol') refuse(value);
    return value;
  }
  if (value instanceof Pid) {
    marked = true;
    return { [MARK]: 'pid', n: value.node, i: value.id } satisfies PidMark;
  }
  if (value instanceof Ref) {
    marked = true;
    return { [MARK]: 'ref', n: value.node, i: value.id } satisfies RefMark;
  }
  if (value instanceof Error) {
    marked = true;
    return encodeError(value, depth);
  }
  if (ArrayBuffer.isView(value)) return compactView(value);
  if (depth >= MAX_DEPTH || value instanceof ArrayBuffer) return value;
  if (value instanceof Date || value instanceof RegExp) return value;
  if (seen !== null) {
    if (seen.has(value)) return seen.get(value);
    // A cycle met again while its first visit is still under way keeps the
    // original object; the structured clone carries cycles itself.
    seen.set(value, value);
    const coded = encContainer(value, depth);
    seen.set(value, coded);
    return coded;
  }
  if (++visits > VISIT_BUDGET) throw RESTART;
  return encContainer(value, depth);
}

/**
 * A typed array, `Buffer` or `DataView` that sees part of a larger buffer is
 * sent as a copy of its own bytes: a structured clone copies a view's whole
 * buffer, so a 10-byte view of a 64 MiB buffer (or a small `Buffer` from
 * Node's 8 KiB pool) would carry all of it. A view of a whole buffer, or of
 * a `SharedArrayBuffer` (shared, not copied, by the clone), goes as it is.
 */
function compactView(view: ArrayBufferView): ArrayBufferView {
  const buffer = view.buffer;
  if (view.byteLength === buffer.byteLength || !(buffer instanceof ArrayBuffer)) return view;
  // The same view met twice in one message is copied once (and arrives as one object).
  const known = compacted?.get(view);
  if (known !== undefined) return known;
  const bytes = buffer.slice(view.byteOffset, view.byteOffset + view.byteLength);
  let copy: ArrayBufferView;
  if (view instanceof DataView) copy = new DataView(bytes);
  else if (Buffer.isBuffer(view)) copy = Buffer.from(bytes);
  else copy = new (view.constructor as new (buffer: ArrayBuffer) => ArrayBufferView)(bytes);
  (compacted ??= new Map()).set(view, copy);
  return copy;
}

/** Views compacted by the current walk (see `compactView`), made on the first one. */
let compacted: Map<ArrayBufferView, ArrayBufferView> | null = null;

function encContainer(value: object, depth: number): unknown {
  if (Array.isArray(value)) return encArray(value, depth);
  if (value instanceof Map) return encMap(value, depth);
  if (value instanceof Set) return encSet(value, depth);
  if (
    value instanceof Promise ||
    value instanceof WeakMap ||
    value instanceof WeakSet ||
    value instanceof WeakRef
  ) {
    refuse(value);
  }
  return encObject(value as Record<string, unknown>, depth);
}

function encArray(value: unknown[], depth: number): unknown[] {
  let out: unknown[] | null = null;
  for (let i = 0; i < value.length; i++) {
    const item = value[i];
    const coded = enc(item, depth + 1);
    if (coded !== item && out === null) out = value.slice(0, i);
    if (out !== null) out.push(coded);
  }
  return out ?? value;
}

function encObject(value: Record<string, unknown>, depth: number): Record<string, unknown> {
  let out: Record<string, unknown> | null = null;
  for (const key in value) {
    if (!Object.prototype.hasOwnProperty.call(value, key)) continue;
    const item = value[key];
    const coded = enc(item, depth + 1);
    if (coded !== item && out === null) out = { ...value };
    if (out !== null) out[key] = coded;
  }
  return out ?? value;
}

function encMap(value: Map<unknown, unknown>, depth: number): Map<unknown, unknown> {
  let changed = false;
  const entries: [unknown, unknown][] = [];
  for (const [k, v] of value) {
    const ck = enc(k, depth + 1);
    const cv = enc(v, depth + 1);
    if (ck !== k || cv !== v) changed = true;
    entries.push([ck, cv]);
  }
  return changed ? new Map(entries) : value;
}

function encSet(value: Set<unknown>, depth: number): Set<unknown> {
  let changed = false;
  const items: unknown[] = [];
  for (const v of value) {
    const cv = enc(v, depth + 1);
    if (cv !== v) changed = true;
    items.push(cv);
  }
  return changed ? new Set(items) : value;
}

function encodeError(error: Error, depth: number): ErrorMark {
  const fields: Record<string, unknown> = {};
  const mark: ErrorMark = {
    [MARK]: 'error',
    name: String(error.name),
    message: String(error.message),
    stack: typeof error.stack === 'string' ? error.stack : undefined,
    fields,
  };
  // A chain of causes (or a cause that refers back to its error) stops at
  // the walk's depth limit instead of recursing for ever.
  if (depth >= MAX_DEPTH) return mark;
  for (const key of Object.keys(error)) {
    if (key === 'name' || key === 'message' || key === 'stack' || key === 'cause') continue;
    fields[key] = enc((error as unknown as Record<string, unknown>)[key], depth + 1);
  }
  if (error.cause !== undefined) mark.cause = enc(error.cause, depth + 1);
  return mark;
}

/**
 * Encodes a value the runtime itself must deliver (an exit reason, a call's
 * failure): unlike `encode`, it never throws. What cannot cross is replaced
 * by a description, so an error holding a function (a client library's
 * retry callback, say) still arrives as an error with its name, message,
 * stack and `code`, minus that field.
 */
export function encodeSafe(value: unknown): unknown {
  try {
    const data = encode(value).data;
    if (crosses(data)) return data;
  } catch {
    // Sanitized below.
  }
  try {
    return sanitize(value, 0);
  } catch {
    // Nothing of it can be read safely: say so rather than lose the exit.
    return '[a value that cannot cross threads]';
  }
}

/**
 * Whether encoded `data` survives a structured clone. The codec refuses
 * what it can see cheaply; a Proxy or a MessagePort deep inside only fails
 * when posted. Exit reasons and errors (what `encodeSafe` carries) must
 * never fail there, so they are tried first; primitives and bytes need no
 * try. A pool task's result is tried too (piscina would report the failure
 * as a bare object).
 */
export function crosses(data: unknown): boolean {
  if (data === null || typeof data !== 'object') return true;
  if (ArrayBuffer.isView(data) || data instanceof ArrayBuffer) return true;
  try {
    structuredClone(data);
    return true;
  } catch {
    return false;
  }
}

/**
 * Wraps what `postMessage` threw for a value the codec let through (a
 * DataCloneError) as the runtime's `UncloneableError`, located at `path`.
 */
export function postRefusal(error: unknown, path: string): UncloneableError {
  if (error instanceof UncloneableError) return error;
  const detail = error instanceof Error ? error.message : String(error);
  return new UncloneableError(path, `value the structured clone refused (${detail})`);
}

function sanitize(value: unknown, depth: number): unknown {
  if (value instanceof Error) {
    const fields: Record<string, unknown> = {};
    let keys: string[] = [];
    try {
      keys = Object.keys(value);
    } catch {
      // A Proxy whose ownKeys trap throws: no fields, the rest still goes.
    }
    for (const key of keys) {
      if (key === 'name' || key === 'message' || key === 'stack' || key === 'cause') continue;
      const field = read(value, key);
      fields[key] =
        field === UNREADABLE
          ? '[a getter that threw]'
          : depth < 8
            ? sanitizeField(field, depth + 1)
            : describeUncloneable(field);
    }
    const stack = read(value, 'stack');
    const mark: ErrorMark = {
      [MARK]: 'error',
      name: text(read(value, 'name')),
      message: text(read(value, 'message')),
      stack: typeof stack === 'string' ? stack : undefined,
      fields,
    };
    const cause = read(value, 'cause');
    if (cause !== undefined && cause !== UNREADABLE && depth < 8) {
      mark.cause = sanitize(cause, depth + 1);
    }
    return mark;
  }
  if (value !== null && typeof value === 'object' && depth === 0) {
    const shutdown = read(value, 'shutdown');
    if (shutdown !== undefined && shutdown !== UNREADABLE) {
      return { shutdown: sanitize(shutdown, depth + 1) };
    }
  }
  return isPlainCloneable(value) ? value : describeUncloneable(value);
}

const UNREADABLE: unique symbol = Symbol('unreadable');

/** `object[key]`, or `UNREADABLE` if reading it threw (a getter, a Proxy trap). */
function read(object: object, key: string): unknown {
  try {
    return (object as Record<string, unknown>)[key];
  } catch {
    return UNREADABLE;
  }
}

/** A string for an error's name or message, whatever it holds. */
function text(value: unknown): string {
  if (value === UNREADABLE) return '[a getter that threw]';
  try {
    return String(value);
  } catch {
    return '[a value without a string form]';
  }
}

/** A field of an error: kept if it can cross, sanitized if it is an error, else described. */
function sanitizeField(value: unknown, depth: number): unknown {
  if (isPlainCloneable(value)) return value;
  if (value instanceof Error) return sanitize(value, depth);
  try {
    const data = encode(value).data;
    if (crosses(data)) return data;
  } catch {
    // Described below.
  }
  return describeUncloneable(value);
}

function isPlainCloneable(value: unknown): boolean {
  const type = typeof value;
  return (
    value === null ||
    type === 'string' ||
    type === 'number' ||
    type === 'boolean' ||
    type === 'bigint' ||
    type === 'undefined'
  );
}

export function describeUncloneable(value: unknown): string {
  try {
    if (typeof value === 'function') return `[function ${value.name || 'anonymous'}]`;
    return `[${Object.prototype.toString.call(value).slice(8, -1)}: ${String(value)}]`;
  } catch {
    return '[value that cannot cross threads]';
  }
}

/** Restores a value made by `encode` (only needed when it said `revive`). */
export function decode(data: unknown, reviver: Reviver): unknown {
  decVisits = 0;
  try {
    return dec(data, reviver, 0);
  } finally {
    decoded = null;
  }
}

/**
 * The clone keeps shared references, so one object may be reached by many
 * paths. Past VISIT_BUDGET visits the walk starts remembering containers
 * and decodes each (in place) at most once more; decoding is idempotent, so
 * a second visit of one decoded before that point does no harm.
 */
let decoded: Set<object> | null = null;
let decVisits = 0;

function dec(value: unknown, reviver: Reviver, depth: number): unknown {
  if (typeof value !== 'object' || value === null || depth > MAX_DEPTH) return value;
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return value;
  if (decoded !== null) {
    if (decoded.has(value)) return value;
    decoded.add(value);
  } else if (++decVisits > VISIT_BUDGET) {
    decoded = new Set([value]);
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = dec(value[i], reviver, depth + 1);
    return value;
  }
  if (value instanceof Map) {
    const entries = [...value].map(
      ([k, v]) => [dec(k, reviver, depth + 1), dec(v, reviver, depth + 1)] as const,
    );
    value.clear();
    for (const [k, v] of entries) value.set(k, v);
    return value;
  }
  if (value instanceof Set) {
    const items = [...value].map((v) => dec(v, reviver, depth + 1));
    value.clear();
    for (const v of items) value.add(v);
    return value;
  }
  if (value instanceof Date || value instanceof RegExp) return value;
  const record = value as Record<string, unknown>;
  switch (record[MARK]) {
    case 'pid':
      return reviver.pid(record.n as number, record.i as number);
    case 'ref':
      return reviver.ref(record.n as number, record.i as number);
    case 'error':
      return decodeError(record as unknown as ErrorMark, reviver, depth);
  }
  for (const key in record) record[key] = dec(record[key], reviver, depth + 1);
  return record;
}

function decodeError(mark: ErrorMark, reviver: Reviver, depth: number): Error {
  // Registered classes (the runtime's own, and those of libraries that
  // register theirs) come back as themselves; others as `Error` with their name.
  const known = revivableErrorClass(mark.name);
  const error =
    known !== undefined ? (Object.create(known.prototype) as Error) : new Error(mark.message);
  Object.defineProperty(error, 'message', {
    value: mark.message,
    writable: true,
    configurable: true,
  });
  Object.defineProperty(error, 'name', { value: mark.name, writable: true, configurable: true });
  Object.defineProperty(error, 'stack', { value: mark.stack, writable: true, configurable: true });
  for (const [key, v] of Object.entries(mark.fields)) {
    (error as unknown as Record<string, unknown>)[key] = dec(v, reviver, depth + 1);
  }
  if (mark.cause !== undefined) {
    Object.defineProperty(error, 'cause', {
      value: dec(mark.cause, reviver, depth + 1),
      writable: true,
      configurable: true,
    });
  }
  return error;
}
