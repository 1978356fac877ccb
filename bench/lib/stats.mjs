// Pure maths of the harness: medians, ratios and number formatting. No I/O here (tested in test/).

/**
 * Median of a list of numbers (mean of the two middle values for an even count).
 * Non-finite values are ignored; an empty list gives NaN.
 * @param {readonly number[]} values
 * @returns {number}
 */
export function median(values) {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const mid = n >> 1;
  const hi = sorted[mid] ?? Number.NaN;
  if (n % 2 === 1) return hi;
  const lo = sorted[mid - 1] ?? Number.NaN;
  return (lo + hi) / 2;
}

/**
 * `value / baseline`, or NaN when either side is missing, not finite, or the baseline is 0.
 * @param {number | undefined | null} value
 * @param {number | undefined | null} baseline
 * @returns {number}
 */
export function ratio(value, baseline) {
  if (value == null || baseline == null) return Number.NaN;
  if (!Number.isFinite(value) || !Number.isFinite(baseline) || baseline === 0) return Number.NaN;
  return value / baseline;
}

/**
 * A number with thousands separators and a fixed count of decimals ("12,345", "1,234.5").
 * @param {number} value
 * @param {number} [decimals]
 * @returns {string}
 */
export function formatNumber(value, decimals = 0) {
  if (!Number.isFinite(value)) return '–';
  const fixed = Math.abs(value).toFixed(decimals);
  const [int = '0', frac] = fixed.split('.');
  const grouped = int.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${value < 0 ? '-' : ''}${grouped}${frac ? `.${frac}` : ''}`;
}

/**
 * A ratio as "1.23×" ("–" when not a number).
 * @param {number} value
 * @returns {string}
 */
export function formatRatio(value) {
  return Number.isFinite(value) ? `${value.toFixed(2)}×` : '–';
}

/**
 * A duration given in milliseconds, in the unit that reads best ("850 µs", "1.25 ms", "2.10 s").
 * @param {number} ms
 * @returns {string}
 */
export function formatMs(ms) {
  if (!Number.isFinite(ms)) return '–';
  if (ms < 1) return `${Math.round(ms * 1000)} µs`;
  if (ms < 1000) return `${ms.toFixed(ms < 10 ? 2 : 1)} ms`;
  return `${(ms / 1000).toFixed(2)} s`;
}
