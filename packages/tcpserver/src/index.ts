/**
 * `@tornado-ts/tcpserver`: listening sockets, accept handlers, pre-fork worker processes,
 * {@link TCPServer} and {@link TCPClient} — Tornado's `netutil`, `process`, `tcpserver` and
 * `tcpclient` on Node.js.
 *
 * @module
 */
export { type AcceptCallback, addAcceptHandler, MAX_PENDING_CONNECTIONS, type PeerAddress } from './accept';
export {
  type BindSocketsOptions,
  type BindUnixSocketOptions,
  bindSockets,
  bindUnixSocket,
  DEFAULT_BACKLOG,
  supportsReusePort,
} from './bind';
export {
  AcceptHandlerExistsError,
  ForkError,
  NotASocketError,
  NotImplementedError,
  ReusePortUnsupportedError,
  TCPServerStateError,
  TooManyChildRestartsError,
} from './errors';
export { cpuCount, forkProcesses, TASK_ID_ENV, taskId } from './process';
export { TCPClient, type TCPClientConnectOptions } from './tcp-client';
export { TCPServer, type TCPServerOptions } from './tcp-server';
