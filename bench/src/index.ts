/**
 * @ratatoskr/bench as a library: the benchmark harness and the workloads of
 * the suites, for programs that run them their own way (the load-test
 * example runs the broker workloads W1-W5 and prints them as a table).
 *
 * The command-line entry is `main.ts`; nothing here runs on import.
 */
export { measure, progress, sized, forceGc, settledHeap, gcFunction, nextTurn } from './harness.js';
export type {
  Benchmark,
  BenchOutcome,
  FigureResult,
  FigureSpec,
  RunCheck,
  RunOutcome,
  Scale,
  Workload,
} from './harness.js';
export { brokerSuite } from './broker-suite.js';
export {
  w1Broker,
  w1Baseline,
  w2Broker,
  w2Baseline,
  w3Broker,
  w3Baseline,
} from './broker-throughput.js';
export { w4Broker, w4Baseline, w5Broker } from './broker-latency.js';
export { memoryBroker, memoryBaseline } from './broker-memory.js';
export { runtimeSuite } from './runtime-suite.js';
export { threadsSuite } from './threads-suite.js';
export { referenceData, meetsTarget } from './reference.js';
export { machine } from './report.js';
export type { QuotedFigure, ReferenceData, Target } from './reference.js';
export { formatBytes, formatCount, formatFigure, formatRatio, median } from './stats.js';
