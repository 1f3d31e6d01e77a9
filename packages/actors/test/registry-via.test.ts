import { describe, expect, it } from 'vitest';
import {
  GenServer,
  noreply,
  ok,
  reply,
  stop,
  type GenServer as Behaviour,
} from '../src/gen-server.js';
import { Inbox } from '../src/inbox.js';
import { isDown, type DownMessage } from '../src/messages.js';
import type { Context } from '../src/process.js';
import { via, type Protocol } from '../src/protocol.js';
import {
  KeyTakenError,
  Registry,
  RegistryKeysError,
  RegistryNotRunningError,
} from '../src/registry.js';
import { CallExitError, NoProcError, StartError } from '../src/reasons.js';
import { ActorSystem } from '../src/system.js';

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

type EchoProtocol = Protocol<
  'ping' | 'crash' | 'stop',
  { ping: string; crash: never; stop: string },
  'note'
>;

const Echo: Behaviour<{ tag: string; notes: number }, string, EchoProtocol> = {
  init: (tag) => ok({ tag, notes: 0 }),
  handleCall(request, _from, state) {
    if (request === 'crash') throw new Error(`${state.tag} crashed`);
    if (request === 'stop') return stop('normal', state, 'bye');
    return reply(`pong from ${state.tag} (${state.notes} notes)`, state);
  },
  handleCast(_message, state) {
    return noreply({ ...state, notes: state.notes + 1 });
  },
  handleInfo(message, state) {
    return noreply({ ...state, tag: `${state.tag}+${String(message)}` });
  },
};

async function setup(): Promise<{ sys: ActorSystem; reg: Registry }> {
  const sys = new ActorSystem();
  const reg = new Registry({ keys: 'unique', name: 'servers' });
  await reg.start(sys);
  return { sys, reg };
}

describe('via names through a Registry', () => {
  it('GenServer.start registers the server before init, and call/cast/send reach it', async () => {
    const { sys, reg } = await setup();
    const name = via<EchoProtocol>(reg, 'echo');
    let seenInInit: unknown;
    const pid = await GenServer.start(
      sys,
      {
        ...Echo,
        init: (tag: string, ctx: Context) => {
          seenInInit = reg.whereis('echo') === ctx.self;
          return ok({ tag, notes: 0 });
        },
      },
      'a',
      { name },
    );
    expect(seenInInit).toBe(true);
    expect(reg.whereis('echo')).toBe(pid);
    sys.cast(name, 'note');
    sys.send(name, 'info');
    expect(await sys.call(name, 'ping')).toBe('pong from a+info (1 notes)');
  });

  it('send to a free via name throws NoProcError naming the registry; call rejects with it', async () => {
    const { sys, reg } = await setup();
    expect(() => sys.send(via(reg, 'nobody'), 'x')).toThrow(NoProcError);
    expect(() => sys.send(via(reg, 'nobody'), 'x')).toThrow(
      'no process for via "nobody" in registry "servers"',
    );
    await expect(sys.call(via(reg, 'nobody'), 'ping')).rejects.toBeInstanceOf(NoProcError);
    // A cast never fails for a free name.
    expect(() => sys.cast(via(reg, 'nobody'), 'x')).not.toThrow();
  });

  it('ctx.monitor(via) gets DOWN when the server exits, and noproc for a free name', async () => {
    const { sys, reg } = await setup();
    const pid = await GenServer.start(sys, Echo, 'm', { name: via(reg, 'm') });
    const inbox = new Inbox(sys);
    const ref = inbox.monitor(via(reg, 'm'));
    const free = inbox.monitor(via(reg, 'free'));
    const noproc = await inbox.receive<DownMessage>((m) => isDown(m) && m.ref === free);
    expect(noproc.reason).toBe('noproc');
    await expect(sys.call(via(reg, 'm'), 'crash')).rejects.toBeInstanceOf(CallExitError);
    const down = await inbox.receive<DownMessage>((m) => isDown(m) && m.ref === ref);
    expect(down.pid).toBe(pid);
    expect(down.reason).toBeInstanceOf(Error);
  });

  it('ctx.monitor(via) from inside a process resolves the name at the time of the call', async () => {
    const { sys, reg } = await setup();
    const pid = await GenServer.start(sys, Echo, 'w', { name: via(reg, 'w') });
    const downs: DownMessage[] = [];
    const watcher = sys.spawn((message, ctx) => {
      if (message === 'watch') ctx.monitor(via(reg, 'w'));
      else if (isDown(message)) downs.push(message);
    });
    sys.send(watcher, 'watch');
    await tick();
    expect(sys.processInfo(pid)?.monitoredBy).toEqual([watcher]);
    await GenServer.stop(sys, via(reg, 'w'), 'shutdown');
    await tick();
    expect(downs.map((d) => [d.pid, d.reason])).toEqual([[pid, 'shutdown']]);
  });

  it('the name is free again after the server dies, whatever the reason', async () => {
    const { sys, reg } = await setup();
    const name = via<EchoProtocol>(reg, 'worker');
    const first = await GenServer.start(sys, Echo, 'one', { name });
    await expect(sys.call(name, 'crash')).rejects.toBeInstanceOf(CallExitError);
    expect(reg.whereis('worker')).toBeUndefined();
    expect(reg.count()).toBe(0);
    const second = await GenServer.start(sys, Echo, 'two', { name });
    expect(second).not.toBe(first);
    expect(await sys.call(name, 'stop')).toBe('bye');
    await tick();
    expect(reg.whereis('worker')).toBeUndefined();
    const third = await GenServer.start(sys, Echo, 'three', { name });
    sys.exit(third, 'kill');
    expect(reg.whereis('worker')).toBeUndefined();
    await GenServer.start(sys, Echo, 'four', { name });
    expect(await sys.call(name, 'ping')).toBe('pong from four (0 notes)');
  });

  it('a start refused because the via name is taken leaves no process and no entry', async () => {
    const { sys, reg } = await setup();
    const name = via(reg, 'taken');
    const holder = await GenServer.start(sys, Echo, 'holder', { name });
    const before = sys.processes();
    let initRan = false;
    const start = GenServer.start(
      sys,
      {
        ...Echo,
        init: (tag: string) => {
          initRan = true;
          return ok({ tag, notes: 0 });
        },
      },
      'intruder',
      { name },
    );
    await expect(start).rejects.toBeInstanceOf(KeyTakenError);
    await expect(start).rejects.toMatchObject({ code: 'already_registered', holder });
    await tick();
    expect(initRan).toBe(false);
    expect(sys.processes()).toEqual(before);
    expect(reg.lookup('taken')).toEqual([[holder, undefined]]);
    expect(reg.count()).toBe(1);
    expect(reg.keysOf(holder)).toEqual(['taken']);
  });

  it('a start whose init fails leaves the via name free', async () => {
    const { sys, reg } = await setup();
    const name = via(reg, 'fragile');
    const before = sys.processes();
    const failing = {
      ...Echo,
      init: (): never => {
        throw new Error('init failed');
      },
    };
    await expect(GenServer.start(sys, failing, 'x', { name })).rejects.toBeInstanceOf(StartError);
    expect(reg.whereis('fragile')).toBeUndefined();
    expect(reg.count()).toBe(0);
    expect(sys.processes()).toEqual(before);
  });

  it('a duplicate registry cannot name servers, and the refused start leaves nothing', async () => {
    const sys = new ActorSystem();
    const reg = new Registry({ keys: 'duplicate' });
    await reg.start(sys);
    const before = sys.processes();
    await expect(GenServer.start(sys, Echo, 'x', { name: via(reg, 'k') })).rejects.toBeInstanceOf(
      RegistryKeysError,
    );
    expect(sys.processes()).toEqual(before);
    expect(reg.count()).toBe(0);
    expect(() => sys.send(via(reg, 'k'), 'x')).toThrow(RegistryKeysError);
  });

  it('a registry that is not running refuses via names clearly', async () => {
    const sys = new ActorSystem();
    const reg = new Registry({ keys: 'unique', name: 'idle' });
    await expect(GenServer.start(sys, Echo, 'x', { name: via(reg, 'k') })).rejects.toBeInstanceOf(
      RegistryNotRunningError,
    );
    expect(sys.processes()).toEqual([]);
    expect(() => sys.send(via(reg, 'k'), 'x')).toThrow(RegistryNotRunningError);
  });

  it('servers named through a registry restarted by its owner register again in the fresh table', async () => {
    const { sys, reg } = await setup();
    const name = via(reg, 's');
    const server = await GenServer.start(sys, Echo, 's', { name });
    const inbox = new Inbox(sys);
    inbox.monitor(server);
    // The owner is killed: its registered server is linked to it and dies too.
    sys.exit(reg.pid!, 'kill');
    const down = await inbox.receive<DownMessage>(isDown);
    expect(down.reason).toBe('killed');
    await reg.start(sys);
    await GenServer.start(sys, Echo, 's2', { name });
    expect(await sys.call(name, 'ping')).toBe('pong from s2 (0 notes)');
  });
});
