import { describe, expect, it } from 'vitest';
import { errorCount, parseWrkOutput, parseWrkSize, parseWrkTime } from '../lib/wrk.mjs';

// Real wrk 4.1 reports, captured from runs of this suite.
const KEEP_ALIVE = `Running 1s test @ http://127.0.0.1:18081/nope
  1 threads and 10 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.00ms    2.24ms  36.38ms   95.67%
    Req/Sec    16.23k     8.00k   26.49k    63.64%
  Latency Distribution
     50%  462.00us
     75%  800.00us
     90%    1.67ms
     99%   11.08ms
  17705 requests in 1.10s, 2.45MB read
  Non-2xx or 3xx responses: 17705
Requests/sec:  16127.33
Transfer/sec:      2.23MB
`;

const PIPELINED = `Running 2s test @ http://127.0.0.1:18081/plaintext
  1 threads and 50 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   142.10ms  237.14ms   1.13s    64.30%
    Req/Sec    27.59k    16.86k   53.56k    65.00%
  Latency Distribution
     50%   51.71ms
     75%  708.62ms
     90%    0.00us
     99%    0.00us
  54850 requests in 2.01s, 8.58MB read
  Socket errors: connect 3, read 12, write 1, timeout 40
Requests/sec:  27304.40
Transfer/sec:      4.27MB
`;

describe('parseWrkTime / parseWrkSize', () => {
  it('reads every unit wrk prints', () => {
    expect(parseWrkTime('462.00us')).toBeCloseTo(0.462, 6);
    expect(parseWrkTime('1.67ms')).toBeCloseTo(1.67, 6);
    expect(parseWrkTime('1.13s')).toBeCloseTo(1130, 6);
    expect(parseWrkTime('2.00m')).toBe(120_000);
    expect(parseWrkSize('512.00B')).toBe(512);
    expect(parseWrkSize('2.00KB')).toBe(2048);
    expect(parseWrkSize('2.45MB')).toBeCloseTo(2.45 * 1024 ** 2, 3);
    expect(parseWrkSize('1.00GB')).toBe(1024 ** 3);
  });

  it('rejects what it cannot read', () => {
    expect(() => parseWrkTime('fast')).toThrow(/duration/);
    expect(() => parseWrkSize('12 parsecs')).toThrow(/size/);
  });
});

describe('parseWrkOutput', () => {
  it('reads throughput, latency percentiles and non-2xx responses', () => {
    const r = parseWrkOutput(KEEP_ALIVE);
    expect(r.requests).toBe(17705);
    expect(r.durationS).toBeCloseTo(1.1, 6);
    expect(r.rps).toBe(16127.33);
    expect(r.bytesRead).toBeCloseTo(2.45 * 1024 ** 2, 0);
    expect(r.transferBps).toBeCloseTo(2.23 * 1024 ** 2, 0);
    expect(r.latencyAvgMs).toBeCloseTo(1.0, 6);
    expect(r.latencyMaxMs).toBeCloseTo(36.38, 6);
    expect(r.latencyMs['50']).toBeCloseTo(0.462, 6);
    expect(r.latencyMs['75']).toBeCloseTo(0.8, 6);
    expect(r.latencyMs['90']).toBeCloseTo(1.67, 6);
    expect(r.latencyMs['99']).toBeCloseTo(11.08, 6);
    expect(r.errors).toEqual({ connect: 0, read: 0, write: 0, timeout: 0, non2xx: 17705 });
    expect(errorCount(r.errors)).toBe(17705);
  });

  it('reads socket errors, and treats a lost (0.00us) percentile as unknown', () => {
    const r = parseWrkOutput(PIPELINED);
    expect(r.requests).toBe(54850);
    expect(r.rps).toBe(27304.4);
    expect(r.latencyMaxMs).toBe(1130);
    expect(r.latencyMs['50']).toBeCloseTo(51.71, 6);
    expect(r.latencyMs['99']).toBeNaN();
    expect(r.errors).toEqual({ connect: 3, read: 12, write: 1, timeout: 40, non2xx: 0 });
    expect(errorCount(r.errors)).toBe(56);
  });

  it('has no percentiles without --latency', () => {
    const r = parseWrkOutput(KEEP_ALIVE.replace(/ {2}Latency Distribution\n(?: {5}.*\n){4}/, ''));
    expect(r.latencyMs).toEqual({});
    expect(r.rps).toBe(16127.33);
  });

  it('throws with the output when wrk printed no summary', () => {
    expect(() => parseWrkOutput('unable to connect to 127.0.0.1:1 Connection refused\n')).toThrow(
      /no summary.*Connection refused/s,
    );
  });
});
