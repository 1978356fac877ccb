/**
 * {@link FdSocket}: a connected stream socket driven straight by the IOLoop's fd watcher.
 *
 * @module
 */
import { EventEmitter } from 'node:events';
import net from 'node:net';
import {
  fdClose,
  fdRead,
  fdSetNoDelay,
  fdShutdown,
  fdSockName,
  fdWrite,
  fdWriteString,
  IOLoop,
  TornadoError,
} from '@tornado-ts/ioloop';

const { READ, WRITE, ERROR } = IOLoop;

// Reads land in a shared slab, each in the room after the previous one, and are handed out as
// views of it (no copy, no allocation but the view). A slab with less than MIN_ROOM left is
// replaced; the old one lives as long as a view of it does (like Node's Buffer pool).
const SLAB_SIZE = 64 * 1024;
const MIN_ROOM = 8 * 1024;
let slab = Buffer.allocUnsafeSlow(SLAB_SIZE);
let slabOff = 0;

// Reads per readiness notification before yielding to the loop (the watcher is level-triggered:
// what is left is reported again at once).
const READS_PER_EVENT = 4;
// At most this many queued bytes are joined into one write(2).
const MAX_JOIN = 256 * 1024;

type WriteCallback = (err?: Error | null) => void;
/** An event listener (any arguments). */
type Listener = (...args: never[]) => void;
type AnyListener = (...args: unknown[]) => void;

// Set in FdSocket's static block (they reach private fields).
let emitClose: (s: FdSocket, err: Error | null) => void;
let endBatch: (s: FdSocket) => void;
// One IOLoop handler function for every socket, which it finds by descriptor (no closure each).
let onFdEvents: (fd: number, events: number) => void;
const byFd = new Map<number, FdSocket>();

/**
 * Where an owning stream takes a socket's events directly (no listeners, no emitter): the
 * functions are shared by every stream, `owner` is passed back to them.
 * @internal
 */
export interface FdSocketSink<O> {
  data(owner: O, chunk: Buffer): void;
  end(owner: O): void;
  error(owner: O, err: Error): void;
}

/** An error of a write on a socket that is destroyed or ended. */
class SocketStateError extends TornadoError {
  constructor(message: string, code: 'ERR_STREAM_DESTROYED' | 'ERR_STREAM_WRITE_AFTER_END') {
    super(message, code);
  }
}

/** The peer of an {@link FdSocket}, as `fdAccept` reports it (`''`, `0`, `'unix'` for unix sockets). */
export interface FdSocketPeer {
  /** The peer's IP address. */
  address: string;
  /** The peer's port. */
  port: number;
  /** `'IPv4'`, `'IPv6'` or `'unix'`. */
  family: string;
}

/**
 * A connected, non-blocking stream socket (TCP or unix) used through its descriptor: readiness
 * from the current {@link IOLoop}'s fd watcher, data moved with read(2)/write(2) by the ioloop
 * addon — none of `net.Socket`'s stream machinery, a fraction of its memory. TCPServer serves its
 * connections on it when the addon is available; {@link IOStream} takes it wherever it takes a
 * `net.Socket`.
 *
 * It implements the part of the `net.Socket` surface a stream reader needs: `'data'`, `'end'`,
 * `'error'` and `'close'` events, `pause`/`resume`, `write(data, encoding?, cb?)` (the callback
 * comes synchronously when the kernel took the bytes at once), `writableLength`, `cork`/`uncork`,
 * `end`, `destroy`, `setNoDelay`, the address properties. Writes issued while a read is being
 * delivered after the first one (pipelined responses) are joined into one write(2).
 *
 * @example
 * ```ts
 * import { fdAccept } from '@tornado-ts/ioloop';
 * const [fd, address, port, family] = fdAccept(listenFd, true)!;
 * const stream = new IOStream(new FdSocket(fd, { address, port, family }));
 * ```
 */
export class FdSocket {
  /** The descriptor; closed by {@link FdSocket.destroy}. */
  readonly fd: number;
  #remote: FdSocketPeer | null;
  // Listeners other than the owning stream's, made on the first on()/once().
  #emitter: EventEmitter | null = null;
  #sink: FdSocketSink<unknown> | null = null;
  #owner: unknown = null;
  /** Whether {@link FdSocket.destroy} was called (the descriptor is closed). */
  destroyed = false;
  /** The error that destroyed the socket, if any. */
  errored: Error | null = null;
  /** Bytes read from the kernel so far (as `net.Socket#bytesRead`). */
  bytesRead = 0;
  /** Bytes the kernel took so far; queued bytes are not counted until they are written. */
  bytesWritten = 0;

  #loop: IOLoop | null = null;
  #events = 0;
  #reading = false;
  #eof = false;
  #corked = 0;
  // Batching: after a write went to the kernel, later writes wait for the end of the read
  // notification being delivered (#dispatching) or, outside one, for the end of the tick, and
  // then go out together (pipelined responses, a burst of writes from promise continuations).
  #dispatching = false;
  #batching = false;
  // Queued writes, in order, and their callbacks (null slots for none).
  #wq: Buffer[] | null = null;
  #wcb: (WriteCallback | null)[] | null = null;
  #wBytes = 0;
  #ending = false;
  #ended = false;

  /**
   * Takes `fd` over (a connected, non-blocking stream socket, e.g. from `fdAccept`). Nothing is
   * read before {@link FdSocket.resume}.
   */
  constructor(fd: number, peer?: FdSocketPeer) {
    if (!Number.isInteger(fd) || fd < 0) throw new RangeError(`invalid file descriptor: ${fd}`);
    this.fd = fd;
    this.#remote = peer ?? null;
  }

  // -------------------------------------------------------------------------------------------
  // Events: 'data', 'end', 'error', 'close', 'drain', 'finish' — as net.Socket's

  /** Adds an event listener (`'data'`, `'end'`, `'error'`, `'close'`, `'drain'`, `'finish'`). */
  on(event: string, listener: Listener): this {
    (this.#emitter ??= new EventEmitter()).on(event, listener as AnyListener);
    return this;
  }

  /** Adds a one-time event listener. */
  once(event: string, listener: Listener): this {
    (this.#emitter ??= new EventEmitter()).once(event, listener as AnyListener);
    return this;
  }

  /** Removes an event listener. */
  off(event: string, listener: Listener): this {
    this.#emitter?.off(event, listener as AnyListener);
    return this;
  }

  /** Removes an event listener (alias of {@link FdSocket.off}). */
  removeListener(event: string, listener: Listener): this {
    return this.off(event, listener as AnyListener);
  }

  /** Removes every listener (of `event`, or of all events). */
  removeAllListeners(event?: string): this {
    if (event === undefined) this.#emitter?.removeAllListeners();
    else this.#emitter?.removeAllListeners(event);
    return this;
  }

  /** How many listeners `event` has. */
  listenerCount(event: string): number {
    return this.#emitter?.listenerCount(event) ?? 0;
  }

  /** Emits `event` to its listeners; `false` when it has none. */
  emit(event: string, ...args: unknown[]): boolean {
    return this.#emitter?.emit(event, ...args) ?? false;
  }

  /**
   * Sends this socket's data, end, error and close straight to `owner` through `sink` (a stream
   * that owns the socket; no listener objects per connection). `null` detaches.
   * @internal
   */
  attachSink<O>(sink: FdSocketSink<O> | null, owner: O | null = null): void {
    this.#sink = sink as FdSocketSink<unknown> | null;
    this.#owner = owner;
  }

  static {
    endBatch = (s: FdSocket): void => {
      s.#batching = false;
      if (!s.#dispatching) s.#flushBatch();
    };
    onFdEvents = (fd: number, events: number): void => {
      const s = byFd.get(fd);
      if (s !== undefined) s.#onEvents(events);
    };
    emitClose = (s: FdSocket, err: Error | null): void => {
      const sink = s.#sink;
      if (err !== null) {
        if (sink !== null) sink.error(s.#owner, err);
        // Like an EventEmitter, an 'error' nobody listens to is thrown (unless a stream owns us).
        if (s.listenerCount('error') > 0 || sink === null)
          s.#emitter?.emit('error', err) ?? throwUnhandled(err);
      }
      if (sink !== null) sink.end(s.#owner);
      s.#emitter?.emit('close', err !== null);
    };
  }

  // -------------------------------------------------------------------------------------------
  // Addresses

  /** The peer's IP address (`undefined` for unix sockets). */
  get remoteAddress(): string | undefined {
    const a = (this.#remote ??= this.#lookup(true)).address;
    return a === '' ? undefined : a;
  }

  /** The peer's port (`undefined` for unix sockets). */
  get remotePort(): number | undefined {
    const r = (this.#remote ??= this.#lookup(true));
    return r.address === '' ? undefined : r.port;
  }

  /** `'IPv4'`, `'IPv6'` or `'unix'`. */
  get remoteFamily(): string | undefined {
    return (this.#remote ??= this.#lookup(true)).family || undefined;
  }

  /** The local IP address (`undefined` for unix sockets or once destroyed). */
  get localAddress(): string | undefined {
    const a = this.address();
    return 'address' in a && a.address !== '' ? a.address : undefined;
  }

  /** The local port (`undefined` for unix sockets or once destroyed). */
  get localPort(): number | undefined {
    const a = this.address();
    return 'port' in a && a.address !== '' ? a.port : undefined;
  }

  /** The local address, as `net.Socket#address()`; `{}` once destroyed. */
  address(): net.AddressInfo | Record<string, never> {
    if (this.destroyed) return {};
    try {
      const [address, port, family] = fdSockName(this.fd, false);
      return { address, port, family };
    } catch {
      return {};
    }
  }

  #lookup(peer: boolean): FdSocketPeer {
    if (!this.destroyed) {
      try {
        const [address, port, family] = fdSockName(this.fd, peer);
        return { address, port, family };
      } catch {
        // not connected any more
      }
    }
    return { address: '', port: 0, family: '' };
  }

  // -------------------------------------------------------------------------------------------
  // Reading

  /** Starts (or goes on) delivering `'data'` events. */
  resume(): this {
    if (!this.#reading && !this.#eof) {
      this.#reading = true;
      this.#update();
    }
    return this;
  }

  /** Stops delivering `'data'` events; the kernel's buffer fills and the peer's writes slow down. */
  pause(): this {
    if (this.#reading) {
      this.#reading = false;
      this.#update();
    }
    return this;
  }

  /** Whether `'data'` events are being delivered. */
  isPaused(): boolean {
    return !this.#reading;
  }

  #onEvents(events: number): void {
    if (this.destroyed) return;
    if ((events & (WRITE | ERROR)) !== 0 && this.#wq !== null) this.#flush();
    if ((events & (READ | ERROR)) !== 0 && this.#reading && !this.destroyed) this.#readSome();
    if ((events & ERROR) !== 0 && !this.destroyed) {
      // libuv reports a socket error (POLLERR) this way and stops watching: whatever was
      // readable is delivered above; the socket is done. A zero-byte write says which error.
      this.destroy(this.#probeError());
    }
  }

  #probeError(): Error {
    try {
      fdWrite(this.fd, EMPTY, 0, 0);
    } catch (e) {
      return e as Error;
    }
    return Object.assign(new Error('socket error reported by the poll watcher'), { code: 'ECONNRESET' });
  }

  #readSome(): void {
    this.#dispatching = true;
    this.#batching = false;
    try {
      for (let i = 0; i < READS_PER_EVENT; i++) {
        if (SLAB_SIZE - slabOff < MIN_ROOM) {
          slab = Buffer.allocUnsafeSlow(SLAB_SIZE);
          slabOff = 0;
        }
        const buf = slab;
        const at = slabOff;
        const room = SLAB_SIZE - at;
        let n: number;
        try {
          n = fdRead(this.fd, buf, at, room);
        } catch (e) {
          this.destroy(e as Error);
          return;
        }
        if (n < 0) return;
        if (n === 0) {
          this.#onEof();
          return;
        }
        this.bytesRead += n;
        slabOff = (at + n + 7) & ~7; // keep views 8-byte aligned
        const chunk = buf.subarray(at, at + n);
        if (this.#sink !== null) this.#sink.data(this.#owner, chunk);
        if (this.#emitter !== null) this.#emitter.emit('data', chunk);
        if (n < room || !this.#reading || this.destroyed) return;
      }
    } finally {
      this.#dispatching = false;
      this.#batching = false;
      this.#flushBatch();
    }
  }

  #onEof(): void {
    this.#eof = true;
    this.#reading = false;
    this.#update();
    if (this.#sink !== null) this.#sink.end(this.#owner);
    this.#emitter?.emit('end');
    // Like net.Socket without allowHalfOpen: the write side ends once queued writes are out (and
    // when it has ended already, both directions are done).
    if (this.destroyed) return;
    if (this.#ended) this.destroy();
    else this.end();
  }

  // -------------------------------------------------------------------------------------------
  // Writing

  /** Bytes queued, not yet taken by the kernel. */
  get writableLength(): number {
    return this.#wBytes;
  }

  /** Whether {@link FdSocket.end} was called. */
  get writableEnded(): boolean {
    return this.#ending;
  }

  /**
   * Writes `data` (a string in `encoding`, default UTF-8). Goes to the kernel at once when
   * nothing is queued; `cb` is then called before `write` returns. Otherwise the bytes are queued
   * (never copied unless a string) and `cb` comes when the kernel took them.
   * @returns `true` when nothing is left queued.
   */
  write(data: string | Uint8Array, encoding?: BufferEncoding | WriteCallback, cb?: WriteCallback): boolean {
    if (typeof encoding === 'function') {
      cb = encoding;
      encoding = undefined;
    }
    if (this.destroyed || this.#ending) {
      const err = this.destroyed
        ? new SocketStateError('Cannot call write after a stream was destroyed', 'ERR_STREAM_DESTROYED')
        : new SocketStateError('write after end', 'ERR_STREAM_WRITE_AFTER_END');
      if (cb) process.nextTick(cb, err);
      return false;
    }
    const latin1 = encoding === 'latin1' || encoding === 'binary';
    if (this.#wq === null && this.#corked === 0 && !this.#batching) {
      this.#batching = true;
      if (!this.#dispatching) process.nextTick(endBatch, this);
      let n: number;
      let len: number;
      try {
        if (typeof data === 'string') {
          if (latin1 || encoding === undefined || encoding === 'utf8' || encoding === 'utf-8') {
            n = fdWriteString(this.fd, data, latin1 ? 'latin1' : 'utf8');
            len = latin1 ? data.length : Buffer.byteLength(data);
          } else {
            const b = Buffer.from(data, encoding);
            n = fdWrite(this.fd, b, 0, b.length);
            len = b.length;
            data = b;
          }
        } else {
          len = data.byteLength;
          n = len === 0 ? 0 : fdWrite(this.fd, data, 0, len);
        }
      } catch (e) {
        cb?.(e as Error);
        this.destroy(e as Error);
        return false;
      }
      if (n > 0) this.bytesWritten += n;
      if (n === len) {
        cb?.();
        return true;
      }
      const rest = toBuffer(data, latin1, encoding).subarray(n > 0 ? n : 0);
      this.#enqueue(rest, cb ?? null);
      this.#update();
      return false;
    }
    this.#enqueue(toBuffer(data, latin1, encoding), cb ?? null);
    return false;
  }

  #enqueue(buf: Buffer, cb: WriteCallback | null): void {
    if (this.#wq === null) {
      this.#wq = [buf];
      this.#wcb = [cb];
    } else {
      this.#wq.push(buf);
      (this.#wcb as (WriteCallback | null)[]).push(cb);
    }
    this.#wBytes += buf.length;
  }

  /** Sends what a batch queued, unless the kernel is full (WRITE readiness will). */
  #flushBatch(): void {
    if (this.#wq !== null && this.#corked === 0 && !this.destroyed && (this.#events & WRITE) === 0)
      this.#flush();
  }

  /** Queues writes until the matching {@link FdSocket.uncork}, then sends them as one. */
  cork(): void {
    this.#corked++;
  }

  /** Ends a {@link FdSocket.cork}; the last one sends what was queued. */
  uncork(): void {
    if (this.#corked > 0 && --this.#corked === 0 && this.#wq !== null && !this.#dispatching) this.#flush();
  }

  #flush(): void {
    const q = this.#wq as Buffer[];
    const cbs = this.#wcb as (WriteCallback | null)[];
    let data: Buffer;
    let count = 1;
    if (q.length === 1 || (q[0] as Buffer).length >= MAX_JOIN) {
      data = q[0] as Buffer;
    } else {
      let total = 0;
      count = 0;
      while (count < q.length && total < MAX_JOIN) total += (q[count++] as Buffer).length;
      data = count === q.length ? Buffer.concat(q, total) : Buffer.concat(q.slice(0, count), total);
    }
    let n: number;
    try {
      n = data.length === 0 ? 0 : fdWrite(this.fd, data, 0, data.length);
    } catch (e) {
      this.destroy(e as Error);
      return;
    }
    if (n < 0) n = 0;
    this.#wBytes -= n;
    this.bytesWritten += n;
    // Drop the fully written buffers, call their callbacks in order.
    let done = 0;
    while (done < count && n >= (q[done] as Buffer).length) {
      n -= (q[done] as Buffer).length;
      done++;
    }
    if (n > 0) q[done] = (q[done] as Buffer).subarray(n);
    const called = cbs.splice(0, done);
    q.splice(0, done);
    if (q.length === 0) {
      this.#wq = null;
      this.#wcb = null;
    }
    for (const cb of called) cb?.();
    if (this.destroyed) return;
    if (this.#wq === null) {
      this.#update();
      if (this.#ending && !this.#ended) this.#finishEnd();
      else this.#emitter?.emit('drain');
    } else {
      this.#update(); // the kernel is full: wait for WRITE
    }
  }

  /**
   * Ends the write side once queued writes are out (shutdown(2)); `'finish'` follows. With
   * `data`, writes it first.
   */
  end(
    data?: string | Uint8Array | (() => void),
    encoding?: BufferEncoding | (() => void),
    cb?: () => void,
  ): this {
    if (typeof data === 'function') {
      cb = data;
      data = undefined;
    } else if (typeof encoding === 'function') {
      cb = encoding;
      encoding = undefined;
    }
    if (data !== undefined) this.write(data, encoding);
    if (cb) this.once('finish', cb);
    if (this.#ending || this.destroyed) return this;
    this.#ending = true;
    if (this.#wq === null) this.#finishEnd();
    return this;
  }

  #finishEnd(): void {
    this.#ended = true;
    try {
      fdShutdown(this.fd);
    } catch (e) {
      this.destroy(e as Error);
      return;
    }
    process.nextTick(emitFinish, this);
    // Nothing more can come or go once the peer has ended too.
    if (this.#eof) this.destroy();
  }

  // -------------------------------------------------------------------------------------------
  // Options, close

  /** Turns Nagle's algorithm off (`true`, default) or on. A no-op on unix sockets. */
  setNoDelay(noDelay = true): this {
    if (this.destroyed) return this;
    try {
      fdSetNoDelay(this.fd, noDelay);
    } catch {
      // not a TCP socket
    }
    return this;
  }

  /** Accepted for `net.Socket` compatibility; keep-alive probes are left to the kernel default. */
  setKeepAlive(): this {
    return this;
  }

  /**
   * Closes the descriptor at once; queued writes are dropped (their callbacks get the error, or
   * `ERR_STREAM_DESTROYED`). `'error'` (with `err`) and `'close'` follow on the next tick. Idempotent.
   */
  destroy(err?: Error | null): this {
    if (this.destroyed) return this;
    this.destroyed = true;
    if (err) this.errored = err;
    this.#release(true);
    const cbs = this.#wcb;
    this.#wq = null;
    this.#wcb = null;
    this.#wBytes = 0;
    if (cbs !== null) {
      const e =
        err ?? new SocketStateError('Cannot call write after a stream was destroyed', 'ERR_STREAM_DESTROYED');
      for (const cb of cbs) cb?.(e);
    }
    process.nextTick(emitClose, this, err ?? null);
    return this;
  }

  /**
   * Hands the descriptor to a new `net.Socket` (for TLS, say) and retires this object without
   * closing it. Nothing may be queued for writing.
   * @internal
   */
  toNetSocket(): net.Socket {
    if (this.destroyed) throw new SocketStateError('FdSocket is destroyed', 'ERR_STREAM_DESTROYED');
    this.destroyed = true;
    this.#release(false);
    this.#sink = null;
    this.#owner = null;
    return new net.Socket({ fd: this.fd, readable: true, writable: true });
  }

  #release(close: boolean): void {
    this.#reading = false;
    if (this.#loop !== null) {
      this.#loop.removeHandler(this.fd);
      this.#loop = null;
      byFd.delete(this.fd);
    }
    if (close) {
      try {
        fdClose(this.fd);
      } catch {
        // already closed
      }
    }
  }

  /** Watches for what is wanted now: READ while reading, WRITE while writes are queued. */
  #update(): void {
    if (this.destroyed) return;
    const events = (this.#reading ? READ : 0) | (this.#wq !== null ? WRITE : 0);
    if (events === this.#events) return;
    this.#events = events;
    if (this.#loop === null) {
      if (events === 0) return;
      this.#loop = IOLoop.current();
      this.#loop.addHandler(this.fd, onFdEvents, events, { hangupCheck: false });
      byFd.set(this.fd, this);
    } else {
      this.#loop.updateHandler(this.fd, events);
    }
  }
}

const EMPTY = Buffer.alloc(0);

function throwUnhandled(err: Error): never {
  throw err;
}

function toBuffer(data: string | Uint8Array, latin1: boolean, encoding?: BufferEncoding): Buffer {
  if (typeof data === 'string') return Buffer.from(data, latin1 ? 'latin1' : (encoding ?? 'utf8'));
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

function emitFinish(s: FdSocket): void {
  s.emit('finish');
}
