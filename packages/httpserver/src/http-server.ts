/**
 * A non-blocking, single-threaded HTTP/1.1 server (Tornado's `tornado.httpserver`).
 *
 * @module
 */
import { isIP } from 'node:net';
import { appLog, describeError } from '@tornado-ts/ioloop';
import { type IOStream, SSLIOStream } from '@tornado-ts/iostream';
import { type PeerAddress, TCPServer, type TCPServerOptions } from '@tornado-ts/tcpserver';
import { HTTPInputError } from './errors';
import {
  HTTP1Connection,
  type HTTP1ConnectionParameters,
  HTTP1ServerConnection,
  resolveParams,
} from './http1connection';
import {
  type HTTPConnection,
  HTTPHeaders,
  type HTTPMessageDelegate,
  type HTTPRequestContext,
  type HTTPServerConnectionDelegate,
  HTTPServerRequest,
  isFormContentType,
  type RequestStartLine,
  ResponseStartLine,
  type ResponseStartLine as ResponseStartLineType,
} from './httputil';

/** A request callback: answers through `request.connection` and finishes it. Sync or async. */
export type RequestCallback = (request: HTTPServerRequest) => void | Promise<void>;

/** Options of {@link HTTPServer}. Durations are seconds, sizes bytes. */
export interface HTTPServerOptions extends HTTP1ConnectionParameters {
  /** Trust `X-Real-Ip`/`X-Forwarded-For` and `X-Scheme`/`X-Forwarded-Proto` (behind a proxy). */
  xheaders?: boolean;
  /** TLS options: serve https. */
  sslOptions?: TCPServerOptions['sslOptions'];
  /** Force `request.protocol` (e.g. `'https'` behind a TLS-terminating proxy without xheaders). */
  protocol?: string;
  /** Inflate gzip request bodies (alias of `decompress`). */
  decompressRequest?: boolean;
  /** `maxBufferSize` of each connection's IOStream. */
  maxBufferSize?: number;
  /** `maxWriteBufferSize` of each connection's IOStream (default: no limit). */
  maxWriteBufferSize?: number;
  /** TCPServer's `noDelay` (default `true`: Nagle off). */
  noDelay?: boolean;
  /** TCPServer's `handshakeTimeout` for TLS (seconds, default 120). */
  handshakeTimeout?: number;
  /**
   * TCPServer's `nativeSockets` (default `true`): plain TCP connections on the ioloop addon's
   * native sockets instead of `net.Socket` — less CPU per request and less memory per connection.
   */
  nativeSockets?: boolean;
  /** Proxy addresses skipped when walking `X-Forwarded-For` from the right. */
  trustedDownstream?: Iterable<string>;
}

/**
 * The peer information of one server connection; with `xheaders` the proxy headers of the
 * current request override `remoteIp` and `protocol` until the request completes.
 */
export class RequestContext implements HTTPRequestContext {
  remoteIp: string;
  protocol: string;
  readonly address: unknown;
  readonly trustedDownstream: ReadonlySet<string>;
  readonly #origRemoteIp: string;
  readonly #origProtocol: string;

  constructor(stream: IOStream, address: unknown, protocol?: string, trustedDownstream?: Iterable<string>) {
    this.address = address;
    const a = address as Partial<PeerAddress> | undefined;
    let ip: string | undefined;
    if (a && typeof a.address === 'string' && (a.family === 'IPv4' || a.family === 'IPv6')) ip = a.address;
    else {
      const sock = stream.socket as { remoteAddress?: string };
      if (typeof sock.remoteAddress === 'string' && isIP(sock.remoteAddress)) ip = sock.remoteAddress;
    }
    // Unix sockets have no IP: Tornado uses 0.0.0.0.
    this.remoteIp = ip ?? '0.0.0.0';
    if (protocol) this.protocol = protocol;
    else this.protocol = stream instanceof SSLIOStream ? 'https' : 'http';
    this.trustedDownstream =
      trustedDownstream === undefined
        ? EMPTY_SET
        : trustedDownstream instanceof Set
          ? (trustedDownstream as ReadonlySet<string>)
          : new Set(trustedDownstream);
    this.#origRemoteIp = this.remoteIp;
    this.#origProtocol = this.protocol;
  }

  /** Rewrites `remoteIp`/`protocol` from the proxy headers of one request. */
  applyXheaders(headers: HTTPHeaders): void {
    // X-Forwarded-For: walk from the right, skipping our trusted proxies.
    let ip = this.remoteIp;
    const xff = headers.get('X-Forwarded-For');
    if (xff !== undefined) {
      const parts = xff.split(',');
      for (let i = parts.length - 1; i >= 0; i--) {
        ip = (parts[i] as string).trim();
        if (!this.trustedDownstream.has(ip)) break;
      }
    }
    const real = headers.get('X-Real-Ip');
    if (real !== undefined) ip = real.trim();
    if (isIP(ip)) this.remoteIp = ip;
    let proto = headers.get('X-Scheme') ?? headers.get('X-Forwarded-Proto');
    if (proto !== undefined) {
      const parts = proto.split(',');
      proto = (parts[parts.length - 1] as string).trim().toLowerCase();
      if (proto === 'http' || proto === 'https') this.protocol = proto;
    }
  }

  /** Undoes {@link applyXheaders} (between requests on a keep-alive connection). */
  unapplyXheaders(): void {
    this.remoteIp = this.#origRemoteIp;
    this.protocol = this.#origProtocol;
  }

  toString(): string {
    const a = this.address as Partial<PeerAddress> | undefined;
    if (a && (a.family === 'IPv4' || a.family === 'IPv6')) return String(a.address);
    return typeof this.address === 'string' ? this.address : String(this.remoteIp);
  }
}

const EMPTY = Buffer.alloc(0);
const EMPTY_SET: ReadonlySet<string> = new Set();

/** Answers a request connection with an error status, if nothing was written yet. */
function answerError(conn: HTTPConnection, status: number, reason: string): void {
  const c = conn as HTTP1Connection;
  if (c instanceof HTTP1Connection && c.responseStarted) {
    if (!c.writeFinished) c.abort();
    return;
  }
  try {
    void conn.writeHeaders(
      new ResponseStartLine('HTTP/1.1', status, reason),
      new HTTPHeaders({ 'Content-Length': '0' }),
    );
    conn.finish();
  } catch (e) {
    appLog.error(`Could not send ${status}: ${describeError(e)}`);
    (conn as HTTP1Connection).close?.();
  }
}

/** Collects a request and calls a request callback with it (Tornado's `_CallableAdapter`). */
class CallableAdapter implements HTTPMessageDelegate {
  readonly #callback: RequestCallback;
  readonly #conn: HTTPConnection;
  readonly #serverConn: object;
  #request: HTTPServerRequest | null = null;
  #chunks: Buffer[] | null = null;

  constructor(callback: RequestCallback, conn: HTTPConnection, serverConn: object) {
    this.#callback = callback;
    this.#conn = conn;
    this.#serverConn = serverConn;
  }

  headersReceived(startLine: RequestStartLine | ResponseStartLineType, headers: HTTPHeaders): void {
    this.#request = new HTTPServerRequest({
      connection: this.#conn,
      serverConnection: this.#serverConn,
      startLine: startLine as RequestStartLine,
      headers,
    });
  }

  dataReceived(chunk: Buffer): void {
    if (this.#chunks === null) this.#chunks = [chunk];
    else this.#chunks.push(chunk);
  }

  finish(): void {
    const req = this.#request as HTTPServerRequest;
    const chunks = this.#chunks;
    this.#chunks = null;
    if (chunks !== null) req.body = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
    else req.body = EMPTY;
    if (req.body.length > 0 && isFormContentType(req.headers.get('Content-Type'))) {
      req.parseBody().then(
        () => this.#call(req),
        (e: unknown) => {
          if (e instanceof HTTPInputError) {
            appLog.warn(`Bad request body from ${req.remoteIp}: ${e.message}`);
            answerError(this.#conn, 400, 'Bad Request');
          } else this.#fail(e);
        },
      );
      return;
    }
    this.#call(req);
  }

  #call(req: HTTPServerRequest): void {
    let r: void | Promise<void>;
    try {
      r = this.#callback(req);
    } catch (e) {
      this.#fail(e);
      return;
    }
    if (r !== undefined && r !== null && typeof (r as Promise<void>).then === 'function') {
      (r as Promise<void>).then(undefined, (e: unknown) => this.#fail(e));
    }
  }

  #fail(e: unknown): void {
    const req = this.#request;
    appLog.error(
      `Uncaught exception in request callback ${req ? `${req.method} ${req.uri}` : ''}: ${describeError(e)}`,
    );
    answerError(this.#conn, 500, 'Internal Server Error');
  }

  onConnectionClose(): void {
    this.#chunks = null;
  }
}

/** Applies the proxy headers around a delegate (Tornado's `_ProxyAdapter`). */
class ProxyAdapter implements HTTPMessageDelegate {
  readonly #delegate: HTTPMessageDelegate;
  readonly #context: RequestContext;

  constructor(delegate: HTTPMessageDelegate, context: RequestContext) {
    this.#delegate = delegate;
    this.#context = context;
  }

  headersReceived(
    startLine: RequestStartLine | ResponseStartLineType,
    headers: HTTPHeaders,
  ): void | Promise<void> {
    this.#context.applyXheaders(headers);
    return this.#delegate.headersReceived(startLine, headers);
  }

  dataReceived(chunk: Buffer): void | Promise<void> {
    return this.#delegate.dataReceived(chunk);
  }

  finish(): void {
    try {
      this.#delegate.finish();
    } finally {
      this.#context.unapplyXheaders();
    }
  }

  onConnectionClose(): void {
    try {
      this.#delegate.onConnectionClose();
    } finally {
      this.#context.unapplyXheaders();
    }
  }
}

/**
 * A non-blocking HTTP/1.1 server. Give it a request callback (answering through
 * `request.connection`) or an {@link HTTPServerConnectionDelegate} such as `web.Application`.
 *
 * Strict RFC 9112 parsing: malformed or ambiguous requests get 400 (431 for an oversized head,
 * 413 for an oversized body, 414 for an overlong request line, 408 for a slow client) and the
 * connection closes. Keep-alive and pipelining are on (answered strictly in order).
 *
 * @example
 * ```ts
 * const server = new HTTPServer((request) => {
 *   const body = `You requested ${request.uri}\n`;
 *   request.connection!.writeHeaders(
 *     new ResponseStartLine('HTTP/1.1', 200, 'OK'),
 *     new HTTPHeaders({ 'Content-Length': String(Buffer.byteLength(body)) }),
 *     body,
 *   );
 *   request.connection!.finish();
 * });
 * await server.listen(8888);
 * ```
 */
export class HTTPServer extends TCPServer implements HTTPServerConnectionDelegate {
  readonly #callback: RequestCallback | null;
  readonly #delegate: HTTPServerConnectionDelegate | null;
  readonly #xheaders: boolean;
  readonly #protocol: string | undefined;
  readonly #trustedDownstream: ReadonlySet<string>;
  readonly #params: HTTP1ConnectionParameters;
  readonly #connections = new Set<HTTP1ServerConnection>();
  #stopping = false;

  constructor(handler: RequestCallback | HTTPServerConnectionDelegate, opts: HTTPServerOptions = {}) {
    const tcpOpts: TCPServerOptions = {};
    if (opts.sslOptions !== undefined) tcpOpts.sslOptions = opts.sslOptions;
    if (opts.maxBufferSize !== undefined) tcpOpts.maxBufferSize = opts.maxBufferSize;
    if (opts.maxWriteBufferSize !== undefined) tcpOpts.maxWriteBufferSize = opts.maxWriteBufferSize;
    if (opts.noDelay !== undefined) tcpOpts.noDelay = opts.noDelay;
    if (opts.handshakeTimeout !== undefined) tcpOpts.handshakeTimeout = opts.handshakeTimeout;
    if (opts.nativeSockets !== undefined) tcpOpts.nativeSockets = opts.nativeSockets;
    super(tcpOpts);
    if (typeof handler === 'function') {
      this.#callback = handler;
      this.#delegate = null;
    } else if (handler && typeof handler.startRequest === 'function') {
      this.#callback = null;
      this.#delegate = handler;
    } else {
      throw new TypeError('HTTPServer needs a request callback or an HTTPServerConnectionDelegate');
    }
    this.#xheaders = opts.xheaders === true;
    this.#protocol = opts.protocol;
    this.#trustedDownstream = new Set(opts.trustedDownstream ?? []);
    const params: HTTP1ConnectionParameters = {
      decompress: opts.decompressRequest === true || opts.decompress === true,
    };
    if (opts.noKeepAlive !== undefined) params.noKeepAlive = opts.noKeepAlive;
    if (opts.chunkSize !== undefined) params.chunkSize = opts.chunkSize;
    if (opts.maxHeaderSize !== undefined) params.maxHeaderSize = opts.maxHeaderSize;
    if (opts.headerTimeout !== undefined) params.headerTimeout = opts.headerTimeout;
    if (opts.maxBodySize !== undefined) params.maxBodySize = opts.maxBodySize;
    if (opts.bodyTimeout !== undefined) params.bodyTimeout = opts.bodyTimeout;
    if (opts.idleConnectionTimeout !== undefined) params.idleConnectionTimeout = opts.idleConnectionTimeout;
    if (opts.methods !== undefined) params.methods = opts.methods;
    // Validate now, not at the first connection.
    this.#params = resolveParams(params) as unknown as HTTP1ConnectionParameters;
  }

  /** Open connections. */
  get connectionCount(): number {
    return this.#connections.size;
  }

  override handleStream(stream: IOStream, address: PeerAddress): void {
    if (this.#stopping) {
      stream.close();
      return;
    }
    const context = new RequestContext(stream, address, this.#protocol, this.#trustedDownstream);
    const conn = new HTTP1ServerConnection(stream, this.#params, context);
    this.#connections.add(conn);
    conn.startServing(this);
  }

  /** @internal {@link HTTPServerConnectionDelegate}: one delegate per request. */
  startRequest(serverConn: object, requestConn: HTTPConnection): HTTPMessageDelegate {
    let delegate: HTTPMessageDelegate;
    if (this.#delegate !== null) delegate = this.#delegate.startRequest(serverConn, requestConn);
    else delegate = new CallableAdapter(this.#callback as RequestCallback, requestConn, serverConn);
    if (this.#xheaders) delegate = new ProxyAdapter(delegate, requestConn.context as RequestContext);
    return delegate;
  }

  /** @internal {@link HTTPServerConnectionDelegate}: a connection closed. */
  onClose(serverConn: object): void {
    this.#connections.delete(serverConn as HTTP1ServerConnection);
    if (this.#delegate !== null) {
      try {
        this.#delegate.onClose(serverConn);
      } catch (e) {
        appLog.error(`Exception in onClose: ${describeError(e)}`);
      }
    }
  }

  /**
   * Graceful stop: stops accepting, closes idle connections, lets requests in flight finish
   * (their responses carry `Connection: close`), and resolves once every connection closed.
   * Use {@link closeAllConnections} to cut them instead.
   */
  override async stop(): Promise<void> {
    this.#stopping = true;
    const drained = Promise.all([...this.#connections].map((c) => c.drain()));
    await super.stop();
    await drained;
  }

  /** Closes every open connection now (in-flight requests are cut) and resolves when they are closed. */
  async closeAllConnections(): Promise<void> {
    while (this.#connections.size > 0) {
      await Promise.all([...this.#connections].map((c) => c.close()));
    }
  }
}
