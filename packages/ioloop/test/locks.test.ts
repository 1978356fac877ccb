import { describe, expect, it } from 'vitest';
import {
  BoundedSemaphore,
  Condition,
  Event,
  type IOLoop,
  Lock,
  LockError,
  Semaphore,
  sleep,
  TimeoutError,
} from '../src/index';
import { freshLoopPerTest, nextIteration } from './helpers';

let loop: IOLoop;
freshLoopPerTest((l) => {
  loop = l;
});

describe('Condition', () => {
  it('wait() resolves true on notify', async () => {
    const c = new Condition();
    const w = c.wait();
    loop.addCallback(() => c.notify());
    expect(await w).toBe(true);
  });

  it('notify(1) wakes waiters one at a time, in FIFO order', async () => {
    const c = new Condition();
    const history: string[] = [];
    const record = (name: string) => (v: boolean) => history.push(`${name}:${v}`);
    const ws = [c.wait().then(record('w0')), c.wait().then(record('w1')), c.wait().then(record('w2'))];
    c.notify(1);
    await nextIteration();
    expect(history).toEqual(['w0:true']);
    c.notify(1);
    c.notify(1);
    await Promise.all(ws);
    expect(history).toEqual(['w0:true', 'w1:true', 'w2:true']);
  });

  it('notify(n) and notifyAll', async () => {
    const c = new Condition();
    const woke: number[] = [];
    for (let i = 0; i < 6; i++) c.wait().then(() => woke.push(i));
    c.notify(2);
    await nextIteration();
    expect(woke).toEqual([0, 1]);
    c.notifyAll();
    await nextIteration();
    expect(woke).toEqual([0, 1, 2, 3, 4, 5]);
    c.notify(); // no waiters: nothing happens
  });

  it('wait(timeout) resolves false; a notify before the timeout wins', async () => {
    const c = new Condition();
    expect(await c.wait(0.01)).toBe(false);
    const w = c.wait(0.05);
    c.notify();
    expect(await w).toBe(true);
    expect(loop.pendingTimeouts()).toBe(0); // the timeout was removed
  });

  it('notify(n) skips waiters that timed out', async () => {
    const c = new Condition();
    const results: Record<string, boolean> = {};
    const w0 = c.wait(0.01).then((v) => (results.w0 = v));
    const w1 = c.wait().then((v) => (results.w1 = v));
    const w2 = c.wait().then((v) => (results.w2 = v));
    await w0;
    c.notify(2);
    await Promise.all([w1, w2]);
    expect(results).toEqual({ w0: false, w1: true, w2: true });
  });

  it('notifyAll skips timed-out waiters too', async () => {
    const c = new Condition();
    const a = c.wait(0.005);
    const b = c.wait();
    expect(await a).toBe(false);
    c.notifyAll();
    expect(await b).toBe(true);
  });

  it('a woken waiter can notify the next (nested notify)', async () => {
    const c = new Condition();
    const order: number[] = [];
    const w0 = c.wait().then(() => {
      order.push(0);
      c.notify();
    });
    const w1 = c.wait().then(() => order.push(1));
    c.notify();
    await Promise.all([w0, w1]);
    expect(order).toEqual([0, 1]);
  });

  it('cleans up expired waiters', async () => {
    const c = new Condition();
    const waits = [];
    for (let i = 0; i < 101; i++) waits.push(c.wait(0.001));
    const keeper = c.wait();
    await Promise.all(waits);
    // The 101st timeout triggers a cleanup: only the live waiter remains.
    expect(c.waiterCount).toBeLessThan(101);
    c.notify();
    expect(await keeper).toBe(true);
  });
});

describe('Event', () => {
  it('wait() resolves once set; set() wakes every waiter; wait after set is immediate', async () => {
    const e = new Event();
    expect(e.isSet()).toBe(false);
    const waits = [e.wait(), e.wait(), e.wait()];
    e.set();
    e.set();
    expect(e.isSet()).toBe(true);
    await Promise.all(waits);
    await e.wait();
  });

  it('wait(timeout) rejects with TimeoutError; set afterwards still works', async () => {
    const e = new Event();
    await expect(e.wait(0.01)).rejects.toBeInstanceOf(TimeoutError);
    const w = e.wait(1);
    e.set();
    await w;
    expect(loop.pendingTimeouts()).toBe(0);
  });

  it('clear() makes later waits block again; waiters from before stay woken by set', async () => {
    const e = new Event();
    e.set();
    e.clear();
    expect(e.isSet()).toBe(false);
    let done = false;
    const w = e.wait().then(() => (done = true));
    await nextIteration();
    expect(done).toBe(false);
    e.set();
    await w;
    expect(done).toBe(true);
  });
});

describe('Semaphore', () => {
  it('rejects a negative or fractional initial value', () => {
    expect(() => new Semaphore(-1)).toThrow(RangeError);
    expect(() => new Semaphore(1.5)).toThrow(RangeError);
  });

  it('acquire takes a slot, waits when none, release wakes the first waiter', async () => {
    const s = new Semaphore(1);
    expect(s.value).toBe(1);
    await s.acquire();
    expect(s.locked()).toBe(true);
    const order: string[] = [];
    const a = s.acquire().then(() => order.push('a'));
    const b = s.acquire().then(() => order.push('b'));
    await nextIteration();
    expect(order).toEqual([]);
    s.release();
    await a;
    expect(order).toEqual(['a']);
    s.release();
    await b;
    expect(order).toEqual(['a', 'b']);
    s.release();
    expect(s.value).toBe(1);
  });

  it('acquire(timeout) rejects with TimeoutError; a release before the timeout wins', async () => {
    const s = new Semaphore(0);
    await expect(s.acquire(0.01)).rejects.toBeInstanceOf(TimeoutError);
    const p = s.acquire(1);
    s.release();
    const r = await p;
    expect(typeof r.release).toBe('function');
    expect(s.value).toBe(0);
    expect(loop.pendingTimeouts()).toBe(0);
  });

  it('a timed-out waiter does not swallow a later release', async () => {
    const s = new Semaphore(0);
    const expired = s.acquire(0.005).catch((e) => e);
    const live = s.acquire();
    expect(await expired).toBeInstanceOf(TimeoutError);
    s.release();
    await live;
    expect(s.value).toBe(0);
  });

  it('a plain Semaphore may be released above its initial value', () => {
    const s = new Semaphore(1);
    s.release();
    expect(s.value).toBe(2);
  });

  it('the releaser and run() give the slot back, also when the work throws', async () => {
    const s = new Semaphore(1);
    const slot = await s.acquire();
    slot.release();
    expect(s.value).toBe(1);
    {
      using _held = await s.acquire();
      expect(s.value).toBe(0);
    }
    expect(s.value).toBe(1);
    expect(await s.run(async () => s.value)).toBe(0);
    await expect(
      s.run(() => {
        throw new Error('work failed');
      }),
    ).rejects.toThrow('work failed');
    expect(s.value).toBe(1);
    await s.acquire();
    await expect(s.run(() => 1, 0.01)).rejects.toBeInstanceOf(TimeoutError);
  });

  it('contended run() calls execute one at a time, in order', async () => {
    const s = new Semaphore(1);
    const log: string[] = [];
    await Promise.all(
      [0, 1, 2].map((i) =>
        s.run(async () => {
          log.push(`start ${i}`);
          await sleep(0.001);
          log.push(`end ${i}`);
        }),
      ),
    );
    expect(log).toEqual(['start 0', 'end 0', 'start 1', 'end 1', 'start 2', 'end 2']);
  });
});

describe('BoundedSemaphore', () => {
  it('refuses to be released above its initial value', async () => {
    const s = new BoundedSemaphore(1);
    expect(() => s.release()).toThrow(LockError);
    await s.acquire();
    s.release();
    try {
      s.release();
    } catch (e) {
      expect((e as LockError).code).toBe('ERR_SEMAPHORE_OVER_RELEASED');
      expect((e as LockError).name).toBe('LockError');
    }
    expect.assertions(3);
  });
});

describe('Lock', () => {
  it('acquire / release; waiters get it in FIFO order', async () => {
    const lock = new Lock();
    expect(lock.locked()).toBe(false);
    await lock.acquire();
    expect(lock.locked()).toBe(true);
    const order: number[] = [];
    const ps = [0, 1, 2].map((i) =>
      lock.acquire().then(() => {
        order.push(i);
        lock.release();
      }),
    );
    lock.release();
    await Promise.all(ps);
    expect(order).toEqual([0, 1, 2]);
    expect(lock.locked()).toBe(false);
  });

  it('acquire(timeout) rejects with TimeoutError', async () => {
    const lock = new Lock();
    const held = await lock.acquire();
    await expect(lock.acquire(0.01)).rejects.toBeInstanceOf(TimeoutError);
    held.release();
    expect(lock.locked()).toBe(false);
  });

  it('releasing an unlocked lock is an error', async () => {
    const lock = new Lock();
    expect(() => lock.release()).toThrow(expect.objectContaining({ code: 'ERR_LOCK_NOT_HELD' }));
    expect(await lock.run(() => 'ran')).toBe('ran');
    expect(lock.locked()).toBe(false);
  });
});
