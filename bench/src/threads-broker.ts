/**
 * The broker with its topic servers on thread nodes (`Broker.start({ threads })`),
 * under W2's traffic: topics with one callback subscriber each, concurrent
 * publishers each awaiting every publish, round-robin over the topics. 1,000
 * topics, 100 publishers, 200,000 messages (a fifth of W2's, so that a run
 * with topics on threads stays within a few seconds).
 *
 * Besides throughput and publish latency, the main thread's event-loop delay
 * is sampled while the load runs (`perf_hooks.monitorEventLoopDelay`, 1 ms
 * resolution): how late a 1 ms timer fires, i.e. the histogram's value
 * minus the 1 ms interval (0 when the timer fired on time or early).
 * Subscriber callbacks run on the main thread in every mode, so this says
 * how much of the broker's work the main thread still carries.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { w2Run, type LoadProbe, type W2Size } from './broker-throughput.js';
import { sized, type RunOutcome, type Scale } from './harness.js';

const RESOLUTION_MS = 1;

/** The event-loop delay of this thread while a load runs: P50, P99 and max in microseconds. */
function eventLoopDelay(): LoadProbe {
  const histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  const late = (ns: number): number => Math.max(0, ns / 1000 - RESOLUTION_MS * 1000);
  return {
    start: () => histogram.enable(),
    stop: () => {
      histogram.disable();
      return {
        'eld.p50': late(histogram.percentile(50)),
        'eld.p99': late(histogram.percentile(99)),
        'eld.max': late(histogram.max),
      };
    },
  };
}

function size(scale: Scale): W2Size {
  const publishers = sized(scale, 100, 10);
  const n = sized(scale, 200_000, 5_000);
  return { topics: sized(scale, 1_000, 50), publishers, perPublisher: n / publishers };
}

/** The load against a broker whose topics run on `threads` thread nodes (0: on the main thread). */
export function brokerOnThreads(threads: number): (scale: Scale) => Promise<RunOutcome> {
  return (scale) => w2Run(size(scale), { threads }, eventLoopDelay());
}
