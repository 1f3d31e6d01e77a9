/**
 * Topic name rules, checked at every entry point that takes a name.
 *
 * A topic name is 1 to 255 characters long and made of one or more segments
 * separated by single dots; a segment is one or more of `A-Z a-z 0-9 _ -`.
 * So `orders`, `orders.eu`, `billing_v2.invoice-created` are valid, while
 * `''`, `'orders.'`, `'.orders'`, `'a..b'`, `'orders.*'`, `'orders.>'`,
 * `'my topic'` and 256 characters are not. Dots only make hierarchies
 * readable: topics are matched by their exact name, never by pattern, and
 * wildcard characters are refused so that no name can be mistaken for one.
 */
import { InvalidTopicNameError } from './errors.js';

/** The longest topic name accepted, in characters. */
export const MAX_TOPIC_NAME_LENGTH = 255;

/** The rules as one sentence, for error messages and documentation. */
export const TOPIC_NAME_RULES =
  `expected 1-${MAX_TOPIC_NAME_LENGTH} characters: segments of A-Z a-z 0-9 _ - ` +
  'separated by single dots (no spaces, no wildcards)';

const SEGMENTS = /^[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*$/;

/** Why `name` is not a valid topic name, or null if it is. */
export function topicNameProblem(name: unknown): string | null {
  if (typeof name !== 'string') return `expected a string, ${TOPIC_NAME_RULES}`;
  if (name.length === 0) return `the name is empty; ${TOPIC_NAME_RULES}`;
  if (name.length > MAX_TOPIC_NAME_LENGTH) {
    return `the name has ${name.length} characters; ${TOPIC_NAME_RULES}`;
  }
  if (!SEGMENTS.test(name)) return TOPIC_NAME_RULES;
  return null;
}

/** Whether `name` follows the topic name rules. */
export function isValidTopicName(name: unknown): name is string {
  return topicNameProblem(name) === null;
}

/** Throws `InvalidTopicNameError` unless `name` follows the rules. */
export function checkTopicName(name: unknown): asserts name is string {
  const problem = topicNameProblem(name);
  if (problem !== null) throw new InvalidTopicNameError(name, problem);
}
