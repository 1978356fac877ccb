/**
 * Error classes of @tornado-ts/ioloop. Each has a `name` equal to its class name and a stable `code`.
 * @module
 */

/**
 * The base of every tornado-ts error class (the other packages' errors extend it too): `name` is
 * the name of the class actually constructed (a subclass of yours gets its own name) and `code` a
 * stable string to branch on. `instanceof TornadoError` tells the stack's errors from others.
 *
 * @example
 * ```ts
 * class ProtocolError extends TornadoError {
 *   constructor(message: string) {
 *     super(message, 'ERR_MY_PROTOCOL');
 *   }
 * }
 * new ProtocolError('bad frame').name; // 'ProtocolError'
 * ```
 */
export class TornadoError extends Error {
  override readonly name: string;
  /** A stable code string (`'ERR_TIMEOUT'`, `'ERR_STREAM_CLOSED'`, ...). */
  readonly code: string;
  constructor(message: string, code: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** An operation did not complete within its timeout (gen, locks, queues, runSync). */
export class TimeoutError extends TornadoError {
  declare readonly code: 'ERR_TIMEOUT';
  constructor(message = 'Timeout') {
    super(message, 'ERR_TIMEOUT');
  }
}

/** A Future was used in a state that does not allow it (result set twice, result read while pending). */
export class InvalidStateError extends TornadoError {
  declare readonly code: 'ERR_INVALID_STATE';
  constructor(message = 'Invalid state') {
    super(message, 'ERR_INVALID_STATE');
  }
}

/** The Future was cancelled; its result and awaiting it raise this. */
export class CancelledError extends TornadoError {
  declare readonly code: 'ERR_CANCELLED';
  constructor(message = 'Future was cancelled') {
    super(message, 'ERR_CANCELLED');
  }
}

/** The native fd addon is not available, so fd handlers and the fd helpers cannot work. */
export class AddonMissingError extends TornadoError {
  declare readonly code: 'ERR_IOLOOP_ADDON_MISSING';
  /** Why loading the addon failed. */
  readonly reason: string;
  constructor(reason: string) {
    super(
      `@tornado-ts/ioloop native addon not built (${reason}); fd handlers need it: ` +
        'run `npm rebuild @tornado-ts/ioloop` (needs python3, make, g++)',
      'ERR_IOLOOP_ADDON_MISSING',
    );
    this.reason = reason;
  }
}

/** Misuse of the IOLoop: already running, closed, double handler registration, unknown fd. */
export class IOLoopError extends TornadoError {
  constructor(message: string, code = 'ERR_IOLOOP') {
    super(message, code);
  }
}

/** `Queue.getNowait()` on an empty queue. */
export class QueueEmpty extends TornadoError {
  declare readonly code: 'ERR_QUEUE_EMPTY';
  constructor(message = 'queue is empty') {
    super(message, 'ERR_QUEUE_EMPTY');
  }
}

/** `Queue.putNowait()` on a full queue. */
export class QueueFull extends TornadoError {
  declare readonly code: 'ERR_QUEUE_FULL';
  constructor(message = 'queue is full') {
    super(message, 'ERR_QUEUE_FULL');
  }
}

/** Releasing a lock that is not held, a BoundedSemaphore above its bound, or too many `taskDone()`. */
export class LockError extends TornadoError {
  constructor(message: string, code = 'ERR_LOCK') {
    super(message, code);
  }
}
