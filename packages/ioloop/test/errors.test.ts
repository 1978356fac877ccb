import { describe, expect, it } from 'vitest';
import {
  AddonMissingError,
  CancelledError,
  InvalidStateError,
  IOLoopError,
  LockError,
  QueueEmpty,
  QueueFull,
  TimeoutError,
  TornadoError,
} from '../src/index';

describe('error classes', () => {
  it.each([
    [new TimeoutError(), 'TimeoutError', 'ERR_TIMEOUT', 'Timeout'],
    [new InvalidStateError(), 'InvalidStateError', 'ERR_INVALID_STATE', 'Invalid state'],
    [new CancelledError(), 'CancelledError', 'ERR_CANCELLED', 'Future was cancelled'],
    [
      new AddonMissingError('gone'),
      'AddonMissingError',
      'ERR_IOLOOP_ADDON_MISSING',
      /addon not built \(gone\)/,
    ],
    [new IOLoopError('x'), 'IOLoopError', 'ERR_IOLOOP', 'x'],
    [new IOLoopError('x', 'ERR_IOLOOP_CLOSED'), 'IOLoopError', 'ERR_IOLOOP_CLOSED', 'x'],
    [new QueueEmpty(), 'QueueEmpty', 'ERR_QUEUE_EMPTY', 'queue is empty'],
    [new QueueFull(), 'QueueFull', 'ERR_QUEUE_FULL', 'queue is full'],
    [new LockError('y'), 'LockError', 'ERR_LOCK', 'y'],
  ] as const)('%o has its name, code and message', (err, name, code, message) => {
    expect(err).toBeInstanceOf(Error);
    expect(err).toBeInstanceOf(TornadoError);
    expect(err.name).toBe(name);
    expect(err.code).toBe(code);
    expect(err.message).toMatch(message);
    expect(String(err)).toBe(`${name}: ${err.message}`);
    expect(err.stack).toContain(name);
  });

  it('TornadoError gives a subclass its own name and keeps the cause', () => {
    class ProtocolError extends TornadoError {
      constructor(message: string, cause?: Error) {
        super(message, 'ERR_MY_PROTOCOL', { cause });
      }
    }
    class StricterError extends ProtocolError {}
    const cause = new Error('root');
    const e = new StricterError('bad frame', cause);
    expect(e.name).toBe('StricterError');
    expect(e.code).toBe('ERR_MY_PROTOCOL');
    expect(e.cause).toBe(cause);
    expect(e).toBeInstanceOf(ProtocolError);
    expect(new TornadoError('m', 'ERR_X').name).toBe('TornadoError');
  });
});
