import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type { DownMessage, ExitMessage } from '@ratatoskr/actors';
import {
  ActorSystem,
  CallExitError,
  GenServer,
  InvalidArgumentError,
  Inbox,
  Registry,
  Supervisor,
  Threads,
  UncloneableError,
  isDown,
  isExit,
  noreply,
  ok,
  remoteName,
  reply,
  via,
  type Pid,
} from '@ratatoskr/actors';

const fixtures = fileURLToPath(new URL('../fixtures/thread-behaviours.mjs', import.meta.url));
const counter = (args: unknown = 0) => ({ module: fixtures, export: 'Counter', args });

let running: { threads: Threads; sys: ActorSystem }[] = [];
async function setup(count = 2) {
  const sys = new ActorSystem();
  const threads = await Threads.start(sys, { count });
  running.push({ threads, sys });
  return { sys, threads };
}

afterEach(async () => {
  for (const { threads, sys } of running) {
    await threads.stop();
    await sys.shutdown();
  }
  running = [];
});

describe('processes on thread nodes', () => {
  it('call and cast reach a server on another thread; its pid carries the node', async () => {
    const { sys, threads } = await setup();
    const pid = await threads.startServer(sys, counter(5));
    expect(threads.list()).toContain(pid.node);
    expect(pid.node).not.toBe(sys.node);
    sys.cast(pid, 'inc');
    sys.cast(pid, 'inc');
    expect(await sys.call(pid, 'get')).toBe(7);
  });

  it('pids inside messages come back as the same pid objects', async () => {
    const { sys, threads } = await setup();
    const pid = await threads.startServer(sys, counter(1));
    const inbox = new Inbox(sys);
    sys.cast(pid, { replyTo: inbox.pid, echo: [inbox.pid, { deep: inbox.pid }] });
    const got = await inbox.receive<{ from: Pid; echo: [Pid, { deep: Pid }] }>();
    expect(got.from).toBe(pid);
    expect(got.echo[0]).toBe(inbox.pid);
    expect(got.echo[1].deep).toBe(inbox.pid);
    const who = await sys.call<unknown, string>(pid, 'whoami');
    expect((who as unknown as { self: Pid }).self).toBe(pid);
  });

  it('a plain process spawned on a thread from a module export', async () => {
    const { sys, threads } = await setup(1);
    const pid = await threads.spawn({ module: fixtures, export: 'echo' });
    const inbox = new Inbox(sys);
    sys.send(pid, { to: inbox.pid, body: 'hello' });
    expect(await inbox.receive()).toEqual({ echoed: 'hello', by: pid });
  });

  it('threads talk to each other directly: a forwarder on one thread to a counter on another', async () => {
    const { sys, threads } = await setup(2);
    const [a, b] = threads.list();
    const target = await threads.startServer(sys, { ...counter(0), thread: a });
    const fwd = await threads.startServer(sys, {
      module: fixtures,
      export: 'Forwarder',
      args: target,
      thread: b,
    });
    for (let i = 0; i < 100; i++) sys.cast(fwd, 'inc');
    const inbox = new Inbox(sys);
    sys.cast(fwd, { replyTo: inbox.pid });
    expect(await inbox.receive()).toMatchObject({ n: 100 });
  });

  it('names registered on a thread are reachable as { name, node }', async () => {
    const { sys, threads } = await setup(1);
    const pid = await threads.startServer(sys, counter(9));
    expect(await sys.call(pid, { type: 'register', name: 'counter' })).toBe('registered');
    expect(await sys.call(remoteName(pid.node, 'counter'), 'get')).toBe(9);
    await expect(sys.call(remoteName(pid.node, 'nobody'), 'get')).rejects.toMatchObject({
      code: 'noproc',
    });
  });
});

describe('signals across threads', () => {
  it('a remote crash reaches local links and monitors with the same reason, class and code', async () => {
    const { sys, threads } = await setup();
    const pid = await threads.startServer(sys, counter());
    const inbox = new Inbox(sys);
    inbox.trapExit(true);
    inbox.link(pid);
    inbox.monitor(pid);
    const error = (await sys.call(pid, 'crash').catch((e: unknown) => e)) as CallExitError;
    expect(error).toBeInstanceOf(CallExitError);
    const reason = error.reason as Error & { code: string; detail: string };
    expect(reason.name).toBe('CustomFailure');
    expect(reason.code).toBe('custom_failure');
    expect(reason.detail).toBe('crash requested');
    expect(reason.stack).toContain('thread-behaviours.mjs');
    const exit = await inbox.receive<ExitMessage>(isExit);
    const down = await inbox.receive<DownMessage>(isDown);
    expect(exit.from).toBe(pid);
    expect(down.pid).toBe(pid);
    expect((exit.reason as Error).message).toBe('custom failure: crash requested');
    expect((down.reason as Error).message).toBe('custom failure: crash requested');
  });

  it('a local crash reaches a remote linked process (it dies) and a remote monitor', async () => {
    const { sys, threads } = await setup();
    const remote = await threads.startServer(sys, counter());
    const local = sys.spawn(() => {
      throw new Error('local boom');
    });
    expect(await sys.call(remote, { type: 'link', pid: local })).toBe('linked');
    const inbox = new Inbox(sys);
    inbox.monitor(remote);
    sys.send(local, 'crash');
    const down = await inbox.receive<DownMessage>(isDown);
    expect(down.pid).toBe(remote);
    expect((down.reason as Error).message).toBe('local boom');
  });

  it('kill sent to a remote process is untrappable and seen as killed', async () => {
    const { sys, threads } = await setup(1);
    const pid = await threads.startServer(sys, { ...counter(), options: { trapExit: true } });
    const inbox = new Inbox(sys);
    inbox.monitor(pid);
    sys.exit(pid, 'kill');
    expect((await inbox.receive<DownMessage>(isDown)).reason).toBe('killed');
  });

  it('monitoring or linking a remote pid that is gone gives noproc', async () => {
    const { sys, threads } = await setup(1);
    const pid = await threads.startServer(sys, counter());
    await GenServer.stop(sys, pid).catch(() => undefined);
    // GenServer.stop cannot see remote processes; stop it through a kill and wait.
    const watcher = new Inbox(sys);
    watcher.monitor(pid);
    sys.exit(pid, 'kill');
    await watcher.receive(isDown);
    const inbox = new Inbox(sys);
    inbox.trapExit(true);
    inbox.monitor(pid);
    inbox.link(pid);
    expect((await inbox.receive<DownMessage>(isDown)).reason).toBe('noproc');
    expect((await inbox.receive<ExitMessage>(isExit)).reason).toBe('noproc');
  });
});

describe('thread failure', () => {
  it('a thread that dies mid-call rejects the call at once; links and monitors fire noconnection', async () => {
    const { sys, threads } = await setup(2);
    const pid = await threads.startServer(sys, counter());
    const node = pid.node;
    const inbox = new Inbox(sys);
    inbox.trapExit(true);
    inbox.link(pid);
    inbox.monitor(pid);
    const started = performance.now();
    const error = (await sys
      .call(pid, 'exit-thread', Infinity)
      .catch((e: unknown) => e)) as CallExitError;
    expect(performance.now() - started).toBeLessThan(2000);
    expect(error).toBeInstanceOf(CallExitError);
    expect(error.reason).toBe('noconnection');
    expect((await inbox.receive<ExitMessage>(isExit)).reason).toBe('noconnection');
    expect((await inbox.receive<DownMessage>(isDown)).reason).toBe('noconnection');
    // Calls to the dead node fail at once too, and a replacement thread starts.
    await expect(sys.call(pid, 'get', Infinity)).rejects.toMatchObject({ code: 'noproc' });
    for (let i = 0; i < 100 && threads.list().length < 2; i++)
      await new Promise((r) => setTimeout(r, 20));
    expect(threads.list()).toHaveLength(2);
    expect(threads.list()).not.toContain(node);
  });

  it('a supervisor restarts a child whose thread died, on a live thread', async () => {
    const { sys, threads } = await setup(2);
    const sup = await Supervisor.start(sys, [threads.childSpec({ id: 'counter', ...counter(1) })], {
      strategy: 'one_for_one',
    });
    const [first] = await Supervisor.whichChildren(sys, sup);
    const firstPid = first!.pid!;
    expect(firstPid.node).not.toBe(sys.node);
    await threads.terminate(firstPid.node);
    let restarted: Pid | null = null;
    for (let i = 0; i < 200 && restarted === null; i++) {
      await new Promise((r) => setTimeout(r, 10));
      const [child] = await Supervisor.whichChildren(sys, sup);
      if (child?.pid && child.pid !== firstPid) restarted = child.pid;
    }
    expect(restarted).not.toBeNull();
    expect(restarted!.node).not.toBe(firstPid.node);
    expect(await sys.call(restarted!, 'get')).toBe(1);
  });

  it('a failing init on a thread rejects the start with its reason, class and code', async () => {
    const { sys, threads } = await setup(1);
    const error = (await threads
      .startServer(sys, counter('refuse'))
      .catch((e: unknown) => e)) as Error & {
      code: string;
      reason: Error & { code: string };
    };
    expect(error.name).toBe('StartError');
    expect(error.code).toBe('start_failed');
    expect(error.reason.code).toBe('custom_failure');
  });
});

describe('what cannot cross', () => {
  it('an uncloneable message fails at the sender with a clear error; the thread stays usable', async () => {
    const { sys, threads } = await setup(1);
    const pid = await threads.startServer(sys, counter(3));
    let thrown: unknown;
    try {
      sys.send(pid, { ok: 1, nested: { handler: () => 1 } });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(UncloneableError);
    expect((thrown as UncloneableError).path).toBe('message.nested.handler');
    await expect(sys.call(pid, { type: 'get', fn: () => 0 })).rejects.toBeInstanceOf(
      UncloneableError,
    );
    expect(await sys.call(pid, 'get')).toBe(3);
  });

  it('a local GenServer calling a remote one from inside its handler', async () => {
    const { sys, threads } = await setup(1);
    const remote = await threads.startServer(sys, counter(41));
    const local = await GenServer.start(
      sys,
      {
        init: () => ok(null),
        async handleCall(_r, _f, state, ctx) {
          const n = (await ctx.call(remote, 'get')) as number;
          return reply(n + 1, state);
        },
        handleCast: (_m, s) => noreply(s),
      },
      undefined,
    );
    expect(await sys.call(local, 'x')).toBe(42);
  });
});

describe('introspection across threads', () => {
  it('processInfo and the process list span threads', async () => {
    const { sys, threads } = await setup(2);
    const pid = await threads.startServer(sys, counter());
    const info = await threads.processInfo(pid);
    expect(info?.pid).toBe(pid);
    expect(info?.status).toBe('waiting');
    const all = await threads.processes();
    expect(all.map((n) => n.node)).toEqual([sys.node, ...threads.list()]);
    expect(all.find((n) => n.node === pid.node)?.pids).toContain(pid);
  });
});

describe('runtime services with processes on other threads', () => {
  it('timers reach a process on another thread, by pid and by remote name', async () => {
    const { sys, threads } = await setup(1);
    const pid = await threads.startServer(sys, counter(0));
    await sys.call(pid, { type: 'register', name: 'ticker' });
    sys.sendAfter(pid, 'ignored-info', 1);
    const inbox = new Inbox(sys);
    // A cast through the timer path: handleCast answers the inbox.
    sys.sendAfter(remoteName(pid.node, 'ticker'), 'info', 5);
    await new Promise((r) => setTimeout(r, 30));
    sys.cast(pid, { replyTo: inbox.pid });
    expect(await inbox.receive()).toMatchObject({ n: 0 });
  });

  it('system.stop and whenExited work for a process on another thread; terminate runs', async () => {
    const { sys, threads } = await setup(1);
    const inbox = new Inbox(sys);
    const pid = await threads.startServer(sys, {
      module: fixtures,
      export: 'SlowStop',
      args: { ms: 50, reportTo: inbox.pid },
    });
    const exited = sys.whenExited(pid);
    const started = performance.now();
    await sys.stop(pid, 'shutdown');
    expect(performance.now() - started).toBeGreaterThanOrEqual(40);
    expect(await exited).toBe('shutdown');
    expect(await inbox.receive()).toEqual({ terminated: 'shutdown' });
    await expect(sys.stop(pid)).rejects.toMatchObject({ code: 'noproc' });
  });

  it('a supervisor counts and waits for children on other threads', async () => {
    const { sys, threads } = await setup(1);
    const inbox = new Inbox(sys);
    const sup = await Supervisor.start(sys, [
      threads.childSpec({
        id: 'slow',
        module: fixtures,
        export: 'SlowStop',
        args: { ms: 100, reportTo: inbox.pid },
        shutdown: 2000,
      }),
    ]);
    expect(await Supervisor.countChildren(sys, sup)).toMatchObject({ specs: 1, active: 1 });
    const started = performance.now();
    await Supervisor.stop(sys, sup);
    // The stop waited for the remote child's 100 ms terminate.
    expect(performance.now() - started).toBeGreaterThanOrEqual(90);
    expect(await inbox.receive()).toEqual({ terminated: 'shutdown' });
  });

  it('a registry on this thread names processes of other threads and forgets them when they exit', async () => {
    const { sys, threads } = await setup(1);
    const registry = new Registry<string>({ keys: 'unique' });
    await registry.start(sys);
    const pid = await threads.startServer(sys, counter(12));
    registry.registerName('remote-counter', pid);
    expect(registry.whereis('remote-counter')).toBe(pid);
    expect(await sys.call(via(registry, 'remote-counter'), 'get')).toBe(12);
    const watcher = new Inbox(sys);
    watcher.monitor(pid);
    sys.exit(pid, 'kill');
    await watcher.receive(isDown);
    for (let i = 0; i < 50 && registry.whereis('remote-counter') !== undefined; i++) {
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(registry.whereis('remote-counter')).toBeUndefined();
    expect(registry.count()).toBe(0);
  });

  it('a registry forgets the processes of a thread that dies', async () => {
    const { sys, threads } = await setup(1);
    const registry = new Registry<string>({ keys: 'unique' });
    await registry.start(sys);
    const pid = await threads.startServer(sys, counter(1));
    registry.registerName('doomed', pid);
    await threads.terminate(pid.node);
    for (let i = 0; i < 50 && registry.count() > 0; i++) await new Promise((r) => setTimeout(r, 5));
    expect(registry.count()).toBe(0);
  });
});

describe('replies that cannot cross', () => {
  it('a reply holding a function fails the caller with UncloneableError; the server lives on', async () => {
    const { sys, threads } = await setup(1);
    const pid = await threads.startServer(sys, { module: fixtures, export: 'Counter', args: 2 });
    await expect(sys.call(pid, 'give-function')).rejects.toBeInstanceOf(UncloneableError);
    expect(await sys.call(pid, 'get')).toBe(2);
  });
});

describe('review regressions: threads', () => {
  it('an exit reason that cannot be cloned (a function field, a cyclic cause) does not take the thread down', async () => {
    const { sys, threads } = await setup(1);
    const victim = await threads.startServer(sys, counter(0));
    const bystander = await threads.startServer(sys, { ...counter(5), thread: victim.node });
    const inbox = new Inbox(sys);
    inbox.trapExit(true);
    inbox.link(victim);
    const error = (await sys
      .call(victim, 'crash-with-function-field')
      .catch((e: unknown) => e)) as CallExitError;
    expect(error).toBeInstanceOf(CallExitError);
    const reason = error.reason as Error & { code: string; retry: unknown };
    expect(reason.message).toBe('client failed');
    expect(reason.code).toBe('client_failed');
    expect(String(reason.retry)).toContain('function');
    expect(((await inbox.receive<ExitMessage>(isExit)).reason as Error).message).toBe(
      'client failed',
    );
    const cyclic = await threads.startServer(sys, { ...counter(0), thread: victim.node });
    const cycleError = (await sys
      .call(cyclic, 'crash-with-cycle')
      .catch((e: unknown) => e)) as CallExitError;
    expect((cycleError.reason as Error).message).toBe('cyclic');
    // The thread and the other server on it are still there.
    expect(await sys.call(bystander, 'get')).toBe(5);
  });

  it('regression: a reason holding a Proxy still ends the call at once, fires the DOWN and lets the supervisor restart', async () => {
    const { sys, threads } = await setup(1);
    const sup = await Supervisor.start(sys, [threads.childSpec({ id: 'w', ...counter(1) })]);
    const [first] = await Supervisor.whichChildren(sys, sup);
    const victim = first!.pid!;
    const inbox = new Inbox(sys);
    inbox.monitor(victim);
    // Infinity: only the exit can end this call.
    const error = (await sys
      .call(victim, 'crash-with-proxy-field', Infinity)
      .catch((e: unknown) => e)) as CallExitError;
    expect(error).toBeInstanceOf(CallExitError);
    const down = await inbox.receive<DownMessage>(isDown, 2000);
    expect(down.pid).toBe(victim);
    expect(down.reason).toMatchObject({ message: 'proxied', code: 'proxied' });
    expect(String((down.reason as unknown as { view: unknown }).view)).toMatch(/Object/);
    let restarted: Pid | null = null;
    for (let i = 0; i < 100 && restarted === null; i++) {
      const [child] = await Supervisor.whichChildren(sys, sup);
      if (child!.pid !== null && child!.pid !== victim) restarted = child!.pid;
      else await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(restarted).not.toBeNull();
    expect(await sys.call(restarted!, 'get')).toBe(1);
  });

  it('regression: an error with a getter that throws fails the call with its reason and does not take the thread down', async () => {
    const { sys, threads } = await setup(1);
    const victim = await threads.startServer(sys, counter(0));
    const bystander = await threads.startServer(sys, { ...counter(3), thread: victim.node });
    const error = (await sys
      .call(victim, 'crash-with-throwing-getter', 2000)
      .catch((e: unknown) => e)) as CallExitError;
    expect(error).toBeInstanceOf(CallExitError);
    expect(error.reason).toMatchObject({ message: 'getter inside', boom: '[a getter that threw]' });
    expect(await sys.call(bystander, 'get')).toBe(3);
  });

  it('regression: one message that fails to clone when posted drops only itself, not its neighbours', async () => {
    const { sys, threads } = await setup(1);
    const remote = await threads.startServer(sys, counter(0));
    const inbox = new Inbox(sys);
    sys.cast(remote, { replyTo: inbox.pid, echo: 'before' });
    sys.cast(remote, { replyTo: inbox.pid, echo: new Proxy({}, {}) });
    sys.cast(remote, { replyTo: inbox.pid, echo: 'after' });
    expect((await inbox.receive<{ echo: string }>()).echo).toBe('before');
    expect((await inbox.receive<{ echo: string }>()).echo).toBe('after');
  });

  it('regression: a reply holding a Proxy fails the caller with UncloneableError', async () => {
    const { sys, threads } = await setup(1);
    const remote = await threads.startServer(sys, counter(4));
    const error = await sys.call(remote, 'give-proxy').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UncloneableError);
    expect((error as UncloneableError).code).toBe('uncloneable');
    expect(await sys.call(remote, 'get')).toBe(4);
  });

  it('a local crash with an uncloneable reason reaches a linked process on a thread without crashing anything', async () => {
    const { sys, threads } = await setup(1);
    const remote = await threads.startServer(sys, counter());
    const local = sys.spawn(() => {
      const error = new Error('local with function') as Error & { retry: () => void };
      error.retry = () => {};
      throw error;
    });
    await sys.call(remote, { type: 'link', pid: local });
    const inbox = new Inbox(sys);
    inbox.monitor(remote);
    sys.send(local, 'go');
    expect(((await inbox.receive<DownMessage>(isDown)).reason as Error).message).toBe(
      'local with function',
    );
  });

  it('regression: system.shutdown(timeoutMs) holds for a thread whose server never finishes terminate', async () => {
    const sys = new ActorSystem();
    const threads = await Threads.start(sys, { count: 1 });
    await threads.startServer(sys, { module: fixtures, export: 'SlowStop', args: { ms: 60_000 } });
    const t0 = performance.now();
    await sys.shutdown(100);
    // It took the thread's own 5 s default before.
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(threads.list()).toEqual([]);
  });

  it('system.shutdown stops the thread nodes too; later placements are refused', async () => {
    const sys = new ActorSystem();
    const threads = await Threads.start(sys, { count: 1 });
    await threads.startServer(sys, counter());
    await sys.shutdown();
    expect(threads.list()).toEqual([]);
    await expect(threads.startServer(sys, counter())).rejects.toMatchObject({
      code: 'threads_stopped',
    });
  });

  it('a bad placement, uncloneable options and a missing export are typed errors', async () => {
    const { sys, threads } = await setup(1);
    await expect(
      threads.startServer(sys, { ...counter(), thread: 'first' as never }),
    ).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(
      threads.startServer(sys, { ...counter(), options: { fn: () => 1 } as never }),
    ).rejects.toBeInstanceOf(UncloneableError);
    await expect(
      threads.startServer(sys, { module: fixtures, export: 'Nope' }),
    ).rejects.toMatchObject({
      code: 'export_not_found',
    });
    await expect(threads.startServer(sys, { module: '/no/such/module.mjs' })).rejects.toMatchObject(
      {
        code: 'module_not_found',
      },
    );
  });

  it('regression (sixth review): a view of part of a larger buffer crosses with its own bytes only; a whole one as it is', async () => {
    const { sys, threads } = await setup(1);
    const inbox = new Inbox(sys);
    const pid = await threads.spawn({ module: fixtures, export: 'echo' });
    const big = new ArrayBuffer(8 * 1024 * 1024);
    const parts = {
      bytes: new Uint8Array(big, 16, 4).fill(7),
      floats: new Float64Array(big, 64, 2).fill(1.5),
      data: new DataView(big, 128, 3),
      whole: new Uint16Array([1, 2, 3]),
    };
    // The same view twice is copied once, and arrives as one object (seventh review).
    sys.send(pid, { to: inbox.pid, body: { ...parts, again: parts.bytes } });
    const { echoed } = await inbox.receive<{ echoed: typeof parts & { again: Uint8Array } }>();
    expect(echoed.again).toBe(echoed.bytes);
    expect([...echoed.bytes]).toEqual([7, 7, 7, 7]);
    expect(echoed.bytes.buffer.byteLength).toBe(4);
    expect([...echoed.floats]).toEqual([1.5, 1.5]);
    expect(echoed.floats.buffer.byteLength).toBe(16);
    expect(echoed.data).toBeInstanceOf(DataView);
    expect(echoed.data.buffer.byteLength).toBe(3);
    expect([...echoed.whole]).toEqual([1, 2, 3]);
    // The sender's views are untouched.
    expect(parts.bytes.buffer).toBe(big);
  });

  it('regression (seventh review): stop by remote name works; a reason that cannot cross rejects and leaves nothing behind', async () => {
    const { sys, threads } = await setup(1);
    const pid = await threads.startServer(sys, { ...counter(1), options: { name: 'nn' } });
    const name = remoteName(pid.node, 'nn');
    expect(await sys.call(name, 'get')).toBe(1);
    const before = sys.processes().length;
    const bad = Object.assign(new Error('f'), { handler: () => 1 });
    await expect(sys.stop(pid, bad)).rejects.toBeInstanceOf(UncloneableError);
    await expect(sys.stop(name, { shutdown: Symbol('s') } as never)).rejects.toBeInstanceOf(
      UncloneableError,
    );
    expect(sys.processes().length).toBe(before);
    expect(await sys.call(name, 'get')).toBe(1);
    await expect(sys.stop(name, 'shutdown')).resolves.toBeUndefined();
    expect(await threads.processInfo(pid)).toBeUndefined();
    await expect(sys.stop(name)).rejects.toMatchObject({ code: 'noproc' });
  });

  it('regression (sixth review): a link that is not a pid, a missing module, bad Threads options and bad node ids are typed errors', async () => {
    const { sys, threads } = await setup(1);
    for (const link of [true, 'me', {}]) {
      await expect(
        threads.spawn({ module: fixtures, export: 'echo', link: link as never }),
      ).rejects.toThrow(/threads.spawn: link must be a pid/);
    }
    await expect(threads.spawn({ export: 'echo' } as never)).rejects.toThrow(
      /module must be a module specifier/,
    );
    await expect(threads.startServer(sys, undefined as never)).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
    await expect(Threads.start(sys, 5 as never)).rejects.toThrow(/options must be an object/);
    await expect(Threads.start(sys, { replace: 'no' } as never)).rejects.toThrow(
      /options.replace must be a boolean/,
    );
    await expect(Threads.start(sys, { processBudget: 0 })).rejects.toThrow(
      /options.processBudget must be an integer in 1..1000000/,
    );
    await expect(Threads.start(sys, { cores: 2 } as never)).rejects.toThrow(/not a Threads option/);
    await expect(threads.terminate(Number.NaN)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(threads.processInfo('x' as never)).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(() => remoteName(Number.NaN, 'x')).toThrow(InvalidArgumentError);
    expect(() => remoteName(1, '')).toThrow(/non-empty string/);
    // Nothing was started by the refused calls.
    expect(threads.list()).toHaveLength(1);
  });
});

describe('review regressions: shared references and control requests', () => {
  it('a message sharing references 40 levels deep crosses in linear time and keeps its sharing', async () => {
    const { sys, threads } = await setup(1);
    const pid = await threads.spawn({ module: fixtures, export: 'echo' });
    const inbox = new Inbox(sys);
    let value: Record<string, unknown> = { leaf: inbox.pid };
    for (let i = 0; i < 40; i++) value = { a: value, b: value };
    sys.send(pid, { to: inbox.pid, body: value });
    const got = await inbox.receive<{ echoed: Record<string, unknown> }>(() => true, 10_000);
    let node = got.echoed;
    for (let i = 0; i < 40; i++) {
      expect(node.a).toBe(node.b);
      node = node.a as Record<string, unknown>;
    }
    expect(node.leaf).toBe(inbox.pid);
  });

  it('control requests leave nothing waiting on the thread once they settle', async () => {
    const { sys, threads } = await setup(1);
    for (let i = 0; i < 50; i++) await threads.startServer(sys, counter(i));
    const entry = [
      ...(threads as unknown as { nodes: Map<number, { waiting: Set<unknown> }> }).nodes.values(),
    ][0]!;
    expect(entry.waiting.size).toBe(0);
  });
});
