/**
 * Reads a V8 `.cpuprofile` (from `node --cpu-prof`) and lists the functions
 * with the most self time, with their share of the sampled time.
 *
 * Self time of a sample is the time delta to the next sample, attributed to
 * the function on top of the stack. Functions are keyed by name and source
 * position, so two closures of one name in different places stay apart.
 */
import { readFileSync } from 'node:fs';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** One line of the report. */
export interface SelfTime {
  readonly name: string;
  readonly where: string;
  readonly micros: number;
  readonly share: number;
}

function location(frame: CallFrame): string {
  if (frame.url === '') return '';
  const short = frame.url
    .replace(/^file:\/\//, '')
    .replace(/^.*?\/(packages|bench|node_modules)\//, '$1/');
  return `${short}:${frame.lineNumber + 1}`;
}

/** Self time per function, largest first. */
export function selfTimes(profile: CpuProfile): SelfTime[] {
  const frames = new Map<number, CallFrame>();
  for (const node of profile.nodes) frames.set(node.id, node.callFrame);
  const totals = new Map<string, { name: string; where: string; micros: number }>();
  let all = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const micros = profile.timeDeltas[i + 1] ?? 0;
    const frame = frames.get(profile.samples[i]!);
    if (frame === undefined) continue;
    const name = frame.functionName === '' ? '(anonymous)' : frame.functionName;
    const where = location(frame);
    const key = `${name}@${where}`;
    const entry = totals.get(key) ?? { name, where, micros: 0 };
    entry.micros += micros;
    totals.set(key, entry);
    all += micros;
  }
  return [...totals.values()]
    .map((t) => ({ ...t, share: all === 0 ? 0 : t.micros / all }))
    .sort((a, b) => b.micros - a.micros);
}

/** Sums the self times of several profiles (each thread node of a run, say); shares of the sum. */
export function mergeSelfTimes(lists: readonly (readonly SelfTime[])[]): SelfTime[] {
  const totals = new Map<string, { name: string; where: string; micros: number }>();
  let all = 0;
  for (const list of lists) {
    for (const entry of list) {
      const key = `${entry.name}@${entry.where}`;
      const total = totals.get(key) ?? { name: entry.name, where: entry.where, micros: 0 };
      total.micros += entry.micros;
      totals.set(key, total);
      all += entry.micros;
    }
  }
  return [...totals.values()]
    .map((t) => ({ ...t, share: all === 0 ? 0 : t.micros / all }))
    .sort((a, b) => b.micros - a.micros);
}

/** Renders the top `count` entries as lines: share, milliseconds, function, source. */
export function renderTop(entries: readonly SelfTime[], count: number): string {
  return entries
    .slice(0, count)
    .map(
      (e) =>
        `${(e.share * 100).toFixed(1).padStart(5)}%  ${(e.micros / 1000).toFixed(0).padStart(6)} ms  ${e.name.padEnd(28)} ${e.where}`,
    )
    .join('\n');
}

/** Reads and parses a profile file. */
export function readProfile(path: string): CpuProfile {
  return JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
}
