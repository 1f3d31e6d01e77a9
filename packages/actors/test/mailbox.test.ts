import { describe, expect, it } from 'vitest';
import { Mailbox } from '../src/mailbox.js';
import { ActorSystem } from '../src/system.js';
import { Inbox } from '../src/inbox.js';
import { isDown, type DownMessage } from '../src/messages.js';
import { MailboxFullError } from '../src/reasons.js';

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('Mailbox', () => {
  it('is FIFO across growth, wrap-around and shrinking', () => {
    const mb = new Mailbox(2);
    const out: unknown[] = [];
    let next = 0;
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < round * 7; i++) mb.push(0, next++);
      for (let i = 0; i < round * 5 && mb.length > 0; i++) out.push(mb.take());
    }
    while (mb.length > 0) out.push(mb.take());
    expect(out).toEqual(Array.from({ length: next }, (_, i) => i));
  });

  it('runtime entries are counted apart, keep their kind, and are skipped by takeOldestOrdinary', () => {
    const mb = new Mailbox(2);
    mb.pushRuntime(2, 'down-1');
    mb.push(1, 'a');
    mb.pushRuntime(4, 'stop');
    mb.push(1, 'b');
    expect([mb.length, mb.runtime]).toEqual([4, 2]);
    expect(mb.takeOldestOrdinary()).toBe('a');
    expect(mb.takenKind).toBe(1);
    expect([mb.length, mb.runtime]).toEqual([3, 2]);
    const seen: [number, unknown][] = [];
    mb.forEach((kind, payload) => seen.push([kind, payload]));
    expect(seen).toEqual([
      [2, 'down-1'],
      [4, 'stop'],
      [1, 'b'],
    ]);
    expect(mb.removeFirst((_k, p) => p === 'stop')).toBe(true);
    expect(mb.removeFirst((_k, p) => p === 'nothing')).toBe(false);
    expect([mb.length, mb.runtime]).toEqual([2, 1]);
    expect(mb.take()).toBe('down-1');
    expect([mb.takenKind, mb.runtime]).toEqual([2, 0]);
    expect(mb.take()).toBe('b');
    expect(mb.length).toBe(0);
  });

  it('takeOldestOrdinary and take agree with an array model across growth and wrap-around', () => {
    const mb = new Mailbox(4);
    const model: { runtime: boolean; value: number }[] = [];
    let next = 0;
    for (let round = 0; round < 60; round++) {
      for (let i = 0; i < (round % 7) + 1; i++) {
        const runtime = (next * 7) % 3 === 0;
        if (runtime) mb.pushRuntime(2, next);
        else mb.push(1, next);
        model.push({ runtime, value: next++ });
      }
      if (mb.length > mb.runtime) {
        const at = model.findIndex((e) => !e.runtime);
        expect(mb.takeOldestOrdinary()).toBe(model.splice(at, 1)[0]!.value);
      }
      if (round % 2 === 0 && model.length > 0) {
        const first = model.shift()!;
        expect(mb.take()).toBe(first.value);
        expect(mb.takenKind).toBe(first.runtime ? 2 : 1);
      }
      expect([mb.length, mb.runtime]).toEqual([
        model.length,
        model.filter((e) => e.runtime).length,
      ]);
    }
  });
});

describe('bounded mailboxes', () => {
  function blocked(sys: ActorSystem, overflow: 'reject' | 'drop_newest' | 'drop_oldest' | 'crash') {
    const handled: unknown[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const pid = sys.spawn(
      async (m) => {
        if (m === 'block') await gate;
        else handled.push(m);
      },
      { mailbox: { capacity: 3, overflow } },
    );
    return { pid, handled, release };
  }

  it('reject: the sender gets MailboxFullError, nothing accepted is lost', async () => {
    const sys = new ActorSystem();
    const { pid, handled, release } = blocked(sys, 'reject');
    sys.send(pid, 'block');
    await tick();
    sys.send(pid, 1);
    sys.send(pid, 2);
    sys.send(pid, 3);
    expect(() => sys.send(pid, 4)).toThrow(MailboxFullError);
    await expect(sys.call(pid, 'q', 100)).rejects.toMatchObject({ code: 'mailbox_full' });
    expect(sys.processInfo(pid)?.messagesDropped).toBe(2);
    release();
    await tick();
    expect(handled).toEqual([1, 2, 3]);
  });

  it('drop_newest and drop_oldest keep the documented messages', async () => {
    const sys = new ActorSystem();
    const newest = blocked(sys, 'drop_newest');
    const oldest = blocked(sys, 'drop_oldest');
    for (const b of [newest, oldest]) {
      sys.send(b.pid, 'block');
      await tick();
      for (let i = 1; i <= 5; i++) sys.send(b.pid, i);
      b.release();
    }
    await tick();
    expect(newest.handled).toEqual([1, 2, 3]);
    expect(oldest.handled).toEqual([3, 4, 5]);
    expect(sys.processInfo(oldest.pid)?.messagesDropped).toBe(2);
  });

  it('crash: the process exits with MailboxFullError, telemetry counts it', async () => {
    const events: string[] = [];
    const sys = new ActorSystem({ telemetry: (e) => events.push(e.type) });
    const inbox = new Inbox(sys);
    const { pid } = blocked(sys, 'crash');
    inbox.monitor(pid);
    sys.send(pid, 'block');
    await tick();
    for (let i = 1; i <= 4; i++) sys.send(pid, i);
    const down = await inbox.receive<DownMessage>(isDown);
    expect(down.reason).toBeInstanceOf(MailboxFullError);
    expect(events).toContain('mailbox_overflow');
  });

  it('runtime messages (DOWN, EXIT, stop) are never refused by the bound', async () => {
    const sys = new ActorSystem();
    const target = sys.spawn(() => {});
    const linked = sys.spawn(() => {});
    const got: unknown[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const pid = sys.spawn(
      async (m, ctx) => {
        if (m === 'setup') {
          ctx.trapExit(true);
          ctx.monitor(target);
          ctx.link(linked);
          await gate;
        } else got.push(m);
      },
      { mailbox: { capacity: 1, overflow: 'reject' } },
    );
    sys.send(pid, 'setup');
    await tick();
    sys.send(pid, 'fill');
    expect(() => sys.send(pid, 'over')).toThrow(MailboxFullError);
    sys.exit(target, 'kill');
    sys.exit(linked, 'shutdown');
    expect(sys.processInfo(pid)?.mailboxLength).toBe(3);
    release();
    await tick();
    expect(got.map((m) => (typeof m === 'string' ? m : (m as { type: string }).type))).toEqual([
      'fill',
      'DOWN',
      'EXIT',
    ]);
    await sys.stop(pid);
    expect(sys.isAlive(pid)).toBe(false);
  });
});
