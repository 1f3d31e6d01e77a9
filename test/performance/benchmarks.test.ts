import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * The performance category, run on request (`run test:performance`). Speed
 * targets live in the benchmarks, which print figures beside same-run
 * baselines; here they run at quick scale and must deliver everything they
 * send. Nothing is asserted about speed: a busy machine must not fail it.
 */
const bench = fileURLToPath(new URL('../../bench/dist/main.js', import.meta.url));

describe('benchmarks', () => {
  it('every workload runs and delivers what it sent (quick scale)', () => {
    expect(existsSync(bench)).toBe(true);
    const run = spawnSync(process.execPath, ['--expose-gc', bench, '--quick', '--no-write'], {
      encoding: 'utf8',
      timeout: 240_000,
    });
    expect(run.stdout).toMatch(/every run delivered what it sent/);
    expect(run.stdout).not.toMatch(/LOST/);
    expect(run.status).toBe(0);
  });
});
