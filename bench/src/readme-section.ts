/**
 * Renders the README's performance section from the latest results file
 * (`results/<YYYY-MM-DD>.json`, latest date first) into `results/LATEST.md`,
 * to be spliced into README.md. Measured figures only: a figure that was not
 * measured in that file does not appear.
 *
 * Run: `node dist/readme-section.js` (the full bench runs it after writing
 * its results).
 */
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import type { ResultFile, ResultRow } from './report.js';
import { paths, referenceData } from './reference.js';
import { formatFigure, formatRatio } from './stats.js';

/** The newest `YYYY-MM-DD.json` in the results folder, or null if there is none. */
export function latestResultFile(): URL | null {
  let names: string[];
  try {
    names = readdirSync(paths.results).filter((n) => /^\d{4}-\d{2}-\d{2}\.json$/.test(n));
  } catch {
    return null;
  }
  names.sort();
  const last = names.at(-1);
  return last === undefined ? null : new URL(last, paths.results);
}

function row(r: ResultRow): string {
  const values = [
    `${r.label}`,
    `**${formatFigure(r.value, r.unit)}**`,
    r.baseline === null
      ? '-'
      : `${formatFigure(r.baseline.value, r.unit)} (${r.baseline.label}), ${formatRatio(r.ratio)}`,
    r.original === null ? '-' : formatFigure(r.original.value, r.original.unit),
    r.target === null ? '-' : `${r.target.text}: ${r.target.met === true ? 'met' : 'not yet'}`,
  ];
  return `| ${values.map((v) => v.replaceAll('|', '\\|')).join(' | ')} |`;
}

/** The README section for one results file. */
export function readmeSection(file: ResultFile, fileName: string): string {
  const provenance = referenceData().provenance['original'] ?? '';
  const suites = Object.entries(file.suites)
    .map(([suite, run]) => `${suite} at commit ${run.commit}`)
    .join(', ');
  const header = [
    'figure',
    'Ratatoskr',
    'plain Node, same run (ratio)',
    'original (Elixir)',
    'target (issue 6)',
  ];
  return [
    '## Performance',
    '',
    `Measured on ${file.date} (${suites}) on ${file.machine['cpu']}, ${file.machine['cores']} cores,`,
    `Node ${file.machine['node']}; medians of several runs after a warm-up. Each figure is printed`,
    'beside a plain-Node equivalent measured in the same process and run. The original column is',
    `the Elixir Ratatoskr's figure as quoted in issue 6. ${provenance}`,
    '',
    `| ${header.join(' | ')} |`,
    `| ${header.map(() => '---').join(' | ')} |`,
    ...file.rows.map(row),
    '',
    `Generated from \`bench/results/${fileName}\`; how each figure is measured is in`,
    `\`bench/results/${fileName.replace(/\.json$/, '.md')}\`. Reproduce with \`npx -y pnpm@10.34.9 bench\`.`,
    '',
  ].join('\n');
}

/** Writes `results/LATEST.md` from the newest results file; returns its path, or null if none. */
export function writeReadmeSection(): URL | null {
  const latest = latestResultFile();
  if (latest === null) return null;
  const file = JSON.parse(readFileSync(latest, 'utf8')) as ResultFile;
  const name = latest.pathname.split('/').at(-1)!;
  const out = new URL('LATEST.md', paths.results);
  writeFileSync(out, readmeSection(file, name));
  return out;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const out = writeReadmeSection();
  if (out === null) {
    console.error('no results file in bench/results/: run the benchmarks first');
    process.exit(1);
  }
  console.log(`wrote ${out.pathname}`);
}
