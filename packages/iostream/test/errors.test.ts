import { TornadoError } from '@tornado-ts/ioloop';
import { describe, expect, it } from 'vitest';
import {
  ReadInProgressError,
  StreamBufferFullError,
  StreamClosedError,
  StreamNotIdleError,
  UnsatisfiableReadError,
} from '../src/index';

describe('error classes', () => {
  it.each([
    [new StreamClosedError(), 'StreamClosedError', 'ERR_STREAM_CLOSED', 'Stream is closed'],
    [new UnsatisfiableReadError(), 'UnsatisfiableReadError', 'ERR_UNSATISFIABLE_READ', 'Unsatisfiable read'],
    [new StreamBufferFullError('full'), 'StreamBufferFullError', 'ERR_STREAM_BUFFER_FULL', 'full'],
    [new ReadInProgressError(), 'ReadInProgressError', 'ERR_READ_IN_PROGRESS', /only one read/],
    [new StreamNotIdleError(), 'StreamNotIdleError', 'ERR_STREAM_NOT_IDLE', 'IOStream is not idle'],
  ] as const)('%o has its name, code and message', (err, name, code, message) => {
    expect(err).toBeInstanceOf(Error);
    expect(err).toBeInstanceOf(TornadoError);
    expect(err.name).toBe(name);
    expect(err.code).toBe(code);
    expect(err.message).toMatch(message);
  });

  it('StreamClosedError carries the real error as realError and cause', () => {
    const reset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    const e = new StreamClosedError(reset);
    expect(e.realError).toBe(reset);
    expect(e.cause).toBe(reset);
    expect(e.message).toBe('Stream is closed: read ECONNRESET');
    expect(new StreamClosedError(null, 'custom').message).toBe('custom');
    expect(new StreamClosedError(null).realError).toBeNull();
  });
});
