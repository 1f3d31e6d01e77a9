import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const actors = fileURLToPath(new URL('../../packages/actors/dist/index.js', import.meta.url));

function runScript(source: string): { status: number | null; stdout: string } {
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', source], {
    encoding: 'utf8',
    timeout: 20_000,
  });
  return { status: run.status, stdout: run.stdout };
}

describe('the Node process lives while someone waits on the runtime', () => {
  // Regression: runtime timers were unref'd, so a script awaiting a call with
  // a timeout ended (status 13, unsettled top-level await) before the call
  // could reject; its catch never ran.
  it('a script awaiting a call that times out sees the rejection, then exits by itself', () => {
    const { status, stdout } = runScript(`
      import { ActorSystem, GenServer, ok, noreply } from ${JSON.stringify(actors)};
      const system = new ActorSystem();
      const pid = await GenServer.start(system, { init: () => ok(0), handleCall: (r, f, s) => noreply(s) }, undefined);
      try {
        await system.call(pid, 'never answered', 200);
      } catch (error) {
        console.log('rejected', error.code);
      }
    `);
    expect(stdout.trim()).toBe('rejected call_timeout');
    expect(status).toBe(0);
  });

  it('an idle system does not keep the process alive after its calls were answered', () => {
    const started = Date.now();
    const { status, stdout } = runScript(`
      import { ActorSystem, GenServer, ok, reply } from ${JSON.stringify(actors)};
      const system = new ActorSystem();
      const pid = await GenServer.start(system, { init: () => ok(0), handleCall: (r, f, s) => reply(s, s) }, undefined);
      for (let i = 0; i < 100; i++) await system.call(pid, 'x');
      console.log('done');
    `);
    expect(stdout.trim()).toBe('done');
    expect(status).toBe(0);
    // Well before the default 5 s call timeout: the idle timeout timer holds nothing open.
    expect(Date.now() - started).toBeLessThan(4000);
  });
});
