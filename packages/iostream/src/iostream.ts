import * as net from 'node:net';
import type { Duplex } from 'node:stream';
import * as tls from 'node:tls';
import { appLog, genLog } from '@tornado-ts/ioloop';
import {
  ReadInProgressError,
  StreamBufferFullError,
  StreamClosedError,
  StreamNotIdleError,
  UnsatisfiableReadError,
} from './errors';
import { FdSocket, type FdSocketSink } from './fd-socket';

/** Options shared by every stream class. Sizes are bytes. */
export interface IOStreamOptions {
  /**
   * The most bytes buffered for reading. Data that arrives before anyone reads is buffered up to
   * this size, then the socket is paused until reads drain the buffer (nothing is dropped). A read
   * that could only be satisfied by holding more fails with {@link StreamBufferFullError} and closes
   * the stream. Default 100 MiB.
   */
  maxBufferSize?: number;
  /**
   * The size of one read from a raw fd ({@link PipeIOStream}). Sockets are read in flowing mode and
   * deliver what the kernel has (up to 64 KiB per read), so this does not apply to them. Default 64 KiB.
   */
  readChunkSize?: number;
  /**
   * The most bytes of writes queued and not yet handed to the kernel; a write past it is refused
   * with {@link StreamBufferFullError}. Default: no limit (await your writes to bound memory).
   */
  maxWriteBufferSize?: number;
}

/** Options of {@link IOStream.connect}. */
export interface ConnectOptions extends IOStreamOptions {
  /** Seconds to wait for the connection (and TLS handshake); default no limit. */
  timeout?: number;
  /**
   * Connect with TLS: `true` for the defaults (certificates verified against the system CAs) or
   * `tls.connect` options (`ca`, `rejectUnauthorized`, `ALPNProtocols`, ...). Resolves to an
   * {@link SSLIOStream} once the handshake is done.
   */
  sslOptions?: tls.ConnectionOptions | boolean;
  /** The TLS server name (SNI and certificate check); default the host when it is a name. */
  serverHostname?: string;
  /** Address family to resolve `host` to: 4, 6 or 0 (either). */
  family?: 0 | 4 | 6;
  /** Local address to bind before connecting. */
  localAddress?: string;
}

/** TLS options of {@link IOStream.startTls}: `tls.TLSSocket` server options or `tls.connect` options. */
export type SSLOptions = tls.TlsOptions | tls.ConnectionOptions;

/** Options of `readUntil`, `readUntilRegex` and `tryReadUntil`. */
export interface ReadUntilOptions {
  /**
   * The most bytes the result (delimiter or match included) may have. When that many bytes are
   * buffered without a match, the read fails with {@link UnsatisfiableReadError} and the stream closes.
   */
  maxBytes?: number;
}

/** Options of `readBytes` and `readInto`. */
export interface PartialOptions {
  /** Resolve as soon as at least one byte is available, with what there is (up to the size asked). */
  partial?: boolean;
}

const DEFAULT_MAX_BUFFER_SIZE = 100 * 1024 * 1024;
const DEFAULT_READ_CHUNK_SIZE = 64 * 1024;

const R_NONE = 0;
const R_UNTIL = 1;
const R_REGEX = 2;
const R_BYTES = 3;
const R_INTO = 4;
const R_CLOSE = 5;

const EMPTY = Buffer.alloc(0);
// setTimeout fires at once (with a warning) for longer delays.
const MAX_TIMER_MS = 2 ** 31 - 1;
// The most bytes of a chunk worth mirroring as text for delimiter searches (sockets deliver <= 64 KiB).
const MAX_MIRROR = 1024 * 1024;

// Peer disconnects: routine, so not logged (Tornado's _is_connreset).
const QUIET_ERRORS = new Set([
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'ERR_STREAM_PREMATURE_CLOSE',
]);
const noop = (): void => {};

// Delimiters given as strings are encoded once and kept (bounded): protocol parsers pass the same
// few literals ('\r\n', '\r\n\r\n') on every request.
const delimiterCache = new Map<string, Buffer>();

let lastDelimiterIn: string | Uint8Array | null = null;
let lastDelimiter: Buffer = EMPTY;

function toDelimiter(d: string | Uint8Array): Buffer {
  if (d === lastDelimiterIn) return lastDelimiter;
  let b: Buffer | undefined;
  if (typeof d === 'string') {
    b = delimiterCache.get(d);
    if (b === undefined) {
      b = Buffer.from(d, 'utf8');
      if (delimiterCache.size >= 256) delimiterCache.clear();
      delimiterCache.set(d, b);
    }
  } else if (Buffer.isBuffer(d)) {
    b = d;
  } else if (d instanceof Uint8Array) {
    b = Buffer.from(d.buffer, d.byteOffset, d.byteLength);
  } else {
    throw new TypeError('the delimiter must be a string or a Uint8Array');
  }
  if (b.length === 0) throw new TypeError('the delimiter must not be empty');
  lastDelimiterIn = d;
  lastDelimiter = b;
  return b;
}

// The latin1 text of a delimiter, for searching a chunk's text mirror (see #findDelimiter).
const delimiterTexts = new WeakMap<Buffer, string>();
let lastTextFor: Buffer | null = null;
let lastText = '';

function delimiterText(d: Buffer): string {
  if (d === lastTextFor) return lastText;
  let t = delimiterTexts.get(d);
  if (t === undefined) {
    t = d.toString('latin1');
    delimiterTexts.set(d, t);
  }
  lastTextFor = d;
  lastText = t;
  return t;
}

function checkLimit(v: number | undefined, what: string): number {
  if (v === undefined || v === null) return -1;
  if (typeof v !== 'number' || !(v >= 0) || !Number.isFinite(v)) {
    throw new RangeError(`${what} must be a non-negative finite number, got ${String(v)}`);
  }
  return Math.floor(v);
}

/** A timeout option in seconds as timer milliseconds; -1 for none (omitted, or too long for a timer). */
function timeoutMs(seconds: number | undefined, what: string): number {
  if (seconds === undefined || seconds === null) return -1;
  if (typeof seconds !== 'number' || !(seconds >= 0)) {
    throw new RangeError(`${what} must be a non-negative number of seconds, got ${String(seconds)}`);
  }
  const ms = seconds * 1000;
  return ms > MAX_TIMER_MS ? -1 : ms;
}

/** The end position of the first match of `re` (no g/y flags) in `text`, or -1. */
function matchEnd(re: RegExp, text: string): number {
  const m = re.exec(text);
  return m === null ? -1 : m.index + m[0].length;
}

// Ends a coalescing window (the tick after a second write in one tick); set in IOStream's static block.
let uncorkStream: (stream: IOStream) => void = noop;

// Socket listeners shared by every stream (set in IOStream's static block): the socket knows its
// stream by this symbol, so an idle stream carries no closures of its own.
const kStream = Symbol('tornado-ts.iostream');
let FD_SINK: FdSocketSink<IOStream>;
let sockData: (this: Duplex | FdSocket, chunk: Buffer | string) => void = noop;
let sockEnd: (this: Duplex | FdSocket) => void = noop;
let sockError: (this: Duplex | FdSocket, err: Error) => void = noop;
let runCloseCallback: (stream: IOStream) => void = noop;
// The read buffer's chunk list while nothing is buffered (never written to).
const NO_CHUNKS: Buffer[] = [];

// The promise of every write the kernel took at once: resolved and shared (nobody holds its
// resolvers, so it can never change state). Not frozen: with async_hooks enabled (APM agents,
// playwright, AsyncLocalStorage users) Node tags a promise on its first `then`, which throws on a
// frozen object.
const WRITTEN: Promise<void> = Promise.resolve();

function handled<T>(p: Promise<T>): Promise<T> {
  p.catch(noop);
  return p;
}

type Resolver = (value: never) => void;

/**
 * A buffered, promise-based stream over a connected `net.Socket`, `tls.TLSSocket` or any connected
 * `Duplex` — Tornado's `IOStream`, the layer protocols are written on.
 *
 * Reading: one read at a time (`readUntil`, `readUntilRegex`, `readBytes`, `readInto`,
 * `readUntilClose`); the socket is read in flowing mode into a chunk list (no copying until a read
 * takes data out), paused past `maxBufferSize` and resumed as reads drain it. A read that the
 * buffer can already satisfy resolves at once, without waiting for the socket. Results that lie
 * inside one received chunk are zero-copy views of it.
 *
 * Writing: `write()` queues in order; small writes issued in the same tick go to the socket as one
 * write (cork/writev), big buffers are never copied, and each promise resolves when its data is
 * handed to the kernel. Write promises never cause an `unhandledRejection`; await them to see errors.
 *
 * Closing: `close()` is idempotent. When the peer closes, buffered data still satisfies reads
 * (`readUntilClose` gets everything), then reads reject with {@link StreamClosedError} whose
 * `realError` says why. The close callback runs once, after pending promises have settled.
 *
 * Low-level API for protocol parsers: {@link IOStream.readBufferSize}, {@link IOStream.tryReadUntil}
 * and {@link IOStream.tryReadBytes} take data synchronously when it is already buffered.
 *
 * @example
 * ```ts
 * import * as net from 'node:net';
 * import { IOStream } from '@tornado-ts/iostream';
 *
 * net.createServer(async (socket) => {
 *   const stream = new IOStream(socket);
 *   const line = await stream.readUntil('\n', { maxBytes: 1024 });
 *   await stream.write(line);     // echo it back
 *   stream.close();
 * }).listen(8000);
 * ```
 */
export class IOStream {
  #socket: Duplex | FdSocket;
  readonly #maxBufferSize: number;
  readonly #maxWriteBufferSize: number;
  readonly #options: IOStreamOptions;
  /** The `readChunkSize` option (bytes). */
  protected readonly readChunkSize: number;

  // Read buffer: a list of received chunks; the live data starts at #chunks[#first][#firstOff].
  #chunks: Buffer[] = NO_CHUNKS; // a shared empty list while nothing is buffered
  #first = 0;
  #firstOff = 0;
  #size = 0;

  // Delimiter scan cache: positions before #scanPos cannot start a match of #scanDelim.
  #scanDelim: Buffer | null = null;
  #scanPos = 0;
  // The first chunk from #textBase on as latin1 text, made on the second delimiter search in the
  // same chunk: V8's string search is much cheaper per call than Buffer#indexOf, which pays off when
  // one chunk holds many small messages. #searched: the chunk searched once so far.
  #searched: Buffer | null = null;
  #text = '';
  #textBase = 0;
  // The buffer as latin1 text while a regex read is pending.
  #regexText = '';

  // The pending read.
  #readKind = R_NONE;
  #readDelim: Buffer = EMPTY;
  #readRegex: RegExp | null = null;
  #readMax = -1;
  #readN = 0;
  #readPartial = false;
  #readTarget: Uint8Array | null = null;
  #readFilled = 0;
  #readPromise: Promise<unknown> | null = null;
  #readResolve: Resolver | null = null;
  #readReject: ((e: Error) => void) | null = null;

  // Writes handed to the socket / whose callbacks came (callbacks come in order).
  #wIssued = 0;
  #wDone = 0;
  // Writes not yet taken by the kernel, in order, four slots each: the write's number, its promise,
  // resolve, reject. Allocated on the first write that has to wait.
  #wq: unknown[] | null = null;
  #wHead = 0;
  #corked = false;

  // The synchronous read hook (see setReadCallback).
  #readCallback: ((stream: IOStream) => void) | null = null;
  #inReadCallback = false;
  #closeNotifyPending = false;

  #closed = false;
  #error: Error | null = null;
  #paused = false;
  #closeCallback: (() => void) | null = null;

  /**
   * Wraps a connected socket (or any connected `Duplex`). The stream takes the socket over: it reads
   * it in flowing mode and destroys it on close.
   */
  constructor(socket: Duplex | FdSocket, opts: IOStreamOptions = {}) {
    if (socket === null || typeof socket !== 'object' || typeof socket.on !== 'function') {
      throw new TypeError('IOStream needs a connected net.Socket or Duplex');
    }
    this.#socket = socket;
    this.#options = opts;
    const max = checkLimit(opts.maxBufferSize, 'maxBufferSize');
    this.#maxBufferSize = max < 0 ? DEFAULT_MAX_BUFFER_SIZE : Math.max(max, 1);
    const w = checkLimit(opts.maxWriteBufferSize, 'maxWriteBufferSize');
    this.#maxWriteBufferSize = w < 0 ? Number.POSITIVE_INFINITY : w;
    const rc = checkLimit(opts.readChunkSize, 'readChunkSize');
    this.readChunkSize = rc <= 0 ? DEFAULT_READ_CHUNK_SIZE : rc;

    if (socket instanceof FdSocket) {
      // Events come straight to this stream: no listeners, no per-connection closures.
      if (socket.destroyed) {
        this.#closed = true;
        return;
      }
      socket.attachSink(FD_SINK, this);
      socket.resume();
      return;
    }
    (socket as unknown as Record<symbol, IOStream>)[kStream] = this;
    socket.on('error', sockError);
    if (socket.destroyed) {
      // Nothing is pending yet: just record the state.
      this.#closed = true;
      return;
    }
    socket.on('data', sockData);
    socket.on('end', sockEnd);
    socket.on('close', sockEnd);
    socket.resume();
  }

  // ---------------------------------------------------------------------------------------------
  // Public state

  /**
   * The underlying socket (remote address, TLS details, ...): the `net.Socket` or `Duplex` given,
   * or the {@link FdSocket} of a connection TCPServer accepted natively. Do not read from it.
   */
  get socket(): Duplex | FdSocket {
    return this.#socket;
  }

  /** Bytes received and buffered, not yet taken by a read. */
  get readBufferSize(): number {
    return this.#size;
  }

  /** Bytes handed to {@link IOStream.write} that the kernel has not taken yet (the write buffer). */
  get writeBufferSize(): number {
    return this.#socket.writableLength;
  }

  /** Why the stream closed: the socket or TLS error, the read error; `null` while open or after an orderly close. */
  get error(): Error | null {
    return this.#error;
  }

  /** Whether the stream is closed (reads may still take buffered data). */
  closed(): boolean {
    return this.#closed;
  }

  /** Whether a read is pending. */
  reading(): boolean {
    return this.#readKind !== R_NONE;
  }

  /** Whether writes are queued that have not yet been handed to the kernel. */
  writing(): boolean {
    return this.#wq !== null && this.#wHead < this.#wq.length;
  }

  /**
   * Sets the function called once when the stream closes, after pending reads and writes have
   * settled (on a later turn of the loop). Set on a closed stream, it is called soon. `null` removes it.
   */
  setCloseCallback(cb: (() => void) | null): void {
    this.#closeCallback = cb;
    if (cb !== null && this.#closed) this.#scheduleCloseCallback();
  }

  /**
   * Sets (or with `null` removes) the synchronous read hook for protocol parsers: `cb(stream)` is
   * called synchronously each time new bytes were appended to the read buffer, and once more when
   * the stream closes — EOF, an error, or `close()` itself — with `stream.closed()` true then
   * (after which the hook is removed). In the call, take what is complete with
   * {@link IOStream.tryReadUntil} / {@link IOStream.tryReadBytes} (in a loop if several messages
   * arrived) and leave the rest: bytes left in the buffer count against `maxBufferSize`, which
   * pauses the socket until they are taken (backpressure), as with reads.
   *
   * The hook replaces the promise reads: while it is set, `readUntil`, `readBytes`, ... throw
   * {@link ReadInProgressError}, and it cannot be set while such a read is pending. It is not called
   * for bytes already buffered when it is set (drain them yourself), but it is called (soon) when
   * set on a closed stream. A throw from it is logged and closes the stream.
   *
   * @example
   * ```ts
   * stream.setReadCallback((s) => {
   *   let line: Buffer | null;
   *   while ((line = s.tryReadUntil('
', { maxBytes: 1024 })) !== null) handleLine(line);
   *   if (s.closed()) done();
   * });
   * ```
   */
  setReadCallback(cb: ((stream: IOStream) => void) | null): void {
    if (cb !== null && typeof cb !== 'function')
      throw new TypeError('setReadCallback needs a function or null');
    if (cb !== null && this.#readKind !== R_NONE) {
      throw new ReadInProgressError('A read is pending: setReadCallback cannot be used until it settles');
    }
    this.#readCallback = cb;
    if (cb !== null && this.#closed) {
      queueMicrotask(() => {
        if (this.#readCallback === cb) this.#notifyClose();
      });
    }
  }

  /** Turns Nagle's algorithm off (`true`: send small writes at once) or on. No-op on non-sockets. */
  setNodelay(on: boolean): void {
    const s = this.#socket as Partial<net.Socket>;
    if (typeof s.setNoDelay === 'function' && !this.#closed) s.setNoDelay(on);
  }

  // ---------------------------------------------------------------------------------------------
  // Reads

  /**
   * Reads up to and including `delimiter`. With `maxBytes`, fails with {@link UnsatisfiableReadError}
   * (and closes the stream) when that many bytes arrive without the delimiter.
   */
  readUntil(delimiter: string | Uint8Array, opts?: ReadUntilOptions): Promise<Buffer> {
    this.#checkAsync();
    const d = toDelimiter(delimiter);
    const max = opts === undefined ? -1 : checkLimit(opts.maxBytes, 'maxBytes');
    if (this.#size > 0) {
      const pos = this.#findDelimiter(d);
      if (pos >= 0) {
        const end = pos + d.length;
        if (max >= 0 && end > max) return this.#rejectNow(this.#unsatisfiable(d, max));
        return Promise.resolve(this.#consume(end));
      }
      if (max >= 0 && this.#size > max) return this.#rejectNow(this.#unsatisfiable(d, max));
    }
    if (this.#closed) return Promise.reject(new StreamClosedError(this.#error));
    if (this.#size >= this.#maxBufferSize) return this.#rejectNow(this.#bufferFull());
    this.#readDelim = d;
    this.#readMax = max;
    return this.#pend(R_UNTIL) as Promise<Buffer>;
  }

  /**
   * Reads up to and including the end of the first match of `re`. The buffer is matched as latin1
   * text (one character per byte), so write byte patterns (`/\r?\n\r?\n/`). The `g`/`y` flags are
   * ignored. `maxBytes` as in {@link IOStream.readUntil}.
   */
  readUntilRegex(re: RegExp, opts?: ReadUntilOptions): Promise<Buffer> {
    this.#checkAsync();
    if (!(re instanceof RegExp)) throw new TypeError('readUntilRegex needs a RegExp');
    const r = re.global || re.sticky ? new RegExp(re.source, re.flags.replace(/[gy]/g, '')) : re;
    const max = checkLimit(opts?.maxBytes, 'maxBytes');
    const text = this.#size > 0 ? this.#latin1() : '';
    if (text !== '') {
      const end = matchEnd(r, text);
      if (end >= 0) {
        if (max >= 0 && end > max) return this.#rejectNow(this.#unsatisfiable(r, max));
        return Promise.resolve(this.#consume(end));
      }
      if (max >= 0 && this.#size > max) return this.#rejectNow(this.#unsatisfiable(r, max));
    }
    if (this.#closed) return Promise.reject(new StreamClosedError(this.#error));
    if (this.#size >= this.#maxBufferSize) return this.#rejectNow(this.#bufferFull());
    this.#regexText = text; // kept up to date as data arrives while the read is pending
    this.#readRegex = r;
    this.#readMax = max;
    return this.#pend(R_REGEX) as Promise<Buffer>;
  }

  /**
   * Reads exactly `n` bytes, or with `partial` as soon as at least one byte is there (at most `n`).
   * `n` larger than `maxBufferSize` cannot be satisfied: use `partial` or `readInto` for large data.
   */
  readBytes(n: number, opts?: PartialOptions): Promise<Buffer> {
    this.#checkAsync();
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) {
      throw new RangeError(`readBytes needs a non-negative integer, got ${String(n)}`);
    }
    const partial = opts?.partial === true;
    if (n === 0) return Promise.resolve(EMPTY);
    const size = this.#size;
    if (size >= n) return Promise.resolve(this.#consume(n));
    if (partial && size > 0) return Promise.resolve(this.#consume(size));
    if (this.#closed) return Promise.reject(new StreamClosedError(this.#error));
    if (!partial && n > this.#maxBufferSize) return this.#rejectNow(this.#bufferFull(n));
    this.#readN = n;
    this.#readPartial = partial;
    return this.#pend(R_BYTES) as Promise<Buffer>;
  }

  /**
   * Reads into `buf` until it is full (or with `partial`, as soon as at least one byte came) and
   * resolves with the number of bytes written into it. Data goes straight into `buf`; it does not
   * count against `maxBufferSize`.
   */
  readInto(buf: Uint8Array, opts?: PartialOptions): Promise<number> {
    this.#checkAsync();
    if (!(buf instanceof Uint8Array)) throw new TypeError('readInto needs a Uint8Array');
    const want = buf.byteLength;
    if (want === 0) return Promise.resolve(0);
    const partial = opts?.partial === true;
    const n = Math.min(this.#size, want);
    if (n > 0) this.#consumeInto(buf, 0, n);
    if (n === want || (partial && n > 0)) return Promise.resolve(n);
    if (this.#closed) return Promise.reject(new StreamClosedError(this.#error));
    this.#readTarget = buf;
    this.#readFilled = n;
    this.#readPartial = partial;
    return this.#pend(R_INTO) as Promise<number>;
  }

  /**
   * Reads everything until the stream closes (by the peer, an error, or `close()`) and resolves
   * with it. On a closed stream, resolves with what is buffered.
   */
  readUntilClose(): Promise<Buffer> {
    this.#checkAsync();
    if (this.#closed) return Promise.resolve(this.#size > 0 ? this.#consume(this.#size) : EMPTY);
    if (this.#size >= this.#maxBufferSize) return this.#rejectNow(this.#bufferFull());
    return this.#pend(R_CLOSE) as Promise<Buffer>;
  }

  /**
   * Synchronous `readUntil` for protocol parsers: when the buffer holds the delimiter, takes the
   * data up to and including it and returns it; otherwise returns `null` and takes nothing.
   * With `maxBytes` exceeded, closes the stream and throws {@link UnsatisfiableReadError}.
   * Must not be called while a read is pending ({@link ReadInProgressError}).
   */
  tryReadUntil(delimiter: string | Uint8Array, opts?: ReadUntilOptions): Buffer | null {
    this.#checkIdle();
    const d = toDelimiter(delimiter);
    const max = opts === undefined ? -1 : checkLimit(opts.maxBytes, 'maxBytes');
    if (this.#size === 0) return null;
    const pos = this.#findDelimiter(d);
    if (pos >= 0) {
      const end = pos + d.length;
      if (max >= 0 && end > max) throw this.#failSync(this.#unsatisfiable(d, max));
      return this.#consume(end);
    }
    if (max >= 0 && this.#size > max) throw this.#failSync(this.#unsatisfiable(d, max));
    return null;
  }

  /**
   * Puts bytes back at the front of the read buffer: the next read (or `tryRead*`) sees them
   * before anything received later. For a parser that took more than it used — the HTTP layer
   * handing the stream over after an `Upgrade` head, say. Not while a read is pending
   * ({@link ReadInProgressError}); no-op on empty data. The bytes count against `maxBufferSize`.
   *
   * @example
   * ```ts
   * const head = await stream.readUntil('\r\n\r\n');
   * stream.unshift(head.subarray(head.indexOf('\r\n') + 2)); // keep only the first line
   * ```
   */
  unshift(data: Uint8Array): void {
    this.#checkIdle();
    if (data.byteLength === 0) return;
    const chunk = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    if (this.#size === 0) {
      this.#chunks = [chunk];
    } else {
      const first = this.#chunks[this.#first] as Buffer;
      const rest = this.#chunks.slice(this.#first + 1);
      this.#chunks = [chunk, this.#firstOff === 0 ? first : first.subarray(this.#firstOff), ...rest];
    }
    this.#first = 0;
    this.#firstOff = 0;
    this.#size += chunk.length;
    this.#scanDelim = null;
    this.#scanPos = 0;
    this.#searched = null;
    this.#text = '';
    if (this.#size >= this.#maxBufferSize && !this.#paused && !this.#closed) {
      this.#paused = true;
      this.#socket.pause();
    }
  }

  /**
   * Synchronous `readBytes` for protocol parsers: when at least `n` bytes are buffered, takes and
   * returns them; otherwise returns `null` and takes nothing.
   * Must not be called while a read is pending ({@link ReadInProgressError}).
   */
  tryReadBytes(n: number): Buffer | null {
    this.#checkIdle();
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) {
      throw new RangeError(`tryReadBytes needs a non-negative integer, got ${String(n)}`);
    }
    if (n === 0) return EMPTY;
    return this.#size >= n ? this.#consume(n) : null;
  }

  // ---------------------------------------------------------------------------------------------
  // Writes

  /**
   * Queues `data` (a string is written as UTF-8) and resolves when it has been handed to the
   * kernel. Writes go out in call order; writes issued in the same tick are coalesced into one
   * socket write; buffers are not copied (do not modify one until its promise resolves).
   * Rejects with {@link StreamClosedError} on a closed stream or when the stream closes first, and
   * with {@link StreamBufferFullError} past `maxWriteBufferSize` (nothing is queued then).
   */
  write(data: string | Uint8Array, encoding?: 'utf8' | 'latin1'): Promise<void> {
    if (this.#closed) return handled(Promise.reject(new StreamClosedError(this.#error)));
    const sock = this.#socket;
    if (this.#maxWriteBufferSize !== Number.POSITIVE_INFINITY) {
      const len =
        typeof data === 'string'
          ? encoding === 'latin1'
            ? data.length
            : Buffer.byteLength(data)
          : data.byteLength;
      if (sock.writableLength + len > this.#maxWriteBufferSize) {
        return handled(Promise.reject(new StreamBufferFullError('Reached maximum write buffer size')));
      }
    }
    // A write on an idle stream goes to the socket at once. One issued while an earlier write's
    // callback has not come yet (a second write in the same tick: the socket calls back on a later
    // tick even when the kernel took the bytes at once) corks the socket until the next tick, so a
    // burst of small writes becomes one writev.
    if (this.#wIssued !== this.#wDone && !this.#corked) {
      this.#corked = true;
      sock.cork();
      process.nextTick(uncorkStream, this);
    }
    const n = ++this.#wIssued;
    if (encoding === 'latin1' && typeof data === 'string')
      sock.write(data, 'latin1', (this.#writeCb ??= (err) => this.#onWriteDone(err)));
    else sock.write(data, (this.#writeCb ??= (err) => this.#onWriteDone(err)));
    if (
      sock.writableLength === 0 &&
      (this.#wq === null || this.#wHead >= this.#wq.length) &&
      !sock.destroyed &&
      !sock.errored
    ) {
      // The kernel took it (the socket's callback still comes, later): nothing to wait for.
      return WRITTEN;
    }
    if (this.#closed) return handled(Promise.reject(new StreamClosedError(this.#error)));
    const q = (this.#wq ??= []);
    const p = new Promise<void>((resolve, reject) => {
      q.push(n, undefined, resolve, reject);
    });
    q[q.length - 3] = p;
    return p;
  }

  static {
    uncorkStream = (stream: IOStream): void => {
      stream.#corked = false;
      stream.#socket.uncork();
    };
  }

  // ---------------------------------------------------------------------------------------------
  // Close

  /**
   * Closes the stream and destroys the socket; idempotent. Queued writes not yet handed to the
   * kernel are dropped (their promises reject) — await writes before closing to deliver them.
   * `error`, when given, becomes {@link IOStream.error} and the `realError` of pending reads.
   */
  close(error?: Error | null): void {
    if (this.#closed) return;
    this.#closed = true;
    if (error && !this.#error) this.#error = error;
    const sock = this.#socket;
    sock.removeListener('data', sockData);
    sock.removeListener('end', sockEnd);
    sock.removeListener('close', sockEnd);
    sock.destroy();
    this.#signalClosed();
  }

  // ---------------------------------------------------------------------------------------------
  // TLS

  /**
   * Converts this stream to TLS: wraps the socket in a `tls.TLSSocket` and resolves with an
   * {@link SSLIOStream} once the handshake is done. This stream is unusable afterwards (its close
   * callback moves to the new stream). No read or write may be pending.
   *
   * Client side (`serverSide` false) verifies the server's certificate by default (`ca` to trust a
   * private CA, `rejectUnauthorized: false` to skip); `serverHostname` is sent as SNI and checked
   * against the certificate. Server side takes `tls.TLSSocket` options (`key`, `cert`,
   * `SNICallback`, `ALPNProtocols`, `secureContext`, ...). A handshake failure rejects with
   * {@link StreamClosedError} whose `realError` is the TLS error.
   */
  startTls(serverSide: boolean, sslOptions: SSLOptions = {}, serverHostname?: string): Promise<SSLIOStream> {
    if (this.#readKind !== R_NONE || this.writing()) {
      throw new StreamNotIdleError('IOStream is not idle; cannot convert to TLS');
    }
    if (this.#closed) return Promise.reject(new StreamClosedError(this.#error));
    let sock = this.#socket;
    if (sock instanceof FdSocket) {
      // TLS runs on a net.Socket: hand the descriptor over (nothing is queued: the stream is idle).
      sock = sock.toNetSocket();
      this.#socket = sock;
    }
    sock.removeListener('data', sockData);
    sock.removeListener('end', sockEnd);
    sock.removeListener('close', sockEnd);
    sock.removeListener('error', sockError);
    sock.on('error', noop); // errors now surface on the TLS socket
    sock.pause();
    this.#closed = true; // (before #consume, which must not resume the socket)
    // Bytes that already arrived (the peer's ClientHello, say) go back to the socket for TLS.
    if (this.#size > 0) sock.unshift(this.#consume(this.#size));
    const closeCallback = this.#closeCallback;
    this.#closeCallback = null;

    let tlsSock: tls.TLSSocket;
    if (serverSide) {
      const o = sslOptions as tls.TlsOptions;
      tlsSock = new tls.TLSSocket(sock, {
        ...o,
        isServer: true,
        secureContext: o.secureContext ?? tls.createSecureContext(o),
      });
    } else {
      const o = sslOptions as tls.ConnectionOptions;
      const servername = serverHostname ?? o.servername;
      tlsSock = tls.connect({ ...o, socket: sock, ...(servername ? { servername } : {}) });
    }
    const stream = new SSLIOStream(tlsSock, this.#options);
    stream.setCloseCallback(closeCallback);
    return stream.waitForHandshake();
  }

  // ---------------------------------------------------------------------------------------------
  // Connect

  /**
   * Opens a TCP connection (TLS with `opts.sslOptions`) and resolves with a stream over it once it
   * is connected (and the handshake done). A refused or failed connection, or the `timeout`
   * passing, rejects with {@link StreamClosedError} whose `realError` says why (`ECONNREFUSED`, ...).
   *
   * @example
   * ```ts
   * const stream = await IOStream.connect(80, 'example.com', { timeout: 5 });
   * await stream.write('GET / HTTP/1.0\r\nHost: example.com\r\n\r\n');
   * const head = await stream.readUntil('\r\n\r\n');
   * ```
   */
  static connect(port: number, host = 'localhost', opts: ConnectOptions = {}): Promise<IOStream> {
    return new Promise<IOStream>((resolve, reject) => {
      const ms = timeoutMs(opts.timeout, 'timeout'); // a bad one rejects the promise
      const base: net.TcpNetConnectOpts = { port, host };
      if (opts.family !== undefined) base.family = opts.family;
      if (opts.localAddress !== undefined) base.localAddress = opts.localAddress;
      let sock: net.Socket;
      let ready: string;
      const tlsOpts = opts.sslOptions;
      if (tlsOpts) {
        const extra = typeof tlsOpts === 'object' ? tlsOpts : {};
        const servername =
          opts.serverHostname ?? extra.servername ?? (net.isIP(host) === 0 ? host : undefined);
        sock = tls.connect({ ...extra, ...base, ...(servername ? { servername } : {}) });
        ready = 'secureConnect';
      } else {
        sock = net.connect(base);
        ready = 'connect';
      }
      let timer: NodeJS.Timeout | undefined;
      const fail = (err: Error): void => {
        if (timer) clearTimeout(timer);
        sock.removeListener(ready, onReady);
        sock.destroy();
        reject(new StreamClosedError(err));
      };
      const onReady = (): void => {
        if (timer) clearTimeout(timer);
        sock.removeListener('error', fail);
        resolve(tlsOpts ? new SSLIOStream(sock as tls.TLSSocket, opts) : new IOStream(sock, opts));
      };
      sock.once('error', fail);
      sock.once(ready, onReady);
      if (ms >= 0) {
        timer = setTimeout(() => {
          const e = new Error(`connect to ${host}:${port} timed out after ${opts.timeout}s`) as Error & {
            code: string;
          };
          e.code = 'ETIMEDOUT';
          fail(e);
        }, ms);
      }
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Hooks for subclasses

  /** Called once when the stream closes, after pending reads and writes were rejected. */
  protected onStreamClosed(): void {}

  // ---------------------------------------------------------------------------------------------
  // Internals: socket events

  static {
    sockData = function (this: Duplex | FdSocket, chunk: Buffer | string): void {
      (this as unknown as Record<symbol, IOStream>)[kStream]!.#onData(chunk);
    };
    sockEnd = function (this: Duplex | FdSocket): void {
      (this as unknown as Record<symbol, IOStream>)[kStream]!.close();
    };
    sockError = function (this: Duplex | FdSocket, err: Error): void {
      (this as unknown as Record<symbol, IOStream>)[kStream]!.#onError(err);
    };
    runCloseCallback = (stream: IOStream): void => stream.#runCloseCallback();
    FD_SINK = {
      data: (stream, chunk) => stream.#onData(chunk),
      end: (stream) => stream.close(),
      error: (stream, err) => stream.#onError(err),
    };
  }

  #onData(chunk: Buffer | string): void {
    if (typeof chunk === 'string') chunk = Buffer.from(chunk);
    const len = chunk.length;
    if (len === 0) return;
    if (this.#chunks === NO_CHUNKS) this.#chunks = [chunk];
    else this.#chunks.push(chunk);
    this.#size += len;
    const kind = this.#readKind;
    if (kind !== R_NONE) {
      if (kind === R_REGEX) this.#regexText += chunk.toString('latin1');
      if (!this.#satisfyPending() && kind !== R_INTO && this.#size >= this.#maxBufferSize) {
        this.#failRead(this.#bufferFull());
        return;
      }
    } else if (this.#readCallback !== null) {
      this.#callReadCallback(this.#readCallback);
      if (this.#closed) return;
    }
    if (this.#size >= this.#maxBufferSize && !this.#paused && !this.#closed) {
      this.#paused = true;
      this.#socket.pause();
    }
  }

  #onError(err: Error): void {
    if (this.#closed) return;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === undefined || !QUIET_ERRORS.has(code)) {
      genLog.warn(`Error on ${this.#describe()}: ${err.message}`);
    }
    this.close(err);
  }

  #describe(): string {
    const s = this.#socket as Partial<net.Socket>;
    return s.remoteAddress ? `connection to ${s.remoteAddress}:${s.remotePort}` : 'stream';
  }

  #writeCb: ((err?: Error | null) => void) | null = null;

  #onWriteDone(err?: Error | null): void {
    const done = ++this.#wDone;
    if (err) {
      this.close(err); // rejects what still waits (a no-op once closed)
      return;
    }
    const q = this.#wq;
    if (q === null) return;
    let h = this.#wHead;
    const len = q.length;
    if (h >= len || (q[h] as number) > done) return;
    while (h < len && (q[h] as number) <= done) {
      const resolve = q[h + 2] as () => void;
      h += 4;
      resolve();
    }
    if (h >= q.length) {
      this.#wq = null;
      this.#wHead = 0;
    } else if (h >= 4096 && h * 2 >= q.length) {
      q.splice(0, h);
      this.#wHead = 0;
    } else {
      this.#wHead = h;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Internals: pending reads

  #checkIdle(): void {
    if (this.#readKind !== R_NONE) throw new ReadInProgressError();
  }

  #checkAsync(): void {
    if (this.#readKind !== R_NONE) throw new ReadInProgressError();
    if (this.#readCallback !== null) {
      throw new ReadInProgressError(
        'A read callback is set (setReadCallback): take data with tryReadUntil/tryReadBytes, or remove it first',
      );
    }
  }

  #callReadCallback(cb: (stream: IOStream) => void): void {
    this.#inReadCallback = true;
    try {
      cb(this);
    } catch (e) {
      appLog.error('Exception in IOStream read callback', e);
      this.close(e instanceof Error ? e : new Error(String(e)));
    } finally {
      this.#inReadCallback = false;
    }
    if (this.#closeNotifyPending) {
      this.#closeNotifyPending = false;
      this.#notifyClose();
    }
  }

  /** Calls the read hook the last time (the stream closed) and removes it. */
  #notifyClose(): void {
    const cb = this.#readCallback;
    if (cb === null) return;
    this.#readCallback = null;
    try {
      cb(this);
    } catch (e) {
      appLog.error('Exception in IOStream read callback', e);
    }
  }

  #pend(kind: number): Promise<unknown> {
    this.#readKind = kind;
    const p = new Promise((resolve: Resolver, reject: (e: Error) => void) => {
      this.#readResolve = resolve;
      this.#readReject = reject;
    });
    this.#readPromise = p;
    if (this.#paused && this.#size < this.#maxBufferSize) this.#resume();
    return p;
  }

  #clearRead(): void {
    this.#readKind = R_NONE;
    this.#readPromise = null;
    this.#readResolve = null;
    this.#readReject = null;
    this.#readTarget = null;
    this.#readRegex = null;
    this.#regexText = '';
  }

  #finishRead(value: Buffer | number): void {
    const resolve = this.#readResolve as (v: Buffer | number) => void;
    this.#clearRead();
    resolve(value);
  }

  /** Tries to complete the pending read from the buffer; true when it is settled. */
  #satisfyPending(): boolean {
    switch (this.#readKind) {
      case R_UNTIL: {
        const d = this.#readDelim;
        const max = this.#readMax;
        const pos = this.#findDelimiter(d);
        if (pos >= 0) {
          const end = pos + d.length;
          if (max >= 0 && end > max) this.#failRead(this.#unsatisfiable(d, max));
          else this.#finishRead(this.#consume(end));
          return true;
        }
        if (max >= 0 && this.#size > max) {
          this.#failRead(this.#unsatisfiable(d, max));
          return true;
        }
        return false;
      }
      case R_BYTES: {
        const n = this.#readN;
        const size = this.#size;
        if (size >= n) this.#finishRead(this.#consume(n));
        else if (this.#readPartial && size > 0) this.#finishRead(this.#consume(size));
        else return false;
        return true;
      }
      case R_INTO: {
        const target = this.#readTarget!;
        const room = target.byteLength - this.#readFilled;
        const n = Math.min(this.#size, room);
        if (n > 0) {
          this.#consumeInto(target, this.#readFilled, n);
          this.#readFilled += n;
        }
        if (this.#readFilled === target.byteLength || (this.#readPartial && this.#readFilled > 0)) {
          this.#finishRead(this.#readFilled);
          return true;
        }
        return false;
      }
      case R_REGEX: {
        const re = this.#readRegex!;
        const max = this.#readMax;
        const end = matchEnd(re, this.#regexText);
        if (end >= 0) {
          if (max >= 0 && end > max) this.#failRead(this.#unsatisfiable(re, max));
          else this.#finishRead(this.#consume(end));
          return true;
        }
        if (max >= 0 && this.#size > max) {
          this.#failRead(this.#unsatisfiable(re, max));
          return true;
        }
        return false;
      }
      default:
        return false;
    }
  }

  /** Rejects the pending read with `err` (which also becomes the stream's error) and closes. */
  #failRead(err: Error): void {
    const reject = this.#readReject!;
    this.#clearRead();
    this.#failSync(err);
    reject(err);
  }

  #failSync(err: Error): Error {
    if (err instanceof UnsatisfiableReadError)
      genLog.info(`Unsatisfiable read, closing connection: ${err.message}`);
    else genLog.error(`${err.message}, closing connection`);
    this.close(err);
    return err;
  }

  #rejectNow(err: Error): Promise<never> {
    return Promise.reject(this.#failSync(err));
  }

  #unsatisfiable(what: Buffer | RegExp, max: number): UnsatisfiableReadError {
    const desc =
      what instanceof RegExp
        ? `regex ${String(what)}`
        : `delimiter ${JSON.stringify(what.toString('latin1'))}`;
    return new UnsatisfiableReadError(`${desc} not found within ${max} bytes`);
  }

  #bufferFull(n?: number): StreamBufferFullError {
    return new StreamBufferFullError(
      n === undefined
        ? `Reached maximum read buffer size (${this.#maxBufferSize} bytes)`
        : `A read of ${n} bytes exceeds the maximum read buffer size (${this.#maxBufferSize} bytes)`,
    );
  }

  #signalClosed(): void {
    const kind = this.#readKind;
    if (kind !== R_NONE) {
      if (kind === R_CLOSE) {
        this.#finishRead(this.#size > 0 ? this.#consume(this.#size) : EMPTY);
      } else if (!this.#satisfyPending()) {
        const reject = this.#readReject!;
        const p = this.#readPromise!;
        this.#clearRead();
        p.catch(noop);
        reject(new StreamClosedError(this.#error));
      }
    }
    const q = this.#wq;
    if (q !== null) {
      const h = this.#wHead;
      this.#wq = null;
      this.#wHead = 0;
      if (h < q.length) {
        const err = new StreamClosedError(this.#error);
        for (let i = h; i < q.length; i += 4) {
          (q[i + 1] as Promise<void>).catch(noop);
          (q[i + 3] as (e: Error) => void)(err);
        }
      }
    }
    if (this.#readCallback !== null) {
      if (this.#inReadCallback) this.#closeNotifyPending = true;
      else this.#notifyClose();
    }
    this.onStreamClosed();
    if (this.#closeCallback !== null) this.#scheduleCloseCallback();
  }

  #scheduleCloseCallback(): void {
    setImmediate(runCloseCallback, this);
  }

  #runCloseCallback(): void {
    const cb = this.#closeCallback;
    this.#closeCallback = null;
    if (cb === null) return;
    try {
      cb();
    } catch (e) {
      appLog.error('Exception in IOStream close callback', e);
    }
  }

  #resume(): void {
    this.#paused = false;
    if (!this.#closed) this.#socket.resume();
  }

  // ---------------------------------------------------------------------------------------------
  // Internals: the read buffer

  /** Takes the first `n` bytes (0 < n <= size) out of the buffer; a view when they lie in one chunk. */
  #consume(n: number): Buffer {
    const chunks = this.#chunks;
    let i = this.#first;
    let c = chunks[i]!;
    const off = this.#firstOff;
    const avail = c.length - off;
    let out: Buffer;
    this.#size -= n;
    this.#scanDelim = null;
    if (n < avail) {
      out = c.subarray(off, off + n);
      this.#firstOff = off + n;
    } else if (n === avail) {
      out = off === 0 ? c : c.subarray(off);
      this.#advance(i + 1);
    } else {
      out = Buffer.allocUnsafe(n);
      c.copy(out, 0, off);
      let pos = avail;
      i++;
      for (;;) {
        c = chunks[i]!;
        const rest = n - pos;
        if (rest < c.length) {
          c.copy(out, pos, 0, rest);
          this.#advance(i);
          this.#firstOff = rest;
          break;
        }
        c.copy(out, pos);
        pos += c.length;
        i++;
        if (pos === n) {
          this.#advance(i);
          break;
        }
      }
    }
    if (this.#paused && this.#size < this.#maxBufferSize) this.#resume();
    return out;
  }

  /** Copies the first `n` bytes (0 < n <= size) of the buffer into `target` at `at` and drops them. */
  #consumeInto(target: Uint8Array, at: number, n: number): void {
    const chunks = this.#chunks;
    let i = this.#first;
    let off = this.#firstOff;
    let pos = at;
    const end = at + n;
    this.#size -= n;
    this.#scanDelim = null;
    for (;;) {
      const c = chunks[i]!;
      const take = Math.min(c.length - off, end - pos);
      c.copy(target, pos, off, off + take);
      pos += take;
      if (off + take === c.length) {
        i++;
        off = 0;
      } else {
        off += take;
      }
      if (pos === end) break;
    }
    this.#advance(i);
    this.#firstOff = off;
    if (this.#paused && this.#size < this.#maxBufferSize) this.#resume();
  }

  /** Drops the chunks before index `i` (resets #firstOff). */
  #advance(i: number): void {
    const chunks = this.#chunks;
    this.#firstOff = 0;
    this.#searched = null;
    this.#text = '';
    if (i >= chunks.length) {
      this.#chunks = NO_CHUNKS;
      this.#first = 0;
      return;
    }
    for (let k = this.#first; k < i; k++) chunks[k] = EMPTY;
    this.#first = i;
    if (i >= 64 && i * 2 >= chunks.length) {
      chunks.splice(0, i);
      this.#first = 0;
    }
  }

  /**
   * The position (from the start of the buffer) where `d` starts, or -1. Remembers how far it got,
   * so the next search for the same delimiter only rescans the overlap with new data.
   */
  #findDelimiter(d: Buffer): number {
    const from = this.#scanDelim === d ? this.#scanPos : 0;
    const chunks = this.#chunks;
    const n = chunks.length;
    if (this.#first === n - 1) {
      // One chunk (the common case): a plain indexOf, then look for a match cut off at its end.
      const c = chunks[n - 1]!;
      const off = this.#firstOff;
      let idx: number;
      if (this.#searched !== c || c.length - off > MAX_MIRROR) {
        this.#searched = c;
        this.#text = '';
        idx = c.indexOf(d, off + from);
      } else {
        if (this.#text === '') {
          this.#text = c.toString('latin1', off);
          this.#textBase = off;
        }
        const base = this.#textBase;
        idx = this.#text.indexOf(delimiterText(d), off + from - base);
        if (idx !== -1) idx += base;
      }
      if (idx !== -1) return idx - off;
      const clen = c.length;
      let p = clen - d.length + 1;
      if (p < off + from) p = off + from;
      for (; p < clen; p++) {
        let k = 0;
        while (p + k < clen && c[p + k] === d[k]) k++;
        if (p + k === clen) break; // a prefix of d ends the buffer: more data may complete it
      }
      this.#scanDelim = d;
      this.#scanPos = p - off;
      return -1;
    }
    const dlen = d.length;
    const d0 = d[0]!;
    let base = -this.#firstOff; // buffer position of the current chunk's byte 0
    for (let i = this.#first; i < n; i++) {
      const c = chunks[i]!;
      const clen = c.length;
      const cend = base + clen;
      if (cend <= from) {
        base = cend;
        continue;
      }
      const start = from - base > 0 ? from - base : i === this.#first ? this.#firstOff : 0;
      const idx = c.indexOf(d, start);
      if (idx !== -1) return base + idx;
      // A match may start in the last dlen-1 bytes and run into the next chunks.
      let p = clen - dlen + 1;
      if (p < start) p = start;
      for (; p < clen; p++) {
        if (c[p] !== d0) continue;
        const r = this.#matchAcross(d, i, p);
        if (r === 1) return base + p;
        if (r === -1) {
          this.#scanDelim = d;
          this.#scanPos = base + p;
          return -1;
        }
      }
      base = cend;
    }
    this.#scanDelim = d;
    this.#scanPos = this.#size;
    return -1;
  }

  /** 1: `d` matches at chunk `i` offset `p` (running across chunks); 0: it does not; -1: not enough data. */
  #matchAcross(d: Buffer, i: number, p: number): number {
    const chunks = this.#chunks;
    let c = chunks[i]!;
    let off = p;
    for (let k = 0; k < d.length; k++) {
      if (off === c.length) {
        if (++i >= chunks.length) return -1;
        c = chunks[i]!;
        off = 0;
      }
      if (c[off++] !== d[k]) return 0;
    }
    return 1;
  }

  #latin1(): string {
    let s = '';
    const chunks = this.#chunks;
    for (let i = this.#first; i < chunks.length; i++) {
      s += chunks[i]!.toString('latin1', i === this.#first ? this.#firstOff : 0);
    }
    return s;
  }
}

function isHandshakeDone(s: tls.TLSSocket): boolean {
  return (s as unknown as { _secureEstablished?: boolean })._secureEstablished === true && !s.destroyed;
}

/**
 * An {@link IOStream} over a `tls.TLSSocket` (Tornado's `SSLIOStream`). Reads and writes wait for
 * the handshake; {@link SSLIOStream.waitForHandshake} tells when it is done. A handshake failure
 * closes the stream with the TLS error as {@link IOStream.error}.
 *
 * Get one from `IOStream.connect(port, host, { sslOptions })`, `stream.startTls(...)`, or wrap
 * a socket from a `tls.Server`'s `secureConnection` event (`new SSLIOStream(tlsSocket)`).
 */
export class SSLIOStream extends IOStream {
  #handshake: Promise<this>;
  #hsResolve!: (s: this) => void;
  #hsReject!: (e: Error) => void;
  #hsSettled = false;

  constructor(socket: tls.TLSSocket, opts: IOStreamOptions = {}) {
    super(socket, opts);
    this.#handshake = new Promise<this>((resolve, reject) => {
      this.#hsResolve = resolve;
      this.#hsReject = reject;
    });
    this.#handshake.catch(noop);
    if (isHandshakeDone(socket)) {
      this.#settleHandshake(null);
    } else if (this.closed()) {
      this.#settleHandshake(new StreamClosedError(this.error));
    } else {
      // 'secure' fires for both sides; for a client, tls.connect's own listener (registered first)
      // has verified the certificate by then and destroyed the socket if it failed.
      socket.once('secure', () => {
        if (!socket.destroyed && !this.closed()) this.#settleHandshake(null);
      });
    }
  }

  /** The underlying `tls.TLSSocket` (peer certificate, ALPN protocol, servername, ...). */
  override get socket(): tls.TLSSocket {
    return super.socket as tls.TLSSocket;
  }

  /**
   * Resolves with this stream when the TLS handshake has completed (at once if it already has);
   * rejects with {@link StreamClosedError} (`realError`: the TLS error) when it fails.
   */
  waitForHandshake(): Promise<this> {
    return this.#handshake;
  }

  protected override onStreamClosed(): void {
    this.#settleHandshake(new StreamClosedError(this.error));
  }

  #settleHandshake(err: Error | null): void {
    if (this.#hsSettled) return;
    this.#hsSettled = true;
    if (err) this.#hsReject(err);
    else this.#hsResolve(this);
  }
}
