import { describe, expect, it } from 'vitest';
import { SimulatedClock } from '../src/clock.js';
import { GenServer, noreply, ok, reply } from '../src/gen-server.js';
import type { From } from '../src/call.js';
import { CallTimeoutError, NoProcError } from '../src/reasons.js';
import { ActorSystem } from '../src/system.js';

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('sendRequest / receiveResponse', () => {
  it('multiplexes requests: several in flight, responses collected in any order', async () => {
    const sys = new ActorSystem();
    const held: From[] = [];
    const pid = await GenServer.start(
      sys,
      {
        init: () => ok(null),
        handleCall(request, from, state) {
          if (request === 'flush') {
            for (const f of held.splice(0).reverse()) GenServer.reply(f, `r${String(f.request)}`);
            return reply('flushed', state);
          }
          held.push(from);
          return noreply(state);
        },
      },
      undefined,
    );
    const r1 = sys.sendRequest(pid, 1);
    const r2 = sys.sendRequest(pid, 2);
    expect(await sys.call(pid, 'flush')).toBe('flushed');
    expect(await sys.receiveResponse(r2)).toBe('r2');
    expect(await sys.receiveResponse(r1)).toBe('r1');
  });

  it('a response timeout abandons the request; the late reply is discarded', async () => {
    const clock = new SimulatedClock();
    const sys = new ActorSystem({ clock });
    let held: From | undefined;
    const pid = await GenServer.start(
      sys,
      {
        init: () => ok(null),
        handleCall(_r, from, state) {
          held = from;
          return noreply(state);
        },
      },
      undefined,
    );
    const req = sys.sendRequest(pid, 'x');
    const response = sys.receiveResponse(req, 50).catch((e: unknown) => e);
    await tick();
    clock.advance(50);
    expect(await response).toBeInstanceOf(CallTimeoutError);
    expect(GenServer.reply(held!, 'late')).toBe(false);
  });

  it('a request to a dead server rejects with noproc', async () => {
    const sys = new ActorSystem();
    const req = sys.sendRequest('gone', 'x');
    await expect(sys.receiveResponse(req)).rejects.toBeInstanceOf(NoProcError);
  });
});
