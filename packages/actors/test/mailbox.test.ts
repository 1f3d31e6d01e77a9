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
      for (let i = 0; i < round * 5 && mb.length > 0; i++) {
        out.push(mb.peekPayload());
        mb.drop();
      }
    }
    while (mb.length > 0) {
      out.push(mb.peekPayload());
      mb.drop();
    }
    expect(out).toEqual(Array.from({ length: next }, (_, i) => i));
  });

  it('unshift puts an entry first', () => {
    const mb = new Mailbox();
    mb.push(0, 'b');
    mb.unshift(3, 'a');
    expect([mb.peekKind(), mb.peekPayload()]).toEqual([3, 'a']);
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
