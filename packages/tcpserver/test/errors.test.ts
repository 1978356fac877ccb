import { TornadoError } from '@tornado-ts/ioloop';
import { describe, expect, it } from 'vitest';
import {
  AcceptHandlerExistsError,
  ForkError,
  NotASocketError,
  NotImplementedError,
  ReusePortUnsupportedError,
  TCPServerStateError,
  TooManyChildRestartsError,
} from '../src/index';

describe('error classes', () => {
  it.each([
    [new ReusePortUnsupportedError(), 'ReusePortUnsupportedError', 'ERR_REUSE_PORT_UNSUPPORTED', /reusePort/],
    [new NotASocketError('/tmp/f'), 'NotASocketError', 'ERR_NOT_A_SOCKET', '/tmp/f exists'],
    [new AcceptHandlerExistsError(), 'AcceptHandlerExistsError', 'ERR_ACCEPT_HANDLER_EXISTS', /already/],
    [new ForkError('f'), 'ForkError', 'ERR_FORK', 'f'],
    [
      new TooManyChildRestartsError(3),
      'TooManyChildRestartsError',
      'ERR_TOO_MANY_CHILD_RESTARTS',
      /Too many/,
    ],
    [new TCPServerStateError('s'), 'TCPServerStateError', 'ERR_TCP_SERVER_STATE', 's'],
    [new NotImplementedError('n'), 'NotImplementedError', 'ERR_NOT_IMPLEMENTED', 'n'],
  ] as const)('%o has its name, code and message', (err, name, code, message) => {
    expect(err).toBeInstanceOf(Error);
    expect(err).toBeInstanceOf(TornadoError);
    expect(err.name).toBe(name);
    expect(err.code).toBe(code);
    expect(err.message).toMatch(message);
  });

  it('keeps the extra fields', () => {
    expect(new NotASocketError('/tmp/f').path).toBe('/tmp/f');
    expect(new TooManyChildRestartsError(7).restarts).toBe(7);
  });
});
