import { Deque } from './deque';
import { IOLoop, type Timeout } from './ioloop';

/**
 * One pending wait of a lock or queue: a promise plus its settle functions, an optional timeout,
 * and a `done` flag so expired waiters can stay in their deque until they are skipped.
 * @internal
 */
export class Waiter<T> {
  readonly promise: Promise<T>;
  done = false;
  #resolve!: (v: T) => void;
  #reject!: (e: unknown) => void;
  #timer: Timeout | null = null;
  #loop: IOLoop | null = null;

  constructor() {
    this.promise = new Promise<T>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
  }

  /** After `timeout` seconds, calls `onTimeout` (which settles the waiter) unless already done. */
  setTimeout(timeout: number | undefined, onTimeout: (w: Waiter<T>) => void): void {
    if (timeout === undefined || timeout === null) return;
    this.#loop = IOLoop.current();
    this.#timer = this.#loop.callLater(timeout, () => {
      this.#timer = null;
      if (!this.done) onTimeout(this);
    });
  }

  resolve(value: T): void {
    if (this.done) return;
    this.done = true;
    this.#clearTimer();
    this.#resolve(value);
  }

  reject(err: unknown): void {
    if (this.done) return;
    this.done = true;
    this.#clearTimer();
    this.#reject(err);
  }

  #clearTimer(): void {
    if (this.#timer !== null) {
      this.#loop?.removeTimeout(this.#timer);
      this.#timer = null;
    }
  }
}

/** Drops the waiters that are done (timed out) from a deque. @internal */
export function dropDone<T>(waiters: Deque<Waiter<T>>): void {
  waiters.retain((w) => !w.done);
}

export { Deque };
