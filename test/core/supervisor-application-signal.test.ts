/**
 * `Application` and real signals: a Node subprocess that imports the built
 * `@ratatoskr/actors` (build it first with
 * `npx tsc -p packages/actors/tsconfig.json`) starts a tree, receives an
 * actual SIGTERM or SIGINT, stops its tree in reverse order and then ends
 * by that signal, as it would have without handlers.
 */
import { spawn } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const testRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function script(exitOnSignal: boolean): string {
  return `
import { ActorSystem, Application, childSpec, ok } from '@ratatoskr/actors';
const system = new ActorSystem();
const worker = (name) =>
  childSpec(
    {
      init(_args, ctx) {
        ctx.trapExit(true);
        console.log('start ' + name);
        return ok(0);
      },
      terminate() {
        console.log('stop ' + name);
      },
    },
    undefined,
    { id: name },
  );
const app = await Application.start(system, [worker('a'), worker('b'), worker('c')], {
  exitOnSignal: ${exitOnSignal},
});
const keepAlive = setInterval(() => {}, 1000);
app.exited.then((reason) => {
  console.log('exited ' + reason);
  clearInterval(keepAlive);
});
console.log('ready');
`;
}

interface Run {
  lines: string[];
  code: number | null;
  signal: NodeJS.Signals | null;
}

function runAndSignal(signal: NodeJS.Signals, exitOnSignal: boolean): Promise<Run> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script(exitOnSignal)], {
      cwd: testRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`subprocess did not finish; stdout: ${out} stderr: ${err}`));
    }, 15_000);
    child.stdout.on('data', (chunk: Buffer) => {
      const before = out;
      out += chunk.toString();
      if (!before.includes('ready') && out.includes('ready')) child.kill(signal);
    });
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code, exitSignal) => {
      clearTimeout(timer);
      if (err.length > 0) reject(new Error(`subprocess wrote to stderr: ${err}`));
      else resolvePromise({ lines: out.trim().split('\n'), code, signal: exitSignal });
    });
  });
}

describe('Application with real signals', () => {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`${signal} stops the tree in reverse order, then the process ends by ${signal}`, async () => {
      const run = await runAndSignal(signal, true);
      expect(run.lines.slice(0, 4)).toEqual(['start a', 'start b', 'start c', 'ready']);
      expect(run.lines.slice(4, 7)).toEqual(['stop c', 'stop b', 'stop a']);
      expect(run).toMatchObject({ code: null, signal });
    });
  }

  it('with exitOnSignal false the process goes on after the tree stopped', async () => {
    const run = await runAndSignal('SIGTERM', false);
    expect(run.lines).toEqual([
      'start a',
      'start b',
      'start c',
      'ready',
      'stop c',
      'stop b',
      'stop a',
      'exited shutdown',
    ]);
    expect(run).toMatchObject({ code: 0, signal: null });
  });
});
