/**
 * What a payload weighs: the measure that `maxPayloadBytes` and
 * `retention.maxBytes` count, and the check of what a payload may hold.
 *
 * ## What counts
 * - a string: its UTF-8 length;
 * - an `ArrayBuffer`, a `SharedArrayBuffer`, a typed array, a `DataView` or a
 *   `Buffer`: its `byteLength`;
 * - a number, a bigint or a `Date`: 8; a boolean or null: 1; `undefined`
 *   inside an object or an array: 0;
 * - an array: 2, plus 1 per slot (holes included), plus each element;
 * - a `Map`: 2, plus 1 per entry, plus each key and each value; a `Set`: 2,
 *   plus 1 per element, plus each element;
 * - a `RegExp`: 2 plus its source and flags; an `Error`: 2 plus its name,
 *   message and stack, its `cause` and an `AggregateError`'s `errors`, plus
 *   its own enumerable properties as below;
 * - properties set on a `Map`, `Set`, `Date`, `RegExp`, `ArrayBuffer` or
 *   `DataView` count as an object's (not those on an array or a typed
 *   array: finding them means listing every index);
 * - any other object (plain, or a class instance): 2, plus each own
 *   enumerable string key's UTF-8 length, plus each value. That is what a
 *   structured clone copies; a class instance's prototype, accessors on the
 *   prototype and `#private` fields are not part of the message (they do not
 *   reach a topic on a thread node), and are not counted.
 * An object reached twice (shared, or through a cycle) counts once, as a
 * structured clone copies it once. For typical data the measure is close to
 * the JSON size, and exact for strings and bytes.
 *
 * ## What is refused
 * With `invalid_payload`, naming what and where (`payload.items[2].at`):
 * `undefined` at the top level; functions and symbols; an object with
 * symbol-keyed properties (a structured clone drops them); a `Proxy` (a
 * structured clone cannot copy one); a
 * `Promise`, `WeakMap`, `WeakSet`, `WeakRef` or `FinalizationRegistry`;
 * nesting deeper than 100 levels; a value whose reading throws (a getter or
 * a Proxy trap). The same rules hold whether topics run on the broker's
 * thread or on thread nodes, so a payload accepted in one mode is accepted
 * in the other.
 *
 * ## Cost
 * The walk is linear in the number of distinct objects and bounded: it
 * stops as soon as the count passes the limit it is given (every slot,
 * entry and key counts at least one byte, so a sparse `new Array(2 ** 32 -
 * 1)` is refused at once), and a string longer than what is left is not
 * measured further. Objects seen are remembered in a small reused array
 * (a `Set` past 32 objects), so nothing is allocated for a typical payload.
 * Measured on this machine for the quick-start order
 * (`{ id, amount, currency }`): see `bench/` and the broker README.
 */
import { types } from 'node:util';

/** Nesting deeper than this is refused. */
export const MAX_DEPTH = 100;

/** Objects remembered in the reused array before the walk switches to a `Set`. */
const SMALL_SEEN = 32;

/** Why a payload cannot be carried: what was found, and where. */
export class Refusal {
  constructor(
    /** What was found, such as `a function`. */
    readonly what: string,
    /** Where, as a path from the payload: `payload.items[2].at`. */
    readonly path: string,
  ) {}
}

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

function keySegment(key: string): string {
  return IDENTIFIER.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}

/** Names what a getter or trap threw, for an error message. */
export function describeThrown(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  try {
    return String(error);
  } catch {
    return 'a value';
  }
}

// One walk's state, in module variables: the walk runs on every publish, and
// plain functions over module state measured about twice as fast as methods
// over an instance's fields. A measure started while another runs (a getter
// in a payload that publishes) saves the outer walk's state and restores it.

let busy = false;
let limit = 0;
let total = 0;
let what: string | null = null;
/** Path segments, innermost first, gathered as a refusal unwinds. */
let path: string[] = [];
/** Objects seen by this walk: `seen[base..count)`, then `seenSet` past `SMALL_SEEN`. */
const seen: (object | undefined)[] = [];
let base = 0;
let count = 0;
let seenSet: Set<object> | null = null;
/** Whether the last measure met an object that is not plain data (see `metInstances`). */
let instances = false;

/**
 * Whether the last `measurePayload` met a class instance, an `Error` or a
 * host object: values a structured clone may still refuse (an object with
 * internal slots the walk cannot see). Plain objects, arrays, primitives,
 * bytes, Dates, RegExps, Maps and Sets of those always clone. Read it right
 * after the measure.
 */
export function metInstances(): boolean {
  return instances;
}

/**
 * Measures `payload` (see the module doc), stopping once the count passes
 * `max`: the result is then a lower bound above `max`. Returns a
 * `Refusal` for a payload that cannot be carried.
 */
export function measurePayload(payload: unknown, max: number): number | Refusal {
  instances = false;
  if (typeof payload === 'string') return stringBytes(payload, max);
  const outer = busy;
  const saved = outer ? ([limit, total, what, base, seenSet] as const) : null;
  busy = true;
  limit = max;
  total = 0;
  what = null;
  base = count;
  seenSet = null;
  let result: number | Refusal;
  try {
    value(payload, 0);
    result = what === null ? total : refusal(what);
  } finally {
    for (let i = base; i < count; i++) seen[i] = undefined;
    count = base;
    busy = outer;
    if (saved !== null) {
      [limit, total, what, base, seenSet] = saved;
      instances = true; // what the outer walk met is unknown here: assume the worst
    } else seenSet = null;
  }
  return result;
}

/** Segments shown at most in a path: the outermost and innermost ones, around an ellipsis. */
const PATH_SHOWN = 12;

function refusal(found: string): Refusal {
  const segments = path.reverse();
  const shown =
    segments.length <= PATH_SHOWN
      ? segments
      : [...segments.slice(0, PATH_SHOWN - 4), '...', ...segments.slice(-4)];
  const where = `payload${shown.join('')}`;
  path = [];
  return new Refusal(found, where);
}

/** Adds `item`; false to stop (refused, or past the limit). */
function value(item: unknown, depth: number): boolean {
  switch (typeof item) {
    case 'string':
      total += stringBytes(item, limit - total);
      break;
    case 'number':
      total += 8;
      break;
    case 'bigint':
      total += bigintBytes(item);
      break;
    case 'boolean':
      total += 1;
      break;
    case 'undefined':
      if (depth === 0) return refuse('undefined');
      break;
    case 'object':
      if (item === null) total += 1;
      else return object(item, depth);
      break;
    case 'function':
      return refuse('a function');
    default:
      return refuse('a symbol');
  }
  return total <= limit;
}

function refuse(found: string): false {
  what = found;
  return false;
}

/** Records `segment` on the way out of a refusal; passes `false` through. */
function at(segment: string): false {
  if (what !== null) path.push(segment);
  return false;
}

/** Whether `item` was seen already by this walk; remembers it if not. */
function visited(item: object): boolean {
  const set = seenSet;
  if (set !== null) {
    if (set.has(item)) return true;
    set.add(item);
    return false;
  }
  const n = count;
  for (let i = base; i < n; i++) if (seen[i] === item) return true;
  if (n - base < SMALL_SEEN) {
    seen[n] = item;
    count = n + 1;
    return false;
  }
  const grown = new Set<object>();
  for (let i = base; i < n; i++) grown.add(seen[i]!);
  grown.add(item);
  seenSet = grown;
  return false;
}

function object(item: object, depth: number): boolean {
  if (visited(item)) return true;
  if (depth >= MAX_DEPTH) return refuse(`nesting deeper than ${MAX_DEPTH} levels`);
  // A structured clone cannot copy a Proxy: refused here in both modes, so
  // that a payload accepted in-thread is accepted on threads too.
  if (types.isProxy(item)) return refuse('a Proxy');
  try {
    const proto: unknown = Object.getPrototypeOf(item);
    if (proto === Object.prototype || proto === null) return record(item, depth, false);
    if (Array.isArray(item)) return array(item, depth);
    return special(item, depth);
  } catch (error) {
    return refuse(`a value whose reading threw (${describeThrown(error)})`);
  }
}

function array(items: readonly unknown[], depth: number): boolean {
  const n = items.length;
  total += 2 + n;
  if (total > limit) return false;
  for (let i = 0; i < n; i++) {
    if (!value(items[i], depth + 1)) return at(`[${i}]`);
  }
  return true;
}

/**
 * Own enumerable string keys and their values; symbol keys are refused.
 * `for...in` is the fastest way to read an object's keys and values here
 * (about 3x `Object.keys` with keyed reads, measured); it also lists
 * enumerable inherited keys, which only a class instance's prototype may
 * add, so those are skipped for instances (`own`).
 */
function record(item: object, depth: number, own: boolean): boolean {
  const fields = item as Record<string, unknown>;
  total += 2;
  let key: string | null = null;
  try {
    for (key in fields) {
      if (own && !Object.hasOwn(fields, key)) continue;
      total += stringBytes(key, limit - total);
      if (!value(fields[key], depth + 1)) return at(keySegment(key));
    }
  } catch (error) {
    // Before any key (a Proxy's ownKeys trap), the object itself is at fault.
    if (key === null)
      return refuse(`an object whose keys cannot be read (${describeThrown(error)})`);
    refuse(`a property whose reading threw (${describeThrown(error)})`);
    return at(keySegment(key));
  }
  if (Object.getOwnPropertySymbols(fields).length > 0) {
    return refuse('an object with symbol-keyed properties (they are not carried)');
  }
  return total <= limit;
}

/** Objects that are neither plain nor arrays: bytes, built-ins, class instances. */
function special(item: object, depth: number): boolean {
  if (ArrayBuffer.isView(item)) {
    // A typed array's own keys include every index: its extra properties are
    // not looked for (see the module doc). A DataView has no index keys.
    if (!(item instanceof DataView)) return add(item.byteLength);
    return add(item.byteLength) && extras(item, depth);
  }
  if (item instanceof ArrayBuffer || types.isSharedArrayBuffer(item)) {
    return add((item as ArrayBuffer).byteLength) && extras(item, depth);
  }
  if (item instanceof Date) return add(8) && extras(item, depth);
  if (item instanceof Map) return map(item, depth) && extras(item, depth);
  if (item instanceof Set) return set(item, depth) && extras(item, depth);
  if (item instanceof RegExp) {
    return add(2 + utf8Length(item.source) + item.flags.length) && extras(item, depth);
  }
  const refused = refusedKind(item);
  if (refused !== null) return refuse(refused);
  instances = true;
  if (item instanceof Error) return error(item, depth);
  return record(item, depth, true);
}

/**
 * An Error: its name, message and stack, its `cause` and an
 * `AggregateError`'s `errors` (own properties that are not enumerable: a
 * structured clone copies `cause`, and in-thread both are seen by
 * reference), then its own enumerable properties.
 */
function error(item: Error, depth: number): boolean {
  total += stringBytes(`${item.name}${item.message}${item.stack ?? ''}`, limit - total);
  if (Object.hasOwn(item, 'cause') && !value(item.cause, depth + 1)) return at('.cause');
  if (item instanceof AggregateError && Object.hasOwn(item, 'errors')) {
    if (!value(item.errors, depth + 1)) return at('.errors');
  }
  return record(item, depth, true);
}

/**
 * Own enumerable string-keyed properties set on a built-in object (a `Map`,
 * a `Date`...): not part of a structured clone, but seen by reference
 * in-thread, so they count and follow the same rules.
 */
function extras(item: object, depth: number): boolean {
  const fields = item as Record<string, unknown>;
  for (const key in fields) {
    if (!Object.hasOwn(fields, key)) continue;
    total += stringBytes(key, limit - total);
    if (!value(fields[key], depth + 1)) return at(keySegment(key));
  }
  return total <= limit;
}

function add(bytes: number): boolean {
  total += bytes;
  return total <= limit;
}

function map(entries: Map<unknown, unknown>, depth: number): boolean {
  total += 2 + entries.size;
  if (total > limit) return false;
  let i = 0;
  for (const [key, item] of entries) {
    if (!value(key, depth + 1)) return at(`<Map entry ${i} key>`);
    if (!value(item, depth + 1)) return at(`<Map entry ${i} value>`);
    i++;
  }
  return true;
}

function set(items: Set<unknown>, depth: number): boolean {
  total += 2 + items.size;
  if (total > limit) return false;
  let i = 0;
  for (const item of items) {
    if (!value(item, depth + 1)) return at(`<Set element ${i}>`);
    i++;
  }
  return true;
}

/** What a built-in object that cannot be carried is, or null for any other object. */
function refusedKind(item: object): string | null {
  if (types.isPromise(item)) return 'a Promise';
  if (types.isWeakMap(item)) return 'a WeakMap';
  if (types.isWeakSet(item)) return 'a WeakSet';
  if (item instanceof WeakRef) return 'a WeakRef';
  if (item instanceof FinalizationRegistry) return 'a FinalizationRegistry';
  if (types.isGeneratorObject(item)) return 'a generator';
  return null;
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** A bigint's size: 8 within 64 bits, else its magnitude's bytes (a clone copies them all). */
function bigintBytes(n: bigint): number {
  if (n >= INT64_MIN && n <= INT64_MAX) return 8;
  return Math.ceil((n < 0n ? -n : n).toString(16).length / 2);
}

/** UTF-8 length of `text`, or its UTF-16 length (a lower bound) when that already passes `budget`. */
export function stringBytes(text: string, budget: number): number {
  return text.length > budget ? text.length : utf8Length(text);
}

/** UTF-8 length of a string, without encoding it. */
export function utf8Length(text: string): number {
  const length = text.length;
  if (length > 256) return Buffer.byteLength(text, 'utf8');
  let bytes = length;
  for (let i = 0; i < length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) bytes += 1;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < length) {
      // A surrogate pair: 4 bytes for 2 UTF-16 units.
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        bytes += 2;
        i++;
      } else bytes += 2;
    } else bytes += 2;
  }
  return bytes;
}
