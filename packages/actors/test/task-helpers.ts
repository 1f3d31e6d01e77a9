/** What the task tests share: a turn of the event loop, a hand-opened gate, a host process. */
import type { Context } from '../src/process.js';
import type { ActorSystem } from '../src/system.js';

export const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A promise the test settles by hand. */
export function gate<T = void>(): { promise: Promise<T>; open: (value: T) => void } {
  let open!: (value: T) => void;
  const promise = new Promise<T>((resolve) => (open = resolve));
  return { promise, open };
}

/**
 * A host process: runs functions sent to it inside its handler (awaiting
 * them, so it is suspended meanwhile) and records every other message.
 */
export function host(sys: ActorSystem, options: { trapExit?: boolean } = {}) {
  const received: unknown[] = [];
  const pid = sys.spawn(
    async (message, ctx) => {
      if (typeof message === 'function') await (message as (ctx: Context) => Promise<void>)(ctx);
      else received.push(message);
    },
    { trapExit: options.trapExit },
  );
  const run = <X>(fn: (ctx: Context) => X | Promise<X>): Promise<X> =>
    new Promise<X>((resolve, reject) => {
      sys.send(pid, async (ctx: Context) => {
        try {
          resolve(await fn(ctx));
        } catch (error) {
          reject(error);
        }
      });
    });
  return { pid, received, run };
}
