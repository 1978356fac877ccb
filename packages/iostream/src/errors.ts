/**
 * Error classes of `@tornado-ts/iostream`. Each extends `TornadoError` (from `@tornado-ts/ioloop`):
 * a `name` equal to its class name and a stable `code` string to branch on.
 *
 * @module
 */
import { TornadoError } from '@tornado-ts/ioloop';

/**
 * The stream is closed: raised by reads and writes on a closed stream, and by reads and writes
 * that were pending when it closed. `realError` says why the stream closed (the socket error such
 * as `ECONNRESET`, the TLS handshake failure, ...), or is `null` for an orderly close (EOF, `close()`).
 */
export class StreamClosedError extends TornadoError {
  /** Always `'ERR_STREAM_CLOSED'`. */
  declare readonly code: 'ERR_STREAM_CLOSED';
  /** The error that closed the stream, or `null` for an orderly close. */
  readonly realError: Error | null;

  constructor(realError?: Error | null, message?: string) {
    super(
      message ?? (realError ? `Stream is closed: ${realError.message}` : 'Stream is closed'),
      'ERR_STREAM_CLOSED',
      { cause: realError ?? undefined },
    );
    this.realError = realError ?? null;
  }
}

/**
 * A read cannot be satisfied within its limits (`readUntil` / `readUntilRegex` with `maxBytes`
 * found no delimiter in that many bytes). The stream is closed when this is raised.
 */
export class UnsatisfiableReadError extends TornadoError {
  /** Always `'ERR_UNSATISFIABLE_READ'`. */
  declare readonly code: 'ERR_UNSATISFIABLE_READ';
  constructor(message = 'Unsatisfiable read') {
    super(message, 'ERR_UNSATISFIABLE_READ');
  }
}

/**
 * A buffer limit was reached: a read that could only be satisfied by buffering more than
 * `maxBufferSize` bytes (the stream is closed), or a write past `maxWriteBufferSize`
 * (the write is refused; the stream stays open).
 */
export class StreamBufferFullError extends TornadoError {
  /** Always `'ERR_STREAM_BUFFER_FULL'`. */
  declare readonly code: 'ERR_STREAM_BUFFER_FULL';
  constructor(message = 'Stream buffer full') {
    super(message, 'ERR_STREAM_BUFFER_FULL');
  }
}

/**
 * A programming error: a read was started while another read is pending on the same stream
 * (only one read may be pending at a time), or a synchronous `tryRead*` was called during one.
 */
export class ReadInProgressError extends TornadoError {
  /** Always `'ERR_READ_IN_PROGRESS'`. */
  declare readonly code: 'ERR_READ_IN_PROGRESS';
  constructor(message = 'Already reading: only one read may be pending on an IOStream at a time') {
    super(message, 'ERR_READ_IN_PROGRESS');
  }
}

/**
 * `startTls()` was called on a stream that is not idle (a read or write is pending), or that is
 * already closed.
 */
export class StreamNotIdleError extends TornadoError {
  /** Always `'ERR_STREAM_NOT_IDLE'`. */
  declare readonly code: 'ERR_STREAM_NOT_IDLE';
  constructor(message = 'IOStream is not idle') {
    super(message, 'ERR_STREAM_NOT_IDLE');
  }
}
