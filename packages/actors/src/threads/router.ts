/**
 * Routes messages and signals between the nodes (threads) of one runtime.
 *
 * Each thread runs one `ActorSystem`; a `Router` attached to it knows a
 * `Peer` per other node, reached through a `MessagePort` (or the `Worker`
 * object on the main thread). Pids carry their node; the system hands
 * anything addressed to another node to the router, which encodes it
 * (`codec.ts`), queues it on the peer and posts the queue once per scheduler
 * turn. Incoming batches are decoded and delivered to local processes as if
 * sent locally, so send, cast, call, links, monitors and exit signals mean
 * the same across threads.
 *
 * A node that goes away (its thread crashed, called `process.exit`, or was
 * terminated) is reported with `nodeDown`: every local link to one of its
 * processes delivers an exit signal with reason `noconnection`, every monitor
 * a DOWN with `noconnection`, and every call waiting on it rejects at once.
 */
import type { From } from '../call.js';
import { settleError, settleReply } from '../call.js';
import { Pid, Ref, localNode } from '../pid.js';
import { CallExitError, NoProcError, type ExitReason } from '../reasons.js';
import { S_DEAD } from '../process.js';
import type { ActorSystem } from '../system.js';
import {
  decode,
  describeUncloneable,
  encode,
  encodeSafe,
  postRefusal,
  type Reviver,
} from './codec.js';
import {
  FLAGS,
  REVIVE,
  entrySize,
  type Batch,
  type Wire,
  type WirePid,
  type WireTarget,
} from './protocol.js';

const RESOLVED = Promise.resolve();

/** What a router needs of a port: `postMessage` and message events. */
export interface PortLike {
  postMessage(value: unknown): void;
  on(event: 'message', listener: (value: unknown) => void): unknown;
  off?(event: 'message', listener: (value: unknown) => void): unknown;
  unref?(): void;
}

/**
 * The connection to one other node. Everything posted during a scheduler turn
 * goes out as one batch, in order, at the end of the turn (a microtask).
 */
class Peer {
  private out: Batch = [];
  private scheduled = false;
  closed = false;
  /** Calls made from this node, waiting for a reply from the peer, by call id. */
  readonly calls = new Map<number, From>();

  constructor(
    readonly node: number,
    private readonly port: PortLike,
    private readonly onPostError: (entry: Batch, error: unknown) => void,
  ) {}

  /** Header of the message run that ends the batch, or -1 (see `protocol.ts`). */
  private runKey = -1;
  /** Index of that run's count slot. */
  private runCountAt = 0;

  post(wire: Wire): void {
    if (this.closed) return;
    this.out.push(wire);
    this.runKey = -1;
    if (!this.scheduled) this.schedule();
  }

  /** Queues a message; it joins the open run when it has the same header. */
  postMessage(key: number, data: unknown): void {
    if (this.closed) return;
    const out = this.out;
    if (key === this.runKey) {
      out[this.runCountAt] = (out[this.runCountAt] as number) + 1;
      out.push(data);
    } else {
      out.push(key, 1, data);
      this.runKey = key;
      this.runCountAt = out.length - 2;
    }
    if (!this.scheduled) this.schedule();
  }

  /** Queues a flat reply (see `protocol.ts`). */
  postReply(head: number, data: unknown): void {
    if (this.closed) return;
    this.out.push(head, data);
    this.runKey = -1;
    if (!this.scheduled) this.schedule();
  }

  private schedule(): void {
    this.scheduled = true;
    void RESOLVED.then(this.flush);
  }

  readonly flush = (): void => {
    this.scheduled = false;
    const batch = this.out;
    if (batch.length === 0 || this.closed) return;
    this.out = [];
    this.runKey = -1;
    try {
      this.port.postMessage(batch);
    } catch (error) {
      // The codec refused what it knows cannot cross; an exotic value it let
      // through (a Proxy, a MessagePort) failed the whole batch. Post entry
      // by entry, and a run message by message, so that only the guilty
      // messages fail, and the others keep their order.
      for (let i = 0; i < batch.length;) {
        const size = entrySize(batch, i);
        const head = batch[i];
        if (typeof head === 'number' && head >= 0) {
          const count = batch[i + 1] as number;
          for (let k = 0; k < count; k++) this.postOne([head, 1, batch[i + 2 + k]]);
        } else this.postOne(batch.slice(i, i + size));
        i += size;
      }
    }
  };

  private postOne(entry: Batch): void {
    try {
      this.port.postMessage(entry);
    } catch (error) {
      this.onPostError(entry, error);
    }
  }
}

const wirePid = (pid: Pid): WirePid => [pid.node, pid.id];

/** The router of one node. */
export class Router implements Reviver {
  private readonly peers = new Map<number, Peer>();
  private readonly remotePids = new Map<string, WeakRef<Pid>>();
  private readonly forget = new FinalizationRegistry<string>((key) => {
    const ref = this.remotePids.get(key);
    if (ref !== undefined && ref.deref() === undefined) this.remotePids.delete(key);
  });
  private nextCall = 1;

  constructor(readonly system: ActorSystem) {
    system.attachRouter(this);
  }

  /** Connects to `node` through `port`; messages from it start flowing at once. */
  connect(node: number, port: PortLike): void {
    const peer = new Peer(node, port, (wire, error) => this.postFailed(peer, wire, error));
    this.peers.set(node, peer);
    port.on('message', (batch) => this.receive(peer, batch as Batch));
  }

  /** Nodes currently connected. */
  nodes(): number[] {
    return [...this.peers.keys()].filter((n) => !this.peers.get(n)!.closed);
  }

  isConnected(node: number): boolean {
    const peer = this.peers.get(node);
    return peer !== undefined && !peer.closed;
  }

  // ------------------------------------------------------------ reviving

  pid(node: number, id: number): Pid {
    if (node === localNode) return this.system.localPid(id);
    const key = `${node}.${id}`;
    const known = this.remotePids.get(key)?.deref();
    if (known !== undefined) return known;
    const pid = new Pid(node, id, null);
    this.remotePids.set(key, new WeakRef(pid));
    this.forget.register(pid, key);
    return pid;
  }

  ref(node: number, id: number): Ref {
    return new Ref(node, id);
  }

  private revivePid(wire: WirePid | null): Pid | null {
    return wire === null ? null : this.pid(wire[0], wire[1]);
  }

  // ------------------------------------------------------------ outbound

  private peerOf(node: number): Peer | undefined {
    const peer = this.peers.get(node);
    return peer === undefined || peer.closed ? undefined : peer;
  }

  /** Sends a message (info or cast) to a process on another node. Unknown or closed nodes: a no-op, as sending to a dead pid is. */
  send(to: Pid, kind: number, message: unknown): void {
    this.sendTo(to.node, to.id, kind, message);
  }

  /** Sends to a name registered on `node`. */
  sendNamed(node: number, name: string, kind: number, message: unknown): void {
    this.sendTo(node, { name }, kind, message);
  }

  private sendTo(node: number, to: WireTarget, kind: number, message: unknown): void {
    const peer = this.peerOf(node);
    if (peer === undefined) return;
    const { data, revive } = encode(message);
    if (typeof to === 'number')
      peer.postMessage(to * FLAGS + (revive ? kind | REVIVE : kind), data);
    else peer.post({ t: 'send', to, kind, data, revive });
  }

  /** Sends a call; the reply settles `from`. Rejects at once if the node is not connected. */
  call(from: From, node: number, to: WireTarget): void {
    const peer = this.peerOf(node);
    if (peer === undefined) {
      settleError(from, new NoProcError(from.target));
      return;
    }
    const id = this.nextCall++;
    from.remote = peer.calls;
    from.callId = id;
    peer.calls.set(id, from);
    const { data, revive } = encode(from.request);
    const caller = from.caller === null ? null : wirePid(from.caller);
    peer.post({ t: 'call', to, call: id, caller, data, revive });
  }

  exit(from: Pid | null, to: Pid, reason: ExitReason, viaLink: boolean): void {
    const peer = this.peerOf(to.node);
    if (peer === undefined) return;
    peer.post({
      t: 'exit',
      from: from === null ? null : wirePid(from),
      to: to.id,
      reason: encodeSafe(reason),
      link: viaLink,
    });
  }

  link(from: Pid, to: Pid): boolean {
    const peer = this.peerOf(to.node);
    if (peer === undefined) return false;
    peer.post({ t: 'link', from: wirePid(from), to: to.id });
    return true;
  }

  unlink(from: Pid, to: Pid): void {
    this.peerOf(to.node)?.post({ t: 'unlink', from: wirePid(from), to: to.id });
  }

  monitor(watcher: Pid, node: number, to: WireTarget, ref: Ref): boolean {
    const peer = this.peerOf(node);
    if (peer === undefined) return false;
    peer.post({ t: 'monitor', watcher: wirePid(watcher), to, ref: [ref.node, ref.id] });
    return true;
  }

  demonitor(target: Pid, ref: Ref): void {
    this.peerOf(target.node)?.post({ t: 'demonitor', to: target.id, ref: [ref.node, ref.id] });
  }

  down(watcher: Pid, ref: Ref, pid: Pid, reason: ExitReason): void {
    this.peerOf(watcher.node)?.post({
      t: 'down',
      to: watcher.id,
      ref: [ref.node, ref.id],
      pid: wirePid(pid),
      reason: encodeSafe(reason),
    });
  }

  // ------------------------------------------------------------ inbound

  private receive(peer: Peer, batch: Batch): void {
    if (!Array.isArray(batch)) return;
    for (let i = 0; i < batch.length;) {
      const head = batch[i];
      if (typeof head !== 'number')
        this.guarded(peer, 'message', () => this.dispatch(peer, head as Wire));
      else if (head >= 0) this.receiveRun(peer, batch, i, head);
      else this.guarded(peer, 'reply', () => this.receiveReply(peer, head, batch[i + 1]));
      i += entrySize(batch, i);
    }
    this.system.remoteTurn();
  }

  /** A run of messages for one process (see `protocol.ts`). */
  private receiveRun(peer: Peer, batch: Batch, at: number, head: number): void {
    const id = Math.floor(head / FLAGS);
    const flags = head - id * FLAGS;
    const kind = flags & ~REVIVE;
    const count = batch[at + 1] as number;
    const system = this.system;
    const target = system.localProc(id);
    for (let k = 0; k < count; k++) {
      // The target may exit part-way through the run (a message made it stop).
      if (target === null || target.status === S_DEAD) return;
      const data = batch[at + 2 + k];
      if ((flags & REVIVE) === 0) system.deliverFromRemote(target, kind, data);
      else
        this.guarded(peer, 'message', () =>
          system.deliverFromRemote(target!, kind, decode(data, this)),
        );
    }
  }

  private receiveReply(peer: Peer, head: number, data: unknown): void {
    const code = -head - 1;
    const call = Math.floor(code / FLAGS);
    const from = peer.calls.get(call);
    if (from !== undefined)
      settleReply(from, code - call * FLAGS === REVIVE ? decode(data, this) : data);
  }

  /** Runs one inbound step; an error is reported and the rest of the batch goes on. */
  private guarded(peer: Peer, what: string, step: () => void): void {
    try {
      step();
    } catch (error) {
      this.system.logger.error({
        label: 'handler_error',
        pid: `node ${peer.node}`,
        error,
        context: `thread ${what} from node ${peer.node}`,
      });
    }
  }

  private dispatch(peer: Peer, wire: Wire): void {
    const system = this.system;
    switch (wire.t) {
      case 'send': {
        const data = wire.revive ? decode(wire.data, this) : wire.data;
        system.deliverRemote(wire.to, wire.kind, data);
        return;
      }
      case 'call':
        return this.serveCall(peer, wire);
      case 'reply': {
        const from = peer.calls.get(wire.call);
        if (from !== undefined) {
          settleReply(from, wire.revive ? decode(wire.data, this) : wire.data);
        }
        return;
      }
      case 'fail': {
        const from = peer.calls.get(wire.call);
        if (from !== undefined) settleError(from, decode(wire.error, this));
        return;
      }
      case 'exit':
        system.remoteExitSignal(
          this.revivePid(wire.from),
          wire.to,
          decode(wire.reason, this) as ExitReason,
          wire.link,
        );
        return;
      case 'link':
        system.remoteLink(this.pid(wire.from[0], wire.from[1]), wire.to);
        return;
      case 'unlink':
        system.remoteUnlink(this.pid(wire.from[0], wire.from[1]), wire.to);
        return;
      case 'monitor':
        system.remoteMonitor(
          this.pid(wire.watcher[0], wire.watcher[1]),
          wire.to,
          this.ref(wire.ref[0], wire.ref[1]),
        );
        return;
      case 'demonitor':
        system.remoteDemonitor(wire.to, wire.ref);
        return;
      case 'down':
        system.remoteDown(
          wire.to,
          wire.ref,
          this.pid(wire.pid[0], wire.pid[1]),
          decode(wire.reason, this) as ExitReason,
        );
        return;
    }
  }

  /** A call from another node: run it against the local server; answer through the peer. */
  private serveCall(peer: Peer, wire: Extract<Wire, { t: 'call' }>): void {
    const request = wire.revive ? decode(wire.data, this) : wire.data;
    const caller = this.revivePid(wire.caller);
    const callId = wire.call;
    const fail = (error: unknown): void => {
      peer.post({ t: 'fail', call: callId, error: encodeSafe(error) });
    };
    const answer = (value: unknown): void => {
      let encoded: { data: unknown; revive: boolean };
      try {
        encoded = encode(value);
      } catch (error) {
        // A reply that cannot cross fails the caller's call, not the server.
        fail(error);
        return;
      }
      peer.postReply(-(callId * FLAGS + (encoded.revive ? REVIVE : 0)) - 1, encoded.data);
    };
    this.system.serveRemoteCall(wire.to, caller, request, answer, fail);
  }

  /**
   * A batch entry could not be cloned at flush time: fail its call (with
   * `UncloneableError`), carry its exit reason as a description, or report
   * the dropped message.
   */
  private postFailed(peer: Peer, entry: Batch, error: unknown): void {
    const head = entry[0];
    if (typeof head === 'number' && head < 0) {
      const call = Math.floor((-head - 1) / FLAGS);
      peer.post({ t: 'fail', call, error: encodeSafe(postRefusal(error, 'reply')) });
      return;
    }
    if (typeof head === 'number') {
      this.dropped(peer, 'message', postRefusal(error, 'message'));
      return;
    }
    const wire = head as Wire;
    switch (wire.t) {
      case 'call': {
        const from = peer.calls.get(wire.call);
        if (from !== undefined) settleError(from, postRefusal(error, 'request'));
        return;
      }
      // An exit signal, a DOWN or a failed call must arrive whatever its
      // reason holds (encodeSafe checks it; this is the last resort).
      case 'exit':
        peer.post({ ...wire, reason: describeUncloneable(wire.reason) });
        return;
      case 'down':
        peer.post({ ...wire, reason: describeUncloneable(wire.reason) });
        return;
      case 'fail':
        peer.post({ ...wire, error: describeUncloneable(wire.error) });
        return;
      default:
        this.dropped(peer, `message ${wire.t}`, postRefusal(error, 'message'));
    }
  }

  private dropped(peer: Peer, what: string, error: unknown): void {
    this.system.logger.error({
      label: 'handler_error',
      pid: `node ${peer.node}`,
      error,
      context: `${what} to node ${peer.node} could not be cloned and was dropped`,
    });
  }

  // ------------------------------------------------------------ node failure

  /**
   * `node` is gone: reject the calls waiting on it and tell every local
   * process linked to, or monitoring, one of its processes (`noconnection`).
   */
  nodeDown(node: number): void {
    const peer = this.peers.get(node);
    if (peer === undefined || peer.closed) return;
    peer.closed = true;
    for (const from of [...peer.calls.values()]) {
      settleError(from, new CallExitError(from.target, 'noconnection'));
    }
    peer.calls.clear();
    this.system.nodeDown(node);
  }
}
