/**
 * Results: the rows a run produced, the table printed to stdout, and the
 * files written to `results/<YYYY-MM-DD>.json` and `.md`.
 *
 * A day's file holds the latest figures of each suite measured that day: a
 * run of one suite replaces that suite's rows and keeps the others', so the
 * runtime and broker suites may be measured in separate runs.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import type { FigureResult } from './harness.js';
import { meetsTarget, paths, referenceData, type QuotedFigure } from './reference.js';
import { formatFigure, formatRatio } from './stats.js';

/** One figure as stored: the measurement, its original and its target. */
export interface ResultRow extends FigureResult {
  readonly original: QuotedFigure | null;
  /** `met` is null when the run was too small to judge (quick mode). */
  readonly target: { text: string; met: boolean | null } | null;
}

/** Where and when a suite was measured. */
export interface SuiteRun {
  readonly at: string;
  readonly commit: string;
  readonly seconds: number;
}

/** The content of `results/<date>.json`. */
export interface ResultFile {
  readonly schema: 1;
  readonly date: string;
  readonly machine: Readonly<Record<string, string | number>>;
  readonly suites: Record<string, SuiteRun>;
  readonly rows: ResultRow[];
}

/** Attaches the original's figure and the target (judged only when `judge`) to each figure. */
export function toRows(figures: readonly FigureResult[], judge: boolean): ResultRow[] {
  const data = referenceData();
  return figures.map((f) => {
    const target = data.targets[f.id];
    return {
      ...f,
      original: f.originalKey === null ? null : (data.original[f.originalKey] ?? null),
      target:
        target === undefined
          ? null
          : { text: target.text, met: judge ? meetsTarget(target, f.value, f.ratio) : null },
    };
  });
}

/** The commit measured, marked `-dirty` when packages/ has uncommitted changes. */
export function currentCommit(): string {
  try {
    const cwd = new URL('..', paths.results).pathname;
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd, encoding: 'utf8' });
    const dirty = execFileSync(
      'git',
      ['status', '--porcelain', '--untracked-files=no', '--', '../packages'],
      { cwd, encoding: 'utf8' },
    );
    return `${head.trim()}${dirty.trim() === '' ? '' : '-dirty'}`;
  } catch {
    return 'unknown';
  }
}

/** The machine, as far as Node can see it. */
export function machine(): Record<string, string | number> {
  return {
    node: process.version,
    v8: process.versions.v8,
    platform: `${os.platform()} ${os.arch()}`,
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.availableParallelism(),
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
  };
}

// ---------------------------------------------------------------- stdout table

const COLUMNS = ['figure', 'Ratatoskr', 'baseline (same run)', 'ratio', 'original', 'target'];

function cells(row: ResultRow): string[] {
  return [
    row.label,
    formatFigure(row.value, row.unit),
    row.baseline === null ? '-' : formatFigure(row.baseline.value, row.unit),
    formatRatio(row.ratio),
    row.original === null ? '-' : formatFigure(row.original.value, row.original.unit),
    row.target === null ? '-' : `${verdict(row.target.met)} (${row.target.text})`,
  ];
}

function verdict(met: boolean | null): string {
  if (met === null) return 'not judged';
  return met ? 'met' : 'MISSED';
}

/** A fixed-width table of rows for the terminal. */
export function textTable(rows: readonly ResultRow[]): string {
  const body = rows.map(cells);
  const widths = COLUMNS.map((c, i) => Math.max(c.length, ...body.map((r) => r[i]!.length)));
  const line = (r: string[]): string => r.map((c, i) => c.padEnd(widths[i]!)).join('  ');
  return [line(COLUMNS), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

// ---------------------------------------------------------------- markdown

function mdRow(values: readonly string[]): string {
  return `| ${values.map((v) => v.replaceAll('|', '\\|')).join(' | ')} |`;
}

/** The results file as markdown: the table, then how each figure was measured. */
export function markdown(file: ResultFile): string {
  const lines = [
    `# Benchmark results, ${file.date}`,
    '',
    `Machine: ${Object.entries(file.machine)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}.`,
    ...Object.entries(file.suites).map(
      ([suite, run]) =>
        `Suite \`${suite}\`: commit ${run.commit}, measured ${run.at}, ${run.seconds.toFixed(0)} s.`,
    ),
    '',
    'Medians of the measured runs. The baseline is a plain-Node equivalent measured in the same',
    "process and run; ratio = Ratatoskr / baseline. Original: the Elixir Ratatoskr's figure as",
    'quoted in issue 6 (see `data/original.json`).',
    '',
    mdRow(COLUMNS),
    mdRow(COLUMNS.map(() => '---')),
    ...file.rows.map((r) => mdRow(cells(r))),
    '',
    '## How each figure was measured',
    '',
  ];
  const seen = new Set<string>();
  for (const row of file.rows) {
    if (seen.has(row.bench)) continue;
    seen.add(row.bench);
    const base = row.baseline === null ? '' : ` Baseline: ${row.baseline.label}.`;
    lines.push(`- \`${row.bench}\` (${row.title}): ${row.method}.${base}`);
  }
  lines.push('', '## Samples', '');
  for (const row of file.rows) {
    const base =
      row.baseline === null ? '' : `; baseline ${row.baseline.samples.map(round).join(', ')}`;
    lines.push(`- \`${row.id}\` (${row.unit}): ${row.samples.map(round).join(', ')}${base}`);
  }
  return `${lines.join('\n')}\n`;
}

function round(value: number): string {
  return Math.abs(value) >= 100 ? value.toFixed(0) : value.toPrecision(3);
}

// ---------------------------------------------------------------- files

/** Today's date, as the results file is named. */
export function today(): string {
  return new Date().toISOString().slice(0, 10);
}

/** Merges `rows` of `suites` into today's results file and writes its JSON and markdown. */
export function writeResults(
  rows: readonly ResultRow[],
  runs: Readonly<Record<string, SuiteRun>>,
): URL {
  mkdirSync(paths.results, { recursive: true });
  const date = today();
  const jsonPath = new URL(`${date}.json`, paths.results);
  const previous = existsSync(jsonPath)
    ? (JSON.parse(readFileSync(jsonPath, 'utf8')) as ResultFile)
    : null;
  const replaced = new Set(Object.keys(runs));
  const file: ResultFile = {
    schema: 1,
    date,
    machine: machine(),
    suites: { ...(previous?.suites ?? {}), ...runs },
    rows: [...(previous?.rows.filter((r) => !replaced.has(r.suite)) ?? []), ...rows],
  };
  file.rows.sort((a, b) => suiteOrder(a.suite) - suiteOrder(b.suite));
  writeFileSync(jsonPath, `${JSON.stringify(file, null, 2)}\n`);
  writeFileSync(new URL(`${date}.md`, paths.results), markdown(file));
  return jsonPath;
}

const SUITE_ORDER: readonly string[] = ['broker', 'runtime', 'threads'];

function suiteOrder(suite: string): number {
  const at = SUITE_ORDER.indexOf(suite);
  return at < 0 ? SUITE_ORDER.length : at;
}
