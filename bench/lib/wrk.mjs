// Parsing of wrk's text report. Pure: tested in test/wrk-parse.test.ts.

const TIME_UNITS_MS = /** @type {const} */ ({ us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 });
const SIZE_UNITS = /** @type {const} */ ({ B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3, TB: 1024 ** 4 });

/**
 * @typedef {object} WrkErrors
 * @property {number} connect
 * @property {number} read
 * @property {number} write
 * @property {number} timeout
 * @property {number} non2xx    responses whose status was not 2xx or 3xx
 */

/**
 * @typedef {object} WrkResult
 * @property {number} requests       responses completed
 * @property {number} durationS      measured seconds
 * @property {number} rps            Requests/sec as wrk printed it
 * @property {number} transferBps    Transfer/sec in bytes
 * @property {number} bytesRead
 * @property {Record<string, number>} latencyMs   percentiles ("50", "75", "90", "99") in ms, when --latency was given
 * @property {number} latencyAvgMs
 * @property {number} latencyMaxMs
 * @property {WrkErrors} errors
 */

/**
 * A wrk duration ("517.35us", "1.20ms", "2.00s", "1.00m") in milliseconds.
 * @param {string} text
 * @returns {number}
 */
export function parseWrkTime(text) {
  const m = /^([\d.]+)(us|ms|s|m|h)$/.exec(text.trim());
  if (!m) throw new Error(`wrk: cannot read the duration ${JSON.stringify(text)}`);
  return Number(m[1]) * TIME_UNITS_MS[/** @type {keyof typeof TIME_UNITS_MS} */ (m[2])];
}

/**
 * A wrk size ("60.00MB", "512.00B") in bytes (wrk's units are binary: 1 KB = 1024 B).
 * @param {string} text
 * @returns {number}
 */
export function parseWrkSize(text) {
  const m = /^([\d.]+)(B|KB|MB|GB|TB)$/.exec(text.trim());
  if (!m) throw new Error(`wrk: cannot read the size ${JSON.stringify(text)}`);
  return Number(m[1]) * SIZE_UNITS[/** @type {keyof typeof SIZE_UNITS} */ (m[2])];
}

/**
 * Reads wrk's report (stdout of `wrk [--latency] …`).
 * @param {string} output
 * @returns {WrkResult}
 */
export function parseWrkOutput(output) {
  const summary = /(\d+) requests in ([\d.]+\w+), ([\d.]+\w+) read/.exec(output);
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(output);
  if (!summary || !rps) {
    throw new Error(`wrk: no summary in its output:\n${output.trim().slice(0, 2000)}`);
  }
  const transfer = /Transfer\/sec:\s+([\d.]+\w+)/.exec(output);
  const latencyLine = /^\s*Latency\s+([\d.]+\w+)\s+([\d.]+\w+)\s+([\d.]+\w+)/m.exec(output);
  /** @type {Record<string, number>} */
  const latencyMs = {};
  const dist = /Latency Distribution\n((?:\s+[\d.]+%\s+[\d.]+\w+\n?)+)/.exec(output);
  if (dist) {
    for (const line of /** @type {string} */ (dist[1]).split('\n')) {
      const p = /^\s*([\d.]+)%\s+([\d.]+\w+)/.exec(line);
      // wrk prints 0.00us for a percentile it lost (its coordinated-omission correction can put
      // samples below the histogram's minimum, typically under pipelining): unknown, not zero.
      if (p) latencyMs[Number(p[1]).toString()] = parseWrkTime(/** @type {string} */ (p[2])) || Number.NaN;
    }
  }
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(output);
  return {
    requests: Number(summary[1]),
    durationS: parseWrkTime(/** @type {string} */ (summary[2])) / 1000,
    bytesRead: parseWrkSize(/** @type {string} */ (summary[3])),
    rps: Number(rps[1]),
    transferBps: transfer ? parseWrkSize(/** @type {string} */ (transfer[1])) : Number.NaN,
    latencyAvgMs: latencyLine ? parseWrkTime(/** @type {string} */ (latencyLine[1])) : Number.NaN,
    latencyMaxMs: latencyLine ? parseWrkTime(/** @type {string} */ (latencyLine[3])) : Number.NaN,
    latencyMs,
    errors: {
      connect: socket ? Number(socket[1]) : 0,
      read: socket ? Number(socket[2]) : 0,
      write: socket ? Number(socket[3]) : 0,
      timeout: socket ? Number(socket[4]) : 0,
      non2xx: non2xx ? Number(non2xx[1]) : 0,
    },
  };
}

/**
 * Total socket errors plus non-2xx/3xx responses of a wrk run.
 * @param {WrkErrors} errors
 * @returns {number}
 */
export function errorCount(errors) {
  return errors.connect + errors.read + errors.write + errors.timeout + errors.non2xx;
}
