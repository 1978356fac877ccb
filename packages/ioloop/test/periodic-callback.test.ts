import { afterEach, describe, expect, it, vi } from 'vitest';
import { type IOLoop, PeriodicCallback, sleep } from '../src/index';
import { nextPeriodicTimeout } from '../src/periodic-callback';
import { captureLogs, freshLoopPerTest } from './helpers';

let loop: IOLoop;
freshLoopPerTest((l) => {
  loop = l;
});
afterEach(() => {
  vi.restoreAllMocks();
});

/** Tornado's TestPeriodicCallbackMath.simulate_calls: the deadlines a schedule produces. */
function simulate(period: number, durations: number[]): number[] {
  const calls: number[] = [];
  let now = 1000;
  let next = now;
  for (const d of durations) {
    next = nextPeriodicTimeout(next, now, period);
    calls.push(next);
    now = next + d;
  }
  return calls;
}

describe('PeriodicCallback scheduling math', () => {
  it('runs every period', () => {
    expect(simulate(10, [0, 0, 0, 0])).toEqual([1010, 1020, 1030, 1040]);
  });

  it('skips runs missed by an overrunning call (no burst catch-up)', () => {
    expect(simulate(10, [0, 0, 11, 0, 25, 0, 0])).toEqual([1010, 1020, 1030, 1050, 1060, 1090, 1100]);
  });

  it('still advances when the clock goes backwards', () => {
    expect(simulate(10, [-1, -2, -3, 0])).toEqual([1010, 1020, 1030, 1040]);
    expect(simulate(10, [-100, 0])).toEqual([1010, 1020]);
  });
});

describe('PeriodicCallback', () => {
  it('calls back every period until stopped', async () => {
    let count = 0;
    const done = new Promise<void>((resolve) => {
      const pc = new PeriodicCallback(() => {
        if (++count === 3) {
          pc.stop();
          resolve();
        }
      }, 0.005);
      expect(pc.isRunning()).toBe(false);
      pc.start();
      pc.start(); // idempotent
      expect(pc.isRunning()).toBe(true);
    });
    await done;
    await sleep(0.02);
    expect(count).toBe(3);
    expect(loop.pendingTimeouts()).toBe(0);
  });

  it('a throwing callback is logged and the schedule continues', async () => {
    const { lines, restore } = captureLogs();
    let count = 0;
    await new Promise<void>((resolve) => {
      const pc = new PeriodicCallback(function flaky() {
        count++;
        if (count === 3) {
          pc.stop();
          resolve();
        }
        throw new Error(`run ${count}`);
      }, 0.002);
      pc.start();
    });
    restore();
    expect(count).toBe(3);
    expect(lines.map((l) => l.msg)).toEqual([
      'Exception in PeriodicCallback flaky:',
      'Exception in PeriodicCallback flaky:',
      'Exception in PeriodicCallback flaky:',
    ]);
  });

  it('awaits an async callback before scheduling the next run; rejections are logged', async () => {
    const { lines, restore } = captureLogs();
    let active = 0;
    let maxActive = 0;
    let runs = 0;
    await new Promise<void>((resolve) => {
      const pc = new PeriodicCallback(async () => {
        active++;
        maxActive = Math.max(maxActive, active);
        await sleep(0.006);
        active--;
        if (++runs === 3) {
          pc.stop();
          resolve();
        }
        if (runs === 1) throw new Error('async failure');
      }, 0.002);
      pc.start();
    });
    restore();
    expect(maxActive).toBe(1);
    expect(lines.map((l) => l.msg)).toEqual(['Exception in PeriodicCallback <anonymous>:']);
  });

  it('jitter scales each period by 1 ± jitter/2', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(1); // the largest factor: 1 + 0.5 * 0.5
    const seen: number[] = [];
    const spy = vi.spyOn(loop, 'callAt');
    const pc = new PeriodicCallback(() => {}, 1, 0.5);
    const t0 = loop.time();
    pc.start();
    seen.push((spy.mock.calls[0]?.[0] as number) - t0);
    pc.stop();
    expect(seen[0]).toBeCloseTo(1.25, 2);
  });

  it('validates its arguments', () => {
    expect(() => new PeriodicCallback(() => {}, 0)).toThrow(RangeError);
    expect(() => new PeriodicCallback(() => {}, Number.POSITIVE_INFINITY)).toThrow(RangeError);
    expect(() => new PeriodicCallback(() => {}, 1, 2)).toThrow(/jitter/);
    expect(() => new PeriodicCallback('x' as never, 1)).toThrow(TypeError);
  });

  it('stops scheduling when its loop is closed', async () => {
    let count = 0;
    const pc = new PeriodicCallback(() => {
      count++;
      loop.close();
    }, 0.001);
    pc.start();
    // The loop's own timers die with it, so wait on a Node timer.
    await new Promise((r) => setTimeout(r, 15));
    expect(count).toBe(1);
    expect(pc.isRunning()).toBe(true);
    pc.stop();
  });
});
