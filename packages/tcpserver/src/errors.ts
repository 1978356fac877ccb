/**
 * Error classes of `@tornado-ts/tcpserver`. Each has a `name` equal to its class name and a stable
 * `code` string to branch on.
 *
 * @module
 */

/**
 * `bindSockets(..., { reusePort: true })` on a Node.js that cannot set `SO_REUSEPORT` on a
 * listening socket (the `reusePort` listen option arrived in Node 22.12 / 23.1).
 */
export class ReusePortUnsupportedError extends Error {
  override readonly name = 'ReusePortUnsupportedError';
  /** Always `'ERR_REUSE_PORT_UNSUPPORTED'`. */
  readonly code = 'ERR_REUSE_PORT_UNSUPPORTED';
  constructor(
    message = `reusePort is not supported by Node.js ${process.version} (needs >= 22.12 or >= 23.1)`,
  ) {
    super(message);
  }
}

/** `bindUnixSocket(path)` where `path` exists and is not a socket: it is never removed. */
export class NotASocketError extends Error {
  override readonly name = 'NotASocketError';
  /** Always `'ERR_NOT_A_SOCKET'`. */
  readonly code = 'ERR_NOT_A_SOCKET';
  /** The path that was refused. */
  readonly path: string;
  constructor(path: string) {
    super(`File ${path} exists and is not a socket`);
    this.path = path;
  }
}

/** A second accept handler for a server that already has one (remove the first one before). */
export class AcceptHandlerExistsError extends Error {
  override readonly name = 'AcceptHandlerExistsError';
  /** Always `'ERR_ACCEPT_HANDLER_EXISTS'`. */
  readonly code = 'ERR_ACCEPT_HANDLER_EXISTS';
  constructor(message = 'this server already has an accept handler') {
    super(message);
  }
}

/**
 * Misuse of the multi-process helpers: `forkProcesses` called twice or inside a worker that
 * already forked, no main script to start workers from, or the primary could not keep a copy
 * of its listening sockets.
 */
export class ForkError extends Error {
  override readonly name = 'ForkError';
  /** Always `'ERR_FORK'`. */
  readonly code = 'ERR_FORK';
}

/**
 * Workers kept dying: more than `maxRestarts` restarts. The primary stops the remaining
 * workers and `forkProcesses` rejects with this error ("Too many child restarts, giving up").
 */
export class TooManyChildRestartsError extends Error {
  override readonly name = 'TooManyChildRestartsError';
  /** Always `'ERR_TOO_MANY_CHILD_RESTARTS'`. */
  readonly code = 'ERR_TOO_MANY_CHILD_RESTARTS';
  /** How many restarts were made before giving up. */
  readonly restarts: number;
  constructor(restarts: number) {
    super('Too many child restarts, giving up');
    this.restarts = restarts;
  }
}

/** A server method used in a state that does not allow it (`start()` twice, `bind()` after `stop()`). */
export class TCPServerStateError extends Error {
  override readonly name = 'TCPServerStateError';
  /** Always `'ERR_TCP_SERVER_STATE'`. */
  readonly code = 'ERR_TCP_SERVER_STATE';
}

/** `TCPServer.handleStream` was not overridden: subclasses must implement it. */
export class NotImplementedError extends Error {
  override readonly name = 'NotImplementedError';
  /** Always `'ERR_NOT_IMPLEMENTED'`. */
  readonly code = 'ERR_NOT_IMPLEMENTED';
}
