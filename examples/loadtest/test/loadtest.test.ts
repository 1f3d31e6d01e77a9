/**
 * The load test at a small scale (`--quick`), run as a user runs it
 * (`node --expose-gc dist/main.js`): the table has every figure of W1-W5,
 * each row says what was delivered against what was published, and those
 * are equal. Then the table logic on made-up outcomes: a run that lost a
 * message is marked LOST and makes the exit code 1.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { BenchOutcome, Benchmark, RunOutcome } from '@ratatoskr/bench';
import { brokerSuite } from '@ratatoskr/bench';
import { deliveredText, exitCode, renderTable, rowsOf, type Measured } from '../src/table.js';

const root = fileURLToPath(new URL('..', import.meta.url));

/** The table's body rows, split into columns (two or more spaces apart). */
function tableRows(output: string): string[][] {
  const lines = output.split('\n');
  const rule = lines.findIndex((line) => /^-+(\s+-+)+$/.test(line));
  expect(rule).toBeGreaterThan(0);
  const body: string[][] = [];
  for (const line of lines.slice(rule + 1)) {
    if (line.trim() === '') break;
    body.push(line.split(/\s{2,}/));
  }
  return body;
}

describe('load test, quick scale', () => {
  it('prints every figure of W1-W5 with delivered equal to published, and exits 0', () => {
    execFileSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: root, stdio: 'pipe' });
    const output = execFileSync(process.execPath, ['--expose-gc', 'dist/main.js', '--quick'], {
      cwd: root,
      encoding: 'utf8',
      timeout: 90_000,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const rows = tableRows(output);
    const labels = rows.map((r) => r[0]);
    expect(labels).toEqual([
      'W1 sync publish',
      'W2 1,000 topics',
      'W2 publish P50',
      'W2 publish P99',
      'W3 fan-out x500',
      'W3 500 subscribers add',
      'W4 back-to-back P50',
      'W4 back-to-back P99',
      'W4 paced P50',
      'W4 paced P99',
      'W5 serve again after kill (median)',
      'W5 serve again after kill (worst)',
    ]);
    for (const [label, value, original, delivered, check] of rows) {
      expect(value, label).toMatch(/^\d[\d.]* (k |M )?(msg\/s|deliveries\/s|us|B|KiB|MiB)$/);
      if (!label!.includes('worst')) expect(original, label).not.toBe('-');
      const counts = /^([\d,]+) \/ ([\d,]+) (messages|deliveries)$/.exec(delivered!);
      expect(counts, `${label}: ${delivered}`).not.toBeNull();
      expect(counts![1]).toBe(counts![2]);
      expect(Number(counts![1]!.replaceAll(',', ''))).toBeGreaterThan(0);
      expect(check).toBe('ok');
    }
    // Quick sizes: W1 5,000 publishes; W3 50 subscribers x 500 messages.
    expect(rows[0]![3]).toBe('5,000 / 5,000 messages');
    expect(rows[4]![3]).toBe('25,000 / 25,000 deliveries');
    expect(output).toContain('nothing lost: every run delivered everything that was published.');
  }, 120_000);
});

describe('the table', () => {
  const w1 = brokerSuite.find((b) => b.id === 'W1')!;
  const run = (expected: number, delivered: number): RunOutcome => ({
    figures: { rate: 1_000 },
    expected,
    delivered,
  });
  function measured(bench: Benchmark, runs: RunOutcome[], failures: string[] = []): Measured {
    const figures = bench.figures.map((spec) => ({
      id: `${bench.id}.${spec.key}`,
      bench: bench.id,
      suite: bench.suite,
      title: bench.title,
      label: spec.label,
      unit: spec.unit,
      better: spec.better,
      value: 1_000,
      samples: [1_000],
      baseline: null,
      ratio: null,
      originalKey: spec.original ?? null,
      method: bench.method,
    }));
    const outcome: BenchOutcome = { figures, failures, seconds: 1, subjectRuns: runs };
    return { bench, outcome, failures };
  }

  it('states per-run counts when every run had the same, totals otherwise', () => {
    expect(deliveredText([run(10, 10), run(10, 10)], 'messages')).toBe(
      '10 / 10 messages, each of 2 runs',
    );
    expect(deliveredText([run(10, 10), run(12, 12)], 'deliveries')).toBe(
      '22 / 22 deliveries over 2 runs',
    );
    expect(deliveredText([run(1_000, 999)], 'messages')).toBe('999 / 1,000 messages');
  });

  it('marks a workload that lost a message LOST and exits 1; a clean one ok and 0', () => {
    const clean = measured(w1, [run(200_000, 200_000)]);
    const lossy = measured(w1, [run(200_000, 199_999)], ['delivered 199999 of 200000 expected']);
    const [cleanRow] = rowsOf(clean);
    const [lossyRow] = rowsOf(lossy);
    expect(cleanRow).toMatchObject({
      figure: 'W1 sync publish',
      value: '1.00 k msg/s',
      original: '64.6 k msg/s',
      delivered: '200,000 / 200,000 messages',
      check: 'ok',
    });
    expect(lossyRow).toMatchObject({ delivered: '199,999 / 200,000 messages', check: 'LOST' });
    expect(exitCode([clean])).toBe(0);
    expect(exitCode([clean, lossy])).toBe(1);
    expect(renderTable([cleanRow!, lossyRow!]).split('\n')[3]).toMatch(/LOST$/);
  });

  it('a workload that threw still gets a row, marked LOST', () => {
    const threw: Measured = { bench: w1, outcome: null, failures: ['threw Error: boom'] };
    expect(rowsOf(threw)).toEqual([
      {
        workload: 'W1',
        figure: 'sync publish',
        value: '-',
        original: '-',
        delivered: '-',
        check: 'LOST',
      },
    ]);
    expect(exitCode([threw])).toBe(1);
  });
});
