/**
 * Reference figures from `data/original.json`: the Elixir original's
 * measurements and the plain-Node ceilings quoted in issue 6 (with their
 * provenance), and the targets, which the report checks each figure
 * against.
 */
import { readFileSync } from 'node:fs';

/** A quoted figure and where it came from. */
export interface QuotedFigure {
  readonly value: number;
  readonly unit: string;
  readonly note: string;
}

/** A target from issue 6: `min`/`max` bound the figure, `minRatio` its ratio to the baseline. */
export interface Target {
  readonly text: string;
  readonly min?: number;
  readonly max?: number;
  readonly minRatio?: number;
}

export interface ReferenceData {
  readonly provenance: Readonly<Record<string, string>>;
  readonly original: Readonly<Record<string, QuotedFigure>>;
  readonly ceilings: Readonly<Record<string, QuotedFigure>>;
  readonly targets: Readonly<Record<string, Target>>;
}

/** Where the package's data, results and built code sit, resolved from this module. */
export const paths = {
  data: new URL('../data/original.json', import.meta.url),
  results: new URL('../results/', import.meta.url),
};

let cached: ReferenceData | null = null;

/** Reads `data/original.json` once. */
export function referenceData(): ReferenceData {
  cached ??= JSON.parse(readFileSync(paths.data, 'utf8')) as ReferenceData;
  return cached;
}

/** Whether `value` (with `ratio` to its baseline) meets `target`. */
export function meetsTarget(target: Target, value: number, ratio: number | null): boolean {
  if (target.min !== undefined && !(value >= target.min)) return false;
  if (target.max !== undefined && !(value <= target.max)) return false;
  if (target.minRatio !== undefined && !(ratio !== null && ratio >= target.minRatio)) return false;
  return true;
}
