import { CancelledError, InvalidStateError } from './errors';
import { IOLoop } from './ioloop';
import { appLog } from './log';

const PENDING = 0;
const FULFILLED = 1;
const REJECTED = 2;
const CANCELLED = 3;

/**
 * Logs the exception of a Future that was garbage-collected without anyone having looked at it
 * (like asyncio's "Future exception was never retrieved"). Registered only on `setException`.
 */
const neverRetrieved = new FinalizationRegistry<{ error: unknown }>((held) => {
  appLog.error('Future exception was never retrieved:', held.error);
});

/**
 * A placeholder for a result that is not there yet — Tornado's (asyncio's) Future, as a
 * `PromiseLike`: `await future`, `Promise.all([future])` and `future.then(...)` work.
 *
 * The result is set once (`setResult` / `setException` / `cancel`); a second attempt throws
 * {@link InvalidStateError}. Done callbacks run on the IOLoop, never synchronously, also when added
 * after the Future finished. Awaiting a Future (or calling `result()` / `exception()`) counts as
 * retrieving its exception: such futures never produce unhandled-rejection noise.
 *
 * @example
 * ```ts
 * const f = new Future<number>();
 * IOLoop.current().callLater(0.01, () => f.setResult(42));
 * console.log(await f); // 42
 * ```
 */
export class Future<T = unknown> implements PromiseLike<T> {
  #state = PENDING;
  #value: T | undefined = undefined;
  #error: unknown = undefined;
  // Loosely typed on purpose: a parameter of type T here would make Future<number> not assignable
  // to Future<unknown> (private fields take part in TypeScript's structural checks).
  // biome-ignore lint/suspicious/noExplicitAny: see above.
  #callbacks: ((f: any) => void)[] | null = null;
  #promise: Promise<T> | null = null;
  // biome-ignore lint/suspicious/noExplicitAny: see above.
  #resolve: ((v: any) => void) | null = null;
  #reject: ((e: unknown) => void) | null = null;
  #registered = false;

  /** Wraps any awaitable in a Future (returns the same object when it already is one). */
  static from<T>(awaitable: PromiseLike<T> | T): Future<T> {
    if (awaitable instanceof Future) return awaitable as Future<T>;
    const f = new Future<T>();
    if (isThenable(awaitable)) {
      awaitable.then(
        (v) => {
          if (!f.done()) f.setResult(v);
        },
        (e) => {
          if (!f.done()) f.setException(e);
        },
      );
    } else {
      f.setResult(awaitable as T);
    }
    return f;
  }

  /** Sets the result; throws {@link InvalidStateError} if the Future is already done. */
  setResult(value: T): void {
    if (this.#state !== PENDING) throw new InvalidStateError(`setResult on a ${this.#stateName()} Future`);
    this.#state = FULFILLED;
    this.#value = value;
    this.#settle();
  }

  /** Sets an exception; throws {@link InvalidStateError} if the Future is already done. */
  setException(error: unknown): void {
    if (this.#state !== PENDING) throw new InvalidStateError(`setException on a ${this.#stateName()} Future`);
    this.#state = REJECTED;
    this.#error = error;
    if (this.#promise === null) {
      this.#registered = true;
      neverRetrieved.register(this, { error }, this);
    }
    this.#settle();
  }

  /** Cancels a pending Future (its result becomes a {@link CancelledError}); false if already done. */
  cancel(): boolean {
    if (this.#state !== PENDING) return false;
    this.#state = CANCELLED;
    this.#error = new CancelledError();
    this.#settle();
    return true;
  }

  /** Whether the Future has a result, an exception, or was cancelled. */
  done(): boolean {
    return this.#state !== PENDING;
  }

  /** Whether the Future was cancelled. */
  cancelled(): boolean {
    return this.#state === CANCELLED;
  }

  /**
   * The result. Throws the exception if one was set, {@link CancelledError} if cancelled, and
   * {@link InvalidStateError} if the Future is still pending.
   */
  result(): T {
    if (this.#state === FULFILLED) return this.#value as T;
    if (this.#state === PENDING) throw new InvalidStateError('Result is not ready.');
    this.#retrieved();
    throw this.#error;
  }

  /**
   * The exception (`null` when the Future has a result). Throws {@link CancelledError} if
   * cancelled and {@link InvalidStateError} if still pending.
   */
  exception(): unknown {
    if (this.#state === FULFILLED) return null;
    if (this.#state === PENDING) throw new InvalidStateError('Exception is not set.');
    if (this.#state === CANCELLED) throw this.#error;
    this.#retrieved();
    return this.#error;
  }

  /**
   * Calls `cb(this)` on the IOLoop once the Future is done (on the next iteration if it already is).
   */
  addDoneCallback(cb: (f: Future<T>) => void): void {
    if (this.#state !== PENDING) {
      IOLoop.current().addCallback(cb, this);
    } else if (this.#callbacks === null) {
      this.#callbacks = [cb];
    } else {
      this.#callbacks.push(cb);
    }
  }

  /** Removes a done callback added earlier; returns how many were removed. */
  removeDoneCallback(cb: (f: Future<T>) => void): number {
    if (this.#callbacks === null) return 0;
    const before = this.#callbacks.length;
    this.#callbacks = this.#callbacks.filter((c) => c !== cb);
    return before - this.#callbacks.length;
  }

  // biome-ignore lint/suspicious/noThenProperty: a Future is a PromiseLike on purpose.
  then<R1 = T, R2 = never>(
    onfulfilled?: ((value: T) => R1 | PromiseLike<R1>) | null,
    // biome-ignore lint/suspicious/noExplicitAny: same signature as PromiseLike.then.
    onrejected?: ((reason: any) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    if (typeof onrejected === 'function') this.#retrieved();
    return this.#asPromise().then(onfulfilled, onrejected);
  }

  /** Like `Promise.prototype.catch`. */
  // biome-ignore lint/suspicious/noExplicitAny: same signature as Promise.catch.
  catch<R = never>(onrejected?: ((reason: any) => R | PromiseLike<R>) | null): Promise<T | R> {
    return this.then(undefined, onrejected);
  }

  /** Like `Promise.prototype.finally`. */
  finally(onfinally?: (() => void) | null): Promise<T> {
    return this.#asPromise().finally(onfinally);
  }

  get [Symbol.toStringTag](): string {
    return 'Future';
  }

  #asPromise(): Promise<T> {
    if (this.#promise === null) {
      this.#promise = new Promise<T>((resolve, reject) => {
        this.#resolve = resolve;
        this.#reject = reject;
      });
      if (this.#state !== PENDING) this.#settlePromise();
    }
    return this.#promise;
  }

  #settlePromise(): void {
    const resolve = this.#resolve;
    const reject = this.#reject;
    this.#resolve = this.#reject = null;
    if (this.#state === FULFILLED) resolve?.(this.#value as T);
    else reject?.(this.#error);
  }

  #settle(): void {
    if (this.#promise !== null) this.#settlePromise();
    const cbs = this.#callbacks;
    if (cbs !== null) {
      this.#callbacks = null;
      const loop = IOLoop.current();
      for (const cb of cbs) loop.addCallback(cb, this);
    }
  }

  #retrieved(): void {
    if (this.#registered) {
      this.#registered = false;
      neverRetrieved.unregister(this);
    }
  }

  #stateName(): string {
    return this.#state === FULFILLED ? 'finished' : this.#state === REJECTED ? 'failed' : 'cancelled';
  }
}

/** Whether `x` has a callable `then` (a Promise, a Future, any thenable). */
export function isThenable<T = unknown>(x: unknown): x is PromiseLike<T> {
  return (
    x !== null &&
    (typeof x === 'object' || typeof x === 'function') &&
    typeof (x as { then?: unknown }).then === 'function'
  );
}

/** Whether `x` is a {@link Future}. */
export function isFuture(x: unknown): x is Future<unknown> {
  return x instanceof Future;
}

/** Sets `f`'s result unless it was cancelled meanwhile (Tornado's `future_set_result_unless_cancelled`). */
export function futureSetResultUnlessCancelled<T>(f: Future<T>, value: T): void {
  if (!f.cancelled()) f.setResult(value);
}

/**
 * Sets `f`'s exception unless it was cancelled meanwhile, in which case the exception is logged
 * (Tornado's `future_set_exception_unless_cancelled`).
 */
export function futureSetExceptionUnlessCancelled<T>(f: Future<T>, error: unknown): void {
  if (!f.cancelled()) f.setException(error);
  else appLog.error('Exception after Future was cancelled:', error);
}

/**
 * Copies the outcome of `a` into `b` once `a` is done, unless `b` is already done (for example
 * cancelled). `a` may be any awaitable.
 */
export function chainFuture<T>(a: PromiseLike<T>, b: Future<T>): void {
  a.then(
    (v) => {
      if (!b.done()) b.setResult(v);
    },
    (e) => {
      if (!b.done()) b.setException(e);
    },
  );
}
