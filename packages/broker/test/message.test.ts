import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidMetadataError } from '../src/errors.js';
import {
  EMPTY_METADATA,
  IdSource,
  UNMEASURABLE,
  checkMetadata,
  payloadSize,
  utf8Length,
} from '../src/message.js';

describe('payloadSize', () => {
  it('measures strings at their UTF-8 length, exactly', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 400 }), (text) => {
        expect(utf8Length(text)).toBe(Buffer.byteLength(text, 'utf8'));
        expect(payloadSize(text)).toBe(Buffer.byteLength(text, 'utf8'));
      }),
    );
    // Lone surrogates encode as U+FFFD (3 bytes), as Buffer does.
    for (const text of ['\ud800', '\udc00', 'a\ud800b', '\ud83d\ude00']) {
      expect(utf8Length(text)).toBe(Buffer.byteLength(text, 'utf8'));
    }
  });

  it('measures bytes at their byteLength', () => {
    expect(payloadSize(new Uint8Array(100))).toBe(100);
    expect(payloadSize(Buffer.alloc(7))).toBe(7);
    expect(payloadSize(new ArrayBuffer(9))).toBe(9);
    expect(payloadSize(new Float64Array(3))).toBe(24);
    expect(payloadSize(new DataView(new ArrayBuffer(5)))).toBe(5);
  });

  it('measures structured data by the documented walk', () => {
    expect(payloadSize(1)).toBe(8);
    expect(payloadSize(true)).toBe(1);
    expect(payloadSize(null)).toBe(1);
    expect(payloadSize({})).toBe(2);
    expect(payloadSize([])).toBe(2);
    // { id: 123, amount: 99.9, currency: 'USD' }: 2 + (2+8) + (6+8) + (8+3)
    expect(payloadSize({ id: 123, amount: 99.9, currency: 'USD' })).toBe(37);
    // Arrays: brackets, one byte per slot, then the elements.
    expect(payloadSize([1, 'ab', null])).toBe(2 + 3 + 8 + 2 + 1);
    expect(payloadSize({ a: undefined })).toBe(3);
    expect(payloadSize({ nested: { x: [true] } })).toBe(2 + 6 + (2 + 1 + (2 + 1 + 1)));
  });

  it('refuses what cannot be carried', () => {
    expect(payloadSize(undefined)).toBe(UNMEASURABLE);
    expect(payloadSize(() => 1)).toBe(UNMEASURABLE);
    expect(payloadSize(Symbol('s'))).toBe(UNMEASURABLE);
    expect(payloadSize({ f: () => 1 })).toBe(UNMEASURABLE);
  });

  it('counts an object reached twice (shared, or through a cycle) once', () => {
    const cyclic: Record<string, unknown> = { n: 1 };
    cyclic.self = cyclic;
    expect(payloadSize(cyclic)).toBe(2 + (1 + 8) + (4 + 0));
  });
});

describe('metadata', () => {
  it('accepts a flat string map, and undefined as the shared empty map', () => {
    const metadata = { source: 'web', trace: 'abc' };
    expect(checkMetadata(metadata)).toBe(metadata);
    expect(checkMetadata(undefined)).toBe(EMPTY_METADATA);
    expect(Object.isFrozen(EMPTY_METADATA)).toBe(true);
  });

  it('refuses maps, dates, symbol keys and throwing getters: only a plain object is a string map', () => {
    for (const metadata of [new Map([['a', 'b']]), new Date(), Object.create(Array.prototype)]) {
      expect(() => checkMetadata(metadata)).toThrow(InvalidMetadataError);
    }
    expect(() => checkMetadata({ [Symbol('k')]: 'v' })).toThrow(/symbol-keyed/);
    // regression: a non-enumerable property passed unchecked and uncounted.
    const hidden = Object.defineProperty({ a: 'x' }, 'b', {
      value: { big: 'y' },
      enumerable: false,
    });
    expect(() => checkMetadata(hidden)).toThrow(/non-enumerable/);
    const throwing = {
      get a(): string {
        throw new Error('boom');
      },
    };
    expect(() => checkMetadata(throwing)).toThrow(/key "a" must be a string, got "a getter/);
    expect(checkMetadata(Object.assign(Object.create(null), { a: 'b' }))).toEqual({ a: 'b' });
  });

  it('refuses non-string values and non-objects, naming the key', () => {
    expect(() => checkMetadata({ n: 1 })).toThrow(InvalidMetadataError);
    expect(() => checkMetadata({ n: 1 })).toThrow(/key "n" must be a string, got 1/);
    expect(() => checkMetadata('x')).toThrow(/must be a plain object/);
    expect(() => checkMetadata(['a'])).toThrow(InvalidMetadataError);
    expect(() => checkMetadata(null)).toThrow(InvalidMetadataError);
  });
});

describe('ids', () => {
  it('are unique within a source and across sources', () => {
    const a = new IdSource();
    const b = new IdSource();
    const ids = new Set<string>();
    for (let i = 0; i < 10_000; i++) {
      ids.add(a.take());
      ids.add(b.take());
    }
    expect(ids.size).toBe(20_000);
  });
});
