/**
 * @tornado-ts/ioloop — the event loop facade every tornado-ts layer stands on: callbacks,
 * timeouts, futures, PeriodicCallback, gen helpers, locks, queues, fd readiness handlers and the
 * logging channels.
 * @module
 */
export {
  AddonMissingError,
  CancelledError,
  InvalidStateError,
  IOLoopError,
  LockError,
  QueueEmpty,
  QueueFull,
  TimeoutError,
  TornadoError,
} from './errors';
export {
  chainFuture,
  Future,
  futureSetExceptionUnlessCancelled,
  futureSetResultUnlessCancelled,
  isFuture,
  isThenable,
} from './future';
export { moment, multi, multiFuture, type QuietOptions, sleep, withTimeout } from './gen';
export { type AddHandlerOptions, IOLoop, Timeout } from './ioloop';
export { BoundedSemaphore, Condition, Event, Lock, type Releaser, Semaphore } from './locks';
export {
  accessLog,
  appLog,
  configureLogging,
  describeError,
  genLog,
  type Logger,
  type LoggingOptions,
  type LogLevel,
  type LogSink,
  resetLogging,
} from './log';
export {
  type AcceptedConnection,
  fdAccept,
  fdClose,
  fdDup,
  fdPipe,
  fdRead,
  fdSetNoDelay,
  fdShutdown,
  fdSockName,
  fdSupport,
  fdWrite,
  fdWriteString,
  type SocketName,
  setNonBlocking,
} from './native';
export { PeriodicCallback } from './periodic-callback';
export {
  type Comparator,
  defaultCompare,
  LifoQueue,
  PriorityQueue,
  Queue,
  type QueueOptions,
} from './queues';
