/**
 * Error classes of @tornado-ts/ioloop. Each has a `name` equal to its class name and a stable `code`.
 * @module
 */

/** An operation did not complete within its timeout (gen, locks, queues, runSync). */
export class TimeoutError extends Error {
  override readonly name: string = 'TimeoutError';
  readonly code: string = 'ERR_TIMEOUT';
  constructor(message = 'Timeout') {
    super(message);
  }
}

/** A Future was used in a state that does not allow it (result set twice, result read while pending). */
export class InvalidStateError extends Error {
  override readonly name: string = 'InvalidStateError';
  readonly code: string = 'ERR_INVALID_STATE';
}

/** The Future was cancelled; its result and awaiting it raise this. */
export class CancelledError extends Error {
  override readonly name: string = 'CancelledError';
  readonly code: string = 'ERR_CANCELLED';
  constructor(message = 'Future was cancelled') {
    super(message);
  }
}

/** The native fd addon is not available, so fd handlers and the fd helpers cannot work. */
export class AddonMissingError extends Error {
  override readonly name: string = 'AddonMissingError';
  readonly code: string = 'ERR_IOLOOP_ADDON_MISSING';
  /** Why loading the addon failed. */
  readonly reason: string;
  constructor(reason: string) {
    super(
      `@tornado-ts/ioloop native addon not built (${reason}); fd handlers need it: ` +
        'run `npm rebuild @tornado-ts/ioloop` (needs python3, make, g++)',
    );
    this.reason = reason;
  }
}

/** Misuse of the IOLoop: already running, closed, double handler registration, unknown fd. */
export class IOLoopError extends Error {
  override readonly name: string = 'IOLoopError';
  readonly code: string;
  constructor(message: string, code = 'ERR_IOLOOP') {
    super(message);
    this.code = code;
  }
}

/** `Queue.getNowait()` on an empty queue. */
export class QueueEmpty extends Error {
  override readonly name: string = 'QueueEmpty';
  readonly code: string = 'ERR_QUEUE_EMPTY';
  constructor(message = 'queue is empty') {
    super(message);
  }
}

/** `Queue.putNowait()` on a full queue. */
export class QueueFull extends Error {
  override readonly name: string = 'QueueFull';
  readonly code: string = 'ERR_QUEUE_FULL';
  constructor(message = 'queue is full') {
    super(message);
  }
}

/** Releasing a lock that is not held, a BoundedSemaphore above its bound, or too many `taskDone()`. */
export class LockError extends Error {
  override readonly name: string = 'LockError';
  readonly code: string;
  constructor(message: string, code = 'ERR_LOCK') {
    super(message);
    this.code = code;
  }
}
