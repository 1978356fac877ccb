import { IOLoop, type Timeout } from './ioloop';
import { appLog } from './log';

/**
 * The next deadline of a periodic schedule (Tornado's `PeriodicCallback._update_next`): the period
 * is measured from the start of one run to the start of the next; runs missed because a call took
 * too long are skipped (no burst of catch-up calls), and a clock that went backwards still
 * advances by one period.
 * @internal
 */
export function nextPeriodicTimeout(nextTimeout: number, now: number, period: number): number {
  if (nextTimeout <= now) return nextTimeout + (Math.floor((now - nextTimeout) / period) + 1) * period;
  return nextTimeout + period;
}

/**
 * Calls `callback` every `callbackTime` seconds on the current IOLoop.
 *
 * With `jitter` (0..1), each period is multiplied by a random factor in `1 ± jitter/2` (spreads
 * out the load of many similar timers). If a call runs longer than the period, the missed runs are
 * skipped. A callback that throws (or rejects) is logged and the schedule continues; an async
 * callback is awaited before the next run is scheduled, so runs never overlap.
 *
 * @example
 * ```ts
 * const pc = new PeriodicCallback(() => console.log('tick'), 0.5);
 * pc.start();
 * // ...
 * pc.stop();
 * ```
 */
export class PeriodicCallback {
  readonly callback: () => unknown;
  readonly callbackTime: number;
  readonly jitter: number;
  #running = false;
  #timeout: Timeout | null = null;
  #nextTimeout = 0;
  #loop: IOLoop | null = null;

  constructor(callback: () => unknown, callbackTime: number, jitter = 0) {
    if (typeof callback !== 'function') throw new TypeError('callback must be a function');
    if (!(callbackTime > 0) || !Number.isFinite(callbackTime)) {
      throw new RangeError(`callbackTime must be a positive number of seconds, got ${callbackTime}`);
    }
    if (!(jitter >= 0 && jitter <= 1)) throw new RangeError(`jitter must be between 0 and 1, got ${jitter}`);
    this.callback = callback;
    this.callbackTime = callbackTime;
    this.jitter = jitter;
  }

  /** Starts the timer (the first call is one period from now). */
  start(): void {
    if (this.#running) return;
    this.#loop = IOLoop.current();
    this.#running = true;
    this.#nextTimeout = this.#loop.time();
    this.#scheduleNext();
  }

  /** Stops the timer. */
  stop(): void {
    this.#running = false;
    if (this.#timeout !== null) {
      this.#loop?.removeTimeout(this.#timeout);
      this.#timeout = null;
    }
  }

  /** Whether the timer is started. */
  isRunning(): boolean {
    return this.#running;
  }

  #period(): number {
    if (this.jitter === 0) return this.callbackTime;
    return this.callbackTime * (1 + this.jitter * (Math.random() - 0.5));
  }

  #scheduleNext(): void {
    if (!this.#running || this.#loop === null || this.#loop.isClosed()) return;
    this.#nextTimeout = nextPeriodicTimeout(this.#nextTimeout, this.#loop.time(), this.#period());
    this.#timeout = this.#loop.callAt(this.#nextTimeout, this.#run);
  }

  readonly #run = (): void => {
    this.#timeout = null;
    if (!this.#running) return;
    let ret: unknown;
    try {
      ret = this.callback();
    } catch (err) {
      appLog.error(`Exception in PeriodicCallback ${this.callback.name || '<anonymous>'}:`, err);
    }
    if (ret != null && typeof (ret as PromiseLike<unknown>).then === 'function') {
      (ret as PromiseLike<unknown>).then(
        () => this.#scheduleNext(),
        (err) => {
          appLog.error(`Exception in PeriodicCallback ${this.callback.name || '<anonymous>'}:`, err);
          this.#scheduleNext();
        },
      );
      return;
    }
    this.#scheduleNext();
  };
}
