/**
 * The function every piscina worker of a `TaskPool` runs: it imports the
 * named module (once per worker), calls the named export with the argument,
 * and returns the result. Errors are returned encoded, so they keep their
 * class name, `code` and stack across the thread boundary.
 */
import { pathToFileURL } from 'node:url';
import { encode } from './codec.js';

interface PoolTask {
  module: string;
  export: string;
  arg: unknown;
}

const modules = new Map<string, Promise<Record<string, unknown>>>();

function load(specifier: string): Promise<Record<string, unknown>> {
  let mod = modules.get(specifier);
  if (mod === undefined) {
    const url = specifier.startsWith('/') ? pathToFileURL(specifier).href : specifier;
    mod = import(url) as Promise<Record<string, unknown>>;
    modules.set(specifier, mod);
  }
  return mod;
}

export default async function runPoolTask(
  task: PoolTask,
): Promise<{ ok: unknown } | { error: unknown }> {
  try {
    const mod = await load(task.module);
    const fn = mod[task.export];
    if (typeof fn !== 'function') {
      throw new TypeError(
        `module ${task.module} has no function export ${JSON.stringify(task.export)}`,
      );
    }
    return { ok: await (fn as (arg: unknown) => unknown)(task.arg) };
  } catch (error) {
    return { error: encode(error).data };
  }
}
