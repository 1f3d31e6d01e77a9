/**
 * Runs one workload over and over for a few seconds, for `node --cpu-prof`:
 * `node --cpu-prof dist/profile/driver.js cast [seconds]`. Workloads: the
 * keys of `runtimeWorkloads` (cast, call, call-infinity, pingpong, spawn,
 * spawn-kill), of `threadsWorkloads` (threads-cast, threads-t2t,
 * threads-call; their thread nodes write profiles of their own), and the
 * broker's throughput workloads (w1, w2, w3).
 */
import { w1Broker, w2Broker, w3Broker } from '../broker-throughput.js';
import { runtimeWorkloads } from '../runtime-suite.js';
import { threadsWorkloads } from '../threads-suite.js';

const workloads: Readonly<
  Record<string, (scale: { quick: boolean }) => Promise<{ delivered: number; expected: number }>>
> = {
  ...runtimeWorkloads,
  ...threadsWorkloads,
  w1: w1Broker,
  w2: w2Broker,
  w3: w3Broker,
};

async function drive(name: string, seconds: number): Promise<void> {
  const workload = workloads[name];
  if (workload === undefined) {
    throw new Error(
      `unknown workload ${JSON.stringify(name)}; one of ${Object.keys(workloads).join(', ')}`,
    );
  }
  const end = performance.now() + seconds * 1000;
  let runs = 0;
  while (performance.now() < end) {
    const outcome = await workload({ quick: false });
    if (outcome.delivered !== outcome.expected) {
      throw new Error(`${name}: delivered ${outcome.delivered} of ${outcome.expected}`);
    }
    runs++;
  }
  console.log(`${name}: ${runs} run(s) in ${seconds} s`);
}

drive(process.argv[2] ?? 'cast', Number(process.argv[3] ?? 4)).then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
