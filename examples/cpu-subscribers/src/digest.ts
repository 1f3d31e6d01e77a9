/**
 * The CPU-heavy work each subscriber does per message: a SHA-256 digest of
 * the payload, iterated `rounds` times. Run inline on the main thread, or on
 * a TaskPool worker (this module is what the pool imports).
 */
import { createHash } from 'node:crypto';

export interface DigestTask {
  readonly text: string;
  readonly rounds: number;
}

export function digest({ text, rounds }: DigestTask): string {
  let value = text;
  for (let i = 0; i < rounds; i++) value = createHash('sha256').update(value).digest('hex');
  return value;
}
