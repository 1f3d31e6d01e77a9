import { Pid } from './pid.js';

/** Renders a destination (pid, name or via) for error messages and logs. */
export function describeDest(dest: unknown): string {
  if (dest instanceof Pid) return dest.toString();
  if (typeof dest === 'string') return `name ${JSON.stringify(dest)}`;
  if (dest !== null && typeof dest === 'object' && 'via' in dest) {
    const { via, key } = dest as { via: { describe?(key: unknown): string }; key: unknown };
    return `via ${via.describe ? via.describe(key) : describeValue(key)}`;
  }
  return describeValue(dest);
}

/** A short, safe rendering of any value for messages. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  // JSON would print NaN and Infinity as null, and lose bigints and undefined.
  if (typeof value === 'number' || typeof value === 'bigint' || value === undefined) {
    return String(value);
  }
  if (typeof value === 'function') return `function ${value.name || '(anonymous)'}`;
  try {
    const text = JSON.stringify(value);
    if (text === undefined) return String(value);
    return text.length > 80 ? `${text.slice(0, 77)}...` : text;
  } catch {
    return String(value);
  }
}
