/**
 * Runs the built quick start as a user would (`node dist/main.js`) and
 * checks what it prints.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));

describe('quickstart example', () => {
  it('creates "orders", receives the published order, prints stats and the topic list', () => {
    execFileSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: root, stdio: 'pipe' });
    const output = execFileSync(process.execPath, ['dist/main.js'], {
      cwd: root,
      encoding: 'utf8',
      timeout: 30_000,
    });
    const lines = output.trim().split('\n');
    expect(lines[0]).toBe('created topic: orders');
    expect(lines[1]).toMatch(/^subscribed: #Ref<\d+\.\d+>$/);
    const published = /^published: (\S+)$/.exec(lines[2] ?? '');
    expect(published).not.toBeNull();
    expect(lines[3]).toBe("received: { id: 123, amount: 99.9, currency: 'USD' }");
    expect(lines[4]).toBe(`  id ${published![1]}, offset 0, topic orders`);
    expect(lines[5]).toBe("stats: { topic: 'orders', messageCount: 1, subscriberCount: 1 }");
    expect(lines[6]).toBe("topics: [ 'orders', 'notifications', 'analytics' ]");
    expect(lines).toHaveLength(7);
  }, 60_000);
});
