import { LockError, QueueEmpty, QueueFull, TimeoutError } from './errors';
import { Event } from './locks';
import { Deque, Waiter } from './waiter';

/** Options of {@link Queue}. */
export interface QueueOptions {
  /** Most items the queue holds; `put` waits and `putNowait` throws {@link QueueFull} beyond. 0 = unbounded (default). */
  maxsize?: number;
}

interface Putter<T> {
  item: T;
  waiter: Waiter<void>;
}

/**
 * A queue for coordinating producer and consumer tasks (Tornado's `tornado.queues.Queue`).
 *
 * @example
 * ```ts
 * const q = new Queue<number>({ maxsize: 2 });
 * (async () => { for await (const item of q) { console.log(item); q.taskDone(); } })();
 * for (const i of [1, 2, 3]) await q.put(i); // waits while the queue is full
 * await q.join(); // every item was marked done
 * ```
 */
export class Queue<T> implements AsyncIterable<T> {
  readonly #maxsize: number;
  #getters = new Deque<Waiter<T>>();
  #putters = new Deque<Putter<T>>();
  #unfinished = 0;
  #finished = new Event();

  constructor(opts: QueueOptions = {}) {
    const maxsize = opts.maxsize ?? 0;
    if (!Number.isInteger(maxsize) || maxsize < 0) throw new RangeError("maxsize can't be negative");
    this.#maxsize = maxsize;
    this.#finished.set();
  }

  /** Most items allowed in the queue (0 = unbounded). */
  get maxsize(): number {
    return this.#maxsize;
  }

  /** Number of items in the queue. */
  qsize(): number {
    return this.storeSize();
  }

  empty(): boolean {
    return this.storeSize() === 0;
  }

  full(): boolean {
    return this.#maxsize > 0 && this.storeSize() >= this.#maxsize;
  }

  /**
   * Puts an item, waiting while the queue is full. Rejects with {@link TimeoutError} if there is
   * still no room after `timeout` seconds.
   */
  put(item: T, timeout?: number): Promise<void> {
    try {
      this.putNowait(item);
    } catch (err) {
      if (!(err instanceof QueueFull)) throw err;
      const waiter = new Waiter<void>();
      this.#putters.push({ item, waiter });
      waiter.setTimeout(timeout, timeoutExpired);
      return waiter.promise;
    }
    return Promise.resolve();
  }

  /** Puts an item without waiting. @throws {@link QueueFull} if there is no room. */
  putNowait(item: T): void {
    this.#consumeExpired();
    if (this.#getters.length > 0) {
      const getter = this.#getters.shift()!;
      this.#putInternal(item);
      getter.resolve(this.storeGet());
    } else if (this.full()) {
      throw new QueueFull();
    } else {
      this.#putInternal(item);
    }
  }

  /**
   * Removes and returns an item, waiting until one is available. Rejects with
   * {@link TimeoutError} if none arrives within `timeout` seconds.
   */
  get(timeout?: number): Promise<T> {
    try {
      return Promise.resolve(this.getNowait());
    } catch (err) {
      if (!(err instanceof QueueEmpty)) throw err;
      const waiter = new Waiter<T>();
      this.#getters.push(waiter);
      waiter.setTimeout(timeout, timeoutExpired);
      return waiter.promise;
    }
  }

  /** Removes and returns an item without waiting. @throws {@link QueueEmpty} if there is none. */
  getNowait(): T {
    this.#consumeExpired();
    if (this.#putters.length > 0) {
      const { item, waiter } = this.#putters.shift()!;
      this.#putInternal(item);
      waiter.resolve();
      return this.storeGet();
    }
    if (this.storeSize() > 0) return this.storeGet();
    throw new QueueEmpty();
  }

  /**
   * Marks a formerly fetched item as processed; `join()` resolves once every item put was marked.
   * @throws {@link LockError} (`ERR_QUEUE_TASK_DONE`) when called more times than items were put.
   */
  taskDone(): void {
    if (this.#unfinished <= 0) throw new LockError('taskDone() called too many times', 'ERR_QUEUE_TASK_DONE');
    this.#unfinished--;
    if (this.#unfinished === 0) this.#finished.set();
  }

  /** Resolves when every item put has been marked done; rejects with {@link TimeoutError} after `timeout` seconds. */
  join(timeout?: number): Promise<void> {
    return this.#finished.wait(timeout);
  }

  /** `for await (const item of queue)` gets items forever. */
  [Symbol.asyncIterator](): AsyncIterator<T> {
    return { next: () => this.get().then((value) => ({ value, done: false })) };
  }

  /** Storage hooks: subclasses change the order items come out in. */
  protected storePut(item: T): void {
    this.#fifo.push(item);
  }
  protected storeGet(): T {
    return this.#fifo.shift() as T;
  }
  protected storeSize(): number {
    return this.#fifo.length;
  }

  readonly #fifo = new Deque<T>();

  #putInternal(item: T): void {
    this.#unfinished++;
    this.#finished.clear();
    this.storePut(item);
  }

  #consumeExpired(): void {
    while (this.#putters.length > 0 && this.#putters.peek()!.waiter.done) this.#putters.shift();
    while (this.#getters.length > 0 && this.#getters.peek()!.done) this.#getters.shift();
  }

  toString(): string {
    return `<${this.constructor.name} maxsize=${this.#maxsize} qsize=${this.qsize()} getters[${this.#getters.length}] putters[${this.#putters.length}] tasks=${this.#unfinished}>`;
  }
}

function timeoutExpired<T>(w: Waiter<T>): void {
  w.reject(new TimeoutError('Timeout'));
}

/**
 * Orders items: negative if `a` comes out first. The default compares numbers, strings and
 * bigints naturally and arrays (tuples such as `[priority, item]`) element by element.
 */
export type Comparator<T> = (a: T, b: T) => number;

/** The default {@link Comparator} of {@link PriorityQueue}. */
export function defaultCompare(a: unknown, b: unknown): number {
  if (Array.isArray(a) && Array.isArray(b)) {
    const n = Math.min(a.length, b.length);
    for (let i = 0; i < n; i++) {
      const c = defaultCompare(a[i], b[i]);
      if (c !== 0) return c;
    }
    return a.length - b.length;
  }
  if (typeof a !== typeof b) throw new TypeError(`cannot compare ${typeof a} with ${typeof b}`);
  if (typeof a === 'object' || typeof a === 'function' || typeof a === 'symbol') {
    throw new TypeError('PriorityQueue needs a compare function for objects');
  }
  return (a as number) < (b as number) ? -1 : (a as number) > (b as number) ? 1 : 0;
}

/**
 * A {@link Queue} that returns the lowest item first (by `compare`, default {@link defaultCompare}):
 * typically `[priority, item]` tuples.
 *
 * @example
 * ```ts
 * const q = new PriorityQueue<[number, string]>();
 * q.putNowait([1, 'medium']); q.putNowait([0, 'high']); q.putNowait([10, 'low']);
 * q.getNowait(); // [0, 'high']
 * ```
 */
export class PriorityQueue<T> extends Queue<T> {
  #heap: T[] = [];
  readonly #compare: Comparator<T>;

  constructor(opts: QueueOptions & { compare?: Comparator<T> } = {}) {
    super(opts);
    this.#compare = opts.compare ?? defaultCompare;
  }

  protected override storeSize(): number {
    return this.#heap.length;
  }
  protected override storePut(item: T): void {
    const h = this.#heap;
    const cmp = this.#compare;
    h.push(item);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (cmp(h[i]!, h[p]!) >= 0) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }
  protected override storeGet(): T {
    const h = this.#heap;
    const cmp = this.#compare;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && cmp(h[l]!, h[m]!) < 0) m = l;
        if (r < h.length && cmp(h[r]!, h[m]!) < 0) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }
}

/**
 * A {@link Queue} that returns the most recently put item first.
 */
export class LifoQueue<T> extends Queue<T> {
  #stack: T[] = [];

  protected override storeSize(): number {
    return this.#stack.length;
  }
  protected override storePut(item: T): void {
    this.#stack.push(item);
  }
  protected override storeGet(): T {
    return this.#stack.pop() as T;
  }
}
