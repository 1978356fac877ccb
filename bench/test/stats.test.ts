import { describe, expect, it } from 'vitest';
import { formatMs, formatNumber, formatRatio, median, ratio } from '../lib/stats.mjs';

describe('median', () => {
  it('takes the middle value of an odd count, whatever the order', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([10, 50, 20, 40, 30])).toBe(30);
  });
  it('averages the two middle values of an even count', () => {
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });
  it('ignores values that are not finite, and is NaN for nothing', () => {
    expect(median([Number.NaN, 5, Number.POSITIVE_INFINITY, 7, 6])).toBe(6);
    expect(median([])).toBeNaN();
    expect(median([Number.NaN])).toBeNaN();
  });
  it('does not reorder its input', () => {
    const xs = [3, 1, 2];
    median(xs);
    expect(xs).toEqual([3, 1, 2]);
  });
});

describe('ratio', () => {
  it('divides by the baseline', () => {
    expect(ratio(150, 100)).toBe(1.5);
    expect(ratio(25, 100)).toBe(0.25);
  });
  it('is NaN when a side is missing, not finite, or the baseline is zero', () => {
    expect(ratio(undefined, 100)).toBeNaN();
    expect(ratio(100, null)).toBeNaN();
    expect(ratio(Number.NaN, 100)).toBeNaN();
    expect(ratio(100, 0)).toBeNaN();
  });
});

describe('formatting', () => {
  it('groups thousands and keeps the decimals asked for', () => {
    expect(formatNumber(1234567)).toBe('1,234,567');
    expect(formatNumber(1234.567, 2)).toBe('1,234.57');
    expect(formatNumber(-9876.5, 1)).toBe('-9,876.5');
    expect(formatNumber(999)).toBe('999');
    expect(formatNumber(Number.NaN)).toBe('–');
  });
  it('writes ratios with two decimals', () => {
    expect(formatRatio(1.234)).toBe('1.23×');
    expect(formatRatio(Number.NaN)).toBe('–');
  });
  it('writes durations in the unit that reads best', () => {
    expect(formatMs(0.462)).toBe('462 µs');
    expect(formatMs(1.234)).toBe('1.23 ms');
    expect(formatMs(45.67)).toBe('45.7 ms');
    expect(formatMs(2100)).toBe('2.10 s');
    expect(formatMs(Number.NaN)).toBe('–');
  });
});
