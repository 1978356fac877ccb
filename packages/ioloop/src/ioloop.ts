import { closeSync } from 'node:fs';
import { IOLoopError, TimeoutError } from './errors';
import { Future, isThenable } from './future';
import { appLog } from './log';
import { addon, type NativeAddon, type PollHandle } from './native';
import { T_CANCELLED, T_FIRED, T_PENDING, TimerQueue } from './timer-queue';

// biome-ignore lint/suspicious/noExplicitAny: callbacks take whatever arguments their caller passes.
type AnyFn = (...args: any[]) => unknown;

/** Compact the timer queue once at least this many cancelled timeouts make up more than half of it. */
const COMPACT_MIN = 512;
/** Longest delay Node's setTimeout accepts, in ms. */
const MAX_DELAY_MS = 2 ** 31 - 1;

/**
 * A scheduled call returned by {@link IOLoop.callLater}, {@link IOLoop.callAt} and
 * {@link IOLoop.addTimeout}; pass it to {@link IOLoop.removeTimeout} to cancel it.
 */
export class Timeout {
  /** When the callback runs, in {@link IOLoop.time} seconds. */
  readonly deadline: number;
  /** @internal tie-breaker: FIFO among equal deadlines */
  readonly seq: number;
  /** @internal */
  callback: AnyFn | null;
  /** @internal */
  args: unknown[] | null;
  /** @internal pending / fired / cancelled */
  state = T_PENDING;
  /** @internal the loop whose timer queue holds this timeout */
  readonly loop: IOLoop;

  /** @internal */
  constructor(loop: IOLoop, deadline: number, seq: number, callback: AnyFn, args: unknown[] | null) {
    this.loop = loop;
    this.deadline = deadline;
    this.seq = seq;
    this.callback = callback;
    this.args = args;
  }

  /** Whether the timeout is still waiting to run. */
  pending(): boolean {
    return this.state === T_PENDING;
  }
}

/** Options of {@link IOLoop.addHandler}. */
export interface AddHandlerOptions {
  /**
   * Report a peer's hang-up as {@link IOLoop.ERROR} together with READ (default `true`). That
   * costs one poll(2) per READ notification; a socket reader that treats read(2) returning 0 as
   * the hang-up can turn it off (`false`): ERROR then comes only for socket errors.
   */
  hangupCheck?: boolean;
}

interface HandlerEntry {
  loop: IOLoop;
  fd: number;
  handler: (fd: number, events: number) => unknown;
  events: number;
  poll: PollHandle;
  /** The id batched events carry (0: delivered one by one through dispatchEntry). */
  id: number;
}

let dispatchEntry: (this: HandlerEntry, events: number) => void;

// Batched delivery (the addon's batchInit/pollStartBatched): the events of one poll phase arrive
// as (id, events) pairs in BATCH, handed over in one call; BY_ID finds the handler. Ids only grow,
// so a handler removed during a batch never receives an event meant for its successor.
const BATCH = new Int32Array(2 * 1024);
const BY_ID = new Map<number, HandlerEntry>();
const BATCHING = new WeakSet<NativeAddon>();
let lastId = 0;
let dispatchBatch: (n: number) => void;

/** fds with a handler, across every IOLoop of this thread (libuv allows one poll watcher per fd). */
const fdsInUse = new Set<number>();

function callbackName(fn: unknown): string {
  const name = typeof fn === 'function' ? fn.name : '';
  return name ? name.replace(/^bound /, '') : '<anonymous>';
}

function logRejection(what: string, p: PromiseLike<unknown>): void {
  p.then(undefined, (err) => appLog.error(`Exception in ${what}:`, err));
}

/**
 * The event loop facade. Node's own event loop (libuv) is the loop; an IOLoop schedules callbacks
 * and timeouts on it and watches file descriptors through libuv's poll watcher.
 *
 * There is one current IOLoop per thread ({@link IOLoop.current}); worker threads get their own.
 *
 * @example
 * ```ts
 * import { IOLoop } from '@tornado-ts/ioloop';
 *
 * const loop = IOLoop.current();
 * loop.addCallback(() => console.log('next iteration'));
 * const t = loop.callLater(0.5, () => console.log('half a second later'));
 * loop.removeTimeout(t); // changed our mind
 * const answer = await loop.runSync(async () => 42, { timeout: 1 });
 * ```
 */
export class IOLoop {
  /** No events. */
  static readonly NONE = 0;
  /** The fd is readable (or at end of file). */
  static readonly READ = 0x001;
  /** The fd is writable. */
  static readonly WRITE = 0x004;
  /** Error or hang-up on the fd (epoll's `EPOLLERR | EPOLLHUP`); always reported, never needs asking for. */
  static readonly ERROR = 0x018;

  static #current: IOLoop | null = null;

  // addCallback queue: flat pairs [fn, args|undefined, fn, args|undefined, ...]
  #queue: unknown[] = [];
  #spare: unknown[] = [];
  #scheduled = false;
  readonly #runQueue = (): void => this.#runCallbacks();

  // timeouts
  #timers = new TimerQueue<Timeout>();
  #seq = 0;
  #timer: NodeJS.Timeout | null = null;
  #timerAt = Number.POSITIVE_INFINITY;
  #timerRefed = false;
  readonly #onTimer = (): void => this.#runTimeouts();

  // handlers
  #handlers = new Map<number, HandlerEntry>();

  // start/stop
  #running = false;
  #stopPending = false;
  #stopWaiters: (() => void)[] = [];
  #keepAlive: NodeJS.Timeout | null = null;
  #closed = false;

  /**
   * The current IOLoop of this thread, created on first use. `IOLoop.current(false)` returns
   * `null` instead of creating one.
   */
  static current(): IOLoop;
  static current(instance: false): IOLoop | null;
  static current(instance = true): IOLoop | null {
    if (IOLoop.#current === null && instance) IOLoop.#current = new IOLoop();
    return IOLoop.#current;
  }

  /** Alias of {@link IOLoop.current}. */
  static instance(): IOLoop {
    return IOLoop.current();
  }

  /** Forgets the current IOLoop (the next {@link IOLoop.current} creates a new one). */
  static clearCurrent(): void {
    IOLoop.#current = null;
  }

  /** Makes this IOLoop the thread's current one. */
  makeCurrent(): void {
    if (this.#closed) throw new IOLoopError('IOLoop is closed', 'ERR_IOLOOP_CLOSED');
    IOLoop.#current = this;
  }

  /** Monotonic time in seconds (floating point): the clock of every deadline. */
  time(): number {
    return performance.now() / 1000;
  }

  /** Whether {@link IOLoop.start} or {@link IOLoop.runSync} is in progress. */
  isRunning(): boolean {
    return this.#running;
  }

  /** Whether {@link IOLoop.close} was called. */
  isClosed(): boolean {
    return this.#closed;
  }

  /**
   * Calls `callback(...args)` on the next loop iteration. Callbacks run in FIFO order; a callback
   * that throws (or returns a promise that rejects) is logged on `appLog` with its name and never
   * stops the others. A no-op on a closed loop.
   */
  addCallback(callback: AnyFn, ...args: unknown[]): void {
    if (typeof callback !== 'function') throw new TypeError('callback must be a function');
    if (this.#closed) return;
    this.#queue.push(callback, args.length === 0 ? undefined : args);
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#runQueue);
    }
  }

  /** Calls `callback(...args)` on the next iteration, detached from the caller (same as addCallback). */
  spawnCallback(callback: AnyFn, ...args: unknown[]): void {
    this.addCallback(callback, ...args);
  }

  #runCallbacks(): void {
    this.#scheduled = false;
    const q = this.#queue;
    this.#queue = this.#spare;
    const n = q.length;
    for (let i = 0; i < n; i += 2) {
      if (this.#closed) break;
      const fn = q[i] as AnyFn;
      const args = q[i + 1] as unknown[] | undefined;
      this.#invoke(fn, args, 'callback');
    }
    q.length = 0;
    this.#spare = q;
  }

  #invoke(fn: AnyFn, args: unknown[] | undefined | null, kind: string): void {
    let ret: unknown;
    try {
      ret = args == null ? fn() : Reflect.apply(fn, undefined, args);
    } catch (err) {
      appLog.error(`Exception in ${kind} ${callbackName(fn)}:`, err);
      return;
    }
    if (ret != null && typeof (ret as { then?: unknown }).then === 'function') {
      logRejection(`${kind} ${callbackName(fn)}`, ret as PromiseLike<unknown>);
    }
  }

  /** Runs `callback(...args)` `delay` seconds from now. */
  callLater(delay: number, callback: AnyFn, ...args: unknown[]): Timeout {
    return this.#schedule(this.time() + delay, callback, args);
  }

  /** Runs `callback(...args)` at `when`, an absolute {@link IOLoop.time}. */
  callAt(when: number, callback: AnyFn, ...args: unknown[]): Timeout {
    return this.#schedule(when, callback, args);
  }

  /** Runs `callback(...args)` at `deadline`, an absolute {@link IOLoop.time} (Tornado's add_timeout). */
  addTimeout(deadline: number, callback: AnyFn, ...args: unknown[]): Timeout {
    return this.#schedule(deadline, callback, args);
  }

  #schedule(deadline: number, callback: AnyFn, args: unknown[]): Timeout {
    if (this.#closed) throw new IOLoopError('IOLoop is closed', 'ERR_IOLOOP_CLOSED');
    if (typeof deadline !== 'number' || Number.isNaN(deadline)) {
      throw new TypeError(`deadline must be a number, got ${String(deadline)}`);
    }
    if (typeof callback !== 'function') throw new TypeError('callback must be a function');
    const t = new Timeout(this, deadline, this.#seq++, callback, args.length === 0 ? null : args);
    this.#timers.push(t);
    if (deadline < this.#timerAt) this.#arm(deadline);
    else if (!this.#timerRefed) {
      this.#timerRefed = true;
      this.#timer?.ref();
    }
    return t;
  }

  /** Cancels a pending timeout. Removing a fired or already removed timeout is a no-op. */
  removeTimeout(timeout: Timeout | null | undefined): void {
    if (!timeout || timeout.state !== T_PENDING || timeout.loop !== this) return;
    timeout.state = T_CANCELLED;
    timeout.callback = null;
    timeout.args = null;
    const timers = this.#timers;
    const cancelled = ++timers.cancelled;
    const size = timers.size;
    if (cancelled === size) {
      // Nothing left to wait for: let the process exit if nothing else keeps it alive.
      if (cancelled > COMPACT_MIN) timers.clear();
      if (this.#timerRefed) {
        this.#timerRefed = false;
        this.#timer?.unref();
      }
    } else if (cancelled > COMPACT_MIN && cancelled > size >> 1) {
      timers.compact();
    }
  }

  /** Number of timeouts still pending (cancelled ones awaiting cleanup excluded). */
  pendingTimeouts(): number {
    return this.#timers.size - this.#timers.cancelled;
  }

  #arm(deadline: number): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    const ms = Math.min(MAX_DELAY_MS, Math.max(1, Math.ceil((deadline - this.time()) * 1000)));
    this.#timer = setTimeout(this.#onTimer, ms);
    this.#timerAt = deadline;
    this.#timerRefed = true;
  }

  #disarm(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.#timerAt = Number.POSITIVE_INFINITY;
    this.#timerRefed = false;
  }

  #runTimeouts(): void {
    this.#timer = null;
    this.#timerAt = Number.POSITIVE_INFINITY;
    this.#timerRefed = false;
    if (this.#closed) return;
    const now = this.time();
    // Only timeouts that existed when this batch started run in it: one scheduled by a callback
    // of this batch waits for the next turn even if already due (no starvation of I/O).
    const seqLimit = this.#seq;
    const timers = this.#timers;
    let top: Timeout | undefined;
    while (!this.#closed && (top = timers.peek()) !== undefined) {
      if (top.state === T_CANCELLED) {
        timers.pop();
        timers.cancelled--;
      } else if (top.deadline <= now && top.seq < seqLimit) {
        timers.pop();
        top.state = T_FIRED;
        const fn = top.callback!;
        const args = top.args;
        top.callback = null;
        top.args = null;
        this.#invoke(fn, args, 'timeout callback');
      } else {
        break;
      }
    }
    if (this.#closed) return;
    // Re-arm for what is left (also when the timer fired early relative to our clock).
    // (A callback may already have armed the timer, possibly for a later deadline than ours.)
    if (top !== undefined && top.deadline < this.#timerAt) this.#arm(top.deadline);
  }

  /**
   * Calls `callback(future)` on the loop once `future` (any awaitable) is done. A plain Promise
   * is wrapped in a {@link Future} so the callback can call `result()`.
   */
  addFuture<T>(future: PromiseLike<T>, callback: (f: Future<T>) => unknown): void {
    const f = Future.from(future);
    f.addDoneCallback(() => this.addCallback(callback, f));
  }

  /**
   * Starts the loop and resolves when {@link IOLoop.stop} is called. While started, the loop keeps
   * the process alive even with nothing else scheduled. If `stop()` was called while the loop was
   * not running, this resolves after one iteration.
   */
  start(): Promise<void> {
    if (this.#closed) return Promise.reject(new IOLoopError('IOLoop is closed', 'ERR_IOLOOP_CLOSED'));
    if (this.#running) {
      return Promise.reject(new IOLoopError('IOLoop is already running', 'ERR_IOLOOP_RUNNING'));
    }
    this.#running = true;
    this.#keepAlive = setInterval(() => {}, MAX_DELAY_MS);
    const stopped = new Promise<void>((resolve) => this.#stopWaiters.push(resolve));
    if (this.#stopPending) {
      this.#stopPending = false;
      this.addCallback(() => this.stop());
    }
    return stopped;
  }

  /** Stops a running loop (its `start()` promise resolves). Before `start()`, makes the next one return at once. */
  stop(): void {
    if (!this.#running) {
      this.#stopPending = true;
      return;
    }
    this.#running = false;
    if (this.#keepAlive !== null) clearInterval(this.#keepAlive);
    this.#keepAlive = null;
    const waiters = this.#stopWaiters;
    this.#stopWaiters = [];
    for (const w of waiters) w();
  }

  /**
   * Runs `fn` on the loop (started for the duration) and resolves with its result, awaiting it if
   * it returns an awaitable. With `timeout` (seconds), rejects with {@link TimeoutError} if it
   * takes longer (and cancels it if it is a Future). Rejects if the loop is stopped first.
   */
  runSync<T>(fn: () => T | PromiseLike<T>, opts: { timeout?: number } = {}): Promise<T> {
    const started = this.start();
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      let timer: Timeout | null = null;
      const finish = (ok: boolean, value: unknown): void => {
        if (settled) return;
        settled = true;
        this.removeTimeout(timer);
        if (this.#running) this.stop();
        if (ok) resolve(value as T);
        else reject(value);
      };
      started.then(
        () =>
          finish(false, new IOLoopError('Event loop stopped before Future completed.', 'ERR_IOLOOP_STOPPED')),
        (err) => finish(false, err),
      );
      if (!this.#running) return;
      let work: unknown;
      if (opts.timeout !== undefined) {
        const timeout = opts.timeout;
        timer = this.callLater(timeout, () => {
          if (work instanceof Future) work.cancel();
          finish(false, new TimeoutError(`Operation timed out after ${timeout} seconds`));
        });
      }
      this.addCallback(() => {
        try {
          work = fn();
        } catch (err) {
          finish(false, err);
          return;
        }
        if (isThenable(work)) {
          (work as PromiseLike<T>).then(
            (v) => finish(true, v),
            (e) => finish(false, e),
          );
        } else {
          finish(true, work);
        }
      });
    });
  }

  /**
   * Closes the loop: stops it, drops every pending callback and timeout, removes every fd
   * handler (and with `allFds`, closes those fds). A closed loop ignores addCallback; if it was
   * current, the next {@link IOLoop.current} creates a fresh one.
   */
  close(allFds = false): void {
    if (this.#closed) return;
    if (this.#running) this.stop();
    this.#closed = true;
    this.#queue.length = 0;
    this.#timers.clear((t) => {
      t.state = T_CANCELLED;
      t.callback = null;
      t.args = null;
    });
    this.#disarm();
    for (const fd of [...this.#handlers.keys()]) {
      this.removeHandler(fd);
      if (allFds) {
        try {
          closeSync(fd);
        } catch {
          // already closed
        }
      }
    }
    if (IOLoop.#current === this) IOLoop.#current = null;
  }

  /**
   * Calls `handler(fd, events)` whenever `fd` is ready for `events` (a mask of
   * {@link IOLoop.READ} and {@link IOLoop.WRITE}); {@link IOLoop.ERROR} is reported on error or
   * hang-up without asking (`ERROR` alone watches for that only; `NONE` watches nothing; see
   * {@link AddHandlerOptions.hangupCheck}). Notifications are level-triggered, through libuv's poll watcher in the
   * native addon; the fd is switched to non-blocking mode. Remove the handler before closing the fd.
   * The fds one poll phase found ready are handled in one batch: handlers one after another, then
   * microtasks and `process.nextTick` callbacks (one call into JavaScript per loop iteration).
   *
   * @throws {@link IOLoopError} if `fd` already has a handler; {@link AddonMissingError} if the
   *   addon is not built; an Error with `code` if libuv cannot poll the fd (e.g. `EPERM` for a
   *   regular file).
   */
  addHandler(
    fd: number,
    handler: (fd: number, events: number) => unknown,
    events: number,
    opts?: AddHandlerOptions,
  ): void {
    if (this.#closed) throw new IOLoopError('IOLoop is closed', 'ERR_IOLOOP_CLOSED');
    checkFd(fd);
    checkEvents(events);
    if (typeof handler !== 'function') throw new TypeError('handler must be a function');
    if (fdsInUse.has(fd)) throw new IOLoopError(`fd ${fd} already has a handler`, 'ERR_IOLOOP_FD_IN_USE');
    const native = addon();
    const flags = opts?.hangupCheck === false ? 1 : 0;
    const entry: HandlerEntry = {
      loop: this,
      fd,
      handler,
      events,
      poll: null as unknown as PollHandle,
      id: 0,
    };
    if (native.pollStartBatched !== undefined && native.batchInit !== undefined) {
      if (!BATCHING.has(native)) {
        native.batchInit(dispatchBatch, BATCH);
        BATCHING.add(native);
      }
      lastId = lastId === 0x7fffffff ? 1 : lastId + 1;
      entry.poll = native.pollStartBatched(fd, events, lastId, flags);
      entry.id = lastId;
      BY_ID.set(lastId, entry);
    } else {
      // One shared function, called on the entry: no closure per handler.
      entry.poll = native.pollStart(fd, events, dispatchEntry, flags, entry);
    }
    fdsInUse.add(fd);
    this.#handlers.set(fd, entry);
  }

  /** Changes the events `fd`'s handler waits for. @throws {@link IOLoopError} for an fd without a handler. */
  updateHandler(fd: number, events: number): void {
    checkEvents(events);
    const entry = this.#handlers.get(fd);
    if (entry === undefined) throw new IOLoopError(`fd ${fd} has no handler`, 'ERR_IOLOOP_UNKNOWN_FD');
    entry.events = events;
    addon().pollUpdate(entry.poll, events);
  }

  /** Stops watching `fd`. A no-op for an fd without a handler. */
  removeHandler(fd: number): void {
    const entry = this.#handlers.get(fd);
    if (entry === undefined) return;
    this.#handlers.delete(fd);
    fdsInUse.delete(fd);
    if (entry.id !== 0) BY_ID.delete(entry.id);
    addon().pollClose(entry.poll);
  }

  /** Whether `fd` has a handler on this loop. */
  hasHandler(fd: number): boolean {
    return this.#handlers.has(fd);
  }

  static {
    dispatchEntry = function (this: HandlerEntry, events: number): void {
      this.loop.#dispatch(this, events);
    };
    dispatchBatch = (n: number): void => {
      for (let i = 0; i < 2 * n; i += 2) {
        const entry = BY_ID.get(BATCH[i] as number);
        if (entry !== undefined) entry.loop.#dispatch(entry, BATCH[i + 1] as number);
      }
    };
  }

  #dispatch(entry: HandlerEntry, events: number): void {
    if (this.#handlers.get(entry.fd) !== entry) return;
    let ret: unknown;
    try {
      ret = entry.handler(entry.fd, events);
    } catch (err) {
      appLog.error(`Exception in handler ${callbackName(entry.handler)} for fd ${entry.fd}:`, err);
      return;
    }
    if (ret != null && typeof (ret as { then?: unknown }).then === 'function') {
      logRejection(`handler ${callbackName(entry.handler)} for fd ${entry.fd}`, ret as PromiseLike<unknown>);
    }
  }
}

function checkFd(fd: number): void {
  if (!Number.isInteger(fd) || fd < 0)
    throw new TypeError(`fd must be a non-negative integer, got ${String(fd)}`);
}

function checkEvents(events: number): void {
  if (!Number.isInteger(events) || (events & ~(IOLoop.READ | IOLoop.WRITE | IOLoop.ERROR)) !== 0) {
    throw new TypeError(`events must be a mask of IOLoop.READ, WRITE and ERROR, got ${String(events)}`);
  }
}
