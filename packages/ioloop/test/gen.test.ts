import { describe, expect, it } from 'vitest';
import {
  Future,
  type IOLoop,
  moment,
  multi,
  multiFuture,
  sleep,
  TimeoutError,
  withTimeout,
} from '../src/index';
import { captureLogs, freshLoopPerTest } from './helpers';

let loop: IOLoop;
freshLoopPerTest((l) => {
  loop = l;
});

class QuietError extends Error {}

describe('sleep', () => {
  it('resolves after the delay', async () => {
    const t0 = loop.time();
    await sleep(0.02);
    expect(loop.time() - t0).toBeGreaterThanOrEqual(0.02);
  });

  it('sleep(0) still yields to already-scheduled callbacks', async () => {
    const order: string[] = [];
    loop.addCallback(() => order.push('callback'));
    await sleep(0);
    order.push('after sleep');
    expect(order).toEqual(['callback', 'after sleep']);
  });
});

describe('withTimeout', () => {
  it('rejects with TimeoutError when the work takes too long', async () => {
    const f = new Future<number>();
    const err = await withTimeout(0.01, f).catch((e) => e);
    expect(err).toBeInstanceOf(TimeoutError);
    expect(err.name).toBe('TimeoutError');
    expect(err.code).toBe('ERR_TIMEOUT');
    expect(f.done()).toBe(false); // not cancelled, like Tornado
  });

  it('passes the result or the error through when in time, and clears its timer', async () => {
    expect(await withTimeout(1, Promise.resolve('ok'))).toBe('ok');
    await expect(withTimeout(1, Promise.reject(new Error('fail')))).rejects.toThrow('fail');
    const f = new Future<string>();
    loop.callLater(0.001, () => f.setResult('later'));
    expect(await withTimeout(1, f)).toBe('later');
    expect(loop.pendingTimeouts()).toBe(0);
  });

  it('logs a failure that arrives after the timeout instead of leaving it unhandled', async () => {
    const { lines, restore } = captureLogs();
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    try {
      let fail!: (e: Error) => void;
      const work = new Promise<void>((_, reject) => {
        fail = reject;
      });
      await expect(withTimeout(0.005, work)).rejects.toBeInstanceOf(TimeoutError);
      fail(new Error('too late'));
      let failQuiet!: (e: Error) => void;
      const quietWork = new Promise<void>((_, reject) => {
        failQuiet = reject;
      });
      await expect(withTimeout(0.005, quietWork, { quietExceptions: QuietError })).rejects.toBeInstanceOf(
        TimeoutError,
      );
      failQuiet(new QuietError('quiet'));
      await sleep(0.005);
    } finally {
      process.off('unhandledRejection', onUnhandled);
      restore();
    }
    expect(unhandled).toEqual([]);
    expect(lines.map((l) => l.msg)).toEqual(['Exception in Future after timeout:']);
    expect(lines[0]?.args[0]).toMatchObject({ message: 'too late' });
  });
});

describe('multi', () => {
  it('waits for a list, keeping order, plain values included', async () => {
    const f = new Future<number>();
    loop.callLater(0.002, () => f.setResult(1));
    const res = await multi([f, Promise.resolve('two'), 3, sleep(0.001).then(() => 4)] as const);
    expect(res).toEqual([1, 'two', 3, 4]);
    expect(await multi([])).toEqual([]);
    expect(multiFuture).toBe(multi);
  });

  it('waits for a record', async () => {
    const res = await multi({ a: Promise.resolve(1), b: sleep(0.001).then(() => 'b'), c: 'plain' });
    expect(res).toEqual({ a: 1, b: 'b', c: 'plain' });
    expect(await multi({})).toEqual({});
  });

  it('the first error (in order) wins after all finish, later ones are logged unless quiet', async () => {
    const { lines, restore } = captureLogs();
    let finished = false;
    const slow = sleep(0.01).then(() => {
      finished = true;
    });
    const err = await multi(
      [
        Promise.resolve(1),
        sleep(0.002).then(() => Promise.reject(new Error('first'))),
        Promise.reject(new Error('second')),
        Promise.reject(new QuietError('quiet')),
        slow,
      ],
      { quietExceptions: [QuietError] },
    ).catch((e) => e);
    restore();
    expect(err.message).toBe('first');
    expect(finished).toBe(true); // waited for every child, like Tornado
    expect(lines.map((l) => l.msg)).toEqual(['Multiple exceptions in yield list:']);
    expect(lines[0]?.args[0]).toMatchObject({ message: 'second' });
  });
});

describe('moment', () => {
  it('lets other tasks run between steps', async () => {
    const order: string[] = [];
    const task = async (name: string) => {
      for (let i = 0; i < 3; i++) {
        order.push(`${name}${i}`);
        await moment;
      }
    };
    await Promise.all([task('a'), task('b')]);
    expect(order).toEqual(['a0', 'b0', 'a1', 'b1', 'a2', 'b2']);
  });

  it('yields to callbacks already scheduled on the loop', async () => {
    const order: string[] = [];
    loop.addCallback(() => order.push('callback'));
    await moment;
    order.push('after');
    expect(order).toEqual(['callback', 'after']);
    await expect(
      moment.then(
        () => Promise.reject(new Error('x')),
        (e) => e,
      ),
    ).rejects.toThrow('x');
  });
});
