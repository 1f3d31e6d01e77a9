/**
 * @ratatoskr/actors: an Erlang/OTP-style actor runtime for Node.js.
 *
 * Processes with mailboxes, links, monitors and exit signals; GenServer;
 * supervisors; a registry; timers and tasks. See the package README for the
 * semantics each export promises.
 */
export { ActorSystem } from './system.js';
export type { SystemOptions, SpawnOptions, ProcessHandler, ProcessInfo } from './system.js';
export type { Context, ProcessStatus, OverflowPolicy, Priority } from './process.js';
export { Pid, Ref, makeRef, isPid } from './pid.js';
export { DownMessage, ExitMessage, isDown, isExit } from './messages.js';
export { From, RequestId } from './call.js';
export { Inbox } from './inbox.js';
export { TimerRef } from './timers.js';
export { SimulatedClock, systemClock } from './clock.js';
export type { Clock, TimerHandle } from './clock.js';
export { nullLogger } from './observability.js';
export type {
  Logger,
  LogRecord,
  CrashReport,
  SupervisorReport,
  TelemetryEvent,
  TelemetryHook,
} from './observability.js';
export { via, remoteName, isRemoteName } from './protocol.js';
export type {
  Protocol,
  AnyProtocol,
  CallOf,
  CastOf,
  ReplyOf,
  NameResolver,
  Via,
  RemoteName,
  Dest,
} from './protocol.js';
export {
  ActorError,
  ThrownValueError,
  NoProcError,
  CallTimeoutError,
  CallExitError,
  UnexpectedExitError,
  CallSelfError,
  InvalidArgumentError,
  NameTakenError,
  MailboxFullError,
  StartError,
  isOrderlyExit,
  isAbnormalExit,
  formatReason,
  registerErrorClasses,
} from './reasons.js';
export type { ExitReason, ShutdownWith } from './reasons.js';
export { GenServer, ok, ignore, reply, noreply, stop, BadReturnError } from './gen-server.js';
export type {
  NextState,
  ContinueOption,
  InitOk,
  InitStop,
  InitIgnore,
  InitResult,
  Reply,
  NoReply,
  Stop,
  CallResult,
  NoReplyResult,
  MaybePromise,
  StartOptions,
  Spawner,
} from './gen-server.js';

// -- supervision (supervisor.ts, dynamic-supervisor.ts, application.ts) --
export {
  Supervisor,
  childSpec,
  supervisionTree,
  ChildNotFoundError,
  ChildAlreadyPresentError,
  ChildAlreadyStartedError,
  ChildRunningError,
  ChildRestartingError,
  ChildStartError,
} from './supervisor.js';
export type {
  RestartType,
  Shutdown,
  ChildType,
  Strategy,
  ChildSpec,
  ChildSpecOptions,
  ChildInfo,
  ChildCounts,
  BackoffOptions,
  SupervisorOptions,
  Caller,
  TreeNode,
} from './supervisor.js';
export { DynamicSupervisor, MaxChildrenError } from './dynamic-supervisor.js';
export type { DynamicSupervisorOptions } from './dynamic-supervisor.js';
export { Application } from './application.js';
export type { ApplicationOptions, ApplicationHandle } from './application.js';

// -- registry (registry.ts) --
export {
  Registry,
  RegistryNotRunningError,
  KeyTakenError,
  RegistryKeysError,
  KeyNotHeldError,
  RegistryAlreadyStartedError,
} from './registry.js';
export type {
  RegistryKeys,
  RegistryOptions,
  RegistryChildSpec,
  RegistryEntry,
} from './registry.js';

// -- tasks (task.ts) --
export {
  Task,
  TaskSupervisor,
  asyncStream,
  TaskExitError,
  TaskSupervisorFullError,
} from './task.js';
export type {
  TaskResult,
  TaskFn,
  TaskShutdown,
  TaskSupervisorOptions,
  TaskSupervisorChildSpec,
  AsyncStreamOptions,
  StreamFn,
} from './task.js';

// -- threads (threads/) --
export { Threads, NodeDownError } from './threads/threads.js';
export type { Placement, ThreadsOptions, ThreadServerSpec } from './threads/threads.js';
export type { ModuleExport } from './threads/control.js';
export { UncloneableError } from './threads/codec.js';
export { ModuleLoadError } from './threads/load.js';
export { TaskPool, PoolWorkerExitError } from './threads/pool.js';
export type { TaskPoolOptions, PoolTaskSpec } from './threads/pool.js';
