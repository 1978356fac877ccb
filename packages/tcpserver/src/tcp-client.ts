/**
 * {@link TCPClient}: Tornado's non-blocking TCP connection factory.
 *
 * @module
 */
import * as net from 'node:net';
import * as tls from 'node:tls';
import { TimeoutError } from '@tornado-ts/ioloop';
import { IOStream, type IOStreamOptions, SSLIOStream } from '@tornado-ts/iostream';

// setTimeout fires at once (with a warning) for longer delays.
const MAX_TIMER_MS = 2 ** 31 - 1;

/** A duration option in seconds as timer milliseconds; -1 for none (omitted, or too long for a timer). */
function checkTimeout(seconds: number | undefined, what: string): number {
  if (seconds === undefined || seconds === null) return -1;
  if (typeof seconds !== 'number' || !(seconds >= 0)) {
    throw new RangeError(`${what} must be a non-negative number of seconds, got ${String(seconds)}`);
  }
  const ms = seconds * 1000;
  return ms > MAX_TIMER_MS ? -1 : ms;
}

/** Options of {@link TCPClient.connect}. Sizes are bytes, durations seconds. */
export interface TCPClientConnectOptions extends IOStreamOptions {
  /** Address family to resolve `host` to: `4`, `6` or `0` (default: whatever the host has). */
  af?: 0 | 4 | 6;
  /**
   * Connect with TLS: `true` for the defaults (certificate verified against the system CAs and
   * `host`) or `tls.connect` options (`ca`, `rejectUnauthorized`, `servername`, `ALPNProtocols`...).
   * Resolves with an {@link SSLIOStream} once the handshake is done.
   */
  sslOptions?: tls.ConnectionOptions | boolean;
  /** Seconds to wait for the connection and the TLS handshake; rejects with `TimeoutError` after. */
  timeout?: number;
  /** Local address to connect from. */
  sourceIp?: string;
  /** Local port to connect from. */
  sourcePort?: number;
  /**
   * Happy eyeballs: seconds to wait on one address before also trying the next when `host`
   * resolves to several (IPv6 and IPv4). Default 0.3, as in Tornado.
   */
  connectAttemptTimeout?: number;
  /** Turn Nagle's algorithm off on the connection. Default `false`. */
  noDelay?: boolean;
}

/**
 * Opens TCP connections and wraps them in streams, after Tornado's `tornado.tcpclient.TCPClient`.
 * A host with several addresses (a dual-stack name) is connected to by happy eyeballs (RFC 8305,
 * Node's `autoSelectFamily`): the first address that answers wins.
 *
 * @example
 * ```ts
 * const stream = await new TCPClient().connect('localhost', 8888, { timeout: 5 });
 * await stream.write('ping\n');
 * const reply = await stream.readUntil('\n');
 * stream.close();
 * ```
 */
export class TCPClient {
  readonly #lookup: net.LookupFunction | undefined;

  /**
   * `lookup` resolves host names (Tornado's `resolver`): a `dns.lookup`-compatible function,
   * e.g. to pin names in tests or use a caching resolver. Default: `dns.lookup`.
   */
  constructor(opts: { lookup?: net.LookupFunction } = {}) {
    this.#lookup = opts.lookup;
  }

  /**
   * Connects to `host:port` and resolves with an {@link IOStream} (an {@link SSLIOStream} with
   * `sslOptions`) once connected. A refused or failed connection rejects with the socket error
   * (`ECONNREFUSED`, ...), a TLS failure with the TLS error, and `timeout` with `TimeoutError`.
   */
  connect(host: string, port: number, opts: TCPClientConnectOptions = {}): Promise<IOStream> {
    return new Promise<IOStream>((resolve, reject) => {
      // (A bad option throws here, in the executor: the promise rejects with it.)
      const timeoutMs = checkTimeout(opts.timeout, 'timeout');
      const attempt = checkTimeout(opts.connectAttemptTimeout, 'connectAttemptTimeout');
      // Node wants an int32 of at least 10 ms here.
      const attemptMs =
        opts.connectAttemptTimeout === undefined ? 300 : attempt < 0 ? MAX_TIMER_MS : Math.ceil(attempt);
      const family = opts.af ?? 0;
      const connectOpts: net.TcpNetConnectOpts = { host, port };
      if (family !== 0) connectOpts.family = family;
      else if (net.isIP(host) === 0) {
        connectOpts.autoSelectFamily = true;
        connectOpts.autoSelectFamilyAttemptTimeout = Math.max(10, attemptMs);
      }
      if (this.#lookup !== undefined) connectOpts.lookup = this.#lookup;
      if (opts.sourceIp !== undefined) connectOpts.localAddress = opts.sourceIp;
      if (opts.sourcePort !== undefined) connectOpts.localPort = opts.sourcePort;
      if (opts.noDelay === true) connectOpts.noDelay = true;
      const streamOpts: IOStreamOptions = {};
      if (opts.maxBufferSize !== undefined) streamOpts.maxBufferSize = opts.maxBufferSize;
      if (opts.readChunkSize !== undefined) streamOpts.readChunkSize = opts.readChunkSize;
      if (opts.maxWriteBufferSize !== undefined) streamOpts.maxWriteBufferSize = opts.maxWriteBufferSize;

      const ssl = opts.sslOptions;
      let sock: net.Socket;
      let ready: 'connect' | 'secureConnect';
      if (ssl !== undefined && ssl !== false) {
        const extra: tls.ConnectionOptions = typeof ssl === 'object' ? ssl : {};
        const servername = extra.servername ?? (net.isIP(host) === 0 ? host : undefined);
        sock = tls.connect({ ...extra, ...connectOpts, ...(servername !== undefined ? { servername } : {}) });
        ready = 'secureConnect';
      } else {
        sock = net.connect(connectOpts);
        ready = 'connect';
      }
      let timer: NodeJS.Timeout | null = null;
      const onError = (err: Error): void => {
        if (timer !== null) clearTimeout(timer);
        sock.off(ready, onReady);
        sock.destroy();
        reject(err);
      };
      const onReady = (): void => {
        if (timer !== null) clearTimeout(timer);
        sock.off('error', onError);
        resolve(
          ready === 'secureConnect'
            ? new SSLIOStream(sock as tls.TLSSocket, streamOpts)
            : new IOStream(sock, streamOpts),
        );
      };
      sock.once('error', onError);
      sock.once(ready, onReady);
      if (timeoutMs >= 0) {
        timer = setTimeout(
          () => onError(new TimeoutError(`connecting to ${host}:${port} timed out after ${opts.timeout}s`)),
          timeoutMs,
        );
      }
    });
  }

  /** Releases what the client holds (nothing at present; kept for Tornado's API). */
  close(): void {}
}
