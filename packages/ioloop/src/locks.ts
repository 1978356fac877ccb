import { LockError, TimeoutError } from './errors';
import { Deque, dropDone, Waiter } from './waiter';

/**
 * Allows many waiters to be notified by one call: `await cond.wait()` in one task,
 * `cond.notify()` / `cond.notifyAll()` in another.
 *
 * @example
 * ```ts
 * const cond = new Condition();
 * setTimeout(() => cond.notify(), 10);
 * const notified = await cond.wait(1); // true, or false after 1 s without a notify
 * ```
 */
export class Condition {
  #waiters = new Deque<Waiter<boolean>>();
  #timeouts = 0;

  /**
   * Waits for a notify. Resolves `true` when notified, `false` when `timeout` seconds pass first.
   */
  wait(timeout?: number): Promise<boolean> {
    const w = new Waiter<boolean>();
    this.#waiters.push(w);
    w.setTimeout(timeout, (expired) => {
      expired.resolve(false);
      this.#collect();
    });
    return w.promise;
  }

  /** Wakes up to `n` waiters. */
  notify(n = 1): void {
    const woken: Waiter<boolean>[] = [];
    while (n > 0 && this.#waiters.length > 0) {
      const w = this.#waiters.shift()!;
      if (!w.done) {
        n--;
        woken.push(w);
      }
    }
    for (const w of woken) w.resolve(true);
  }

  /** Wakes every waiter. */
  notifyAll(): void {
    this.notify(this.#waiters.length);
  }

  /** Number of waiters (including expired ones not yet cleaned up). @internal */
  get waiterCount(): number {
    return this.#waiters.length;
  }

  #collect(): void {
    // Like Tornado: clean up expired waiters every 100 timeouts.
    if (++this.#timeouts > 100) {
      this.#timeouts = 0;
      dropDone(this.#waiters);
    }
  }
}

/**
 * An event blocks tasks until its internal flag is set: `await event.wait()` returns at once
 * when set, else waits for `set()`. `clear()` resets the flag.
 */
export class Event {
  #value = false;
  #waiters = new Set<Waiter<void>>();

  /** Whether the flag is set. */
  isSet(): boolean {
    return this.#value;
  }

  /** Sets the flag and wakes every waiter. */
  set(): void {
    if (this.#value) return;
    this.#value = true;
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    for (const w of waiters) w.resolve();
  }

  /** Resets the flag: later `wait()` calls block until the next `set()`. */
  clear(): void {
    this.#value = false;
  }

  /** Resolves once the flag is set; rejects with {@link TimeoutError} after `timeout` seconds. */
  wait(timeout?: number): Promise<void> {
    if (this.#value) return Promise.resolve();
    const w = new Waiter<void>();
    this.#waiters.add(w);
    w.setTimeout(timeout, (expired) => {
      this.#waiters.delete(expired);
      expired.reject(new TimeoutError('Timeout'));
    });
    return w.promise;
  }
}

/** What `acquire()` resolves to: releases what was acquired (also via `using`). */
export interface Releaser {
  release(): void;
  [Symbol.dispose](): void;
}

/**
 * A counter of available slots: `acquire()` takes one (waiting while there is none),
 * `release()` gives one back.
 *
 * @example
 * ```ts
 * const sem = new Semaphore(2);
 * const slot = await sem.acquire();
 * try { await work(); } finally { slot.release(); }
 * ```
 */
export class Semaphore {
  #value: number;
  #waiters = new Deque<Waiter<Releaser>>();
  readonly #releaser: Releaser;

  constructor(value = 1) {
    if (!Number.isInteger(value) || value < 0) throw new RangeError('semaphore initial value must be >= 0');
    this.#value = value;
    const release = () => this.release();
    this.#releaser = Object.freeze({ release, [Symbol.dispose]: release });
  }

  /** Slots currently available. */
  get value(): number {
    return this.#value;
  }

  /** Whether `acquire()` would wait. */
  locked(): boolean {
    return this.#value === 0;
  }

  /** Gives a slot back, waking the first waiter if any. */
  release(): void {
    this.#value++;
    while (this.#waiters.length > 0) {
      const w = this.#waiters.shift()!;
      if (!w.done) {
        this.#value--;
        w.resolve(this.#releaser);
        break;
      }
    }
  }

  /**
   * Takes a slot. Resolves with a {@link Releaser}; rejects with {@link TimeoutError} if no slot
   * frees up within `timeout` seconds.
   */
  acquire(timeout?: number): Promise<Releaser> {
    if (this.#value > 0) {
      this.#value--;
      return Promise.resolve(this.#releaser);
    }
    const w = new Waiter<Releaser>();
    this.#waiters.push(w);
    w.setTimeout(timeout, (expired) => {
      expired.reject(new TimeoutError('Timeout'));
      dropDone(this.#waiters);
    });
    return w.promise;
  }

  /** Runs `fn` holding a slot and releases it afterwards, whatever happens. */
  async run<T>(fn: () => T | PromiseLike<T>, timeout?: number): Promise<T> {
    await this.acquire(timeout);
    try {
      return await fn();
    } finally {
      this.release();
    }
  }
}

/** A {@link Semaphore} that refuses to be released above its initial value. */
export class BoundedSemaphore extends Semaphore {
  readonly #initial: number;

  constructor(value = 1) {
    super(value);
    this.#initial = value;
  }

  /** @throws {@link LockError} (`ERR_SEMAPHORE_OVER_RELEASED`) when released too many times. */
  override release(): void {
    if (this.value >= this.#initial) {
      throw new LockError('Semaphore released too many times', 'ERR_SEMAPHORE_OVER_RELEASED');
    }
    super.release();
  }
}

/**
 * A mutex for coroutines: `acquire()` waits while another task holds it.
 *
 * @example
 * ```ts
 * const lock = new Lock();
 * await lock.acquire();
 * try { ... } finally { lock.release(); }
 * // or: await lock.run(async () => { ... });
 * ```
 */
export class Lock {
  readonly #block = new BoundedSemaphore(1);
  readonly #releaser: Releaser;

  constructor() {
    const release = () => this.release();
    this.#releaser = Object.freeze({ release, [Symbol.dispose]: release });
  }

  /** Whether the lock is held. */
  locked(): boolean {
    return this.#block.locked();
  }

  /** Waits for the lock; rejects with {@link TimeoutError} after `timeout` seconds. */
  acquire(timeout?: number): Promise<Releaser> {
    return this.#block.acquire(timeout).then(() => this.#releaser);
  }

  /** Releases the lock. @throws {@link LockError} (`ERR_LOCK_NOT_HELD`) if it is not held. */
  release(): void {
    if (!this.#block.locked()) throw new LockError('release unlocked lock', 'ERR_LOCK_NOT_HELD');
    this.#block.release();
  }

  /** Runs `fn` holding the lock and releases it afterwards, whatever happens. */
  run<T>(fn: () => T | PromiseLike<T>, timeout?: number): Promise<T> {
    return this.#block.run(fn, timeout);
  }
}
