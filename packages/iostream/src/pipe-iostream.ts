import { closeSync } from 'node:fs';
import { Duplex } from 'node:stream';
import { fdRead, fdWrite, IOLoop, setNonBlocking } from '@tornado-ts/ioloop';
import { IOStream, type IOStreamOptions } from './iostream';

const DEFAULT_READ_CHUNK_SIZE = 64 * 1024;
// Reads per readiness notification before yielding to the loop (the watcher is level-triggered,
// so data left behind is reported again at once).
const READS_PER_EVENT = 16;

/**
 * A `Duplex` over a raw, pollable file descriptor (a pipe end, a tty, a socketpair end):
 * readiness comes from the IOLoop's fd handlers (libuv poll watcher), data moves with
 * non-blocking read(2)/write(2). Destroying it removes the handler and closes the fd.
 * @internal
 */
class FdDuplex extends Duplex {
  readonly fd: number;
  readonly #loop: IOLoop;
  readonly #chunkSize: number;
  #scratch: Buffer;
  #registered = false;
  #events = 0;
  #wantRead = false;
  #eof = false;
  #readSucceeded = false;
  #pending: { chunk: Buffer; off: number; cb: (err?: Error | null) => void } | null = null;

  constructor(fd: number, chunkSize: number) {
    super({ allowHalfOpen: true, decodeStrings: true });
    this.fd = fd;
    this.#loop = IOLoop.current();
    this.#chunkSize = chunkSize;
    this.#scratch = Buffer.allocUnsafeSlow(chunkSize);
    setNonBlocking(fd, true);
  }

  #setEvents(events: number): void {
    if (events === this.#events || this.destroyed) return;
    this.#events = events;
    if (!this.#registered) {
      if (events === 0) return;
      this.#loop.addHandler(this.fd, this.#onEvents, events);
      this.#registered = true;
    } else {
      this.#loop.updateHandler(this.fd, events);
    }
  }

  #onEvents = (_fd: number, events: number): void => {
    if (this.destroyed) return;
    const err = (events & IOLoop.ERROR) !== 0;
    if (this.#pending !== null && (err || (events & IOLoop.WRITE) !== 0)) this.#writeSome();
    if (this.#wantRead && (err || (events & IOLoop.READ) !== 0)) this.#readSome();
    if (err && this.#pending === null && !this.#wantRead) this.#setEvents(0);
  };

  override _read(): void {
    this.#wantRead = true;
    this.#readSome();
  }

  #readSome(): void {
    for (let i = 0; i < READS_PER_EVENT; i++) {
      const buf = this.#scratch;
      let n: number;
      try {
        n = fdRead(this.fd, buf, 0, buf.length);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EBADF' && !this.#readSucceeded) {
          // A write-only fd (the stdin pipe of a child): nothing to read, ever. Reads stay pending.
          this.#wantRead = false;
          this.#eof = true;
          this.#updateInterest();
          return;
        }
        this.destroy(e as Error);
        return;
      }
      this.#readSucceeded = true;
      if (n > 0) {
        let chunk: Buffer;
        if (n > buf.length >>> 1) {
          // A big read: hand the buffer over and take a fresh one (no copy).
          chunk = buf.subarray(0, n);
          this.#scratch = Buffer.allocUnsafeSlow(this.#chunkSize);
        } else {
          chunk = Buffer.allocUnsafe(n);
          buf.copy(chunk, 0, 0, n);
        }
        if (!this.push(chunk)) {
          this.#wantRead = false;
          this.#updateInterest();
          return;
        }
        continue;
      }
      if (n === 0) {
        this.#eof = true;
        this.#wantRead = false;
        this.#updateInterest();
        this.push(null);
        return;
      }
      break; // would block
    }
    this.#updateInterest();
  }

  #updateInterest(): void {
    let ev = 0;
    if (this.#wantRead && !this.#eof) ev |= IOLoop.READ;
    if (this.#pending !== null) ev |= IOLoop.WRITE;
    this.#setEvents(ev);
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.#pending = { chunk, off: 0, cb };
    this.#writeSome();
  }

  #writeSome(): void {
    const p = this.#pending!;
    while (p.off < p.chunk.length) {
      let n: number;
      try {
        n = fdWrite(this.fd, p.chunk, p.off, p.chunk.length - p.off);
      } catch (e) {
        this.#pending = null;
        this.#updateInterest();
        p.cb(e as Error);
        return;
      }
      if (n < 0) {
        this.#updateInterest();
        return;
      }
      p.off += n;
    }
    this.#pending = null;
    this.#updateInterest();
    p.cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    if (this.#registered) this.#loop.removeHandler(this.fd);
    this.#registered = false;
    const p = this.#pending;
    this.#pending = null;
    try {
      closeSync(this.fd);
    } catch {
      // already closed
    }
    if (p !== null) p.cb(err ?? new Error('stream destroyed'));
    cb(err);
  }
}

/**
 * An {@link IOStream} over a raw file descriptor — a pipe end (a child process's stdin/stdout),
 * a tty, a socketpair end — through the IOLoop's fd handlers and non-blocking read(2)/write(2)
 * (Tornado's `PipeIOStream`). The stream owns the fd: it is switched to non-blocking mode and
 * closed when the stream closes. EOF semantics are the socket stream's.
 *
 * Needs the ioloop native addon (`fdSupport().available`); without it the constructor throws
 * `AddonMissingError` saying how to build it.
 *
 * @example
 * ```ts
 * import { spawn } from 'node:child_process';
 * import { closeSync } from 'node:fs';
 * import { fdPipe, setNonBlocking } from '@tornado-ts/ioloop';
 * import { PipeIOStream } from '@tornado-ts/iostream';
 *
 * const [r, w] = fdPipe();
 * setNonBlocking(w, false); // the child's end: children expect blocking stdio
 * const child = spawn('ls', ['-l'], { stdio: ['ignore', w, 'inherit'] });
 * closeSync(w);
 * const out = await new PipeIOStream(r).readUntilClose();
 * ```
 */
export class PipeIOStream extends IOStream {
  /** The file descriptor (closed once the stream is). */
  readonly fd: number;

  constructor(fd: number, opts: IOStreamOptions = {}) {
    if (!Number.isInteger(fd) || fd < 0)
      throw new TypeError(`fd must be a non-negative integer, got ${String(fd)}`);
    const chunk =
      opts.readChunkSize && opts.readChunkSize > 0 ? Math.floor(opts.readChunkSize) : DEFAULT_READ_CHUNK_SIZE;
    super(new FdDuplex(fd, chunk), opts);
    this.fd = fd;
  }
}
