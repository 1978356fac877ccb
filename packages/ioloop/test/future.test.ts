import { describe, expect, it } from 'vitest';
import {
  CancelledError,
  chainFuture,
  Future,
  futureSetExceptionUnlessCancelled,
  futureSetResultUnlessCancelled,
  InvalidStateError,
  type IOLoop,
  isFuture,
  isThenable,
} from '../src/index';
import { captureLogs, freshLoopPerTest, nextIteration } from './helpers';

let loop: IOLoop;
freshLoopPerTest((l) => {
  loop = l;
});

describe('Future', () => {
  it('is awaitable and works with Promise.all / Promise.race', async () => {
    const a = new Future<number>();
    const b = new Future<string>();
    loop.callLater(0.001, () => a.setResult(1));
    loop.addCallback(() => b.setResult('two'));
    expect(await a).toBe(1);
    expect(await Promise.all([a, b, Promise.resolve(3)])).toEqual([1, 'two', 3]);
    const c = new Future<number>();
    c.setResult(9);
    expect(await Promise.race([c, new Promise(() => {})])).toBe(9);
    expect(Object.prototype.toString.call(c)).toBe('[object Future]');
  });

  it('setResult / setException only once', () => {
    const f = new Future<number>();
    expect(f.done()).toBe(false);
    expect(() => f.result()).toThrow(InvalidStateError);
    expect(() => f.exception()).toThrow(InvalidStateError);
    f.setResult(1);
    expect(f.done()).toBe(true);
    expect(f.result()).toBe(1);
    expect(f.exception()).toBeNull();
    expect(() => f.setResult(2)).toThrow(/setResult on a finished Future/);
    expect(() => f.setException(new Error())).toThrow(InvalidStateError);
    expect(f.cancel()).toBe(false);
    const g = new Future();
    const err = new Error('e');
    g.setException(err);
    expect(() => g.setResult(1)).toThrow(/failed Future/);
    expect(g.exception()).toBe(err);
    expect(() => g.result()).toThrow(err);
  });

  it('await rejects with the exception', async () => {
    const f = new Future();
    loop.addCallback(() => f.setException(new TypeError('bad')));
    await expect(f).rejects.toThrow(TypeError);
    await expect(f.catch((e: Error) => e.message)).resolves.toBe('bad');
  });

  it('cancel() makes result and await raise CancelledError', async () => {
    const f = new Future();
    expect(f.cancel()).toBe(true);
    expect(f.cancelled()).toBe(true);
    expect(f.done()).toBe(true);
    expect(() => f.result()).toThrow(CancelledError);
    expect(() => f.exception()).toThrow(CancelledError);
    expect(() => f.setResult(1)).toThrow(/cancelled Future/);
    await expect(f).rejects.toBeInstanceOf(CancelledError);
    expect(f.cancel()).toBe(false);
  });

  it('done callbacks run on the loop, also when added after completion', async () => {
    const f = new Future<number>();
    const seen: unknown[] = [];
    f.addDoneCallback((x) => seen.push(['early', x.result()]));
    f.setResult(5);
    expect(seen).toEqual([]); // never synchronous
    f.addDoneCallback((x) => seen.push(['late', x.result()]));
    expect(seen).toEqual([]);
    await nextIteration();
    expect(seen).toEqual([
      ['early', 5],
      ['late', 5],
    ]);
  });

  it('removeDoneCallback', async () => {
    const f = new Future();
    const seen: string[] = [];
    const cb = () => seen.push('cb');
    expect(f.removeDoneCallback(cb)).toBe(0);
    f.addDoneCallback(cb);
    f.addDoneCallback(cb);
    f.addDoneCallback(() => seen.push('other'));
    expect(f.removeDoneCallback(cb)).toBe(2);
    f.setResult(undefined);
    await nextIteration();
    expect(seen).toEqual(['other']);
  });

  it('finally() works for both outcomes', async () => {
    const order: string[] = [];
    const f = new Future<number>();
    f.setResult(1);
    expect(await f.finally(() => order.push('ok'))).toBe(1);
    const g = new Future();
    g.setException(new Error('x'));
    await expect(g.finally(() => order.push('err'))).rejects.toThrow('x');
    expect(order).toEqual(['ok', 'err']);
  });

  it('Future.from wraps promises, values and thenables', async () => {
    const f = new Future();
    expect(Future.from(f)).toBe(f);
    const p = Future.from(Promise.resolve(3));
    expect(await p).toBe(3);
    const v = Future.from(4);
    expect(v.done()).toBe(true);
    expect(v.result()).toBe(4);
    const r = Future.from(Promise.reject(new Error('nope')));
    await expect(r).rejects.toThrow('nope');
    // biome-ignore lint/suspicious/noThenProperty: testing a foreign thenable.
    const thenable = { then: (ok: (v: number) => void) => ok(5) };
    expect(await Future.from(thenable as unknown as PromiseLike<number>)).toBe(5);
  });

  it('does not emit unhandledRejection for a retrieved exception', async () => {
    const seen: unknown[] = [];
    const onUnhandled = (e: unknown) => seen.push(e);
    process.on('unhandledRejection', onUnhandled);
    try {
      const a = new Future();
      a.setException(new Error('a'));
      expect((a.exception() as Error).message).toBe('a');
      const b = new Future();
      const awaited = b.then(
        () => 'no',
        (e: Error) => e.message,
      );
      b.setException(new Error('b'));
      expect(await awaited).toBe('b');
      const c = new Future();
      c.cancel();
      await nextIteration();
      await new Promise((r) => setTimeout(r, 5));
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
    expect(seen).toEqual([]);
  });

  it('helpers: isFuture, isThenable, chainFuture, *UnlessCancelled', async () => {
    expect(isFuture(new Future())).toBe(true);
    expect(isFuture(Promise.resolve())).toBe(false);
    expect(isThenable(Promise.resolve())).toBe(true);
    // biome-ignore lint/suspicious/noThenProperty: a non-callable then is not a thenable.
    expect(isThenable({ then: 1 })).toBe(false);
    expect(isThenable(null)).toBe(false);
    expect(isThenable(() => {})).toBe(false);

    const target = new Future<number>();
    chainFuture(Promise.resolve(8), target);
    expect(await target).toBe(8);
    const failed = new Future<number>();
    chainFuture(Promise.reject(new Error('c')), failed);
    await expect(failed).rejects.toThrow('c');
    const cancelled = new Future<number>();
    cancelled.cancel();
    chainFuture(Promise.resolve(1), cancelled);
    chainFuture(Promise.reject(new Error('ignored')), cancelled);
    await nextIteration();
    expect(cancelled.cancelled()).toBe(true);

    const f = new Future<number>();
    futureSetResultUnlessCancelled(f, 1);
    expect(f.result()).toBe(1);
    const g = new Future<number>();
    g.cancel();
    futureSetResultUnlessCancelled(g, 1);
    const { lines, restore } = captureLogs();
    futureSetExceptionUnlessCancelled(g, new Error('late'));
    const h = new Future();
    futureSetExceptionUnlessCancelled(h, new Error('set'));
    restore();
    expect(h.exception()).toBeInstanceOf(Error);
    expect(lines.map((l) => l.msg)).toEqual(['Exception after Future was cancelled:']);
  });
});
