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
} from './errors';
export {
  chainFuture,
  Future,
  futureSetExceptionUnlessCancelled,
  futureSetResultUnlessCancelled,
  isFuture,
  isThenable,
} from './future';
export { IOLoop, Timeout } from './ioloop';
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
export { fdPipe, fdRead, fdSupport, fdWrite, setNonBlocking } from './native';
