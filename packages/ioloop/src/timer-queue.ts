/** Timer states. @internal */
export const T_PENDING = 0;
/** @internal */
export const T_FIRED = 1;
/** @internal */
export const T_CANCELLED = 2;

/** What the queue needs of a timeout. @internal */
export interface QueuedTimer {
  readonly deadline: number;
  readonly seq: number;
  state: number;
}

function earlier(a: QueuedTimer, b: QueuedTimer): boolean {
  return a.deadline < b.deadline || (a.deadline === b.deadline && a.seq < b.seq);
}

function siftUp<T extends QueuedTimer>(heap: T[], i: number): void {
  const item = heap[i]!;
  while (i > 0) {
    const p = (i - 1) >> 1;
    const parent = heap[p]!;
    if (!earlier(item, parent)) break;
    heap[i] = parent;
    i = p;
  }
  heap[i] = item;
}

function siftDown<T extends QueuedTimer>(heap: T[], i: number): void {
  const n = heap.length;
  const item = heap[i]!;
  for (;;) {
    let c = 2 * i + 1;
    if (c >= n) break;
    const r = c + 1;
    if (r < n && earlier(heap[r]!, heap[c]!)) c = r;
    const child = heap[c]!;
    if (!earlier(child, item)) break;
    heap[i] = child;
    i = c;
  }
  heap[i] = item;
}

/**
 * The pending timeouts of an IOLoop, earliest (deadline, then insertion order) first.
 *
 * Two parts: a sorted run (timeouts added in deadline order — the common case of one delay used
 * over and over — are appended in O(1) and leave in O(1), reading memory in order) and a binary
 * heap for the ones that arrive out of order (O(log n)). Cancelled timeouts stay in place
 * (counted in `cancelled`) until they reach the front or the owner compacts.
 * @internal
 */
export class TimerQueue<T extends QueuedTimer = QueuedTimer> {
  #run: (T | null)[] = [];
  #head = 0;
  #heap: T[] = [];
  /** How many stored timeouts are cancelled (maintained by the owner). */
  cancelled = 0;

  /** Timeouts stored, cancelled ones included. */
  get size(): number {
    return this.#run.length - this.#head + this.#heap.length;
  }

  push(t: T): void {
    const run = this.#run;
    if (this.#head === run.length) {
      if (this.#head > 0) {
        run.length = 0;
        this.#head = 0;
      }
      run.push(t);
    } else if (!earlier(t, run[run.length - 1]!)) {
      run.push(t);
    } else {
      const heap = this.#heap;
      heap.push(t);
      siftUp(heap, heap.length - 1);
    }
  }

  /** The earliest timeout, or undefined when empty. */
  peek(): T | undefined {
    const a = this.#head < this.#run.length ? this.#run[this.#head]! : undefined;
    const b = this.#heap[0];
    if (a === undefined) return b;
    if (b === undefined) return a;
    return earlier(b, a) ? b : a;
  }

  /** Removes and returns the earliest timeout. */
  pop(): T | undefined {
    const run = this.#run;
    const a = this.#head < run.length ? run[this.#head]! : undefined;
    const heap = this.#heap;
    const b = heap[0];
    if (a !== undefined && (b === undefined || !earlier(b, a))) {
      run[this.#head++] = null;
      if (this.#head === run.length) {
        run.length = 0;
        this.#head = 0;
      } else if (this.#head >= 1024 && this.#head * 2 >= run.length) {
        run.splice(0, this.#head);
        this.#head = 0;
      }
      return a;
    }
    if (b === undefined) return undefined;
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      siftDown(heap, 0);
    }
    return b;
  }

  /** Drops every cancelled timeout. */
  compact(): void {
    const run: (T | null)[] = [];
    for (let i = this.#head; i < this.#run.length; i++) {
      const t = this.#run[i]!;
      if (t.state !== T_CANCELLED) run.push(t);
    }
    this.#run = run;
    this.#head = 0;
    const heap = this.#heap.filter((t) => t.state !== T_CANCELLED);
    for (let i = (heap.length >> 1) - 1; i >= 0; i--) siftDown(heap, i);
    this.#heap = heap;
    this.cancelled = 0;
  }

  /** Empties the queue, calling `each` on every stored timeout first. */
  clear(each?: (t: T) => void): void {
    if (each) {
      for (let i = this.#head; i < this.#run.length; i++) each(this.#run[i]!);
      for (const t of this.#heap) each(t);
    }
    this.#run = [];
    this.#head = 0;
    this.#heap = [];
    this.cancelled = 0;
  }
}
