/**
 * Profiles runtime hot paths: for each workload, runs the driver under
 * `node --cpu-prof` and prints the functions with the most self time, for
 * each thread that wrote a profile (the main thread, and the thread nodes of
 * the threads workloads).
 *
 * Usage: node dist/profile/run.js [workload ...] [--seconds N] [--top N] [--no-inline]
 * (default workloads: cast call). With `--no-inline`, V8 inlines nothing
 * (`--no-turbo-inlining`): slower overall, but each function's own cost is
 * attributed to it instead of to the caller it was inlined into. Profiles are written to `bench/profiles/`
 * (not committed) and can be opened in Chrome DevTools or speedscope for a
 * flame graph.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { mergeSelfTimes, readProfile, renderTop, selfTimes } from './top.js';

const driver = fileURLToPath(new URL('./driver.js', import.meta.url));
const outDir = fileURLToPath(new URL('../../profiles/', import.meta.url));

function option(args: string[], name: string, fallback: number): number {
  const i = args.indexOf(name);
  if (i < 0) return fallback;
  const value = Number(args[i + 1]);
  args.splice(i, 2);
  return value;
}

function profile(workload: string, seconds: number, top: number, flags: string[]): void {
  const dir = `${outDir}${workload}`;
  mkdirSync(dir, { recursive: true });
  const before = new Set(readdirSync(dir));
  const run = spawnSync(
    process.execPath,
    [
      ...flags,
      '--expose-gc',
      '--cpu-prof',
      `--cpu-prof-dir=${dir}`,
      driver,
      workload,
      String(seconds),
    ],
    { stdio: 'inherit' },
  );
  if (run.status !== 0) throw new Error(`driver for ${workload} exited with ${run.status}`);
  const written = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile') && !before.has(f));
  if (written.length === 0) throw new Error(`no profile written for ${workload}`);
  const mode = flags.length > 0 ? ` (${flags.join(' ')})` : '';
  // Node names profiles `CPU.<date>.<time>.<pid>.<thread id>.<seq>.cpuprofile`; each run of
  // a threads workload starts new thread nodes, so theirs are merged into one table.
  const main = written.filter((f) => f.split('.').at(-3) === '0');
  const nodes = written.filter((f) => !main.includes(f));
  for (const [where, files] of [
    ['main thread', main],
    [`thread nodes (${nodes.length} profiles merged)`, nodes],
  ] as const) {
    if (files.length === 0) continue;
    const merged = mergeSelfTimes(files.map((f) => selfTimes(readProfile(`${dir}/${f}`))));
    console.log(`\n== ${workload}${mode}, ${where}: top ${top} by self time (${dir})`);
    console.log(renderTop(merged, top));
  }
}

const args = process.argv.slice(2);
const seconds = option(args, '--seconds', 4);
const top = option(args, '--top', 15);
const noInline = args.indexOf('--no-inline');
if (noInline >= 0) args.splice(noInline, 1);
const flags = noInline >= 0 ? ['--no-turbo-inlining'] : [];
for (const workload of args.length > 0 ? args : ['cast', 'call']) {
  profile(workload, seconds, top, flags);
}
