/**
 * Runs the built example at a small scale as a user would and checks its
 * table and its correctness line. Nothing is asserted about speed.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));

describe('cpu-subscribers example', () => {
  it('hashes every document in both modes, with identical digests, and prints the event-loop delay', () => {
    execFileSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: root, stdio: 'pipe' });
    const output = execFileSync(process.execPath, ['dist/main.js', '--quick'], {
      cwd: root,
      encoding: 'utf8',
      timeout: 60_000,
    });
    const lines = output.trim().split('\n');
    expect(lines[0]).toBe(
      'CPU-heavy subscribers: 24 documents x 4 subscribers, 200 SHA-256 rounds each',
    );
    expect(lines[2]).toMatch(
      /^inline \(main thread\)\s+\d+ ms\s+[\d.]+ ms\s+[\d.]+ ms\s+[\d.]+ ms$/,
    );
    expect(lines[3]).toMatch(
      /^TaskPool \(\d+ worker threads\)\s+\d+ ms\s+[\d.]+ ms\s+[\d.]+ ms\s+[\d.]+ ms$/,
    );
    expect(lines[4]).toBe('digests: all computed, identical in both modes');
  }, 90_000);
});
