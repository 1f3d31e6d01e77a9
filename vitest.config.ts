import { defineConfig } from 'vitest/config';

// Test projects mirror the original broker's categories. `pnpm test` runs
// core + recovery + stress (stress at its short default scale); performance
// runs only on request, because figures belong in benchmarks, not pass/fail.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'core',
          include: [
            'packages/*/test/**/*.test.ts',
            'test/core/**/*.test.ts',
            'examples/*/test/**/*.test.ts',
          ],
        },
      },
      {
        test: {
          name: 'recovery',
          include: ['test/recovery/**/*.test.ts'],
        },
      },
      {
        test: {
          name: 'stress',
          include: ['test/stress/**/*.test.ts'],
          testTimeout: 120_000,
        },
      },
      {
        test: {
          name: 'performance',
          include: ['test/performance/**/*.test.ts'],
          testTimeout: 300_000,
        },
      },
    ],
  },
});
