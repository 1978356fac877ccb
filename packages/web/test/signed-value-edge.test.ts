import { describe, expect, it } from 'vitest';
import { createSignedValue, decodeSignedValue } from '../src/index';

describe('signed values: edge cases', () => {
  const now = 1_700_000_000;
  const clock = () => now;
  it('round-trips names with non-ASCII characters', () => {
    const v = createSignedValue('k', 'naïve', 'x', { clock });
    expect(decodeSignedValue('k', 'naïve', v, { clock })?.toString()).toBe('x');
    expect(decodeSignedValue('k', 'naive', v, { clock })).toBeNull();
  });
  it('refuses unknown versions and missing key versions', () => {
    const v = createSignedValue({ 1: 'a', 2: 'b' }, 'n', 'x', { clock, keyVersion: 2 });
    expect(decodeSignedValue({ 1: 'a', 2: 'b' }, 'n', v, { clock })?.toString()).toBe('x');
    expect(decodeSignedValue({ 1: 'a' }, 'n', v, { clock })).toBeNull();
    expect(decodeSignedValue({ 1: 'a', 2: 'b' }, 'n', `3${v.slice(1)}`, { clock })).toBeNull();
  });
});
