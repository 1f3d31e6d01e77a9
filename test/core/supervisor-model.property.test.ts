/**
 * Model-based test of `Supervisor` against a small pure model of OTP's
 * rules. Random sequences of commands (start a child, make a child exit with
 * any reason, terminate / restart / delete a child, advance the simulated
 * clock, make a child's next starts fail) run against a real supervisor, for every strategy, restart type and
 * a range of intensities; after every step the live children, their order,
 * how often each was started and whether the supervisor gave up must equal
 * the model's.
 *
 * Imports the built package, as a user would: build it first with
 * `npx tsc -p packages/actors/tsconfig.json`.
 *
 * Every counterexample fast-check ever found is kept below as a named
 * regression test replaying its exact sequence.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ActorSystem,
  GenServer,
  SimulatedClock,
  Supervisor,
  noreply,
  ok,
  stop,
  type ChildSpec,
  type ExitReason,
  type Pid,
  type RestartType,
  type Strategy,
} from '@ratatoskr/actors';

type Reason = 'normal' | 'shutdown' | 'error' | 'kill';

type Command =
  | { kind: 'start'; id: string; restart: RestartType }
  | { kind: 'exit'; slot: number; reason: Reason }
  | { kind: 'terminate'; slot: number }
  | { kind: 'restart'; slot: number }
  | { kind: 'delete'; slot: number }
  | { kind: 'advance'; ms: number }
  | { kind: 'refuse'; id: string; times: number };

interface Config {
  strategy: Strategy;
  maxRestarts: number;
  maxSeconds: number;
  initial: { id: string; restart: RestartType }[];
}

// ------------------------------------------------------------------ the model

interface ModelChild {
  id: string;
  restart: RestartType;
  running: boolean;
}

/**
 * What OTP says a supervisor does. A start of `id` fails while
 * `failures[id] > 0`; a failed restart is retried at once as a new restart
 * (the real supervisor retries by a message to itself; the test waits for
 * it to settle before comparing).
 */
class Model {
  alive = true;
  now = 0;
  children: ModelChild[] = [];
  readonly starts: Record<string, number> = {};
  readonly failures: Record<string, number> = {};
  private stamps: number[] = [];

  constructor(private readonly config: Config) {
    for (const { id, restart } of config.initial) {
      this.children.push({ id, restart, running: true });
      this.started(id);
    }
  }

  private started(id: string): void {
    this.starts[id] = (this.starts[id] ?? 0) + 1;
  }

  /** Counts a start attempt of `id`; returns whether it succeeds. */
  private attempt(id: string): boolean {
    this.started(id);
    if ((this.failures[id] ?? 0) === 0) return true;
    this.failures[id]!--;
    return false;
  }

  refuse(id: string, times: number): void {
    this.failures[id] = (this.failures[id] ?? 0) + times;
  }

  private find(id: string): ModelChild | undefined {
    return this.children.find((c) => c.id === id);
  }

  private remove(child: ModelChild): void {
    this.children = this.children.filter((c) => c !== child);
  }

  startChild(id: string, restart: RestartType): string {
    const existing = this.find(id);
    if (existing !== undefined) return existing.running ? 'already_started' : 'already_present';
    if (!this.attempt(id)) return 'start_failed';
    this.children.push({ id, restart, running: true });
    return 'ok';
  }

  childExited(id: string, reason: Reason): void {
    const child = this.find(id)!;
    child.running = false;
    const orderly = reason === 'normal' || reason === 'shutdown';
    const wanted = child.restart === 'permanent' || (child.restart === 'transient' && !orderly);
    if (!wanted) {
      if (child.restart === 'temporary') this.remove(child);
      return;
    }
    this.restart(child);
  }

  private restart(child: ModelChild): void {
    this.stamps.push(this.now);
    this.stamps = this.stamps.filter((t) => t >= this.now - this.config.maxSeconds * 1000);
    if (this.stamps.length > this.config.maxRestarts) {
      this.alive = false;
      this.children = [];
      return;
    }
    const group = this.group(child);
    for (const sibling of group) {
      if (sibling === child) continue;
      sibling.running = false;
      if (sibling.restart === 'temporary') this.remove(sibling);
    }
    for (const member of group) {
      if (!this.children.includes(member) || member.running) continue;
      if (!this.attempt(member.id)) {
        this.restart(member); // the retry: a restart of its own
        return;
      }
      member.running = true;
    }
  }

  private group(child: ModelChild): ModelChild[] {
    if (this.config.strategy === 'one_for_one') return [child];
    if (this.config.strategy === 'one_for_all') return [...this.children];
    return this.children.slice(this.children.indexOf(child));
  }

  terminate(id: string): string {
    const child = this.find(id);
    if (child === undefined) return 'not_found';
    child.running = false;
    if (child.restart === 'temporary') this.remove(child);
    return 'ok';
  }

  restartChild(id: string): string {
    const child = this.find(id);
    if (child === undefined) return 'not_found';
    if (child.running) return 'running';
    if (!this.attempt(id)) return 'start_failed';
    child.running = true;
    return 'ok';
  }

  deleteChild(id: string): string {
    const child = this.find(id);
    if (child === undefined) return 'not_found';
    if (child.running) return 'running';
    this.remove(child);
    return 'ok';
  }
}

// ------------------------------------------------------------------ the real thing

type Order = { reason: ExitReason };

/** A child that exits with the reason it is told to. */
const obedient: GenServer<null, string> = {
  init: () => ok(null),
  handleCast: (message, state) => stop((message as Order).reason, state),
  handleCall: (_request, _from, state) => noreply(state),
};

class Real {
  readonly clock = new SimulatedClock();
  readonly system = new ActorSystem({ clock: this.clock });
  readonly starts: Record<string, number> = {};
  readonly failures: Record<string, number> = {};
  sup!: Pid;

  constructor(private readonly config: Config) {}

  spec(id: string, restart: RestartType): ChildSpec {
    return {
      id,
      restart,
      start: (ctx) => {
        this.starts[id] = (this.starts[id] ?? 0) + 1;
        if ((this.failures[id] ?? 0) > 0) {
          this.failures[id]!--;
          throw new Error(`${id} refuses to start`);
        }
        return GenServer.startLink(ctx, obedient, id);
      },
    };
  }

  async boot(): Promise<void> {
    const { strategy, maxRestarts, maxSeconds, initial } = this.config;
    this.sup = await Supervisor.start(
      this.system,
      initial.map((c) => this.spec(c.id, c.restart)),
      { strategy, maxRestarts, maxSeconds },
    );
  }

  /**
   * Waits until the supervisor has handled everything queued so far (or has
   * exited), retries of failed restarts included: each retry is a message
   * the supervisor sends itself, so there is one more round per failure
   * still armed, plus slack.
   */
  async sync(): Promise<void> {
    const rounds = Object.values(this.failures).reduce((a, b) => a + b, 0) + 2;
    for (let i = 0; i < rounds; i++) {
      await new Promise((resolve) => setImmediate(resolve));
      await Supervisor.countChildren(this.system, this.sup).catch(() => undefined);
    }
  }

  async pidOf(id: string): Promise<Pid> {
    const children = await Supervisor.whichChildren(this.system, this.sup);
    return children.find((c) => c.id === id)!.pid!;
  }

  async makeExit(id: string, reason: Reason): Promise<void> {
    const pid = await this.pidOf(id);
    if (reason === 'kill') this.system.exit(pid, 'kill');
    else {
      const exitReason: ExitReason = reason === 'error' ? new Error('boom') : reason;
      this.system.cast(pid, { reason: exitReason });
    }
    await this.system.whenExited(pid);
    await this.sync();
  }

  /** Runs an operation and returns 'ok' or the error's code. */
  async outcome(operation: () => Promise<unknown>): Promise<string> {
    try {
      await operation();
      return 'ok';
    } catch (error) {
      return (error as { code?: string }).code ?? String(error);
    }
  }
}

// ------------------------------------------------------------------ replay

async function step(model: Model, real: Real, command: Command): Promise<void> {
  const { system, sup } = real;
  switch (command.kind) {
    case 'start': {
      const expected = model.startChild(command.id, command.restart);
      const got = await real.outcome(() =>
        Supervisor.startChild(system, sup, real.spec(command.id, command.restart)),
      );
      expect(got, `startChild ${command.id}`).toBe(expected);
      await real.sync();
      return;
    }
    case 'exit': {
      const live = model.children.filter((c) => c.running);
      if (live.length === 0) return;
      const id = live[command.slot % live.length]!.id;
      model.childExited(id, command.reason);
      await real.makeExit(id, command.reason);
      return;
    }
    case 'refuse':
      model.refuse(command.id, command.times);
      real.failures[command.id] = (real.failures[command.id] ?? 0) + command.times;
      return;
    case 'advance':
      model.now += command.ms;
      real.clock.advance(command.ms);
      await real.sync();
      return;
    default:
      return operate(model, real, command);
  }
}

async function operate(
  model: Model,
  real: Real,
  command: Extract<Command, { kind: 'terminate' | 'restart' | 'delete' }>,
): Promise<void> {
  if (model.children.length === 0) return;
  const id = model.children[command.slot % model.children.length]!.id;
  const { system, sup } = real;
  const [expected, run] =
    command.kind === 'terminate'
      ? [model.terminate(id), () => Supervisor.terminateChild(system, sup, id)]
      : command.kind === 'restart'
        ? [model.restartChild(id), () => Supervisor.restartChild(system, sup, id)]
        : [model.deleteChild(id), () => Supervisor.deleteChild(system, sup, id)];
  expect(await real.outcome(run), `${command.kind} ${id}`).toBe(expected);
  await real.sync();
}

async function compare(model: Model, real: Real, where: string): Promise<void> {
  expect(real.system.isAlive(real.sup), `${where}: supervisor alive`).toBe(model.alive);
  expect(real.starts, `${where}: starts per child`).toEqual(model.starts);
  if (!model.alive) {
    expect(real.system.processes(), `${where}: nothing left running`).toEqual([]);
    return;
  }
  const children = await Supervisor.whichChildren(real.system, real.sup);
  const observed = children.map((c) => ({
    id: c.id,
    running: c.pid !== null && real.system.isAlive(c.pid),
  }));
  const expected = model.children.map((c) => ({ id: c.id, running: c.running }));
  expect(observed, `${where}: children in order`).toEqual(expected);
  for (const c of children) {
    if (c.pid === null) continue;
    expect(real.system.isAlive(c.pid), `${where}: ${c.id} has a live pid`).toBe(true);
  }
}

async function replay(config: Config, commands: Command[]): Promise<void> {
  const model = new Model(config);
  const real = new Real(config);
  await real.boot();
  try {
    await compare(model, real, 'after start');
    for (const [i, command] of commands.entries()) {
      if (!model.alive) break;
      await step(model, real, command);
      await compare(model, real, `after step ${i} ${JSON.stringify(command)}`);
    }
  } finally {
    await real.system.shutdown(1000);
  }
}

// ------------------------------------------------------------------ generators

const ids = fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f');
const restartType = fc.constantFrom<RestartType>('permanent', 'transient', 'temporary');
const slot = fc.nat(20);

const command: fc.Arbitrary<Command> = fc.oneof(
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('start' as const), id: ids, restart: restartType }),
  },
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('exit' as const),
      slot,
      reason: fc.constantFrom<Reason>('normal', 'shutdown', 'error', 'kill'),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('terminate' as const), slot }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('restart' as const), slot }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const), slot }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('advance' as const),
      ms: fc.constantFrom(100, 500, 999, 1000, 1001, 2500),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('refuse' as const),
      id: ids,
      times: fc.integer({ min: 1, max: 3 }),
    }),
  },
);

function configOf(strategy: Strategy): fc.Arbitrary<Config> {
  return fc.record({
    strategy: fc.constant(strategy),
    maxRestarts: fc.integer({ min: 0, max: 4 }),
    maxSeconds: fc.constantFrom(1, 2, 5),
    initial: fc.uniqueArray(fc.record({ id: ids, restart: restartType }), {
      maxLength: 4,
      selector: (c) => c.id,
    }),
  });
}

// ------------------------------------------------------------------ properties

describe('Supervisor against the OTP model', () => {
  for (const strategy of ['one_for_one', 'one_for_all', 'rest_for_one'] as const) {
    it(`${strategy}: every step matches the model`, async () => {
      await fc.assert(
        fc.asyncProperty(configOf(strategy), fc.array(command, { maxLength: 40 }), replay),
        { numRuns: 300 },
      );
    });
  }
});

// ------------------------------------------------------------------ regressions

describe('Supervisor model regressions', () => {
  // Sequences fast-check shrank to while the model or the supervisor was
  // wrong, replayed exactly. Each name says what went wrong.

  it('one_for_all restarts a stopped transient sibling with the group', async () => {
    await replay(
      {
        strategy: 'one_for_all',
        maxRestarts: 3,
        maxSeconds: 5,
        initial: [
          { id: 'a', restart: 'transient' },
          { id: 'b', restart: 'permanent' },
        ],
      },
      [
        { kind: 'exit', slot: 0, reason: 'normal' },
        { kind: 'exit', slot: 0, reason: 'error' },
      ],
    );
  });

  for (const strategy of ['one_for_one', 'rest_for_one'] as const) {
    it(`${strategy}: maxRestarts 0 gives up on the first restart, even of a normal exit`, async () => {
      await replay(
        { strategy, maxRestarts: 0, maxSeconds: 1, initial: [{ id: 'a', restart: 'permanent' }] },
        [{ kind: 'exit', slot: 0, reason: 'normal' }],
      );
    });
  }

  it('one_for_all: maxRestarts 0 gives up on a child added with startChild', async () => {
    await replay({ strategy: 'one_for_all', maxRestarts: 0, maxSeconds: 1, initial: [] }, [
      { kind: 'start', id: 'a', restart: 'permanent' },
      { kind: 'exit', slot: 0, reason: 'normal' },
    ]);
  });

  it('one_for_all: a temporary sibling stopped by a group restart is removed', async () => {
    await replay(
      {
        strategy: 'one_for_all',
        maxRestarts: 1,
        maxSeconds: 1,
        initial: [
          { id: 'a', restart: 'temporary' },
          { id: 'f', restart: 'permanent' },
        ],
      },
      [{ kind: 'exit', slot: 13, reason: 'normal' }],
    );
  });

  it('rest_for_one: a temporary child after the one that exited is removed', async () => {
    await replay(
      {
        strategy: 'rest_for_one',
        maxRestarts: 1,
        maxSeconds: 1,
        initial: [
          { id: 'a', restart: 'permanent' },
          { id: 'f', restart: 'temporary' },
        ],
      },
      [{ kind: 'exit', slot: 0, reason: 'normal' }],
    );
  });
});
