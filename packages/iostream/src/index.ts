/**
 * `@tornado-ts/iostream`: buffered, promise-based streams — Tornado's `IOStream`,
 * `SSLIOStream` and `PipeIOStream` — the layer every protocol is written on.
 *
 * @module
 */
export {
  ReadInProgressError,
  StreamBufferFullError,
  StreamClosedError,
  StreamNotIdleError,
  UnsatisfiableReadError,
} from './errors';
export { FdSocket, type FdSocketPeer } from './fd-socket';
export type {
  ConnectOptions,
  IOStreamOptions,
  PartialOptions,
  ReadUntilOptions,
  SSLOptions,
} from './iostream';
export { IOStream, SSLIOStream } from './iostream';
export { PipeIOStream } from './pipe-iostream';
