/**
 * {@link TCPServer}: Tornado's non-blocking, single-threaded TCP server.
 *
 * @module
 */
import type { AddressInfo, Server, Socket } from 'node:net';
import * as tls from 'node:tls';
import { appLog, describeError, genLog } from '@tornado-ts/ioloop';
import { IOStream, type IOStreamOptions, SSLIOStream } from '@tornado-ts/iostream';
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
      if (this.#servers.has(server)) continue;
      this.#servers.set(server, addAcceptHandler(server, this.#onConnection));
    }
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
    // The descriptors are closed synchronously; let libuv finish the handle close callbacks.
    await new Promise<void>((resolve) => setImmediate(resolve));
  }

  /**
   * Where this server listens (bound or accepting): address, family and port of every TCP socket
   * (the actual port when 0 was asked for); unix sockets appear with family `'unix'` and their path.
   */
  addresses(): AddressInfo[] {
    const out: AddressInfo[] = [];
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
  };

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
