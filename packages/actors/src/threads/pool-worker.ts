/**
 * The function every piscina worker of a `TaskPool` runs: it imports the
 * named module (once per worker), calls the named export with the argument,
 * and returns the result. Results and errors are returned encoded: an error
 * keeps its class name, `code` and stack across the thread boundary, and a
 * result that cannot cross fails with `UncloneableError` saying where.
 */
import { crosses, encode, encodeSafe, UncloneableError } from './codec.js';
import { loadExport } from './load.js';

interface PoolTask {
  module: string;
  export: string;
  arg: unknown;
}

export default async function runPoolTask(
  task: PoolTask,
): Promise<{ ok: unknown } | { error: unknown }> {
  try {
    const fn = await loadExport(task.module, task.export, 'function');
    const value = await (fn as (arg: unknown) => unknown)(task.arg);
    const data = encode(value).data;
    if (!crosses(data)) {
      throw new UncloneableError('result', 'value the structured clone refused (a Proxy, say)');
    }
    return { ok: data };
  } catch (error) {
    return { error: encodeSafe(error) };
  }
}
