import { describe, expect, it } from 'vitest';
import {
  defaultCompare,
  type IOLoop,
  LifoQueue,
  LockError,
  PriorityQueue,
  Queue,
  QueueEmpty,
  QueueFull,
  sleep,
  TimeoutError,
} from '../src/index';
import { freshLoopPerTest, nextIteration } from './helpers';

let loop: IOLoop;
freshLoopPerTest((l) => {
  loop = l;
});

describe('Queue basics', () => {
  it('is FIFO; qsize/empty/full; toString', () => {
    const q = new Queue<number>();
    for (const i of [1, 3, 2]) q.putNowait(i);
    expect(q.qsize()).toBe(3);
    expect(q.full()).toBe(false);
    expect(q.maxsize).toBe(0);
    expect(String(q)).toBe('<Queue maxsize=0 qsize=3 getters[0] putters[0] tasks=3>');
    expect([q.getNowait(), q.getNowait(), q.getNowait()]).toEqual([1, 3, 2]);
    expect(q.empty()).toBe(true);
  });

  it('maxsize: negative is an error; full at maxsize', () => {
    expect(() => new Queue({ maxsize: -1 })).toThrow(RangeError);
    const q = new Queue<number>({ maxsize: 2 });
    q.putNowait(0);
    q.putNowait(1);
    expect(q.full()).toBe(true);
    expect(() => q.putNowait(2)).toThrow(QueueFull);
    expect(q.getNowait()).toBe(0);
    expect(q.full()).toBe(false);
  });
});

describe('Queue.get', () => {
  it('get() resolves at once when an item is there; getNowait throws QueueEmpty when not', async () => {
    const q = new Queue<number>();
    q.putNowait(0);
    expect(await q.get()).toBe(0);
    expect(() => q.getNowait()).toThrow(QueueEmpty);
    try {
      q.getNowait();
    } catch (e) {
      expect((e as QueueEmpty).code).toBe('ERR_QUEUE_EMPTY');
    }
  });

  it('get() with a waiting putter takes its item and wakes it', async () => {
    const q = new Queue<number>({ maxsize: 1 });
    q.putNowait(0);
    let putDone = false;
    const put = q.put(1).then(() => (putDone = true));
    expect(q.qsize()).toBe(1);
    expect(await q.get()).toBe(0);
    await put;
    expect(putDone).toBe(true);
    expect(q.getNowait()).toBe(1);
  });

  it('a blocking get waits for a put', async () => {
    const q = new Queue<number>();
    const g = q.get();
    loop.callLater(0.001, () => q.putNowait(7));
    expect(await g).toBe(7);
  });

  it('get(timeout) rejects with TimeoutError, then the queue still works', async () => {
    const q = new Queue<number>();
    await expect(q.get(0.01)).rejects.toBeInstanceOf(TimeoutError);
    q.putNowait(0);
    expect(await q.get(0.01)).toBe(0);
  });

  it('a put before the timeout wins', async () => {
    const q = new Queue<number>();
    const g = q.get(1);
    q.putNowait(0);
    expect(await g).toBe(0);
    expect(loop.pendingTimeouts()).toBe(0);
  });

  it('timed-out getters are skipped by put', async () => {
    const q = new Queue<number>();
    const expired = q.get(0.005).catch((e) => e);
    const live = q.get();
    expect(await expired).toBeInstanceOf(TimeoutError);
    q.putNowait(1);
    expect(await live).toBe(1);
    expect(q.qsize()).toBe(0);
  });

  it('timed-out putters are skipped by get', async () => {
    const q = new Queue<number>({ maxsize: 1 });
    q.putNowait(0);
    const expired = q.put(1, 0.005).catch((e) => e);
    const live = q.put(2);
    expect(await expired).toBeInstanceOf(TimeoutError);
    expect(q.getNowait()).toBe(0);
    await live;
    expect(q.getNowait()).toBe(2);
    expect(q.empty()).toBe(true);
  });

  it('for await … of gets items as they come', async () => {
    const q = new Queue<number>();
    for (let i = 0; i < 5; i++) q.putNowait(i);
    const got: number[] = [];
    for await (const item of q) {
      got.push(item);
      if (item === 2) loop.callLater(0.001, () => q.putNowait(99));
      if (got.length === 6) break;
    }
    expect(got).toEqual([0, 1, 2, 3, 4, 99]);
  });
});

describe('Queue.put', () => {
  it('put() resolves at once when there is room; putNowait throws QueueFull when not', async () => {
    const q = new Queue<number>({ maxsize: 1 });
    await q.put(0);
    expect(() => q.putNowait(1)).toThrow(
      expect.objectContaining({ name: 'QueueFull', code: 'ERR_QUEUE_FULL' }),
    );
  });

  it('put() with waiting getters hands the item over directly', async () => {
    const q = new Queue<number>();
    const a = q.get();
    const b = q.get();
    await q.put(0);
    q.putNowait(1);
    expect(await a).toBe(0);
    expect(await b).toBe(1);
    expect(q.empty()).toBe(true);
  });

  it('a blocking put waits for room', async () => {
    const q = new Queue<number>({ maxsize: 1 });
    q.putNowait(0);
    let done = false;
    const p = q.put(1).then(() => (done = true));
    await nextIteration();
    expect(done).toBe(false);
    expect(q.getNowait()).toBe(0);
    await p;
    expect(q.getNowait()).toBe(1);
  });

  it('put(timeout) rejects with TimeoutError; a get before the timeout wins', async () => {
    const q = new Queue<number>({ maxsize: 1 });
    q.putNowait(0);
    await expect(q.put(1, 0.01)).rejects.toBeInstanceOf(TimeoutError);
    expect(q.qsize()).toBe(1);
    const p = q.put(2, 1);
    expect(q.getNowait()).toBe(0);
    await p;
    expect(q.getNowait()).toBe(2);
  });

  it('put after timed-out getters goes to the live getter, not the expired one', async () => {
    const q = new Queue<number>();
    const expired = q.get(0.005).catch((e) => e);
    await expired;
    const live = q.get();
    await q.put(5);
    expect(await live).toBe(5);
  });
});

describe('Queue join / taskDone', () => {
  it('taskDone more times than items is an error', () => {
    const q = new Queue<number>();
    expect(() => q.taskDone()).toThrow(LockError);
    q.putNowait(1);
    q.getNowait();
    q.taskDone();
    expect(() => q.taskDone()).toThrow(expect.objectContaining({ code: 'ERR_QUEUE_TASK_DONE' }));
  });

  it('join() resolves when every item was processed by workers', async () => {
    const q = new Queue<number>();
    for (let i = 0; i < 100; i++) q.putNowait(i);
    let sum = 0;
    const worker = async () => {
      for (;;) {
        const item = await q.get();
        sum += item;
        q.taskDone();
      }
    };
    worker();
    worker();
    await q.join();
    expect(sum).toBe(4950);
  });

  it('join() waits for a slow taskDone', async () => {
    const q = new Queue<number>();
    q.putNowait(1);
    let joined = false;
    const j = q.join().then(() => (joined = true));
    q.getNowait();
    await sleep(0.005);
    expect(joined).toBe(false);
    q.taskDone();
    await j;
    expect(joined).toBe(true);
  });

  it('join() on an empty queue resolves at once; join(timeout) rejects', async () => {
    const q = new Queue<number>();
    await q.join();
    q.putNowait(0);
    await expect(q.join(0.01)).rejects.toBeInstanceOf(TimeoutError);
  });
});

describe('PriorityQueue and LifoQueue', () => {
  it('PriorityQueue returns the lowest first', () => {
    const q = new PriorityQueue<[number, string]>();
    q.putNowait([1, 'a']);
    q.putNowait([1, 'c']);
    q.putNowait([0, 'b']);
    q.putNowait([2, 'd']);
    expect([q.getNowait(), q.getNowait(), q.getNowait(), q.getNowait()]).toEqual([
      [0, 'b'],
      [1, 'a'],
      [1, 'c'],
      [2, 'd'],
    ]);
  });

  it('PriorityQueue keeps heap order for many items and respects maxsize', async () => {
    const q = new PriorityQueue<number>({ maxsize: 1000 });
    const items = Array.from({ length: 1000 }, (_, i) => (i * 7919) % 1000);
    for (const i of items) q.putNowait(i);
    expect(q.full()).toBe(true);
    const out: number[] = [];
    while (!q.empty()) out.push(await q.get());
    expect(out).toEqual([...items].sort((a, b) => a - b));
    await expect(q.join(0.01)).rejects.toBeInstanceOf(TimeoutError);
  });

  it('PriorityQueue takes a compare function; the default refuses objects', () => {
    const q = new PriorityQueue<{ p: number }>({ compare: (a, b) => b.p - a.p });
    q.putNowait({ p: 1 });
    q.putNowait({ p: 5 });
    expect(q.getNowait()).toEqual({ p: 5 });
    expect(() => defaultCompare({}, {})).toThrow(/compare function/);
    expect(() => defaultCompare(1, 'a')).toThrow(TypeError);
    expect(defaultCompare([1, 2], [1])).toBe(1);
    expect(defaultCompare('a', 'b')).toBe(-1);
    expect(defaultCompare(2n, 2n)).toBe(0);
  });

  it('LifoQueue returns the newest first', async () => {
    const q = new LifoQueue<number>({ maxsize: 3 });
    q.putNowait(1);
    q.putNowait(3);
    q.putNowait(2);
    expect(q.full()).toBe(true);
    expect([q.getNowait(), await q.get(), q.getNowait()]).toEqual([2, 3, 1]);
    expect(String(q)).toMatch(/^<LifoQueue maxsize=3 qsize=0/);
  });
});

describe('producer / consumer', () => {
  it('a bounded queue paces the producer', async () => {
    const q = new Queue<number>({ maxsize: 3 });
    const history: string[] = [];
    const consumer = async () => {
      for (let i = 0; i < 10; i++) {
        const item = await q.get();
        history.push(`get ${item}`);
        q.taskDone();
      }
    };
    const producer = async () => {
      for (let i = 0; i < 10; i++) {
        await q.put(i);
        history.push(`put ${i}`);
        expect(q.qsize()).toBeLessThanOrEqual(3);
      }
    };
    await Promise.all([consumer(), producer()]);
    await q.join();
    expect(history.filter((h) => h.startsWith('get'))).toEqual(
      Array.from({ length: 10 }, (_, i) => `get ${i}`),
    );
  });
});
