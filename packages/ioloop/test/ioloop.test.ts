import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { Future, IOLoop, IOLoopError, TimeoutError } from '../src/index';
import { bundleSources, captureLogs, freshLoopPerTest, nextIteration } from './helpers';

let loop: IOLoop;
freshLoopPerTest((l) => {
  loop = l;
});

function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

describe('IOLoop.current', () => {
  it('is one object per thread, instance() is an alias, clearCurrent forgets it', () => {
    expect(IOLoop.current()).toBe(loop);
    expect(IOLoop.instance()).toBe(loop);
    IOLoop.clearCurrent();
    expect(IOLoop.current(false)).toBeNull();
    const fresh = IOLoop.current();
    expect(fresh).not.toBe(loop);
    expect(IOLoop.current()).toBe(fresh);
    fresh.close();
    expect(IOLoop.current(false)).toBeNull();
  });

  it('a closed loop cannot become current', () => {
    const other = new IOLoop();
    other.close();
    expect(() => other.makeCurrent()).toThrow(IOLoopError);
  });

  it('time() is monotonic seconds', async () => {
    const t0 = loop.time();
    await new Promise((r) => setTimeout(r, 20));
    const t1 = loop.time();
    expect(t1).toBeGreaterThan(t0);
    expect(t1 - t0).toBeLessThan(60);
  });
});

describe('addCallback', () => {
  it('runs callbacks on a later iteration, FIFO, with arguments', async () => {
    const order: unknown[] = [];
    loop.addCallback(() => order.push('a'));
    loop.addCallback((x: number, y: number) => order.push(x + y), 1, 2);
    loop.spawnCallback((s: string) => order.push(s), 'c');
    expect(order).toEqual([]);
    await nextIteration();
    expect(order).toEqual(['a', 3, 'c']);
  });

  it('callbacks added by a callback run on the next iteration, after I/O gets a turn', async () => {
    const order: string[] = [];
    loop.addCallback(() => {
      order.push('first');
      loop.addCallback(() => order.push('third'));
      setImmediate(() => order.push('immediate'));
    });
    loop.addCallback(() => order.push('second'));
    await nextIteration();
    expect(order).toEqual(['first', 'second']);
    await nextIteration();
    expect(order).toEqual(['first', 'second', 'third', 'immediate']);
  });

  it('a throwing callback is logged with its name and does not stop the others', async () => {
    const { lines, restore } = captureLogs();
    const ran: string[] = [];
    const boom = new Error('boom');
    function explodingCallback(): void {
      throw boom;
    }
    loop.addCallback(explodingCallback);
    loop.addCallback(() => ran.push('after'));
    loop.addCallback(async function asyncFailure() {
      throw new Error('async boom');
    });
    await nextIteration();
    await nextIteration();
    restore();
    expect(ran).toEqual(['after']);
    const errors = lines.filter((l) => l.level === 'error');
    expect(errors[0]?.msg).toBe('Exception in callback explodingCallback:');
    expect(errors[0]?.args[0]).toBe(boom);
    expect(errors[1]?.msg).toBe('Exception in callback asyncFailure:');
    expect(errors[1]?.args[0]).toMatchObject({ message: 'async boom' });
  });

  it('anonymous callbacks are named <anonymous>; bound functions by their target', async () => {
    const { lines, restore } = captureLogs();
    loop.addCallback(() => {
      throw new Error('x');
    });
    function named(): void {
      throw new Error('y');
    }
    loop.addCallback(named.bind(null));
    await nextIteration();
    restore();
    expect(lines.map((l) => l.msg)).toEqual([
      'Exception in callback <anonymous>:',
      'Exception in callback named:',
    ]);
  });

  it('refuses a callback that is not a function, at once', () => {
    expect(() => loop.addCallback(42 as never)).toThrow(TypeError);
    expect(() => loop.spawnCallback(null as never)).toThrow(/must be a function/);
  });

  it('is a no-op on a closed loop, and pending callbacks are dropped by close()', async () => {
    const ran: string[] = [];
    loop.addCallback(() => ran.push('dropped'));
    loop.close();
    loop.addCallback(() => ran.push('ignored'));
    loop.spawnCallback(() => ran.push('ignored too'));
    await nextIteration();
    await nextIteration();
    expect(ran).toEqual([]);
    expect(loop.isClosed()).toBe(true);
    loop.close(); // idempotent
  });

  it('close() inside a callback stops the rest of the batch', async () => {
    const ran: string[] = [];
    loop.addCallback(() => loop.close());
    loop.addCallback(() => ran.push('never'));
    await nextIteration();
    expect(ran).toEqual([]);
  });
});

describe('timeouts', () => {
  it('callLater runs after the delay with its arguments and returns a Timeout', async () => {
    const d = deferred<number[]>();
    const start = loop.time();
    const t = loop.callLater(0.02, (a: number, b: number) => d.resolve([a, b, loop.time() - start]), 4, 5);
    expect(t.deadline).toBeGreaterThanOrEqual(start + 0.02);
    expect(t.pending()).toBe(true);
    const [a, b, elapsed] = await d.promise;
    expect([a, b]).toEqual([4, 5]);
    expect(elapsed).toBeGreaterThanOrEqual(0.02);
    expect(t.pending()).toBe(false);
  });

  it('callAt and addTimeout take absolute deadlines', async () => {
    const d1 = deferred<number>();
    const d2 = deferred<number>();
    const when = loop.time() + 0.01;
    loop.callAt(when, () => d1.resolve(loop.time()));
    loop.addTimeout(when, () => d2.resolve(loop.time()));
    expect(await d1.promise).toBeGreaterThanOrEqual(when);
    expect(await d2.promise).toBeGreaterThanOrEqual(when);
  });

  it('runs in deadline order, FIFO on ties, with past deadlines too', async () => {
    const order: string[] = [];
    const done = deferred();
    const now = loop.time();
    loop.callAt(now + 0.03, () => order.push('c'));
    loop.callAt(now + 0.01, () => order.push('a1'));
    loop.callAt(now + 0.01, () => order.push('a2'));
    loop.callAt(now - 1, () => order.push('past'));
    loop.callAt(now + 0.02, () => order.push('b'));
    loop.callAt(now + 0.01, () => order.push('a3'));
    loop.callAt(now + 0.04, () => done.resolve());
    await done.promise;
    expect(order).toEqual(['past', 'a1', 'a2', 'a3', 'b', 'c']);
  });

  it('removeTimeout cancels; removing a fired or removed timeout is a no-op', async () => {
    const ran: string[] = [];
    const done = deferred();
    const t1 = loop.callLater(0.005, () => ran.push('removed'));
    const t2 = loop.callLater(0.005, () => ran.push('kept'));
    loop.removeTimeout(t1);
    loop.removeTimeout(t1);
    loop.callLater(0.02, () => done.resolve());
    await done.promise;
    expect(ran).toEqual(['kept']);
    expect(t1.pending()).toBe(false);
    loop.removeTimeout(t2); // already fired
    loop.removeTimeout(null);
    loop.removeTimeout(undefined);
    expect(loop.pendingTimeouts()).toBe(0);
  });

  it('a timeout can remove another one that is due in the same iteration', async () => {
    const ran: string[] = [];
    const done = deferred();
    const when = loop.time() + 0.01;
    let t2: ReturnType<IOLoop['callAt']> | null = null;
    loop.callAt(when, () => {
      ran.push('t1');
      loop.removeTimeout(t2);
    });
    t2 = loop.callAt(when, () => ran.push('t2'));
    loop.callAt(when + 0.01, () => done.resolve());
    await done.promise;
    expect(ran).toEqual(['t1']);
  });

  it('removeTimeout of another loop is ignored', async () => {
    const other = new IOLoop();
    const d = deferred<string>();
    const t = other.callLater(0.001, () => d.resolve('fired'));
    loop.removeTimeout(t);
    expect(await d.promise).toBe('fired');
    other.close();
  });

  it('many removed timeouts are cleaned up and do not keep firing', async () => {
    const ran: number[] = [];
    const keep: number[] = [];
    const ts = [];
    for (let i = 0; i < 3000; i++) ts.push(loop.callLater(0.001 + (i % 7) * 0.001, () => ran.push(i)));
    for (let i = 0; i < 3000; i++) if (i % 10 !== 0) loop.removeTimeout(ts[i]);
    for (let i = 0; i < 3000; i += 10) keep.push(i);
    expect(loop.pendingTimeouts()).toBe(300);
    const done = deferred();
    loop.callLater(0.03, () => done.resolve());
    await done.promise;
    expect(ran.sort((a, b) => a - b)).toEqual(keep);
    expect(loop.pendingTimeouts()).toBe(0);
  });

  it('removing every pending timeout empties the heap', () => {
    const ts = [];
    for (let i = 0; i < 1000; i++) ts.push(loop.callLater(10, () => {}));
    for (const t of ts) loop.removeTimeout(t);
    expect(loop.pendingTimeouts()).toBe(0);
    const t = loop.callLater(10, () => {});
    expect(loop.pendingTimeouts()).toBe(1);
    loop.removeTimeout(t);
  });

  it('handles 100k pending timeouts in deadline order', async () => {
    const n = 100_000;
    const now = loop.time();
    let fired = 0;
    let last = -1;
    let ordered = true;
    const done = deferred();
    for (let i = 0; i < n; i++) {
      // deadlines interleaved so the heap really has to order them
      const k = (i * 7919) % n;
      loop.callAt(now + 0.001 + k / 1e7, () => {
        if (k < last) ordered = false;
        last = k;
        if (++fired === n) done.resolve();
      });
    }
    expect(loop.pendingTimeouts()).toBe(n);
    await done.promise;
    expect(ordered).toBe(true);
  });

  it('a throwing timeout callback is logged and the others still run', async () => {
    const { lines, restore } = captureLogs();
    const ran: string[] = [];
    const done = deferred();
    const when = loop.time() + 0.001;
    loop.callAt(when, function badTimeout() {
      throw new Error('t');
    });
    loop.callAt(when, () => ran.push('ok'));
    loop.callAt(when + 0.005, () => done.resolve());
    await done.promise;
    restore();
    expect(ran).toEqual(['ok']);
    expect(lines[0]?.msg).toBe('Exception in timeout callback badTimeout:');
  });

  it('rejects bad arguments and use after close', () => {
    expect(() => loop.callAt(Number.NaN, () => {})).toThrow(TypeError);
    expect(() => loop.callLater(1, 'nope' as never)).toThrow(TypeError);
    loop.close();
    expect(() => loop.callLater(1, () => {})).toThrow(IOLoopError);
  });

  it('close() drops pending timeouts', async () => {
    const ran: string[] = [];
    const t = loop.callLater(0.001, () => ran.push('x'));
    loop.close();
    await new Promise((r) => setTimeout(r, 10));
    expect(ran).toEqual([]);
    expect(t.pending()).toBe(false);
  });
});

describe('addFuture', () => {
  it('calls back with the Future once done (Promise wrapped)', async () => {
    const d = deferred<unknown>();
    loop.addFuture(Promise.resolve(7), (f) => d.resolve(f.result()));
    expect(await d.promise).toBe(7);
    const f = new Future<string>();
    const d2 = deferred<unknown[]>();
    loop.addFuture(f, (got) => d2.resolve([got]));
    f.setResult('x');
    expect((await d2.promise)[0]).toBe(f);
  });

  it('passes failed futures too', async () => {
    const d = deferred<unknown>();
    loop.addFuture(Promise.reject(new Error('no')), (f) => d.resolve(f.exception()));
    expect(((await d.promise) as Error).message).toBe('no');
  });
});

describe('start / stop', () => {
  it('start() resolves when stop() is called', async () => {
    const p = loop.start();
    expect(loop.isRunning()).toBe(true);
    loop.callLater(0.005, () => loop.stop());
    await p;
    expect(loop.isRunning()).toBe(false);
  });

  it('start() twice rejects; stop() before start() makes it return at once', async () => {
    const p = loop.start();
    await expect(loop.start()).rejects.toThrow(/already running/);
    loop.stop();
    await p;
    loop.stop();
    await loop.start();
    expect(loop.isRunning()).toBe(false);
  });

  it('close() stops a running loop; a closed loop cannot start', async () => {
    const p = loop.start();
    loop.addCallback(() => loop.close());
    await p;
    await expect(loop.start()).rejects.toThrow(/closed/);
  });
});

describe('runSync', () => {
  it('returns the result of a sync function, an async function and a Future', async () => {
    expect(await loop.runSync(() => 1)).toBe(1);
    expect(await loop.runSync(async () => 2)).toBe(2);
    const f = new Future<number>();
    loop.callLater(0.001, () => f.setResult(3));
    expect(await loop.runSync(() => f)).toBe(3);
    expect(loop.isRunning()).toBe(false);
  });

  it('propagates sync and async exceptions', async () => {
    await expect(
      loop.runSync(() => {
        throw new Error('sync');
      }),
    ).rejects.toThrow('sync');
    await expect(loop.runSync(async () => Promise.reject(new Error('async')))).rejects.toThrow('async');
  });

  it('times out with TimeoutError and cancels a Future', async () => {
    const f = new Future<void>();
    const err = (await loop.runSync(() => f, { timeout: 0.01 }).catch((e) => e)) as TimeoutError;
    expect(err).toBeInstanceOf(TimeoutError);
    expect(err.message).toBe('Operation timed out after 0.01 seconds');
    expect(f.cancelled()).toBe(true);
    expect(loop.isRunning()).toBe(false);
    expect(await loop.runSync(() => 'ok', { timeout: 1 })).toBe('ok');
  });

  it('rejects when the loop is stopped first, or is already running', async () => {
    const err = (await loop.runSync(() => new Promise(() => loop.stop())).catch((e) => e)) as IOLoopError;
    expect(err).toBeInstanceOf(IOLoopError);
    expect(err.message).toMatch(/stopped before/);
    const p = loop.start();
    await expect(loop.runSync(() => 1)).rejects.toThrow(/already running/);
    loop.stop();
    await p;
  });
});

describe('worker threads', () => {
  it('each thread has its own current IOLoop', async () => {
    const { file, cleanup } = await bundleSources();
    try {
      const code = `import { IOLoop } from ${JSON.stringify(pathToFileURL(file).href)};
        import { parentPort, threadId } from 'node:worker_threads';
        const loop = IOLoop.current();
        loop.callLater(0.001, () => parentPort.postMessage({ same: loop === IOLoop.current(), threadId }));`;
      const w = new Worker(new URL(`data:text/javascript,${encodeURIComponent(code)}`));
      const msg = await new Promise<{ same: boolean; threadId: number }>((resolve, reject) => {
        w.once('message', resolve);
        w.once('error', reject);
      });
      await w.terminate();
      expect(msg.same).toBe(true);
      expect(msg.threadId).not.toBe(0);
      expect(IOLoop.current()).toBe(loop);
    } finally {
      cleanup();
    }
  });
});

describe('timeouts scheduled from timeout callbacks', () => {
  it('a timeout added by a callback runs in a later batch, even when already due', async () => {
    const order: string[] = [];
    const done = deferred();
    const now = loop.time();
    loop.callAt(now + 0.001, () => {
      order.push('first');
      loop.callAt(now, () => order.push('added (due)'));
    });
    loop.callAt(now + 0.01, () => {
      order.push('older');
      done.resolve();
    });
    await done.promise;
    expect(order).toEqual(['first', 'added (due)', 'older']);
  });

  it('a far timeout added by a callback does not postpone an older, nearer one', async () => {
    const done = deferred<string>();
    loop.callLater(0.001, () => {
      loop.callLater(60, () => done.resolve('far one first: the nearer timeout was postponed'));
    });
    loop.callLater(0.01, () => done.resolve('nearer one first'));
    // With the bug, nothing fires for 60 s and the test times out.
    expect(await done.promise).toBe('nearer one first');
  });

  it('a timeout callback that keeps re-adding itself at a past deadline does not starve I/O', async () => {
    let runs = 0;
    const again = () => {
      runs++;
      loop.callAt(0, again);
    };
    loop.callAt(0, again);
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setTimeout(r, 5));
    expect(runs).toBeGreaterThan(0);
    expect(runs).toBeLessThan(10_000);
    loop.close();
  });
});
