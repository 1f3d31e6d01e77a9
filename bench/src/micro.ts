/**
 * Micro benchmarks through tinybench: synchronous operations too fast to
 * time one by one. Each tinybench iteration performs `batch` operations, so
 * the timer's own cost (tens of nanoseconds) is spread over the batch; the
 * figure is operations per second at the median iteration time.
 */
import { Bench } from 'tinybench';
import type { Scale } from './harness.js';

/** A named synchronous batch of `batch` operations. */
export interface MicroTask {
  readonly name: string;
  readonly batch: number;
  readonly fn: () => void;
}

/** Runs `tasks` with tinybench; returns each task's operations/s at its median iteration time. */
export async function microRates(
  scale: Scale,
  tasks: readonly MicroTask[],
): Promise<Record<string, number>> {
  const bench = new Bench({
    time: scale.quick ? 50 : 400,
    warmupTime: scale.quick ? 20 : 100,
    iterations: 10,
    warmupIterations: 5,
  });
  for (const task of tasks) bench.add(task.name, task.fn);
  await bench.run();
  const rates: Record<string, number> = {};
  for (const task of tasks) {
    const result = bench.getTask(task.name)?.result;
    if (result === undefined || !('latency' in result)) {
      const error = result !== undefined && 'error' in result ? result.error : undefined;
      throw new Error(`micro benchmark ${task.name} did not complete`, { cause: error });
    }
    rates[task.name] = task.batch / (result.latency.p50 / 1000);
  }
  return rates;
}
