import { describe, expect, it } from 'vitest';
import { RetainedLog } from '../src/log.js';
import { Message, EMPTY_METADATA, stamp } from '../src/message.js';

function message(offset: number, size = 10, timestamp = 1000): Message {
  const m = new Message(`m${offset}`, 't', offset, EMPTY_METADATA, null, size);
  stamp(m, offset, timestamp);
  return m;
}

function fill(log: RetainedLog, n: number, size = 10, timestamp = 1000): void {
  for (let i = 0; i < n; i++) log.append(message(log.nextOffset, size, timestamp), timestamp);
}

const unlimited = { maxMessages: 1_000_000, maxBytes: Number.MAX_SAFE_INTEGER, maxAgeMs: Infinity };

describe('retained log', () => {
  it('keeps offsets and slices from any offset', () => {
    const log = new RetainedLog(unlimited);
    expect(log.oldestOffset).toBeNull();
    fill(log, 100);
    expect(log.length).toBe(100);
    expect(log.bytes).toBe(1000);
    expect([log.oldestOffset, log.newestOffset, log.nextOffset]).toEqual([0, 99, 100]);
    expect(log.sliceFrom(95).map((m) => m.offset)).toEqual([95, 96, 97, 98, 99]);
    expect(log.sliceFrom(100)).toEqual([]);
    expect(log.sliceFrom(500)).toEqual([]);
  });

  it('evicts the oldest beyond maxMessages, and clamps slices to what is retained', () => {
    const log = new RetainedLog({ ...unlimited, maxMessages: 10 });
    fill(log, 25);
    expect(log.length).toBe(10);
    expect([log.oldestOffset, log.newestOffset]).toEqual([15, 24]);
    expect(log.sliceFrom(0).map((m) => m.offset)).toEqual([15, 16, 17, 18, 19, 20, 21, 22, 23, 24]);
    expect(log.bytes).toBe(100);
  });

  it('evicts the oldest beyond maxBytes; a message larger than maxBytes is not retained', () => {
    const log = new RetainedLog({ ...unlimited, maxBytes: 35 });
    fill(log, 5, 10);
    expect(log.length).toBe(3);
    expect(log.bytes).toBe(30);
    log.append(message(log.nextOffset, 100), 1000);
    expect(log.length).toBe(0);
    expect(log.bytes).toBe(0);
    expect(log.nextOffset).toBe(6);
    expect(log.oldestOffset).toBeNull();
  });

  it('evicts by age on append and on evictExpired', () => {
    const log = new RetainedLog({ ...unlimited, maxAgeMs: 1000 });
    fill(log, 3, 10, 1000);
    fill(log, 2, 10, 1500);
    expect(log.length).toBe(5);
    expect(log.evictExpired(2100)).toBe(3);
    expect(log.oldestOffset).toBe(3);
    log.append(message(log.nextOffset, 10, 3000), 3000);
    expect(log.length).toBe(1);
    expect(log.oldestOffset).toBe(5);
  });

  it('with maxMessages 0 keeps nothing but still numbers messages', () => {
    const log = new RetainedLog({ ...unlimited, maxMessages: 0 });
    fill(log, 5);
    expect(log.length).toBe(0);
    expect(log.nextOffset).toBe(5);
    expect(log.sliceFrom(0)).toEqual([]);
  });

  it('stays correct across ring growth and wrap-around', () => {
    const log = new RetainedLog({ ...unlimited, maxMessages: 1000 });
    fill(log, 5000);
    expect(log.sliceFrom(0).map((m) => m.offset)).toEqual(
      Array.from({ length: 1000 }, (_, i) => 4000 + i),
    );
  });
});
