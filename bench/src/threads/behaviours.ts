/**
 * GenServers the threads suite starts on thread nodes. A thread imports this
 * module by path (`dist/threads/behaviours.js`), so it holds only behaviours
 * and what they need, nothing that starts anything on import.
 *
 * - `Sink` counts the casts it receives in order (`{ seq }` with `seq` equal
 *   to the next expected number); a call `'count'` answers that count. Calls
 *   and casts from one node to another keep their order, so a `count` call
 *   made after the last cast is answered after the last cast is handled.
 * - `Source` casts `n` messages to a sink on another thread, in bursts with a
 *   turn of the event loop between them, then asks the sink for its count and
 *   replies with it: the thread -> thread workload.
 * - `Echo` answers every call with the request: the call round-trip workload.
 */
import { noreply, ok, reply, type GenServer, type Pid, type Protocol } from '@ratatoskr/actors';
import { sendInBursts } from '../workload.js';

/** One small message, as every cross-thread workload sends it. */
export interface Seq {
  readonly seq: number;
}

export type SinkProtocol = Protocol<'count', { count: number }, Seq>;

/** The sink's state is the next sequence number it expects (= messages counted in order). */
export const Sink: GenServer<number, void, SinkProtocol> = {
  init: () => ok(0),
  handleCast: (message, next) => noreply(message.seq === next ? next + 1 : next),
  handleCall: (_request, _from, next) => reply(next, next),
};

/** Asks a source to send `n` messages to `to` in bursts of `burst`. */
export interface Go {
  readonly type: 'go';
  readonly to: Pid<SinkProtocol>;
  readonly n: number;
  readonly burst: number;
}

export type SourceProtocol = Protocol<Go, { go: number }, never>;

export const Source: GenServer<null, void, SourceProtocol> = {
  init: () => ok(null),
  async handleCall(go, _from, state, ctx) {
    await sendInBursts(go.n, (seq) => ctx.cast(go.to, { seq }), go.burst);
    const counted = await ctx.call(go.to, 'count', Infinity);
    return reply(counted, state);
  },
};

export type EchoProtocol = Protocol<number, Record<never, never>, never>;

export const Echo: GenServer<null, void, EchoProtocol> = {
  init: () => ok(null),
  handleCall: (request, _from, state) => reply(request, state),
};
