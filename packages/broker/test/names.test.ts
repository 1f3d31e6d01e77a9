import { describe, expect, it } from 'vitest';
import { InvalidTopicNameError } from '../src/errors.js';
import { MAX_TOPIC_NAME_LENGTH, checkTopicName, isValidTopicName } from '../src/names.js';

describe('topic names', () => {
  it.each(['orders', 'orders.eu', 'billing_v2.invoice-created', 'A', '0', 'a'.repeat(255)])(
    'accepts %j',
    (name) => {
      expect(isValidTopicName(name)).toBe(true);
      expect(() => checkTopicName(name)).not.toThrow();
    },
  );

  it.each([
    ['empty', ''],
    ['a space', 'my topic'],
    ['a leading space', ' orders'],
    ['a star wildcard', 'orders.*'],
    ['a > wildcard', 'orders.>'],
    ['a # wildcard', 'orders.#'],
    ['a + wildcard', 'orders.+'],
    ['a trailing dot', 'orders.'],
    ['a leading dot', '.orders'],
    ['an empty segment', 'a..b'],
    ['a slash', 'a/b'],
    ['non-ASCII', 'ordrés'],
    ['over-long', 'a'.repeat(MAX_TOPIC_NAME_LENGTH + 1)],
  ])('refuses %s', (_what, name) => {
    expect(isValidTopicName(name)).toBe(false);
    expect(() => checkTopicName(name)).toThrow(InvalidTopicNameError);
  });

  it('refuses non-strings, saying what was expected and received', () => {
    for (const value of [undefined, null, 42, {}, ['a']]) {
      expect(isValidTopicName(value)).toBe(false);
    }
    try {
      checkTopicName('bad name');
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(InvalidTopicNameError);
      expect(error).toMatchObject({ code: 'invalid_topic_name', topic: 'bad name' });
      expect((error as Error).message).toMatch(/"bad name".*expected 1-255 characters/);
    }
  });
});
