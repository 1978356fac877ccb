/** The shared clock reading: one `performance.now()` per request inside an I/O turn. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { clockNow, enterTurn, leaveTurn, nextReading } from '../src/clock';

describe('clockNow', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('reads the clock on every call outside a turn, once per reading inside one', () => {
    let t = 100;
    const now = vi.spyOn(performance, 'now').mockImplementation(() => ++t);
    expect(clockNow()).toBe(101);
    expect(clockNow()).toBe(102);
    enterTurn();
    expect(clockNow()).toBe(103);
    expect(clockNow()).toBe(103);
    enterTurn(); // nested: the outer turn's reading stays
    expect(clockNow()).toBe(103);
    leaveTurn();
    expect(clockNow()).toBe(103);
    nextReading(); // a new request in the same turn reads the clock again
    expect(clockNow()).toBe(104);
    expect(clockNow()).toBe(104);
    leaveTurn();
    expect(clockNow()).toBe(105);
    expect(now).toHaveBeenCalledTimes(5);
  });
});
