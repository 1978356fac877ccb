/**
 * Error classes of `@tornado-ts/tcpserver`. Each extends `TornadoError` (from `@tornado-ts/ioloop`):
 * a `name` equal to its class name and a stable `code` string to branch on.
 *
 * @module
 */
import { TornadoError } from '@tornado-ts/ioloop';

/**
 * `bindSockets(..., { reusePort: true })` on a Node.js that cannot set `SO_REUSEPORT` on a
 * listening socket (the `reusePort` listen option arrived in Node 22.12 / 23.1).
 */
export class ReusePortUnsupportedError extends TornadoError {
  /** Always `'ERR_REUSE_PORT_UNSUPPORTED'`. */
  declare readonly code: 'ERR_REUSE_PORT_UNSUPPORTED';
  constructor(
    message = `reusePort is not supported by Node.js ${process.version} (needs >= 22.12 or >= 23.1)`,
  ) {
    super(message, 'ERR_REUSE_PORT_UNSUPPORTED');
  }
}

/** `bindUnixSocket(path)` where `path` exists and is not a socket: it is never removed. */
export class NotASocketError extends TornadoError {
  /** Always `'ERR_NOT_A_SOCKET'`. */
  declare readonly code: 'ERR_NOT_A_SOCKET';
  /** The path that was refused. */
  readonly path: string;
  constructor(path: string) {
    super(`File ${path} exists and is not a socket`, 'ERR_NOT_A_SOCKET');
    this.path = path;
  }
}

/** A second accept handler for a server that already has one (remove the first one before). */
export class AcceptHandlerExistsError extends TornadoError {
  /** Always `'ERR_ACCEPT_HANDLER_EXISTS'`. */
  declare readonly code: 'ERR_ACCEPT_HANDLER_EXISTS';
  constructor(message = 'this server already has an accept handler') {
    super(message, 'ERR_ACCEPT_HANDLER_EXISTS');
  }
}

/**
 * Misuse of the multi-process helpers: `forkProcesses` called twice or inside a worker that
 * already forked, no main script to start workers from, or the primary could not keep a copy
 * of its listening sockets.
 */
export class ForkError extends TornadoError {
  /** Always `'ERR_FORK'`. */
  declare readonly code: 'ERR_FORK';
  constructor(message: string) {
    super(message, 'ERR_FORK');
  }
}

/**
 * Workers kept dying: more than `maxRestarts` restarts. The primary stops the remaining
 * workers and `forkProcesses` rejects with this error ("Too many child restarts, giving up").
 */
export class TooManyChildRestartsError extends TornadoError {
  /** Always `'ERR_TOO_MANY_CHILD_RESTARTS'`. */
  declare readonly code: 'ERR_TOO_MANY_CHILD_RESTARTS';
  /** How many restarts were made before giving up. */
  readonly restarts: number;
  constructor(restarts: number) {
    super('Too many child restarts, giving up', 'ERR_TOO_MANY_CHILD_RESTARTS');
    this.restarts = restarts;
  }
}

/** A server method used in a state that does not allow it (`start()` twice, `bind()` after `stop()`). */
export class TCPServerStateError extends TornadoError {
  /** Always `'ERR_TCP_SERVER_STATE'`. */
  declare readonly code: 'ERR_TCP_SERVER_STATE';
  constructor(message: string) {
    super(message, 'ERR_TCP_SERVER_STATE');
  }
}

/** `TCPServer.handleStream` was not overridden: subclasses must implement it. */
export class NotImplementedError extends TornadoError {
  /** Always `'ERR_NOT_IMPLEMENTED'`. */
  declare readonly code: 'ERR_NOT_IMPLEMENTED';
  constructor(message: string) {
    super(message, 'ERR_NOT_IMPLEMENTED');
  }
}
