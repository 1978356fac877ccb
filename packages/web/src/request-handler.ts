import { randomBytes, timingSafeEqual } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import { crc32 } from 'node:zlib';
import { HTTPHeaders, type HTTPServerRequest, ResponseStartLine } from '@tornado-ts/httpserver';
import { appLog, genLog } from '@tornado-ts/ioloop';
import { stringifySetCookie } from 'cookie';
import type { Application, ApplicationSettings } from './application';
import { Finish, formatLog, HandlerError, HTTPError, MissingArgumentError } from './errors';
import { percentDecodeBytes, xhtmlEscape } from './escape';
import { acceptsGzip, compressibleType, GZIP_MIN_LENGTH, GzipStream, gzipAll } from './gzip';
import type { InitArgs, PathMatch } from './routing';
import { createSignedValue, decodeSignedValue, decodeXsrfToken, encodeXsrfToken } from './signed-value';
import { markSafe, TEMPLATE_HELPERS } from './template';

/** Options of {@link RequestHandler.setCookie}. */
export interface CookieOptions {
  domain?: string;
  /** Absolute expiry: a `Date` or seconds since the epoch. */
  expires?: Date | number;
  /** `/` by default. */
  path?: string;
  /** Expiry in days from now. */
  expiresDays?: number;
  /** `Max-Age` in seconds. */
  maxAge?: number;
  httpOnly?: boolean;
  secure?: boolean;
  sameSite?: 'strict' | 'lax' | 'none' | 'Strict' | 'Lax' | 'None' | boolean;
  partitioned?: boolean;
  priority?: 'low' | 'medium' | 'high';
}

/** Options of {@link RequestHandler.setSignedCookie}. */
export interface SignedCookieOptions extends CookieOptions {
  /** Signed value format version (2 by default). */
  version?: 1 | 2;
}

/** Options of {@link RequestHandler.getSignedCookie}. */
export interface GetSignedCookieOptions {
  /** Older values read as `null` (31 days by default). */
  maxAgeDays?: number;
  /** 2 refuses v1 signatures. */
  minVersion?: 1 | 2;
}

/** What {@link RequestHandler.sendError} passes to {@link RequestHandler.writeError}. */
export interface ErrorInfo {
  /** The exception that caused the error, if any. */
  error?: unknown;
  /** A reason phrase for the status line. */
  reason?: string;
}

type Thenable = PromiseLike<unknown>;
type HTTPConnectionLike = NonNullable<HTTPServerRequest['connection']>;
const isThenable = (v: unknown): v is Thenable =>
  v !== null &&
  (typeof v === 'object' || typeof v === 'function') &&
  typeof (v as Thenable).then === 'function';
const noop = () => {};

const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'DELETE', 'PATCH', 'PUT', 'OPTIONS'] as const;
/** Control characters (CR/LF: header injection) and characters HTTP/1 cannot carry (above U+00FF). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: these patterns exist to find control characters
const UNSAFE_HEADER_RE = /[\x00-\x1f\x7f\u0100-\uffff]/;
/** RFC 9110 field names are tokens. */
const TOKEN_RE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Non-ASCII runs in a redirect target, percent-encoded as UTF-8 (as browsers would request them). */
const NON_ASCII_RE = /[\u0080-\uffff]+/g;
const percentEncodeUtf8 = (run: string): string => {
  let out = '';
  for (const b of Buffer.from(run, 'utf8')) out += `%${b < 16 ? '0' : ''}${b.toString(16).toUpperCase()}`;
  return out;
};
// biome-ignore lint/suspicious/noControlCharactersInRegex: these patterns exist to find control characters
const CONTROL_CHARS_RE = /[\x00-\x08\x0e-\x1f]/g;
const ETAG_RE = /\*|(?:W\/)?"[^"]*"/g;
const STREAM_BODY = Symbol.for('tornado-ts.streamRequestBody');
const UNSET: unique symbol = Symbol('unset');
/** Browsers read `//host` and `/\\host` as another host: collapsed to one `/` in redirects we build. */
const LEADING_SLASHES_RE = /^[/\\]{2,}/;

interface MethodTable {
  /** method name → handler function name, or null when unsupported */
  fns: Map<string, string | null>;
  allow: string;
  overridesCurrentUser: boolean;
  overridesConnectionClose: boolean;
}
const methodTables = new WeakMap<Function, MethodTable>();

function methodTable(cls: typeof RequestHandler, instance?: object): MethodTable {
  let t = methodTables.get(cls);
  if (t) return t;
  const base = RequestHandler.prototype as unknown as Record<string, unknown>;
  const proto = cls.prototype as unknown as Record<string, unknown>;
  const supported = new Set(cls.SUPPORTED_METHODS.map((m) => m.toUpperCase()));
  const inst = (instance ?? {}) as Record<string, unknown>;
  const own = (name: string) =>
    (Object.hasOwn(inst, name) && typeof inst[name] === 'function') ||
    (typeof proto[name] === 'function' && proto[name] !== base[name]);
  const fns = new Map<string, string | null>();
  for (const m of supported) {
    const name = m.toLowerCase();
    if (own(name)) fns.set(m, name);
    else if (m === 'HEAD' && own('get')) fns.set(m, 'get');
    else if (!(HTTP_METHODS as readonly string[]).includes(m) && typeof proto[name] === 'function')
      fns.set(m, name);
    else fns.set(m, null);
  }
  const allow = [...fns].filter(([, f]) => f !== null).map(([m]) => m);
  t = {
    fns,
    allow: allow.join(', '),
    overridesCurrentUser: proto.getCurrentUser !== base.getCurrentUser,
    overridesConnectionClose: proto.onConnectionClose !== base.onConnectionClose,
  };
  methodTables.set(cls, t);
  return t;
}

/**
 * The base class of HTTP request handlers: subclass it and define `get`, `post`, ... methods.
 *
 * A handler lives for one request: `initialize(initArgs)` → `prepare()` → the HTTP method (with
 * the pattern's groups as arguments) → automatic `finish()` → `onFinish()`. Any of them may be
 * async. Throw {@link HTTPError} to answer with an error page, {@link Finish} to end quietly.
 *
 * @example
 * ```ts
 * class HelloHandler extends RequestHandler {
 *   get(name: string) {
 *     this.write(`Hello, ${name}`);
 *   }
 * }
 * new Application([['/hello/([a-z]+)', HelloHandler]]).listen(8888);
 * ```
 */
export class RequestHandler {
  /** The methods this handler class answers; others get 405. */
  static SUPPORTED_METHODS: readonly string[] = HTTP_METHODS;

  /** The application this handler belongs to. */
  readonly application: Application;
  /** The request being answered. */
  readonly request: HTTPServerRequest;
  /** The positional groups of the URL pattern, percent-decoded (unmatched optional groups: `undefined`). */
  declare pathArgs: string[];
  /** The named groups of the URL pattern, percent-decoded. */
  declare pathKwargs: Record<string, string>;

  #headers!: HTTPHeaders;
  #status = 200;
  #reason = 'OK';
  /** The written chunks; the shared frozen {@link NO_CHUNKS} until the first write. */
  #buf: (string | Uint8Array)[] = NO_CHUNKS;
  #headersWritten = false;
  #finished = false;
  #autoFinish = true;
  #currentUser: unknown = UNSET;
  #newCookies: Map<string, string> | null = null;
  #xsrfToken: string | null = null;
  #rawXsrf: { version: number | null; token: Buffer; timestamp: number } | null = null;
  #gzip: GzipStream | null | false = null;
  #preparedResolve: (() => void) | null = null;
  #bodyWaiter: { resolve: () => void; reject: (e: Error) => void } | null = null;
  #bodyDone: boolean | Error = false;
  #closeNotified = false;
  #table: MethodTable | null = null;

  /**
   * @internal — handlers are created by the Application, not by user code. Initialization
   * (default headers, `initialize(initArgs)`) happens in `_init`, after subclass fields exist.
   */
  constructor(application: Application, request: HTTPServerRequest) {
    this.application = application;
    this.request = request;
  }

  /** @internal — sets the default headers and calls `initialize(initArgs)`. */
  _init(initArgs: InitArgs): this {
    this.clear();
    const table = methodTable(this.constructor as typeof RequestHandler, this);
    this.#table = table;
    if (table.overridesConnectionClose) {
      const conn = this.request.connection as { setCloseCallback?: (cb: (() => void) | null) => void };
      conn.setCloseCallback?.(() => this.#connectionClosed());
    }
    this.initialize(initArgs);
    return this;
  }

  /** The application's settings. */
  get settings(): ApplicationSettings {
    return this.application.settings;
  }

  /** Hook for subclass initialization; receives the rule's `initArgs`. */
  initialize(_initArgs: InitArgs): void {}

  /** Called before the HTTP method; may be async; may finish the request (the method is then skipped). */
  prepare(): void | Promise<void> {}

  /** Called after the response is finished (for cleanup, logging...); may be async. */
  onFinish(): void | Promise<void> {}

  /**
   * Called when the client closes the connection before the response is finished (long polling,
   * streaming). Override to release resources; the default does nothing.
   */
  onConnectionClose(): void {}

  /** Handles GET; the default answers 405. */
  get(..._args: unknown[]): void | Promise<void> {
    throw new HTTPError(405);
  }
  /** Handles HEAD; without an override, HEAD is answered by `get` without a body. */
  head(..._args: unknown[]): void | Promise<void> {
    throw new HTTPError(405);
  }
  /** Handles POST; the default answers 405. */
  post(..._args: unknown[]): void | Promise<void> {
    throw new HTTPError(405);
  }
  /** Handles PUT; the default answers 405. */
  put(..._args: unknown[]): void | Promise<void> {
    throw new HTTPError(405);
  }
  /** Handles PATCH; the default answers 405. */
  patch(..._args: unknown[]): void | Promise<void> {
    throw new HTTPError(405);
  }
  /** Handles DELETE; the default answers 405. */
  delete(..._args: unknown[]): void | Promise<void> {
    throw new HTTPError(405);
  }
  /** Handles OPTIONS; the default answers 405. */
  options(..._args: unknown[]): void | Promise<void> {
    throw new HTTPError(405);
  }

  /**
   * With {@link streamRequestBody}: called with each piece of the request body after `prepare()`;
   * the next piece is read only once a returned promise resolves (flow control).
   */
  dataReceived(_chunk: Buffer): void | Promise<void> {
    throw new HandlerError(`${this.constructor.name} must implement dataReceived to stream request bodies`);
  }

  // ---------------------------------------------------------------- output

  /** Resets the headers and content of the response (the defaults are set again). */
  clear(): void {
    this.#headers = new HTTPHeaders(this.application.defaultHeaders);
    this.setDefaultHeaders();
    this.#buf = NO_CHUNKS;
    this.#status = 200;
    this.#reason = 'OK';
  }

  /** Override to set headers on every response of this handler (also after `clear()` for errors). */
  setDefaultHeaders(): void {}

  /** Sets the status code; a code without a standard reason phrase needs `reason`. */
  setStatus(code: number, reason?: string | null): void {
    if (!Number.isInteger(code) || code < 100 || code > 999)
      throw new HandlerError(`invalid status code ${code}`);
    this.#status = code;
    if (reason != null) {
      if (UNSAFE_HEADER_RE.test(reason)) throw new HandlerError('unsafe characters in reason phrase');
      this.#reason = reason;
    } else {
      const std = STATUS_CODES[code];
      if (std === undefined)
        throw new HandlerError(`unknown status code ${code}: give a reason`, 'ERR_UNKNOWN_STATUS');
      this.#reason = std;
    }
  }

  /** The response status code. */
  getStatus(): number {
    return this.#status;
  }

  /** Sets a response header (replacing earlier values); numbers and Dates are formatted. */
  setHeader(name: string, value: string | number | Date): void {
    this.#headers.set(name, convertHeaderValue(name, value));
  }

  /** Adds a response header value (headers like `Set-Cookie` may repeat). */
  addHeader(name: string, value: string | number | Date): void {
    this.#headers.add(name, convertHeaderValue(name, value));
  }

  /** Removes a response header. */
  clearHeader(name: string): void {
    this.#headers.delete(name);
  }

  /** A response header's current value. */
  getResponseHeader(name: string): string | undefined {
    return this.#headers.get(name) ?? undefined;
  }

  /**
   * Adds to the response body: a string (UTF-8), bytes, or a plain object (sent as JSON with
   * `Content-Type: application/json; charset=UTF-8`). Top-level arrays are refused, as in Tornado
   * (wrap them in an object).
   */
  write(chunk: string | Uint8Array | Record<string, unknown>): void {
    if (this.#finished) throw new HandlerError('cannot write() after finish()', 'ERR_WRITE_AFTER_FINISH');
    if (typeof chunk === 'string' || chunk instanceof Uint8Array) {
      this.#append(chunk);
      return;
    }
    if (Array.isArray(chunk)) {
      throw new TypeError('write() refuses arrays (JSON hijacking); wrap the list in an object');
    }
    if (chunk === null || typeof chunk !== 'object') {
      throw new TypeError('write() only accepts strings, bytes and plain objects');
    }
    this.#headers.set('Content-Type', JSON_CONTENT_TYPE);
    const json = JSON.stringify(chunk);
    this.#append(json.includes('</') ? json.replace(/<\//g, '<\\/') : json);
  }

  #append(chunk: string | Uint8Array): void {
    if (this.#buf === NO_CHUNKS) this.#buf = [chunk];
    else this.#buf.push(chunk);
  }

  /** The buffered output as one chunk; a lone string stays a string (the connection encodes it with the head). */
  #takeChunk(): string | Buffer {
    const b = this.#buf;
    if (b.length === 0) return '';
    this.#buf = NO_CHUNKS;
    if (b.length === 1) {
      const c = b[0]!;
      return typeof c === 'string' || Buffer.isBuffer(c)
        ? c
        : Buffer.from(c.buffer, c.byteOffset, c.byteLength);
    }
    let allStrings = true;
    for (const c of b) if (typeof c !== 'string') allStrings = false;
    if (allStrings) return (b as string[]).join('');
    return Buffer.concat(b.map((c) => (typeof c === 'string' ? Buffer.from(c, 'utf8') : c)));
  }

  #bufferLength(): number {
    let n = 0;
    for (const c of this.#buf) n += typeof c === 'string' ? utf8Length(c) : c.length;
    return n;
  }

  /** Whether the response headers have been sent. */
  get headersWritten(): boolean {
    return this.#headersWritten;
  }

  /** Whether `finish()` has been called. */
  get finished(): boolean {
    return this.#finished;
  }

  /**
   * Sends what has been written so far (the headers first, on the first call). The promise
   * resolves when the data has been handed to the connection: await it for flow control.
   */
  flush(): Promise<void> {
    return this.#flush(false);
  }

  #flush(finishing: boolean): Promise<void> {
    const chunk = this.#takeChunk();
    const conn = this.request.connection!;
    if (!this.#headersWritten) {
      this.#headersWritten = true;
      try {
        return this.#writeHead(chunk, finishing, conn);
      } catch (e) {
        // the connection refused the head before sending anything: an error page can still go out
        this.#headersWritten = false;
        this.#gzip = null;
        throw e;
      }
    }
    if (this.#gzip) {
      const gz = this.#gzip;
      if (finishing) this.#gzip = false;
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
      return (finishing ? gz.end(bytes) : gz.write(bytes)).then((c) =>
        this.request.method === 'HEAD' ? undefined : conn.write(c),
      );
    }
    if (this.request.method === 'HEAD' || chunk.length === 0) return Promise.resolve();
    return conn.write(chunk);
  }

  /** The first flush: the head (and the chunk) go to the connection, gzipped if it is on. */
  #writeHead(chunk: string | Buffer, finishing: boolean, conn: HTTPConnectionLike): Promise<void> {
    if (this.application.compressResponse && this.#gzip === null) {
      const gz = this.#startGzip(chunk, finishing);
      if (gz) return gz;
    }
    if (this.#newCookies !== null)
      for (const c of this.#newCookies.values()) this.#headers.add('Set-Cookie', c);
    return conn.writeHeaders(
      this.#status === 200 && this.#reason === 'OK'
        ? OK_LINE
        : new ResponseStartLine('HTTP/1.1', this.#status, this.#reason),
      this.#headers,
      this.request.method === 'HEAD' ? '' : chunk,
    );
  }

  /** Decides on gzip for the first flush; returns the write promise when compressing. */
  #startGzip(chunk: string | Buffer, finishing: boolean): Promise<void> | null {
    const h = this.#headers;
    const vary = h.get('Vary');
    h.set('Vary', vary ? `${vary}, Accept-Encoding` : 'Accept-Encoding');
    const ok =
      (this.#status === 200 || this.#status === 201 || this.#status >= 400) &&
      acceptsGzip(this.request.headers.get('Accept-Encoding')) &&
      compressibleType(h.get('Content-Type') ?? '') &&
      (!finishing || chunk.length >= GZIP_MIN_LENGTH) &&
      !h.has('Content-Encoding');
    if (!ok) {
      this.#gzip = false;
      return null;
    }
    h.set('Content-Encoding', 'gzip');
    if (this.#newCookies !== null) for (const c of this.#newCookies.values()) h.add('Set-Cookie', c);
    const conn = this.request.connection!;
    const line = new ResponseStartLine('HTTP/1.1', this.#status, this.#reason);
    const head = this.request.method === 'HEAD';
    if (finishing) {
      this.#gzip = false;
      const z = gzipAll(chunk);
      h.set('Content-Length', String(z.length));
      return conn.writeHeaders(line, h, head ? EMPTY : z);
    }
    h.delete('Content-Length');
    const gz = new GzipStream();
    this.#gzip = gz;
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    return gz.write(bytes).then((z) => conn.writeHeaders(line, h, head ? EMPTY : z));
  }

  /**
   * Ends the response (writing `chunk` first). Adds an ETag (and answers 304 when the client's
   * `If-None-Match` matches) and a Content-Length. The promise resolves when the response has
   * been handed to the connection.
   */
  finish(chunk?: string | Uint8Array | Record<string, unknown>): Promise<void> {
    if (this.#finished) throw new HandlerError('finish() called twice', 'ERR_FINISH_TWICE');
    if (chunk !== undefined && chunk !== null) this.write(chunk);
    if (!this.#headersWritten) {
      if (this.#buf.length > 1) this.#buf = [this.#takeChunk()];
      const status = this.#status;
      const method = this.request.method;
      if (status === 200 && (method === 'GET' || method === 'HEAD') && !this.#headers.has('etag')) {
        this.setEtagHeader();
        if (this.checkEtagHeader()) {
          this.#buf = NO_CHUNKS;
          this.setStatus(304);
        }
      }
      const st = this.#status;
      if (st === 204 || st === 304 || (st >= 100 && st < 200)) {
        if (this.#buf.length > 0 && this.#bufferLength() > 0) {
          throw new HandlerError(`cannot send a body with status ${st}`, 'ERR_BODY_NOT_ALLOWED');
        }
        this.#headers.delete('content-encoding');
        this.#headers.delete('content-language');
        this.#headers.delete('content-type');
      } else if (!this.#headers.has('content-length')) {
        const c = this.#buf.length === 0 ? '' : this.#buf[0]!;
        this.#headers.set('Content-Length', String(typeof c === 'string' ? utf8Length(c) : c.length));
      }
    }
    const conn = this.request.connection!;
    const gzipStreaming = this.#gzip !== null && this.#gzip !== false;
    let p: Promise<void>;
    try {
      p = this.#flush(true);
    } catch (e) {
      // nothing was sent (the connection refused the head): the caller's error path answers
      if (!this.#headersWritten) throw e;
      p = Promise.reject(e);
    }
    if (gzipStreaming) p = p.then(() => conn.finish());
    else {
      try {
        conn.finish();
      } catch (e) {
        p = Promise.reject(e);
      }
    }
    this.#finished = true;
    this.application.logRequest(this);
    this.#runOnFinish();
    this.#preparedResolve?.();
    // nobody may await it: a rejection must not go unhandled (once per promise: connections
    // hand out one shared resolved promise while the kernel takes the bytes at once)
    if (p !== lastGuarded) {
      p.then(undefined, noop);
      lastGuarded = p;
    }
    return p;
  }

  #runOnFinish(): void {
    try {
      const r = this.onFinish();
      if (isThenable(r))
        r.then(undefined, (e) => appLog.error('Exception in onFinish of %s: %s', this.#summary(), e));
    } catch (e) {
      appLog.error('Exception in onFinish of %s: %s', this.#summary(), e);
    }
  }

  /** Redirects to `url` with 301 (`permanent`), 302 (default) or the given 3xx `status`. */
  redirect(url: string, permanent = false, status?: number): void {
    if (this.#headersWritten) throw new HandlerError('cannot redirect after headers have been written');
    const code = status ?? (permanent ? 301 : 302);
    if (!Number.isInteger(code) || code < 300 || code > 399)
      throw new HandlerError(`bad redirect status ${code}`);
    this.setStatus(code);
    NON_ASCII_RE.lastIndex = 0;
    this.setHeader('Location', NON_ASCII_RE.test(url) ? url.replace(NON_ASCII_RE, percentEncodeUtf8) : url);
    this.finish();
  }

  /**
   * Answers with an error page for `status`: resets the response, sets the status, calls
   * {@link writeError}. After headers were sent it can only end the response.
   */
  sendError(status = 500, info: ErrorInfo = {}): void | Promise<void> {
    if (this.#headersWritten) {
      genLog.error('Cannot send error response after headers written');
      if (!this.#finished) {
        try {
          this.finish();
        } catch (e) {
          genLog.error('Failed to flush partial response: %s', e);
        }
      }
      return;
    }
    this.clear();
    let reason = info.reason;
    const err = info.error;
    if (err instanceof HTTPError && err.reason) reason = err.reason;
    try {
      this.setStatus(status, reason);
    } catch {
      // a non-standard code without a reason keeps its code, as Tornado does
      if (Number.isInteger(status) && status >= 100 && status <= 999) this.setStatus(status, 'Unknown');
      else this.setStatus(500);
    }
    if (status === 405) this.setHeader('Allow', methodTable(this.constructor as typeof RequestHandler).allow);
    const done = () => {
      if (!this.#finished) this.finish();
    };
    const failed = (e: unknown) => {
      appLog.error('Uncaught exception in writeError: %s', errorText(e));
      if (!this.#finished) {
        this.#buf = NO_CHUNKS;
        this.finish();
      }
    };
    try {
      const r = this.writeError(status, info);
      if (isThenable(r)) return Promise.resolve(r).then(done, failed);
    } catch (e) {
      return failed(e);
    }
    done();
  }

  /**
   * Writes the error page; override for custom pages. The default is a small HTML page, or the
   * stack trace as plain text when the `serveTraceback` (or `debug`) setting is on.
   */
  writeError(status: number, info: ErrorInfo = {}): void | Promise<void> {
    if (this.settings.serveTraceback && info.error instanceof Error) {
      this.setHeader('Content-Type', 'text/plain; charset=UTF-8');
      this.finish(info.error.stack ?? String(info.error));
      return;
    }
    const msg = xhtmlEscape(this.#reason);
    this.finish(`<html><title>${status}: ${msg}</title><body>${status}: ${msg}</body></html>`);
  }

  /** Logs an exception that ended the request (HTTPErrors as warnings, others as errors). */
  logException(e: unknown): void {
    if (e instanceof HTTPError) {
      if (e.logMessage) {
        genLog.warn('%d %s: %s', e.statusCode, this.#summary(), formatLog(e.logMessage, e.args));
      }
      return;
    }
    appLog.error('Uncaught exception %s\n%s', this.#summary(), errorText(e));
  }

  #summary(): string {
    return `${this.request.method} ${this.request.uri} (${this.request.remoteIp})`;
  }

  // ---------------------------------------------------------------- etags

  /**
   * The ETag for the response so far, or null to send none. The default is a cheap content
   * fingerprint (length and CRC-32 of the body — FNV-1a for short text — as Fastify's etag plugin
   * uses a fast hash);
   * override it for a cryptographic hash or a version you already know.
   */
  computeEtag(): string | null {
    const buf = this.#buf;
    if (buf.length === 1 && typeof buf[0] === 'string' && buf[0].length <= 256) {
      // short bodies: FNV-1a over the UTF-16 code units, cheaper than a native call; the
      // last body's tag is remembered (handlers often answer the same text again and again)
      const str = buf[0];
      if (str === lastEtagBody) return lastEtag;
      let h = 0x811c9dc5;
      for (let i = 0; i < str.length; i++) h = Math.imul(h ^ str.charCodeAt(i), 0x01000193);
      lastEtagBody = str;
      lastEtag = `"${str.length.toString(16)}-${(h >>> 0).toString(16)}"`;
      return lastEtag;
    }
    let crc = 0;
    let len = 0;
    for (const c of buf) {
      crc = crc32(c, crc);
      len += typeof c === 'string' ? utf8Length(c) : c.length;
    }
    return `"${len.toString(16)}-${crc.toString(16)}"`;
  }

  /** Sets the `Etag` header from {@link computeEtag}. */
  setEtagHeader(): void {
    const etag = this.computeEtag();
    if (etag !== null) this.#headers.set('Etag', etag);
  }

  /** Whether the request's `If-None-Match` matches the response's `Etag` (weak comparison). */
  checkEtagHeader(): boolean {
    const inm = this.request.headers.get('if-none-match');
    if (!inm) return false;
    const etag = this.#headers.get('etag');
    if (!etag) return false;
    const tags = inm.match(ETAG_RE);
    if (!tags) return false;
    if (tags[0] === '*') return true;
    const val = (x: string) => (x.startsWith('W/') ? x.slice(2) : x);
    const mine = val(etag);
    return tags.some((t) => val(t) === mine);
  }

  // ---------------------------------------------------------------- input

  /** Decodes a raw path group: percent-decoding, invalid UTF-8 → 400. Override for other decodings. */
  decodeArgument(value: string, name?: string): string {
    if (!value.includes('%')) return value;
    try {
      return decodeURIComponent(value);
    } catch {
      try {
        return UTF8.decode(percentDecodeBytes(value));
      } catch {
        throw new HTTPError(400, 'Invalid unicode in %s: %s', null, [name ?? 'url', value.slice(0, 40)]);
      }
    }
  }

  /**
   * The last value of the query or body argument `name`, whitespace-stripped unless `strip` is
   * false. Without a default, a missing argument is a 400 ({@link MissingArgumentError}).
   */
  getArgument(name: string): string;
  getArgument<D>(name: string, dflt: D, strip?: boolean): string | D;
  getArgument(name: string, ...rest: unknown[]): unknown {
    return this.#lastArg(this.request.arguments, name, rest);
  }
  /** Every value of the query or body argument `name`. */
  getArguments(name: string, strip = true): string[] {
    return this.#cleanArgs(this.request.arguments[name], strip);
  }
  /** The last value of the query argument `name` (see {@link getArgument}). */
  getQueryArgument(name: string): string;
  getQueryArgument<D>(name: string, dflt: D, strip?: boolean): string | D;
  getQueryArgument(name: string, ...rest: unknown[]): unknown {
    return this.#lastArg(this.request.queryArguments, name, rest);
  }
  /** Every value of the query argument `name`. */
  getQueryArguments(name: string, strip = true): string[] {
    return this.#cleanArgs(this.request.queryArguments[name], strip);
  }
  /** The last value of the body argument `name` (see {@link getArgument}). */
  getBodyArgument(name: string): string;
  getBodyArgument<D>(name: string, dflt: D, strip?: boolean): string | D;
  getBodyArgument(name: string, ...rest: unknown[]): unknown {
    return this.#lastArg(this.request.bodyArguments, name, rest);
  }
  /** Every value of the body argument `name`. */
  getBodyArguments(name: string, strip = true): string[] {
    return this.#cleanArgs(this.request.bodyArguments[name], strip);
  }

  #cleanArg(v: string, strip: boolean): string {
    if (v.includes('\uFFFD')) this.#checkArgumentsUtf8();
    CONTROL_CHARS_RE.lastIndex = 0;
    const s = v.replace(CONTROL_CHARS_RE, ' ');
    return strip ? s.trim() : s;
  }

  #cleanArgs(values: string[] | undefined, strip: boolean): string[] {
    if (values === undefined) return [];
    return values.map((v) => this.#cleanArg(v, strip));
  }

  #lastArg(args: Record<string, string[]>, name: string, rest: unknown[]): unknown {
    const values = args[name];
    if (values === undefined || values.length === 0) {
      if (rest.length === 0) throw new MissingArgumentError(name);
      return rest[0];
    }
    return this.#cleanArg(values[values.length - 1]!, rest.length > 1 ? rest[1] !== false : true);
  }

  /** A replacement character in an argument: 400 if it came from invalid UTF-8 in the request. */
  #checkArgumentsUtf8(): void {
    const sources = [this.request.query];
    const ct = this.request.headers.get('Content-Type') ?? '';
    if (ct.toLowerCase().startsWith('application/x-www-form-urlencoded'))
      sources.push(this.request.body.toString('latin1'));
    for (const src of sources) {
      for (const part of src.split(/[&=]/)) {
        if (!part.includes('%')) continue;
        try {
          UTF8.decode(percentDecodeBytes(part, true));
        } catch {
          throw new HTTPError(400, 'Invalid unicode in argument: %s', null, [part.slice(0, 40)]);
        }
      }
    }
  }

  // ---------------------------------------------------------------- cookies

  /** The request's cookies. */
  get cookies(): Record<string, string> {
    return this.request.cookies;
  }

  /** The value of the request cookie `name`, or `dflt`. */
  getCookie(name: string): string | undefined;
  getCookie<D>(name: string, dflt: D): string | D;
  getCookie(name: string, dflt?: unknown): unknown {
    const v = this.request.cookies[name];
    return v === undefined ? dflt : v;
  }

  /**
   * Sets a response cookie. The value is sent as is (no percent-encoding, as Tornado does), so it
   * must consist of cookie-safe characters; `path` is `/` unless given.
   */
  setCookie(name: string, value: string, opts: CookieOptions = {}): void {
    // biome-ignore lint/suspicious/noControlCharactersInRegex: these patterns exist to find control characters
    if (/[\x00-\x20;,"\\\x7f]/.test(name + value)) {
      throw new HandlerError(
        `invalid cookie ${JSON.stringify(name)}: ${JSON.stringify(value)}`,
        'ERR_INVALID_COOKIE',
      );
    }
    let expires: Date | undefined;
    if (opts.expiresDays !== undefined) expires = new Date(Date.now() + opts.expiresDays * 86400_000);
    else if (opts.expires !== undefined)
      expires = opts.expires instanceof Date ? opts.expires : new Date(opts.expires * 1000);
    const sameSite =
      typeof opts.sameSite === 'string' ? (opts.sameSite.toLowerCase() as 'lax') : opts.sameSite;
    const s = stringifySetCookie(name, value, {
      encode: identity,
      path: opts.path ?? '/',
      ...(opts.domain !== undefined && { domain: opts.domain }),
      ...(expires !== undefined && { expires }),
      ...(opts.maxAge !== undefined && { maxAge: opts.maxAge }),
      ...(opts.httpOnly && { httpOnly: true }),
      ...(opts.secure && { secure: true }),
      ...(sameSite !== undefined && { sameSite }),
      ...(opts.partitioned && { partitioned: true }),
      ...(opts.priority !== undefined && { priority: opts.priority }),
    });
    if (this.#newCookies === null) this.#newCookies = new Map();
    this.#newCookies.set(name, s);
  }

  /** Deletes a cookie on the client (an expired cookie with the same path and domain). */
  clearCookie(name: string, opts: { path?: string; domain?: string } = {}): void {
    this.setCookie(name, '', { ...opts, expires: new Date(Date.now() - 365 * 86400_000), maxAge: 0 });
  }

  /** Deletes every cookie the request carried. */
  clearAllCookies(opts: { path?: string; domain?: string } = {}): void {
    for (const name of Object.keys(this.request.cookies)) this.clearCookie(name, opts);
  }

  #secret() {
    const s = this.settings.cookieSecret;
    if (s === undefined || s === null || s === '') {
      throw new HandlerError(
        'the cookieSecret application setting is required for signed cookies',
        'ERR_NO_SECRET',
      );
    }
    return s;
  }

  /** Signs and timestamps a value with the `cookieSecret` setting (see {@link getSignedCookie}). */
  createSignedValue(name: string, value: string | Uint8Array, version: 1 | 2 = 2): string {
    const kv = this.settings.keyVersion;
    return createSignedValue(this.#secret(), name, value, {
      version,
      ...(kv !== undefined && { keyVersion: kv }),
    });
  }

  /** Sets a signed, timestamped cookie (30 days by default) that {@link getSignedCookie} verifies. */
  setSignedCookie(name: string, value: string | Uint8Array, opts: SignedCookieOptions = {}): void {
    const { version, ...rest } = opts;
    if (rest.expiresDays === undefined && rest.expires === undefined && rest.maxAge === undefined) {
      rest.expiresDays = 30;
    }
    this.setCookie(name, this.createSignedValue(name, value, version ?? 2), rest);
  }

  /**
   * The verified value of a signed cookie, or `null` when it is missing, tampered with, expired,
   * or was signed for another name.
   */
  getSignedCookie(name: string, value?: string | null, opts: GetSignedCookieOptions = {}): string | null {
    const v = value === undefined || value === null ? this.getCookie(name) : value;
    const b = decodeSignedValue(this.#secret(), name, v, {
      maxAgeDays: opts.maxAgeDays ?? 31,
      minVersion: opts.minVersion ?? 1,
    });
    if (b === null) return null;
    try {
      return UTF8.decode(b);
    } catch {
      return null;
    }
  }

  // ---------------------------------------------------------------- auth and xsrf

  /**
   * The authenticated user: what {@link getCurrentUser} returned (resolved before `prepare()`
   * when it is async), or what was assigned to it.
   */
  get currentUser(): unknown {
    if (this.#currentUser === UNSET) {
      const u = this.getCurrentUser();
      if (isThenable(u)) {
        throw new HandlerError('getCurrentUser() is async: read currentUser after prepare() has started');
      }
      this.#currentUser = u;
    }
    return this.#currentUser;
  }
  set currentUser(user: unknown) {
    this.#currentUser = user;
  }

  /** Override to identify the user (from a cookie, a header...); may be async. */
  getCurrentUser(): unknown {
    return null;
  }

  /** Where {@link authenticated} sends anonymous users: the `loginUrl` setting. */
  getLoginUrl(): string {
    const u = this.settings.loginUrl;
    if (!u) throw new HandlerError('the loginUrl application setting is required for @authenticated');
    return u;
  }

  #rawXsrfToken() {
    if (this.#rawXsrf === null) {
      const cookie = this.getCookie(this.settings.xsrfCookieName ?? '_xsrf');
      const dec = cookie ? decodeXsrfToken(cookie) : null;
      this.#rawXsrf =
        dec && dec.token.length > 0
          ? dec
          : { version: null, token: randomBytes(16), timestamp: Math.floor(Date.now() / 1000) };
    }
    return this.#rawXsrf;
  }

  /**
   * This request's xsrf token (a fresh mask over the same secret each request, Tornado's v2
   * format). Reading it sets the `_xsrf` cookie when the client has none.
   */
  get xsrfToken(): string {
    if (this.#xsrfToken === null) {
      const raw = this.#rawXsrfToken();
      this.#xsrfToken = encodeXsrfToken(raw.token, raw.timestamp);
      if (raw.version === null) {
        const opts: CookieOptions = { ...this.settings.xsrfCookieOptions };
        if (opts.expiresDays === undefined && opts.expires === undefined && this.#currentUserIfKnown()) {
          opts.expiresDays = 30;
        }
        this.setCookie(this.settings.xsrfCookieName ?? '_xsrf', this.#xsrfToken, opts);
      }
    }
    return this.#xsrfToken;
  }

  #currentUserIfKnown(): unknown {
    try {
      return this.currentUser;
    } catch {
      return null;
    }
  }

  /**
   * Checks the `_xsrf` argument (or `X-XSRFToken` / `X-CSRFToken` header) against the `_xsrf`
   * cookie; throws a 403 {@link HTTPError} when missing or different. Run automatically for every
   * method but GET, HEAD and OPTIONS when the `xsrfCookies` setting is on.
   */
  checkXsrfCookie(): void {
    const given =
      this.getArgument('_xsrf', null) ||
      this.request.headers.get('X-Xsrftoken') ||
      this.request.headers.get('X-Csrftoken');
    if (!given) throw new HTTPError(403, "'_xsrf' argument missing from POST");
    const tok = decodeXsrfToken(given);
    const expected = this.#rawXsrfToken().token;
    if (!tok || tok.token.length === 0) throw new HTTPError(403, "'_xsrf' argument has invalid format");
    if (tok.token.length !== expected.length || !timingSafeEqual(tok.token, expected)) {
      throw new HTTPError(403, 'XSRF cookie does not match POST argument');
    }
  }

  /** A hidden `<input>` carrying the xsrf token, for forms. */
  xsrfFormHtml(): string {
    return `<input type="hidden" name="_xsrf" value="${xhtmlEscape(this.xsrfToken)}"/>`;
  }

  // ---------------------------------------------------------------- urls and templates

  /** A versioned URL for a file under `staticPath` (`/static/app.css?v=<hash>`). */
  staticUrl(path: string, includeHost?: boolean): string {
    const base = includeHost ? `${this.request.protocol}://${this.request.host}` : '';
    return base + this.application.makeStaticUrl(path);
  }

  /** The application's {@link Application.reverseUrl}. */
  reverseUrl(name: string, ...args: unknown[]): string {
    return this.application.reverseUrl(name, ...args);
  }

  /** The directory templates load from: the `templatePath` setting. Override per handler. */
  getTemplatePath(): string | undefined {
    return this.settings.templatePath;
  }

  /** What templates see besides the render variables: helpers, `handler`, `request`, `currentUser`... */
  getTemplateNamespace(): Record<string, unknown> {
    return {
      ...TEMPLATE_HELPERS,
      handler: this,
      request: this.request,
      currentUser: this.currentUser,
      settings: this.settings,
      staticUrl: (p: string, includeHost?: boolean) => this.staticUrl(p, includeHost),
      reverseUrl: (name: string, ...a: unknown[]) => this.reverseUrl(name, ...a),
      xsrfFormHtml: () => markSafe(this.xsrfFormHtml()),
    };
  }

  /** Renders the template `name` to a string (see {@link render}). */
  renderString(name: string, vars: Record<string, unknown> = {}): string {
    const path = this.getTemplatePath();
    if (!path) throw new HandlerError('the templatePath setting is required to render templates');
    return this.application.templateLoader(path).render(name, { ...this.getTemplateNamespace(), ...vars });
  }

  /** Renders the template `name` with `vars` and finishes the response with it. */
  render(name: string, vars: Record<string, unknown> = {}): Promise<void> {
    if (this.#finished) throw new HandlerError('cannot render() after finish()');
    return this.finish(this.renderString(name, vars));
  }

  // ---------------------------------------------------------------- lifecycle (internal)

  /** @internal — runs the request through prepare, the method and finish. */
  _execute(match: PathMatch | null = null): void | Promise<void> {
    try {
      if (match !== null) this._setPathArgs(match.args, match.kwargs);
      const table = this.#table ?? methodTable(this.constructor as typeof RequestHandler);
      const method = this.request.method;
      const fn = table.fns.get(method);
      if (fn === undefined) throw new HTTPError(405);
      if (table.overridesCurrentUser && this.#currentUser === UNSET) {
        const u = this.getCurrentUser();
        if (isThenable(u)) {
          return Promise.resolve(u).then(
            (user) => {
              if (this.#currentUser === UNSET) this.#currentUser = user;
              return this.#prepare(fn);
            },
            (e) => this.#handleException(e),
          );
        }
        this.#currentUser = u;
      }
      return this.#prepare(fn);
    } catch (e) {
      return this.#handleException(e);
    }
  }

  #prepare(fn: string | null): void | Promise<void> {
    try {
      const method = this.request.method;
      if (this.application.xsrfCookies && method !== 'GET' && method !== 'HEAD' && method !== 'OPTIONS') {
        this.checkXsrfCookie();
      }
      const r = this.prepare();
      if (isThenable(r))
        return Promise.resolve(r).then(
          () => this.#afterPrepare(fn),
          (e) => this.#handleException(e),
        );
      return this.#afterPrepare(fn);
    } catch (e) {
      return this.#handleException(e);
    }
  }

  #afterPrepare(fn: string | null): void | Promise<void> {
    try {
      if (this.#preparedResolve !== null) {
        this.#preparedResolve();
        this.#preparedResolve = null;
      }
      if (this.#finished) return;
      if (fn === null) throw new HTTPError(405);
      if (
        this.#bodyDone !== false ||
        (this.constructor as unknown as Record<symbol, unknown>)[STREAM_BODY] !== true
      ) {
        return this.#invoke(fn);
      }
      return new Promise<void>((resolve, reject) => {
        this.#bodyWaiter = { resolve, reject };
      }).then(
        () => this.#invoke(fn),
        () => {
          /* the connection closed before the body ended: nothing to answer */
        },
      );
    } catch (e) {
      return this.#handleException(e);
    }
  }

  #invoke(fn: string): void | Promise<void> {
    try {
      if (this.#bodyDone instanceof Error || this.#finished) return;
      const f = (this as unknown as Record<string, (...a: unknown[]) => unknown>)[fn]!;
      const r =
        this.pathKwargs !== EMPTY_KWARGS ? f.call(this, this.pathKwargs) : f.apply(this, this.pathArgs);
      if (isThenable(r))
        return Promise.resolve(r).then(
          () => {
            try {
              this.#autoFinishNow();
            } catch (e) {
              return this.#handleException(e);
            }
          },
          (e) => this.#handleException(e),
        );
      this.#autoFinishNow();
    } catch (e) {
      return this.#handleException(e);
    }
  }

  #autoFinishNow(): void {
    if (this.#autoFinish && !this.#finished) this.finish();
  }

  #handleException(e: unknown): void | Promise<void> {
    if (this.#preparedResolve !== null) {
      this.#preparedResolve();
      this.#preparedResolve = null;
    }
    try {
      if (e instanceof Finish) {
        if (!this.#finished) this.finish(e.chunk);
        return;
      }
      this.logException(e);
      if (this.#finished) return;
      const r = this.sendError(e instanceof HTTPError ? e.statusCode : 500, { error: e });
      if (isThenable(r))
        return Promise.resolve(r).then(undefined, (e2) => {
          logExceptionHandler(e2);
          this.#lastResort();
        });
    } catch (e2) {
      logExceptionHandler(e2);
      this.#lastResort();
    }
  }

  /** The error page itself failed before anything was sent: a bare 500 so the client gets an answer. */
  #lastResort(): void {
    if (this.#finished || this.#headersWritten) return;
    this.#finished = true;
    this.#headersWritten = true;
    this.#status = 500;
    this.#reason = 'Internal Server Error';
    const conn = this.request.connection!;
    try {
      conn
        .writeHeaders(
          new ResponseStartLine('HTTP/1.1', 500, 'Internal Server Error'),
          new HTTPHeaders({ 'Content-Length': '0' }),
        )
        .then(undefined, noop);
      conn.finish();
    } catch (e) {
      logExceptionHandler(e);
    }
    this.application.logRequest(this);
  }

  /** @internal — the response was produced by someone else (FallbackHandler). */
  _markFinishedExternally(): void {
    this.#finished = true;
    this.#headersWritten = true;
    this.#runOnFinish();
  }

  /** @internal — ends the request with the error `e` (as if a handler method threw it). */
  _fail(e: unknown): void | Promise<void> {
    return this.#handleException(e);
  }

  /** @internal — sets the decoded path groups. */
  _setPathArgs(args: (string | undefined)[], kwargs: Record<string, string | undefined> | null): void {
    if (kwargs !== null) {
      const out: Record<string, string> = {};
      for (const k of Object.keys(kwargs)) {
        const v = kwargs[k];
        out[k] = v === undefined ? (undefined as unknown as string) : this.decodeArgument(v, k);
      }
      this.pathKwargs = out;
    } else if (args.length > 0) {
      this.pathArgs = args.map((a) =>
        a === undefined ? (undefined as unknown as string) : this.decodeArgument(a),
      );
    }
  }

  /** @internal — for streaming handlers: a promise the connection awaits before reading the body. */
  _preparedPromise(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.#preparedResolve = resolve;
    });
  }

  /** @internal — the request body has been fully received (streaming handlers). */
  _bodyFinished(): void {
    this.#bodyDone = true;
    this.#bodyWaiter?.resolve();
  }

  /** @internal */
  _connectionClosed(): void {
    this.#connectionClosed();
  }

  #connectionClosed(): void {
    if (this.#closeNotified) return;
    this.#closeNotified = true;
    if (this.#bodyDone === false) {
      this.#bodyDone = new HandlerError(
        'connection closed before the request body ended',
        'ERR_STREAM_CLOSED',
      );
      this.#bodyWaiter?.reject(this.#bodyDone);
    }
    if (this.#finished) return;
    if (this.#gzip) this.#gzip.destroy();
    try {
      this.onConnectionClose();
    } catch (e) {
      appLog.error('Exception in onConnectionClose: %s', errorText(e));
    }
  }

  /** @internal — marks a handler that does not finish on its own (long polling). */
  set _autoFinish(v: boolean) {
    this.#autoFinish = v;
  }

  /** Whether the response is finished automatically after the method (true; see `detach` patterns). */
  get autoFinish(): boolean {
    return this.#autoFinish;
  }
  set autoFinish(v: boolean) {
    this.#autoFinish = v;
  }
}

const EMPTY = Buffer.alloc(0);
/** The empty chunk list every handler starts with (frozen: a write replaces it, never pushes). */
const NO_CHUNKS: (string | Uint8Array)[] = Object.freeze([]) as unknown as (string | Uint8Array)[];
const JSON_CONTENT_TYPE = 'application/json; charset=UTF-8';
let lastGuarded: Promise<void> | null = null;
let lastEtagBody = '';
let lastEtag = '"0-811c9dc5"';
const OK_LINE = new ResponseStartLine('HTTP/1.1', 200, 'OK');
const EMPTY_KWARGS: Record<string, string> = Object.freeze({}) as Record<string, string>;
RequestHandler.prototype.pathKwargs = EMPTY_KWARGS;
RequestHandler.prototype.pathArgs = Object.freeze([]) as unknown as string[];
const UTF8 = new TextDecoder('utf-8', { fatal: true });
const identity = (s: string) => s;

function errorText(e: unknown): string {
  return e instanceof Error ? (e.stack ?? String(e)) : String(e);
}
function logExceptionHandler(e: unknown): void {
  appLog.error('Exception in exception handler: %s', errorText(e));
}

let lastLengthText = '';
let lastLength = 0;
/**
 * `Buffer.byteLength(s)` (UTF-8), cheaper for the short bodies most handlers write: an ASCII scan
 * in JS, and the last short text's length remembered (handlers often answer the same text again).
 */
function utf8Length(s: string): number {
  if (s === lastLengthText) return lastLength;
  const n = s.length;
  if (n > 256) return Buffer.byteLength(s);
  let len = n;
  for (let i = 0; i < n; i++) {
    if (s.charCodeAt(i) >= 0x80) {
      len = Buffer.byteLength(s);
      break;
    }
  }
  lastLengthText = s;
  lastLength = len;
  return len;
}

// The last name and value that passed the checks (handlers set the same header again and again).
let lastGoodHeaderName = 'Content-Type';
let lastGoodHeaderValue = 'text/html; charset=UTF-8';
function convertHeaderValue(name: string, value: string | number | Date): string {
  let s: string;
  if (typeof value === 'string') s = value;
  else if (typeof value === 'number') s = String(value);
  else if (value instanceof Date) s = value.toUTCString();
  else throw new TypeError(`unsupported header value for ${name}: ${String(value)}`);
  if (name !== lastGoodHeaderName) {
    if (!TOKEN_RE.test(name)) {
      throw new HandlerError(`invalid header name ${JSON.stringify(name)}`, 'ERR_UNSAFE_HEADER');
    }
    lastGoodHeaderName = name;
  }
  if (s !== lastGoodHeaderValue) {
    if (UNSAFE_HEADER_RE.test(s)) {
      throw new HandlerError(`unsafe header value for ${name}: ${JSON.stringify(s)}`, 'ERR_UNSAFE_HEADER');
    }
    lastGoodHeaderValue = s;
  }
  return s;
}

/** Whether a handler class was marked with {@link streamRequestBody}. */
export function hasStreamRequestBody(cls: Function): boolean {
  return (cls as unknown as Record<symbol, unknown>)[STREAM_BODY] === true;
}

/**
 * Marks a handler class as streaming its request body: instead of buffering the body, the
 * handler's `dataReceived(chunk)` is called (and awaited, for flow control) after `prepare()`;
 * the HTTP method runs once the body has ended. Usable as a function or a class decorator.
 * In `prepare()` the handler may raise the limit with `this.request.connection.setMaxBodySize(n)`.
 * @example
 * ```ts
 * const Upload = streamRequestBody(class extends RequestHandler {
 *   async dataReceived(chunk: Buffer) { await file.write(chunk); }
 *   put() { this.write('ok'); }
 * });
 * ```
 */
export function streamRequestBody<T extends typeof RequestHandler>(cls: T, _context?: unknown): T {
  if (!(cls.prototype instanceof RequestHandler)) {
    throw new TypeError('streamRequestBody applies to RequestHandler subclasses');
  }
  Object.defineProperty(cls, STREAM_BODY, { value: true, enumerable: false });
  return cls;
}

/** A method wrapper that also works as a standard or a legacy (experimentalDecorators) method decorator. */
type MethodWrapper = <H extends RequestHandler, A extends unknown[], R>(
  method: (this: H, ...args: A) => R,
  context?: unknown,
  ...legacyArgs: unknown[]
) => (this: H, ...args: A) => R | undefined;

/**
 * Builds a {@link MethodWrapper} from `guard`: before the wrapped method runs, `guard` may answer
 * the request itself (return true) so the method is skipped.
 */
function methodGuard(guard: (handler: RequestHandler) => boolean): MethodWrapper {
  const wrapper: MethodWrapper = (method, _context, ...legacyArgs) => {
    // legacy (experimentalDecorators) form: (prototype, key, descriptor)
    const legacy = legacyArgs[0] as PropertyDescriptor | undefined;
    if (typeof method !== 'function' && legacy && typeof legacy.value === 'function') {
      legacy.value = wrapper(legacy.value);
      return legacy as never;
    }
    return function (this, ...args) {
      return guard(this) ? undefined : method.apply(this, args);
    };
  };
  return wrapper;
}

/** Redirects (301) a GET/HEAD to `path` (never to another host), keeping the query; other methods 404. */
function redirectToPath(handler: RequestHandler, path: string): void {
  const m = handler.request.method;
  if (m !== 'GET' && m !== 'HEAD') throw new HTTPError(404);
  let uri = path.replace(LEADING_SLASHES_RE, '/'); // `//host` or `/\host` would leave the site
  if (handler.request.query) uri += `?${handler.request.query}`;
  handler.redirect(uri, true);
}

/**
 * Wraps a handler method so it requires a logged-in user (`currentUser` truthy). Anonymous GET
 * and HEAD requests are redirected to the `loginUrl` setting with `?next=<this url>`; other
 * methods get 403. Usable as a wrapper or as a method decorator.
 * @example
 * ```ts
 * class Admin extends RequestHandler {
 *   @authenticated
 *   get() { this.write('secret'); }
 * }
 * ```
 */
export const authenticated: MethodWrapper = methodGuard((handler) => {
  if (handler.currentUser) return false;
  const m = handler.request.method;
  if (m !== 'GET' && m !== 'HEAD') throw new HTTPError(403);
  let url = handler.getLoginUrl();
  if (!url.includes('?')) {
    // a path starting with `//` (or `/\`) would make `next` protocol-relative: another host
    const next = /^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(url)
      ? handler.request.fullUrl()
      : handler.request.uri.replace(LEADING_SLASHES_RE, '/');
    url += `?${new URLSearchParams({ next }).toString()}`;
  }
  handler.redirect(url);
  return true;
});

/**
 * Wraps a handler method so that a path ending in `/` is redirected (301, GET/HEAD) to the same
 * path without it; other methods get 404. Usable as a wrapper or a method decorator.
 */
export const removeslash: MethodWrapper = methodGuard((handler) => {
  const path = handler.request.path;
  if (!path.endsWith('/')) return false;
  const trimmed = path.replace(/\/+$/, '');
  if (!trimmed) throw new HTTPError(404);
  redirectToPath(handler, trimmed);
  return true;
});

/**
 * Wraps a handler method so that a path not ending in `/` is redirected (301, GET/HEAD) to the
 * same path with it; other methods get 404. Usable as a wrapper or a method decorator.
 */
export const addslash: MethodWrapper = methodGuard((handler) => {
  const path = handler.request.path;
  if (path.endsWith('/')) return false;
  redirectToPath(handler, `${path}/`);
  return true;
});
