/**
 * The broker suite (issue 6: W1-W5 and M). Empty until `@ratatoskr/broker`
 * exposes its API.
 */
import type { Benchmark } from './harness.js';

export const brokerSuite: readonly Benchmark[] = [];
