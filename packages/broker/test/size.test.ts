import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_DEPTH, Refusal, measurePayload, utf8Length } from '../src/size.js';

const MiB = 1024 * 1024;

/** The documented measure, for trees (no object reached twice), written plainly. */
function reference(value: unknown): number {
  if (typeof value === 'string') return utf8Length(value);
  if (typeof value === 'number') return 8;
  if (typeof value === 'boolean') return 1;
  if (value === null) return 1;
  if (Array.isArray(value))
    return value.reduce((n: number, v) => n + reference(v), 2 + value.length);
  let total = 2;
  for (const [key, v] of Object.entries(value as object)) total += utf8Length(key) + reference(v);
  return total;
}

function refusal(value: unknown, limit = MiB): Refusal {
  const result = measurePayload(value, limit);
  if (!(result instanceof Refusal)) throw new Error(`expected a refusal, got ${String(result)}`);
  return result;
}

describe('measurePayload', () => {
  it('agrees with the documented measure on JSON data', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect(measurePayload(value, Infinity)).toBe(reference(value));
      }),
    );
  });

  it('regression: a DAG of 40 levels (2^40 paths, 41 objects) is measured at once, each object counted once', () => {
    let x: object = { v: 1 };
    for (let i = 0; i < 40; i++) x = { a: x, b: x };
    const started = performance.now();
    // {v: 1} is 11 bytes; each level adds braces and two one-letter keys.
    expect(measurePayload(x, MiB)).toBe(11 + 40 * 4);
    expect(performance.now() - started).toBeLessThan(100);
  });

  it('regression: a sparse array of 2^32 - 1 slots is over any limit at once, without walking it', () => {
    const started = performance.now();
    const size = measurePayload(new Array(2 ** 32 - 1), 1024);
    expect(size).toBeGreaterThan(1024);
    expect(performance.now() - started).toBeLessThan(100);
  });

  it('stops once past the limit: a long string or array is not measured further', () => {
    const text = 'é'.repeat(10 * MiB);
    expect(measurePayload(text, 1024)).toBe(10 * MiB); // its UTF-16 length: already over
    expect(measurePayload({ a: text }, 1024)).toBeGreaterThan(1024);
    expect(measurePayload(text, Infinity)).toBe(20 * MiB);
  });

  it('regression: maps, sets, class instances and errors count their contents', () => {
    const big = 'x'.repeat(4096);
    expect(measurePayload(new Map([['k', big]]), Infinity)).toBe(2 + 1 + 1 + 4096);
    expect(measurePayload(new Set([big]), Infinity)).toBe(2 + 1 + 4096);
    class Holder {
      constructor(readonly data: string) {}
      get twice(): string {
        return this.data + this.data;
      }
    }
    // Own fields count; accessors on the prototype are not part of the message.
    expect(measurePayload(new Holder(big), Infinity)).toBe(2 + 4 + 4096);
    expect(measurePayload(new Date(0), Infinity)).toBe(8);
    expect(measurePayload(10n, Infinity)).toBe(8);
    expect(measurePayload(/ab/g, Infinity)).toBe(2 + 2 + 1);
    const error = new Error(big);
    expect(measurePayload(error, Infinity)).toBeGreaterThan(4096);
    expect(measurePayload(new Uint8Array(10), Infinity)).toBe(10);
    expect(measurePayload(new SharedArrayBuffer(16), Infinity)).toBe(16);
  });

  it('regression: symbol-keyed properties are refused (a structured clone drops them), naming where', () => {
    const result = refusal({ a: { [Symbol('k')]: 'x'.repeat(1000) } });
    expect(result.what).toMatch(/symbol-keyed/);
    expect(result.path).toBe('payload.a');
  });

  it('refuses what cannot be carried, naming what and where', () => {
    expect(refusal(undefined)).toEqual(new Refusal('undefined', 'payload'));
    expect(refusal({ items: [1, { f: () => 1 }] })).toEqual(
      new Refusal('a function', 'payload.items[1].f'),
    );
    expect(refusal({ 'a b': Symbol('s') }).path).toBe('payload["a b"]');
    expect(refusal(new Map([['k', () => 1]])).path).toBe('payload<Map entry 0 value>');
    expect(refusal([Promise.resolve(1)])).toEqual(new Refusal('a Promise', 'payload[0]'));
    expect(refusal(new WeakMap()).what).toBe('a WeakMap');
    expect(refusal(new WeakSet()).what).toBe('a WeakSet');
    expect(refusal(new Proxy(new Map(), {})).what).toBe('a Proxy');
    let deep: unknown[] = [];
    const root = deep;
    for (let i = 0; i < MAX_DEPTH + 5; i++) {
      const next: unknown[] = [];
      deep.push(next);
      deep = next;
    }
    expect(refusal(root).what).toBe(`nesting deeper than ${MAX_DEPTH} levels`);
  });

  it('regression: a throwing getter is refused with the error, not thrown; a Proxy is refused before its traps run', () => {
    const getter = {
      ok: 1,
      get bad(): number {
        throw new Error('getter boom');
      },
    };
    const result = refusal({ nested: getter });
    expect(result.what).toMatch(/threw \(Error: getter boom\)/);
    expect(result.path).toBe('payload.nested.bad');
    const trap = new Proxy(
      {},
      {
        ownKeys() {
          throw new Error('trap boom');
        },
      },
    );
    expect(refusal({ p: trap })).toEqual(new Refusal('a Proxy', 'payload.p'));
    // A Proxy over a plain object looks plain: refused all the same (a clone cannot copy it).
    expect(refusal(new Proxy({ a: 1 }, {})).what).toBe('a Proxy');
  });

  it('a getter that measures another payload (a publish inside a getter) leaves the outer measure intact', () => {
    const inner = { x: 'abc' };
    const outer = {
      a: 'hello',
      get b(): number {
        expect(measurePayload(inner, Infinity)).toBe(2 + 1 + 3);
        expect(measurePayload({ c: () => 1 }, Infinity)).toBeInstanceOf(Refusal);
        return 1;
      },
      c: inner,
    };
    expect(measurePayload(outer, Infinity)).toBe(2 + (1 + 5) + (1 + 8) + (1 + 6));
  });

  it('shares nothing between measures: an object seen by one walk counts again in the next', () => {
    const shared = { v: 1 };
    expect(measurePayload(shared, Infinity)).toBe(11);
    expect(measurePayload([shared, shared], Infinity)).toBe(2 + 2 + 11);
    // Past the small array of seen objects, the walk switches to a Set.
    const many = Array.from({ length: 100 }, (_, i) => ({ i }));
    expect(measurePayload([...many, ...many], Infinity)).toBe(2 + 200 + 100 * 11);
  });
});

describe('bigints', () => {
  it('regression: a bigint within 64 bits counts 8; a larger one counts the bytes of its magnitude', () => {
    expect(measurePayload(0n, Infinity)).toBe(8);
    expect(measurePayload(2n ** 63n - 1n, Infinity)).toBe(8);
    expect(measurePayload(-(2n ** 63n), Infinity)).toBe(8);
    expect(measurePayload(2n ** 63n, Infinity)).toBe(8); // 16 hex digits: 8 bytes
    expect(measurePayload(2n ** 64n, Infinity)).toBe(9);
    expect(measurePayload(-(2n ** 80n), Infinity)).toBe(11);
    // A 10 MB bigint was counted as 8 bytes and passed any limit.
    const huge = measurePayload({ n: 2n ** 80_000_000n }, 1000);
    expect(typeof huge === 'number' && huge > 1000).toBe(true);
  });
});
