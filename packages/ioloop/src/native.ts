import { createRequire } from 'node:module';
import { AddonMissingError } from './errors';

/** An opaque libuv poll watcher owned by the native addon. */
export type PollHandle = object & { readonly __pollHandle?: never };

/** The surface of the compiled addon (`build/Release/tornado_ioloop.node`). */
export interface NativeAddon {
  /**
   * Starts a uv_poll watcher on `fd` for Tornado-style `events`; `cb` receives Tornado event bits.
   * `flags` bit 1: skip the poll(2) that tells a hang-up from readable data on READ events.
   * `recv`: the object `cb` is called on (so one function serves every handle).
   */
  pollStart<R extends object = object>(
    fd: number,
    events: number,
    cb: (this: R, events: number) => void,
    flags?: number,
    recv?: R,
  ): PollHandle;
  /**
   * Where the events of batched watchers go: after each poll phase (or when `buf` is full),
   * `dispatch(n)` is called once with `n` (id, events) pairs written at the start of `buf`.
   * Calling it again replaces both.
   */
  batchInit?(dispatch: (n: number) => void, buf: Int32Array): void;
  /**
   * Like `pollStart`, but the watcher's events go, with `id`, to the function given to
   * `batchInit`: one call into JavaScript per loop iteration, not one per descriptor, and no
   * callback reference or async context per watcher.
   */
  pollStartBatched?(fd: number, events: number, id: number, flags?: number): PollHandle;
  /** Changes the events a watcher waits for (0 stops it without closing it). */
  pollUpdate(handle: PollHandle, events: number): void;
  /** Stops and closes a watcher; idempotent. */
  pollClose(handle: PollHandle): void;
  read(fd: number, buf: Uint8Array, offset: number, length: number): number;
  write(fd: number, buf: Uint8Array, offset: number, length: number): number;
  setNonBlocking(fd: number, on: boolean): void;
  pipe(): [number, number];
  accept(fd: number, noDelay: boolean): AcceptedConnection | null;
  sockName(fd: number, peer: boolean): SocketName;
  dup(fd: number): number;
  close(fd: number): void;
  shutdown(fd: number): void;
  setNoDelay(fd: number, on: boolean): void;
  writeString(fd: number, data: string, latin1: boolean): number;
}

/** A connection taken by {@link fdAccept}: its descriptor and the peer's address. */
export type AcceptedConnection = [
  fd: number,
  address: string,
  port: number,
  family: 'IPv4' | 'IPv6' | 'unix',
];

/** A socket's address from {@link fdSockName}: `''`, `0` and `'unix'` for unix sockets. */
export type SocketName = [address: string, port: number, family: 'IPv4' | 'IPv6' | 'unix'];

/** The file name of the addon, relative to the package root. */
export const ADDON_PATH = 'build/Release/tornado_ioloop.node';

function defaultLoader(): NativeAddon {
  if (process.env.TORNADO_TS_IOLOOP_NO_ADDON) {
    throw new Error('disabled by the TORNADO_TS_IOLOOP_NO_ADDON environment variable');
  }
  const require = createRequire(import.meta.url);
  // A bundled app (esbuild, webpack, ...) loses the package layout: point this at the .node file.
  const explicit = process.env.TORNADO_TS_IOLOOP_ADDON;
  if (explicit) return require(explicit) as NativeAddon;
  // src/native.ts, dist/index.js and dist/index.cjs all sit one directory below the package root.
  return require(`../${ADDON_PATH}`) as NativeAddon;
}

let loader: () => NativeAddon = defaultLoader;
let cached: NativeAddon | null = null;
let failure: string | null = null;

function describeLoadError(err: unknown): string {
  const e = err as { code?: string; message?: string };
  if (e?.code === 'MODULE_NOT_FOUND') return `${ADDON_PATH} not found`;
  return e?.message ?? String(err);
}

function tryLoad(): NativeAddon | null {
  if (cached !== null) return cached;
  if (failure !== null) return null;
  try {
    cached = loader();
  } catch (err) {
    failure = describeLoadError(err);
  }
  return cached;
}

/**
 * The loaded addon, or throws {@link AddonMissingError} saying why it is missing and how to fix it.
 * @internal
 */
export function addon(): NativeAddon {
  const a = cached ?? tryLoad();
  if (a === null) throw new AddonMissingError(failure ?? 'unknown reason');
  return a;
}

/**
 * Replaces the addon loader (tests simulate a missing or failing addon with it); `null` restores
 * the default. Clears the cached addon so the next use loads again.
 * @internal
 */
export function setAddonLoader(fn: (() => NativeAddon) | null): void {
  loader = fn ?? defaultLoader;
  cached = null;
  failure = null;
}

/** Whether fd handlers and the fd helpers are available, and if not, why. */
export function fdSupport(): { available: boolean; reason?: string } {
  return tryLoad() !== null ? { available: true } : { available: false, reason: failure ?? 'unknown reason' };
}

function checkRange(buf: Uint8Array, offset: number, length: number): void {
  if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 0) {
    throw new RangeError(`invalid offset/length: ${offset}/${length}`);
  }
  if (offset + length > buf.byteLength) {
    throw new RangeError(`offset + length (${offset + length}) exceeds the buffer (${buf.byteLength} bytes)`);
  }
}

function fdIo(op: 'read' | 'write', fd: number, buf: Uint8Array, offset: number, length: number): number {
  const a = cached ?? addon();
  checkRange(buf, offset, length);
  return a[op](fd, buf, offset, length);
}

/**
 * Reads from a (non-blocking) file descriptor with read(2) into `buf[offset, offset+length)`.
 *
 * @returns the number of bytes read (> 0), `0` at end of file, or `-1` when the read would block
 *   (EAGAIN/EWOULDBLOCK) — no exception on that hot path. Other failures throw an `Error` whose
 *   `code` is the errno name (`'EBADF'`, `'ECONNRESET'`, ...).
 * @throws {@link AddonMissingError} when the native addon is not built.
 */
export function fdRead(
  fd: number,
  buf: Uint8Array,
  offset = 0,
  length: number = buf.byteLength - offset,
): number {
  return fdIo('read', fd, buf, offset, length);
}

/**
 * Writes `buf[offset, offset+length)` to a (non-blocking) file descriptor with write(2).
 *
 * @returns the number of bytes written (may be less than `length`), or `-1` when the write would
 *   block. Failures such as `EPIPE` throw an `Error` with that `code` (SIGPIPE is ignored by Node).
 * @throws {@link AddonMissingError} when the native addon is not built.
 */
export function fdWrite(
  fd: number,
  buf: Uint8Array,
  offset = 0,
  length: number = buf.byteLength - offset,
): number {
  return fdIo('write', fd, buf, offset, length);
}

/**
 * Sets or clears `O_NONBLOCK` on a file descriptor (fcntl(2)).
 * @throws {@link AddonMissingError} when the native addon is not built.
 */
export function setNonBlocking(fd: number, on = true): void {
  addon().setNonBlocking(fd, on);
}

/**
 * Creates a pipe with both ends non-blocking and close-on-exec (pipe2(2)).
 * Close the ends with `fs.closeSync` after removing any handler on them.
 *
 * @returns `[readFd, writeFd]`
 * @throws {@link AddonMissingError} when the native addon is not built.
 */
export function fdPipe(): [number, number] {
  return addon().pipe();
}

/**
 * Accepts one connection on a listening, non-blocking socket (accept4(2)). The new descriptor is
 * non-blocking and close-on-exec; `noDelay` turns Nagle's algorithm off on TCP connections.
 *
 * @returns `[fd, address, port, family]`, or `null` when no connection is waiting (EAGAIN).
 *   Failures (`EMFILE`, `ECONNABORTED`, ...) throw an `Error` with that `code`.
 * @throws {@link AddonMissingError} when the native addon is not built.
 * @example
 * ```ts
 * loop.addHandler(listenFd, () => {
 *   for (let c = fdAccept(listenFd, true); c !== null; c = fdAccept(listenFd, true)) serve(c[0]);
 * }, IOLoop.READ);
 * ```
 */
export function fdAccept(fd: number, noDelay = false): AcceptedConnection | null {
  return (cached ?? addon()).accept(fd, noDelay);
}

/**
 * The local (`peer` false, getsockname(2)) or remote (getpeername(2)) address of a socket.
 * @throws {@link AddonMissingError} when the native addon is not built.
 */
export function fdSockName(fd: number, peer = false): SocketName {
  return addon().sockName(fd, peer);
}

/**
 * Duplicates a descriptor (close-on-exec). Closing either copy leaves the other open.
 * @throws {@link AddonMissingError} when the native addon is not built.
 */
export function fdDup(fd: number): number {
  return addon().dup(fd);
}

/**
 * Closes a descriptor (close(2)). Remove its IOLoop handler first.
 * @throws {@link AddonMissingError} when the native addon is not built.
 */
export function fdClose(fd: number): void {
  (cached ?? addon()).close(fd);
}

/**
 * Shuts the write side of a socket down (shutdown(2), `SHUT_WR`): the peer reads end of file.
 * @throws {@link AddonMissingError} when the native addon is not built.
 */
export function fdShutdown(fd: number): void {
  addon().shutdown(fd);
}

/**
 * Turns Nagle's algorithm off (`on`) or on for a TCP socket (`TCP_NODELAY`).
 * @throws {@link AddonMissingError} when the native addon is not built.
 */
export function fdSetNoDelay(fd: number, on = true): void {
  addon().setNoDelay(fd, on);
}

/**
 * Writes a string's bytes (`'latin1'`: one byte per character; `'utf8'`) to a non-blocking
 * descriptor without making a Buffer of it first.
 *
 * @returns the number of bytes written (may be fewer than the encoded length: write the rest from
 *   a Buffer), or `-1` when the write would block. Failures throw an `Error` with a `code`.
 * @throws {@link AddonMissingError} when the native addon is not built.
 */
export function fdWriteString(fd: number, data: string, encoding: 'latin1' | 'utf8' = 'utf8'): number {
  return (cached ?? addon()).writeString(fd, data, encoding === 'latin1');
}
