/**
 * The entry point of a thread node: a worker thread hosting its own
 * `ActorSystem` and scheduler, connected to the main thread's system and to
 * every other thread node by the router, and answering the control plane.
 * Started by `Threads`; not meant to be imported.
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import * as Comlink from 'comlink';
import { startServerWithParent, type GenServer } from '../gen-server.js';
import { localNode, type Pid } from '../pid.js';
import { ActorSystem, type ProcessHandler, type SystemOptions } from '../system.js';
import { decode, encode } from './codec.js';
import { loadExport } from './load.js';
import { installErrorTransfer, type ControlApi, type ModuleExport } from './control.js';
import type { WirePid } from './protocol.js';
import { Router } from './router.js';

interface NodeData {
  dataPort: MessagePort;
  controlPort: MessagePort;
  system: Pick<SystemOptions, 'processBudget' | 'turnBudget'>;
}

type Introduction =
  { t: 'peer'; node: number; port: MessagePort } | { t: 'node_down'; node: number };

const data = workerData as NodeData;
const system = new ActorSystem(data.system);
const router = new Router(system);
installErrorTransfer(router);
router.connect(0, data.dataPort);

parentPort!.on('message', (message: Introduction) => {
  if (message.t === 'peer') router.connect(message.node, message.port);
  else if (message.t === 'node_down') router.nodeDown(message.node);
});

const wire = (pid: Pid): WirePid => [pid.node, pid.id];

async function load(spec: ModuleExport): Promise<unknown> {
  return loadExport(spec.module, spec.export ?? 'default');
}

const api: ControlApi = {
  async startServer(request) {
    const behaviour = (await load(request)) as GenServer<unknown, unknown, unknown>;
    const parent =
      request.parent === null ? undefined : router.pid(request.parent[0], request.parent[1]);
    const pid = await startServerWithParent(
      system,
      behaviour,
      decode(request.args, router),
      request.options,
      parent,
      request.link,
    );
    return wire(pid);
  },
  async spawn(request) {
    const handler = (await load(request)) as ProcessHandler;
    const link = request.link === null ? undefined : router.pid(request.link[0], request.link[1]);
    return wire(system.spawn(handler, { ...request.options, link }));
  },
  processes() {
    return system.processes().map(wire);
  },
  processInfo(id) {
    const info = system.processInfo(system.localPid(id));
    return info === undefined ? undefined : encode(info).data;
  },
  load() {
    let queued = 0;
    const pids = system.processes();
    for (const pid of pids) queued += system.processInfo(pid)?.mailboxLength ?? 0;
    return { processes: pids.length, queued };
  },
  async shutdown(timeoutMs) {
    await system.shutdown(timeoutMs);
  },
};

// Node's MessagePort is an EventTarget with `.data` on its message events,
// which is the endpoint shape comlink expects.
Comlink.expose(api, data.controlPort as unknown as Comlink.Endpoint);
parentPort!.postMessage({ t: 'ready', node: localNode });
