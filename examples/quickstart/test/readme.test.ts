/**
 * The READMEs' broker snippets run as written. Each snippet is a file of
 * this example (`src/readme/`), compiled with the repository's strict
 * settings against the built packages; this test checks that the README
 * shows that file verbatim and that running it prints what the README says.
 * Regression: the broker README's first snippet waited in `for await`
 * before publishing (and failed to compile), and the root README's never
 * printed (`stop()` discarded the message queued for its subscriber).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const repo = fileURLToPath(new URL('../../..', import.meta.url));

/** The fenced blocks of a markdown file, with their info string. */
function blocks(file: string): { lang: string; body: string }[] {
  const text = readFileSync(`${repo}/${file}`, 'utf8');
  return [...text.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)].map((m) => ({
    lang: m[1]!,
    body: m[2]!,
  }));
}

function run(snippet: string): string {
  return execFileSync(process.execPath, [`dist/readme/${snippet}.js`], {
    cwd: root,
    encoding: 'utf8',
    timeout: 30_000,
  });
}

/** Message ids carry a random prefix: compare them as a placeholder. */
const normalize = (text: string): string =>
  text.trim().replace(/\b[0-9a-f]{10}-[0-9a-z]+\b/g, '<id>');

describe('README snippets', () => {
  beforeAll(() => {
    execFileSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: root, stdio: 'pipe' });
  }, 60_000);

  it("the broker README's first snippet is src/readme/broker-readme.ts and prints what the README shows", () => {
    const source = readFileSync(`${root}/src/readme/broker-readme.ts`, 'utf8');
    const all = blocks('packages/broker/README.md');
    const index = all.findIndex((b) => b.lang === 'ts');
    expect(all[index]!.body).toBe(source);
    const shown = all[index + 1]!;
    expect(shown.lang).toBe('text');
    expect(normalize(run('broker-readme'))).toBe(normalize(shown.body));
  });

  it("the root README's broker snippet is src/readme/first-look.ts and prints what its comments say", () => {
    const source = readFileSync(`${root}/src/readme/first-look.ts`, 'utf8');
    const snippet = blocks('README.md').find((b) => b.body.includes("from '@ratatoskr/broker'"));
    expect(snippet?.body).toBe(source);
    const expected = [...source.matchAll(/^console\.log\(.*\); \/\/ (.*)$/gm)].map((m) => m[1]);
    expect(run('first-look').trim().split('\n')).toEqual(expected);
  });
});
