/**
 * {@link TCPServer}: Tornado's non-blocking, single-threaded TCP server.
 *
 * @module
 */
import type { AddressInfo, Server, Socket } from 'node:net';
import * as tls from 'node:tls';
import {
  appLog,
  describeError,
  fdAccept,
  fdClose,
  fdDup,
  fdSupport,
  genLog,
  IOLoop,
} from '@tornado-ts/ioloop';
import { FdSocket, IOStream, type IOStreamOptions, SSLIOStream } from '@tornado-ts/iostream';
import { addAcceptHandler, closeServer, type PeerAddress } from './accept';
import { type BindSocketsOptions, bindSockets } from './bind';
import { NotImplementedError, TCPServerStateError } from './errors';
import { forkProcesses } from './process';

/** Options of {@link TCPServer}. Sizes are bytes, durations seconds. */
export interface TCPServerOptions {
  /**
   * Serve TLS: options for `tls.createSecureContext` (`key`, `cert`, `ca`, `ciphers`, ...) plus
   * the `tls.TLSSocket` server options (`requestCert`, `rejectUnauthorized`, `ALPNProtocols`,
   * `SNICallback`, ...), or a ready `secureContext`. Each accepted socket is wrapped in a
   * `tls.TLSSocket` and handed over as an {@link SSLIOStream}; a failed handshake is logged and
   * closes that connection only.
   */
  sslOptions?: tls.TlsOptions;
  /** `maxBufferSize` of every stream (default: IOStream's, 100 MiB). */
  maxBufferSize?: number;
  /** `readChunkSize` of every stream (default: IOStream's). */
  readChunkSize?: number;
  /** `maxWriteBufferSize` of every stream (default: IOStream's, no limit). */
  maxWriteBufferSize?: number;
  /**
   * Turn Nagle's algorithm off on accepted TCP sockets, so small writes leave at once (as
   * `node:http` does). Default `true`; `false` leaves the kernel default.
   */
  noDelay?: boolean;
  /**
   * Seconds a TLS client has to complete its handshake before the connection is closed, so
   * silent clients cannot hold descriptors forever. Default 120 (as `tls.Server`); `0` disables it.
   */
  handshakeTimeout?: number;
  /**
   * Serve plain TCP connections on native sockets: the server accepts with accept4(2) on its own
   * copy of the listening descriptor and each connection is an {@link FdSocket} driven by the
   * IOLoop's fd watcher (read(2)/write(2) through the ioloop addon) instead of a `net.Socket` —
   * less CPU per request and less memory per connection. Default `true`; used when the ioloop
   * addon is built, for TCP listeners without `sslOptions` (unix sockets and TLS use `net`).
   * `false` always uses `net.Socket`.
   */
  nativeSockets?: boolean;
}

/** Accepts per readiness notification before yielding to the loop. */
const ACCEPTS_PER_EVENT = 64;
/** How long accepting pauses after running out of descriptors or memory (ms). */
const ACCEPT_BACKOFF_MS = 100;
/** Minimum time between two logged accept errors (ms). */
const ACCEPT_ERROR_LOG_MS = 1000;
/** accept(2) errors about one connection that went away: skip it, accept the next. */
const SKIP_ACCEPT_ERRORS = new Set([
  'ECONNABORTED',
  'EPROTO',
  'EPERM',
  'ENETDOWN',
  'ENONET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EOPNOTSUPP',
  'EHOSTDOWN',
]);

/** A listening socket this server accepts on itself (nativeSockets). */
interface NativeListener {
  fd: number;
  address: AddressInfo;
  loop: IOLoop;
  timer: NodeJS.Timeout | null;
  lastErrorLog: number;
  suppressed: number;
}

// setTimeout fires at once (with a warning) for longer delays.
const MAX_TIMER_MS = 2 ** 31 - 1;

function isBenignTlsError(err: unknown): boolean {
  const real = err !== null && typeof err === 'object' && 'realError' in err ? err.realError : err;
  if (real === null || real === undefined) return true; // the peer went away before or during the handshake
  const code = (real as { code?: string }).code;
  return (
    code === 'ECONNRESET' ||
    code === 'EPIPE' ||
    code === 'ECONNABORTED' ||
    code === 'ERR_STREAM_PREMATURE_CLOSE'
  );
}

/**
 * A non-blocking, single-threaded TCP server, after Tornado's `tornado.tcpserver.TCPServer`.
 * Subclass it and override {@link TCPServer.handleStream}, which gets an {@link IOStream} (an
 * {@link SSLIOStream} with `sslOptions`) for every accepted connection.
 *
 * Three ways to start it, as in Tornado:
 * 1. `await server.listen(port)` — single process.
 * 2. `await server.bind(port); await server.start(0)` — pre-fork: binds in the primary, then
 *    starts one worker per CPU that all accept on the bound sockets.
 * 3. `const socks = await bindSockets(port); await forkProcesses(0); server.addSockets(socks)` —
 *    the same with the pieces in your hands.
 *
 * @example
 * ```ts
 * class EchoServer extends TCPServer {
 *   override async handleStream(stream: IOStream): Promise<void> {
 *     for (;;) {
 *       const line = await stream.readUntil('\n');
 *       await stream.write(line);
 *     }
 *   }
 * }
 * const server = new EchoServer();
 * await server.listen(8888, '127.0.0.1');
 * ```
 */
export class TCPServer {
  /** The options this server was constructed with (subclasses read their own from here). */
  readonly options: Readonly<TCPServerOptions>;
  /** Options every accepted stream gets. */
  protected readonly streamOptions: IOStreamOptions;
  readonly #servers = new Map<Server, () => void>();
  readonly #pending: Server[] = [];
  readonly #secureContext: tls.SecureContext | null;
  readonly #tlsOptions: tls.TLSSocketOptions | null;
  readonly #noDelay: boolean;
  readonly #handshakeMs: number;
  readonly #native: NativeListener[] = [];
  /** The net.Servers whose descriptor this server took over (they are closed). */
  readonly #takenOver = new WeakSet<Server>();
  readonly #nativeWanted: boolean;
  #started = false;
  #stopped = false;

  constructor(opts: TCPServerOptions = {}) {
    this.options = Object.freeze({ ...opts });
    const so: IOStreamOptions = {};
    // Checked here, not at the first connection (where every accepted stream would fail).
    for (const k of ['maxBufferSize', 'readChunkSize', 'maxWriteBufferSize'] as const) {
      const v = opts[k];
      if (v === undefined) continue;
      if (typeof v !== 'number' || !(v >= 0) || !Number.isFinite(v)) {
        throw new RangeError(`${k} must be a non-negative finite number, got ${String(v)}`);
      }
      so[k] = v;
    }
    this.streamOptions = Object.freeze(so);
    this.#noDelay = opts.noDelay !== false;
    this.#nativeWanted = opts.nativeSockets !== false;
    const hs = opts.handshakeTimeout ?? 120;
    if (typeof hs !== 'number' || !(hs >= 0)) {
      throw new RangeError(`handshakeTimeout must be >= 0 seconds, got ${String(hs)}`);
    }
    // Too long for a timer (setTimeout would fire at once): no limit.
    this.#handshakeMs = hs * 1000 > MAX_TIMER_MS ? 0 : hs * 1000;
    if (opts.sslOptions !== undefined) {
      const ssl = opts.sslOptions;
      // Fail at construction, not at the first connection, when the key or certificate is bad.
      this.#secureContext = ssl.secureContext ?? tls.createSecureContext(ssl);
      const { secureContext: _ignored, ...rest } = ssl;
      this.#tlsOptions = { ...rest, isServer: true, secureContext: this.#secureContext };
    } else {
      this.#secureContext = null;
      this.#tlsOptions = null;
    }
  }

  /**
   * Binds `port` on `address` (all interfaces when omitted) and starts accepting in this process.
   * Port `0` picks a free port: {@link TCPServer.addresses} tells which.
   */
  async listen(port: number, address?: string, opts?: BindSocketsOptions): Promise<void> {
    if (this.#stopped) throw new TCPServerStateError('this server was stopped');
    const sockets = await bindSockets(port, address, opts);
    this.addSockets(sockets);
  }

  /**
   * Accepts connections on listening servers from {@link bindSockets}, {@link bindUnixSocket} or
   * any other `net.Server`. Connections they accepted before are served now.
   */
  addSockets(servers: Iterable<Server>): void {
    if (this.#stopped) throw new TCPServerStateError('this server was stopped');
    for (const server of servers) {
      if (this.#servers.has(server) || this.#takenOver.has(server)) continue;
      const remove = addAcceptHandler(server, this.#onConnection);
      const fd = this.#nativeFd(server);
      if (fd < 0) {
        this.#servers.set(server, remove);
        continue;
      }
      this.#takeOver(server, fd, remove);
    }
  }

  /** The descriptor of `server` when its connections can be served natively, else -1. */
  #nativeFd(server: Server): number {
    if (!this.#nativeWanted || this.#tlsOptions !== null || !server.listening) return -1;
    const address = server.address();
    if (address === null || typeof address === 'string') return -1; // unix: closing it unlinks the path
    const fd = (server as unknown as { _handle?: { fd?: unknown } | null })._handle?.fd;
    if (typeof fd !== 'number' || fd < 0 || !fdSupport().available) return -1;
    return fd;
  }

  /**
   * Accepts on a copy of `server`'s descriptor from now on and closes `server` (the copy keeps
   * the socket listening). Connections `server` accepted before are served first, the net way.
   */
  #takeOver(server: Server, fd: number, remove: () => void): void {
    let lfd: number;
    try {
      lfd = fdDup(fd);
    } catch (err) {
      genLog.warn(`Cannot accept natively on ${describeError(err)}: using net.Socket`);
      this.#servers.set(server, remove);
      return;
    }
    this.#takenOver.add(server);
    const loop = IOLoop.current();
    const listener: NativeListener = {
      fd: lfd,
      address: server.address() as AddressInfo,
      loop,
      timer: null,
      lastErrorLog: Number.NEGATIVE_INFINITY,
      suppressed: 0,
    };
    this.#native.push(listener);
    loop.addHandler(lfd, () => this.#acceptNative(listener), IOLoop.READ, { hangupCheck: false });
    // After the connections it already holds were handed over (a microtask queued by
    // addAcceptHandler), the net.Server goes; the kernel keeps queueing for our copy.
    queueMicrotask(() => {
      remove();
      closeServer(server);
    });
  }

  #acceptNative(listener: NativeListener): void {
    for (let i = 0; i < ACCEPTS_PER_EVENT; i++) {
      let c: ReturnType<typeof fdAccept>;
      try {
        c = fdAccept(listener.fd, this.#noDelay);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? '';
        if (SKIP_ACCEPT_ERRORS.has(code)) continue;
        this.#acceptFailed(listener, err as NodeJS.ErrnoException);
        return;
      }
      if (c === null) return;
      // One object is both the socket's peer and the handler's address; family as a shared string.
      const peer: PeerAddress = { address: c[1], family: c[3] === 'IPv4' ? 'IPv4' : 'IPv6', port: c[2] };
      this.#serve(new IOStream(new FdSocket(c[0], peer), this.streamOptions), peer);
    }
  }

  /** Out of descriptors or memory: log (rate limited) and pause accepting for a moment. */
  #acceptFailed(listener: NativeListener, err: NodeJS.ErrnoException): void {
    const now = performance.now();
    if (now - listener.lastErrorLog >= ACCEPT_ERROR_LOG_MS) {
      const more = listener.suppressed > 0 ? ` (${listener.suppressed} more since the last report)` : '';
      const a = listener.address;
      genLog.error(
        `Error accepting a connection on ${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}: ${err.code ?? err.message}${more}; pausing accepts for ${ACCEPT_BACKOFF_MS} ms`,
      );
      listener.lastErrorLog = now;
      listener.suppressed = 0;
    } else {
      listener.suppressed++;
    }
    if (listener.timer !== null) return;
    listener.loop.updateHandler(listener.fd, IOLoop.NONE);
    listener.timer = setTimeout(() => {
      listener.timer = null;
      if (this.#native.includes(listener)) listener.loop.updateHandler(listener.fd, IOLoop.READ);
    }, ACCEPT_BACKOFF_MS);
  }

  /** Accepts connections on one listening server. */
  addSocket(server: Server): void {
    this.addSockets([server]);
  }

  /**
   * Binds `port` on `address` without accepting yet; {@link TCPServer.start} starts accepting
   * (after forking, when asked to). May be called several times before `start`.
   */
  async bind(port: number, address?: string, opts?: BindSocketsOptions): Promise<void> {
    if (this.#stopped) throw new TCPServerStateError('this server was stopped');
    const sockets = await bindSockets(port, address, opts);
    if (this.#started) this.addSockets(sockets);
    else this.#pending.push(...sockets);
  }

  /**
   * Starts accepting on the sockets from {@link TCPServer.bind}. With `numProcesses` other than 1,
   * first forks that many workers ({@link forkProcesses}; `<= 0` or `null`: one per CPU) and
   * accepts in each of them; in the primary the promise never resolves.
   */
  async start(numProcesses: number | null = 1, maxRestarts?: number): Promise<void> {
    if (this.#started) throw new TCPServerStateError('start() was already called');
    if (this.#stopped) throw new TCPServerStateError('this server was stopped');
    this.#started = true;
    if (numProcesses !== 1) await forkProcesses(numProcesses, maxRestarts);
    this.addSockets(this.#pending.splice(0));
  }

  /**
   * Stops accepting: closes every listening socket of this server. Connections in progress go
   * on; close them yourself (or see `HTTPServer.closeAllConnections`). Resolves once the
   * listening sockets are closed. Idempotent.
   */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    const servers = [...this.#servers.keys(), ...this.#pending.splice(0)];
    for (const [, remove] of this.#servers) remove();
    this.#servers.clear();
    for (const server of servers) closeServer(server);
    for (const listener of this.#native.splice(0)) {
      if (listener.timer !== null) clearTimeout(listener.timer);
      listener.loop.removeHandler(listener.fd);
      try {
        fdClose(listener.fd);
      } catch {
        // already closed
      }
    }
    // The descriptors are closed synchronously; let libuv finish the handle close callbacks.
    await new Promise<void>((resolve) => setImmediate(resolve));
  }

  /**
   * Where this server listens (bound or accepting): address, family and port of every TCP socket
   * (the actual port when 0 was asked for); unix sockets appear with family `'unix'` and their path.
   */
  addresses(): AddressInfo[] {
    const out: AddressInfo[] = this.#native.map((l) => ({ ...l.address }));
    for (const server of [...this.#servers.keys(), ...this.#pending]) {
      const a = server.address();
      if (a === null) continue;
      out.push(typeof a === 'string' ? { address: a, family: 'unix', port: 0 } : a);
    }
    return out;
  }

  /**
   * Called for every new connection with its stream and the peer's address. Override it; it may
   * return a promise. A throw or rejection is logged on `tornado.application` and closes that
   * stream only.
   */
  handleStream(_stream: IOStream, _address: PeerAddress): void | Promise<void> {
    throw new NotImplementedError('TCPServer.handleStream must be overridden by a subclass');
  }

  #onConnection = (socket: Socket, address: PeerAddress): void => {
    if (this.#noDelay && address.family !== 'unix') socket.setNoDelay(true);
    let stream: IOStream;
    if (this.#tlsOptions !== null) {
      stream = this.#wrapTls(socket, address);
    } else {
      stream = new IOStream(socket, this.streamOptions);
    }
    this.#serve(stream, address);
  };

  #serve(stream: IOStream, address: PeerAddress): void {
    try {
      const result = this.handleStream(stream, address);
      if (result !== undefined && result !== null && typeof (result as Promise<void>).then === 'function') {
        (result as Promise<void>).then(undefined, (err: unknown) =>
          this.#onHandlerError(err, stream, address),
        );
      }
    } catch (err) {
      this.#onHandlerError(err, stream, address);
    }
  }

  #wrapTls(socket: Socket, address: PeerAddress): SSLIOStream {
    const tlsSocket = new tls.TLSSocket(socket, this.#tlsOptions as tls.TLSSocketOptions);
    const stream = new SSLIOStream(tlsSocket, this.streamOptions);
    let timer: NodeJS.Timeout | null = null;
    if (this.#handshakeMs > 0) {
      timer = setTimeout(() => {
        genLog.debug(`TLS handshake timeout from ${address.address || 'unix socket'}`);
        stream.close(
          Object.assign(new Error('TLS handshake timed out'), { code: 'ERR_TLS_HANDSHAKE_TIMEOUT' }),
        );
      }, this.#handshakeMs);
    }
    stream.waitForHandshake().then(
      () => {
        if (timer !== null) clearTimeout(timer);
      },
      (err: unknown) => {
        if (timer !== null) clearTimeout(timer);
        const msg = `SSL Error on ${address.address || 'unix socket'}:${address.port}: ${describeError(
          (err as { realError?: unknown }).realError ?? err,
        )}`;
        if (isBenignTlsError(err)) genLog.debug(msg);
        else genLog.warn(msg);
      },
    );
    return stream;
  }

  #onHandlerError(err: unknown, stream: IOStream, address: PeerAddress): void {
    appLog.error(
      `Error in connection callback for ${address.address || 'unix socket'}: ${describeError(err)}`,
    );
    stream.close();
  }
}
