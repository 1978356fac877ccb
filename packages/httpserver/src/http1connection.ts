/**
 * HTTP/1.x on an IOStream, for both ends of a connection (Tornado's `tornado.http1connection`),
 * with our own strict parser (RFC 9112).
 *
 * The parser works on its own buffer of whatever the stream received: one pass per request head
 * (`indexOf` + latin1 slices), bodies handed out as views, pipelined requests parsed in a
 * synchronous loop while their bytes are buffered, one timer per connection.
 *
 * @module
 */
import { gunzipSync } from 'node:zlib';
import { appLog, describeError, genLog } from '@tornado-ts/ioloop';
import type { IOStream } from '@tornado-ts/iostream';
import { clockNow, enterTurn, leaveTurn, nextReading } from './clock';
import { HTTPErrorCode, HTTPInputError, HTTPOutputError } from './errors';
import {
  addTokenField,
  type HTTPConnection,
  HTTPHeaders,
  type HTTPMessageDelegate,
  type HTTPRequestContext,
  isSendable,
  parseResponseStartLine,
  RequestStartLine,
  type ResponseStartLine,
  responses,
  serializeState,
} from './httputil';
import {
  checkHeadBytes,
  checkRequestTargetIn,
  classifyVersion,
  F_CONTENT_ENCODING,
  F_CONTENT_LENGTH,
  F_HOST,
  F_HOST_REPEATED,
  F_TRANSFER_ENCODING,
  fieldSectionEnd,
  hasToken,
  isToken,
  isValidHost,
  KNOWN_METHODS,
  MAX_METHOD_LENGTH,
  parseContentLength,
  parsedFields,
  parseFields,
  parseHeaderLines,
  splitFields,
  TCHAR,
} from './parse';

/** Default `maxHeaderSize`: 64 KiB, as Tornado. */
export const DEFAULT_MAX_HEADER_SIZE = 64 * 1024;
/** Default `maxBodySize`: 100 MiB, as Tornado. */
export const DEFAULT_MAX_BODY_SIZE = 100 * 1024 * 1024;
/** Default `chunkSize`: the largest body piece handed to `dataReceived` at once. */
export const DEFAULT_CHUNK_SIZE = 64 * 1024;
/**
 * Default `idleConnectionTimeout` (seconds) between requests on a keep-alive connection. Tornado's
 * 3600 s is too long for the open internet; nginx uses 75 s, node:http 5 s. We take 65 s: above
 * the 60 s idle timeout of common load balancers, so they close first and never race us.
 */
export const DEFAULT_IDLE_CONNECTION_TIMEOUT = 65;
/** Longest request line (like nginx's 8 KiB header buffer); longer gets 414. */
export const MAX_REQUEST_LINE = 8 * 1024;
/** Longest chunk-size line including extensions; longer gets 400. */
export const MAX_CHUNK_LINE = 4 * 1024;

/** Options of an {@link HTTP1Connection} (Tornado's `HTTP1ConnectionParameters`). */
export interface HTTP1ConnectionParameters {
  /** Close the connection after each request. */
  noKeepAlive?: boolean;
  /** Largest body piece handed to `dataReceived` (bytes, default 64 KiB). */
  chunkSize?: number;
  /** Largest message head, start line + fields (bytes, default 64 KiB); over it: 431 and close. */
  maxHeaderSize?: number;
  /**
   * Seconds a started request head may take to arrive in full; then 408 and close. Default: the
   * idle connection timeout.
   */
  headerTimeout?: number | null;
  /** Largest body (bytes, default 100 MiB); over it: 413 and close. */
  maxBodySize?: number;
  /**
   * Seconds the whole body may take. Default `null`: no overall bound, but each wait for more body
   * bytes is bounded by the idle connection timeout.
   */
  bodyTimeout?: number | null;
  /** Inflate `Content-Encoding: gzip` request bodies (bounded by `maxBodySize`). */
  decompress?: boolean;
  /**
   * Seconds a server connection may sit idle between requests (default 65). `null` or `0`: no
   * limit. Client connections ignore it.
   */
  idleConnectionTimeout?: number | null;
  /**
   * Request methods a server accepts; others get 501 and the connection closes. Default
   * {@link KNOWN_METHODS} (the IANA registry); `null` accepts any token.
   */
  methods?: Iterable<string> | null;
}

interface Params {
  noKeepAlive: boolean;
  chunkSize: number;
  maxHeaderSize: number;
  headerTimeout: number;
  maxBodySize: number;
  bodyTimeout: number;
  decompress: boolean;
  idleTimeout: number;
  methods: ReadonlySet<string> | null;
}

/** Seconds to milliseconds; 0 for "no limit". */
function ms(v: number | null | undefined, dflt: number): number {
  const s = v === undefined ? dflt : v;
  if (s === null || !(s > 0) || !Number.isFinite(s)) return 0;
  return Math.max(1, Math.round(s * 1000));
}

function positive(v: number | undefined, dflt: number, what: string): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !(v > 0)) throw new RangeError(`${what} must be a positive number`);
  return v;
}

const RESOLVED = Symbol('resolved');

/**
 * @internal Validates and normalizes parameters (durations to ms); already normalized ones are
 * returned as they are.
 *
 * @throws {RangeError} for a non-positive size.
 */
export function resolveParams(p: HTTP1ConnectionParameters = {}, isClient = false): Params {
  if ((p as { [RESOLVED]?: boolean })[RESOLVED] === true) return p as unknown as Params;
  const idle = isClient ? 0 : ms(p.idleConnectionTimeout, DEFAULT_IDLE_CONNECTION_TIMEOUT);
  return {
    noKeepAlive: p.noKeepAlive === true,
    chunkSize: positive(p.chunkSize, DEFAULT_CHUNK_SIZE, 'chunkSize'),
    maxHeaderSize: positive(p.maxHeaderSize, DEFAULT_MAX_HEADER_SIZE, 'maxHeaderSize'),
    headerTimeout: p.headerTimeout === undefined ? idle : ms(p.headerTimeout, 0),
    maxBodySize: positive(p.maxBodySize, DEFAULT_MAX_BODY_SIZE, 'maxBodySize'),
    bodyTimeout: ms(p.bodyTimeout, 0),
    decompress: p.decompress === true,
    idleTimeout: idle,
    methods: p.methods === null ? null : p.methods === undefined ? KNOWN_METHODS : new Set(p.methods),
    [RESOLVED]: true,
  } as Params;
}

const EMPTY = Buffer.alloc(0);
const CRLFCRLF = Buffer.from('\r\n\r\n', 'latin1');
const CRLF = Buffer.from('\r\n', 'latin1');
/** Bodies up to this size are copied next to the head and written in one piece. */
const COALESCE_LIMIT = 16 * 1024;
const READ_SIZE = 64 * 1024;
/** Writes up to this size are batched per tick; a batch is flushed once it grows past it. */
const BATCH_LIMIT = 32 * 1024;
const noop = (): void => {};
const PARTIAL = { partial: true } as const;
function flushWire(w: Wire): void {
  w.flush();
}
/** Past this many bytes queued for the socket, the next pipelined request waits for a flush. */
const WRITE_HIGH_WATER = 256 * 1024;

// Timer kinds.
const T_NONE = 0;
const T_IDLE = 1;
const T_HEADER = 2;
const T_BODY = 3;

/** @internal What a {@link Wire} calls back: more bytes (or EOF) arrived; a timeout expired. */
export interface WireOwner {
  resume(): void;
  onTimeout(kind: number): void;
}

/** Granularity of the deadline wheel (ms): timeouts fire up to this late. */
const SLOT_MS = 20;

/**
 * @internal One timer for every connection's timeout: connections are filed in slots of
 * {@link SLOT_MS} by deadline, and a single unref'd Node timer fires at the earliest slot. An idle
 * connection costs a set entry, not a Node timer.
 */
class DeadlineWheel {
  readonly #slots = new Map<number, Set<Wire>>();
  #timer: NodeJS.Timeout | null = null;
  #timerAt = 0;

  file(w: Wire): void {
    this.remove(w);
    const slot = Math.ceil(w.deadline / SLOT_MS) * SLOT_MS;
    let set = this.#slots.get(slot);
    if (set === undefined) {
      set = new Set();
      this.#slots.set(slot, set);
    }
    set.add(w);
    w.slot = slot;
    if (this.#timer === null || slot < this.#timerAt) this.#schedule(slot);
  }

  remove(w: Wire): void {
    const slot = w.slot;
    if (slot === 0) return;
    w.slot = 0;
    const set = this.#slots.get(slot);
    if (set === undefined) return;
    set.delete(w);
    if (set.size === 0) this.#slots.delete(slot);
  }

  #schedule(slot: number): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timerAt = slot;
    this.#timer = setTimeout(this.#fire, Math.max(1, slot - performance.now()));
    this.#timer.unref();
  }

  #fire = (): void => {
    this.#timer = null;
    const now = performance.now();
    const due: Wire[] = [];
    for (const [slot, set] of this.#slots) {
      if (slot > now) continue;
      this.#slots.delete(slot);
      for (const w of set) {
        w.slot = 0;
        due.push(w);
      }
    }
    for (const w of due) {
      try {
        w.due(now);
      } catch (e) {
        appLog.error(`Exception in connection timeout: ${describeError(e)}`);
      }
    }
    let next = 0;
    for (const slot of this.#slots.keys()) if (next === 0 || slot < next) next = slot;
    if (next !== 0 && (this.#timer === null || next < this.#timerAt)) this.#schedule(next);
  };
}

const deadlines = new DeadlineWheel();

/**
 * @internal The bytes of one connection: our parse buffer over the IOStream, the one timer, and
 * the state shared by the requests of a server connection.
 */
export class Wire {
  readonly stream: IOStream;
  buf: Buffer = EMPTY;
  pos = 0;
  #waiter: WireOwner | null = null;
  #reading = false;
  /** The stream delivered EOF/closed while we were reading. */
  eof = false;
  /** Graceful shutdown: finish the current request with `Connection: close`, start no new one. */
  draining = false;
  #timerKind = T_NONE;
  /** Who handles this connection's timeouts. */
  owner: WireOwner | null = null;

  constructor(stream: IOStream) {
    this.stream = stream;
  }

  get avail(): number {
    return this.buf.length - this.pos;
  }

  /** Takes whatever the stream has buffered; true when bytes were added. */
  pull(): boolean {
    if (this.#reading) return false;
    const stream = this.stream;
    const n = stream.readBufferSize;
    if (n === 0) return false;
    const chunk = stream.tryReadBytes(n);
    if (chunk === null || chunk.length === 0) return false;
    this.#append(chunk);
    return true;
  }

  // When unparsed bytes wait for more, they live at the start of `#store`, which grows by
  // doubling: bytes arriving a few at a time are copied once each, not once per arrival.
  #store: Buffer | null = null;

  #append(chunk: Buffer): void {
    const buf = this.buf;
    if (this.pos >= buf.length) {
      this.buf = chunk;
      this.pos = 0;
      return;
    }
    const used = buf.length;
    const store = this.#store;
    if (
      store !== null &&
      buf.buffer === store.buffer &&
      buf.byteOffset === store.byteOffset &&
      used + chunk.length <= store.length
    ) {
      // Appending after the bytes in use never touches views handed out earlier.
      chunk.copy(store, used);
      this.buf = store.subarray(0, used + chunk.length);
      return;
    }
    const left = used - this.pos;
    const need = left + chunk.length;
    const grown = Buffer.allocUnsafeSlow(Math.max(need * 2, 1024));
    buf.copy(grown, 0, this.pos);
    chunk.copy(grown, left);
    this.#store = grown;
    this.buf = grown.subarray(0, need);
    this.pos = 0;
  }

  /** Takes `n` buffered bytes as a view. */
  take(n: number): Buffer {
    const p = this.pos;
    const b = this.buf.subarray(p, p + n);
    this.skip(n);
    return b;
  }

  skip(n: number): void {
    this.pos += n;
    if (this.pos >= this.buf.length) {
      this.buf = EMPTY;
      this.pos = 0;
      this.#store = null;
    }
  }

  /** Waits for more bytes (call after `pull()` returned false); `cb` runs on data or close. */
  wait(cb: WireOwner, kind: number, timeoutMs: number): void {
    this.#waiter = cb;
    this.arm(kind, timeoutMs);
    if (this.#reading) return;
    if (this.eof || this.stream.closed()) {
      this.eof = true;
      queueMicrotask(() => this.#fire());
      return;
    }
    if (this.#direct) return; // the stream's read hook calls back
    this.#reading = true;
    this.stream.readBytes(READ_SIZE, PARTIAL).then(this.#onChunk, this.#onReadError);
  }

  // Server connections take bytes from the stream in its synchronous read hook (called when a
  // chunk was buffered, and on close): no read promise and no microtask hop per request. Bytes that
  // arrive while nobody waits stay in the IOStream (bounded by its maxBufferSize, which pauses the
  // socket).
  #direct = false;

  /** @internal Switches to the stream's read hook (server connections). */
  readDirectly(): void {
    if (this.#direct || this.stream.reading()) return;
    this.#direct = true;
    this.stream.setReadCallback(this.#onStreamRead);
  }

  #onStreamRead = (stream: IOStream): void => {
    if (this.#waiter === null) return;
    // Everything this turn does (parse, answer, wait for the next request) shares one clock read.
    enterTurn();
    try {
      if (this.pull()) this.#fire();
      else if (stream.closed()) {
        this.eof = true;
        this.#fire();
      }
    } finally {
      leaveTurn();
    }
  };

  get waiting(): boolean {
    return this.#waiter !== null;
  }

  #onChunk = (chunk: Buffer): void => {
    this.#reading = false;
    this.#append(chunk);
    this.#fire();
  };

  #onReadError = (): void => {
    this.#reading = false;
    this.eof = true;
    this.#fire();
  };

  #fire(): void {
    const cb = this.#waiter;
    this.#waiter = null;
    this.#timerKind = T_NONE;
    if (cb !== null) cb.resume();
  }

  // Output batching: small writes of one tick (a burst of pipelined responses) are joined and
  // handed to the stream as one buffer; large ones go straight through, in order.
  #out: Array<string | Uint8Array> | null = null;
  #outAllStrings = true;
  outBytes = 0;
  #outPromise: Promise<void> | null = null;
  #outResolve: (() => void) | null = null;
  #outReject: ((e: Error) => void) | null = null;

  /**
   * Queues bytes for the socket (strings as UTF-8, or as latin1 — one byte per character — with
   * `latin1`); resolves when they were handed to the kernel.
   */
  send(data: string | Uint8Array, latin1 = false): Promise<void> {
    const len = typeof data === 'string' ? data.length : data.byteLength;
    if (len > BATCH_LIMIT) {
      this.flush();
      return this.#write(data, latin1);
    }
    if (latin1 && typeof data === 'string' && (this.#out !== null || this.avail > 0 || this.#reading)) {
      data = Buffer.from(data, 'latin1'); // batched parts are UTF-8 strings or bytes
    }
    if (this.#out === null) {
      if (this.avail === 0 && !this.#reading) {
        // No pipelined request waiting behind this one: nothing to batch with.
        return this.#write(data, latin1);
      }
      this.#out = [data];
      this.#outAllStrings = typeof data === 'string';
      this.outBytes = len;
      const p = new Promise<void>((resolve, reject) => {
        this.#outResolve = resolve;
        this.#outReject = reject;
      });
      p.catch(noop);
      this.#outPromise = p;
      process.nextTick(flushWire, this);
      return p;
    }
    this.#out.push(data);
    if (typeof data !== 'string') this.#outAllStrings = false;
    this.outBytes += len;
    const p = this.#outPromise as Promise<void>;
    if (this.outBytes > BATCH_LIMIT) this.flush();
    return p;
  }

  /** Hands the queued bytes to the stream now. */
  flush(): void {
    const parts = this.#out;
    if (parts === null) return;
    const resolve = this.#outResolve as () => void;
    const reject = this.#outReject as (e: Error) => void;
    this.#out = null;
    this.#outPromise = null;
    this.#outResolve = null;
    this.#outReject = null;
    this.outBytes = 0;
    let data: string | Uint8Array;
    if (parts.length === 1) data = parts[0] as string | Uint8Array;
    else if (this.#outAllStrings) data = (parts as string[]).join('');
    else data = Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : p)));
    this.#write(data, false).then(resolve, reject);
  }

  #lastWrite: Promise<void> | null = null;

  /** Hands `data` to the stream; resolves once the kernel has it (strings as UTF-8 or latin1). */
  #write(data: string | Uint8Array, latin1: boolean): Promise<void> {
    const w = this.stream.write(data, latin1 ? 'latin1' : undefined);
    this.#lastWrite = w;
    return w;
  }

  /** Closes the stream once everything queued was handed to the kernel. */
  closeSoon(): void {
    this.flush();
    const p = this.#lastWrite;
    const close = () => this.stream.close();
    if (p === null) close();
    else p.then(close, close);
  }

  /**
   * Arms the connection's timeout; `timeoutMs` 0 disarms. Cheap on the hot path: it records the
   * deadline; the shared {@link deadlines} wheel only moves the connection when it must fire
   * earlier, and re-files it lazily when its slot comes due early.
   */
  arm(kind: number, timeoutMs: number): void {
    if (timeoutMs <= 0) {
      this.#timerKind = T_NONE;
      return;
    }
    this.#timerKind = kind;
    const deadline = clockNow() + timeoutMs;
    this.deadline = deadline;
    if (this.slot === 0 || this.slot > deadline + SLOT_MS) deadlines.file(this);
  }

  /** When the armed timeout is due (ms since the epoch). */
  deadline = 0;
  /** The wheel slot this connection is filed under (0: none). */
  slot = 0;

  disarm(): void {
    this.#timerKind = T_NONE;
  }

  /** @internal The wheel reached this connection's slot. */
  due(now: number): void {
    const kind = this.#timerKind;
    if (kind === T_NONE) return;
    if (this.deadline > now) {
      deadlines.file(this);
      return;
    }
    this.#timerKind = T_NONE;
    this.owner?.onTimeout(kind);
  }

  /** Stops the timer and drops the buffer (connection over). */
  dispose(): void {
    if (this.#direct) {
      this.#direct = false;
      if (!this.stream.closed()) this.stream.setReadCallback(null);
    }
    deadlines.remove(this);
    this.#timerKind = T_NONE;
    this.#waiter = null;
    this.buf = EMPTY;
    this.pos = 0;
    this.#store = null;
  }

  /** Hands unparsed bytes back to the stream so whoever reads it next sees them first. */
  unread(): void {
    this.pull();
    if (this.avail > 0) {
      const rest = Buffer.from(this.buf.subarray(this.pos));
      this.buf = EMPTY;
      this.pos = 0;
      this.stream.unshift(rest);
    }
  }
}

// Date header cache: built on first use, dropped by an unref'd timer at the next second boundary
// (as node:http does), so a response reads no clock.
let dateLine: string | null = null;
function clearDateLine(): void {
  dateLine = null;
}
function dateHeaderLine(): string {
  let line = dateLine;
  if (line === null) {
    const now = Date.now();
    line = `Date: ${new Date(now).toUTCString()}\r\n`;
    dateLine = line;
    setTimeout(clearDateLine, 1000 - (now % 1000)).unref();
  }
  return line;
}

/** A validated `HTTP/1.1 code reason\r\n` line. */
interface StatusLine {
  reason: string;
  line: string;
  latin1: boolean;
}
/** The last status line built per code: responses repeat the same few. */
const statusLines = new Map<number, StatusLine>();

/**
 * The status line for `code` and `reason`, validated once per distinct pair.
 *
 * @throws {HTTPOutputError} for a code outside 100..999 or a reason with CR, LF or control bytes.
 */
function statusLine(code: number, reason: string): StatusLine {
  const cached = statusLines.get(code);
  if (cached !== undefined && cached.reason === reason) return cached;
  if (!Number.isInteger(code) || code < 100 || code > 999)
    throw new HTTPOutputError(`Invalid status code ${code}`);
  if (!isSendable(reason)) throw new HTTPOutputError('Invalid reason phrase');
  const sl: StatusLine = { reason, line: `HTTP/1.1 ${code} ${reason}\r\n`, latin1: NON_ASCII.test(reason) };
  statusLines.set(code, sl);
  return sl;
}

/** Where a head (or trailer section) arriving in pieces was left: each byte is looked at once. */
class PartialHead {
  /** Bytes of the head searched for its end so far. */
  headScan = 0;
  /** When the head started arriving (clockNow ms), 0 before. */
  headStart = 0;
  /** Bytes of a partial request head validated so far (from the head's start). */
  pScan = 0;
  /** Bytes of the request line searched for its end so far. */
  pScanLine = 0;
  /** Bytes of complete lines parsed (request line included). */
  pLines = 0;
  /** The fields parsed so far, once the request line is complete. */
  pHeaders: HTTPHeaders | null = null;
  /** Bytes of the trailer section validated so far. */
  trailerScan = 0;
}

/** `#fields` when the head was not parsed by parseFields (client side): every field may be there. */
const FIELDS_UNKNOWN = -1;

// Reading states.
const S_HEAD = 0;
const S_HEADERS_CB = 1;
const S_FIXED = 2;
const S_CHUNK_SIZE = 3;
const S_CHUNK_DATA = 4;
const S_CHUNK_CRLF = 5;
const S_TRAILERS = 6;
const S_UNTIL_CLOSE = 7;
const S_FINISH = 8;
const S_DONE = 9;
const S_DATA_CB = 10;
const S_CLOSED = 11;

// biome-ignore lint/suspicious/noControlCharactersInRegex: matching bytes outside ASCII is the point
const NON_ASCII = /[^\x00-\x7f]/;

/** Buffer's own latin1 writer when present (skips `write`'s argument juggling). */
const latin1Write = (Buffer.prototype as unknown as { latin1Write?: (s: string, offset: number) => number })
  .latin1Write;
/** Buffer's own latin1 reader when present. */
const latin1Slice = (Buffer.prototype as unknown as { latin1Slice?: (start: number, end: number) => string })
  .latin1Slice;
function latin1(buf: Buffer, start: number, end: number): string {
  return latin1Slice !== undefined ? latin1Slice.call(buf, start, end) : buf.toString('latin1', start, end);
}
// The latin1 text of the last small body sent: a response body that repeats (a fixed page, the
// same JSON) is turned into a string once, and a comparison of its bytes proves the reuse right.
let lastBody = '';
const SMALL_BODY = 256;

/** `chunk[0, len)` as a latin1 string. */
function bodyText(chunk: Buffer, len: number): string {
  if (len <= SMALL_BODY) {
    const last = lastBody;
    if (last.length === len) {
      let i = 0;
      while (i < len && chunk[i] === last.charCodeAt(i)) i++;
      if (i === len) return last;
    }
    const text = latin1(chunk, 0, len);
    lastBody = text;
    return text;
  }
  return latin1(chunk, 0, len);
}

/** Whether `s` holds CRLF CRLF at `i`. */
function isBlankLine(s: string, i: number): boolean {
  return (
    s.charCodeAt(i) === 13 &&
    s.charCodeAt(i + 1) === 10 &&
    s.charCodeAt(i + 2) === 13 &&
    s.charCodeAt(i + 3) === 10
  );
}

/** Whether `s` holds `HTTP/1.` at `i`. */
function isHttp1Prefix(s: string, i: number): boolean {
  return (
    s.charCodeAt(i) === 0x48 &&
    s.charCodeAt(i + 1) === 0x54 &&
    s.charCodeAt(i + 2) === 0x54 &&
    s.charCodeAt(i + 3) === 0x50 &&
    s.charCodeAt(i + 4) === 0x2f &&
    s.charCodeAt(i + 5) === 0x31 &&
    s.charCodeAt(i + 6) === 0x2e
  );
}

/** Bytes of a request head looked at as one string on the first try. */
const HEAD_WINDOW = 2048;
function writeLatin1(out: Buffer, s: string): void {
  if (latin1Write !== undefined) latin1Write.call(out, s, 0);
  else out.write(s, 0, 'latin1');
}

/** A request-target we may send: non-empty, VCHAR only. */
function isPlainTarget(t: string): boolean {
  if (t.length === 0) return false;
  for (let i = 0; i < t.length; i++) {
    const c = t.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f) return false;
  }
  return true;
}

// The UTF-8 length of the last string body measured: a repeated body is measured once.
let lastText = '';
let lastTextBytes = 0;

function chunkLength(chunk: string | Uint8Array): number {
  if (typeof chunk !== 'string') return chunk.byteLength;
  if (chunk === lastText) return lastTextBytes;
  const n = Buffer.byteLength(chunk);
  if (chunk.length <= SMALL_BODY) {
    lastText = chunk;
    lastTextBytes = n;
  }
  return n;
}

/**
 * One HTTP/1.x message exchange on a stream: on a server, reads one request and writes its
 * response; on a client, writes one request and reads its response. Implements
 * {@link HTTPConnection}, which is what a request's delegate answers through.
 *
 * @example
 * ```ts
 * // client side
 * const stream = await IOStream.connect(port, '127.0.0.1');
 * const conn = new HTTP1Connection(stream, true);
 * await conn.writeHeaders(new RequestStartLine('GET', '/', 'HTTP/1.1'), new HTTPHeaders({ Host: 'x' }));
 * conn.finish();
 * await conn.readResponse(myDelegate);
 * ```
 */
export class HTTP1Connection implements HTTPConnection {
  /** The stream this connection reads and writes. */
  readonly stream: IOStream;
  /** Whether this is the client end. */
  readonly isClient: boolean;
  /** What the server knows about the peer. */
  readonly context: HTTPRequestContext | undefined;
  readonly #params: Params;
  readonly #wire: Wire;

  // reading
  #delegate: HTTPMessageDelegate | null = null;
  #state = S_HEAD;
  #remaining = 0;
  #bodyBytes = 0;
  #maxBodySize: number;
  #bodyTimeoutMs: number;
  #bodyDeadline = 0;
  /** Progress through a head or trailer section arriving in pieces (null: none yet). */
  #p: PartialHead | null = null;
  #gzip: Buffer[] | null = null;
  #readFinished = false;
  #delegateDone = false;
  #inRun = false;
  #onDone: ((keepAlive: boolean) => void) | null = null;
  #completed = false;
  #trailers: HTTPHeaders | null = null;
  #messageStartLine: RequestStartLine | ResponseStartLine | null = null;
  #messageHeaders: HTTPHeaders | null = null;

  // writing
  #requestStartLine: RequestStartLine | null = null;
  #requestHeaders: HTTPHeaders | null = null;
  #chunkingOutput = false;
  #expectedRemaining = -1;
  #responseStarted = false;
  #writeFinished = false;
  #disconnectOnFinish = false;
  #pendingWrite: Promise<void> | null = null;
  #closeCallback: (() => void) | null = null;
  #detached = false;

  /**
   * @param stream the connected stream
   * @param isClient whether this is the client end
   * @param params limits and timeouts
   * @param context what the server knows about the peer (server side)
   * @param wire @internal the shared buffer of a server connection
   */
  constructor(
    stream: IOStream,
    isClient: boolean,
    params?: HTTP1ConnectionParameters,
    context?: HTTPRequestContext,
    wire?: Wire,
  ) {
    this.stream = stream;
    this.isClient = isClient;
    this.context = context;
    const p = resolveParams(params, isClient);
    this.#params = p;
    this.#wire = wire ?? new Wire(stream);
    this.#maxBodySize = p.maxBodySize;
    this.#bodyTimeoutMs = p.bodyTimeout;
    if (wire === undefined) this.#wire.owner = this;
  }

  /** Trailer fields of a chunked body, once read (not merged into the headers). */
  get trailers(): HTTPHeaders | null {
    return this.#trailers;
  }

  /** Whether `writeHeaders` was called. */
  get responseStarted(): boolean {
    return this.#responseStarted;
  }

  /** Whether `finish` was called. */
  get writeFinished(): boolean {
    return this.#writeFinished;
  }

  /** Caps this message's body (bytes). Call it before the body is read (in `headersReceived`). */
  setMaxBodySize(n: number): void {
    this.#maxBodySize = n;
  }

  /** Bounds the wait for this message's body (seconds); `null` or `0` removes the bound. */
  setBodyTimeout(timeout: number | null): void {
    this.#bodyTimeoutMs = ms(timeout, 0);
  }

  /** Called once if the connection closes before the exchange completed. `null` removes it. */
  setCloseCallback(cb: (() => void) | null): void {
    this.#closeCallback = cb;
  }

  /**
   * Takes the stream over (e.g. for a protocol switch): this connection and its server loop stop
   * using it. Unparsed bytes are pushed back into the socket for the next reader.
   */
  detach(): IOStream {
    this.#detached = true;
    this.#wire.disarm();
    this.#wire.unread();
    this.#closeCallback = null;
    this.#state = S_CLOSED;
    this.#completed = true;
    const done = this.#onDone;
    this.#onDone = null;
    done?.(false);
    return this.stream;
  }

  /** Whether {@link detach} was called. */
  get detached(): boolean {
    return this.#detached;
  }

  /** Closes the stream now (queued writes are dropped). */
  close(): void {
    this.stream.close();
  }

  /**
   * Gives up on this exchange: the connection closes once what was written so far is flushed
   * (a response cut short tells the client something went wrong).
   */
  abort(): void {
    this.#writeFinished = true;
    this.#disconnectOnFinish = true;
    this.#closeAfterWrites();
  }

  /**
   * Reads one message into `delegate`. On a server, resolves once the request was read and its
   * response finished. Resolves `true` when the connection can carry another message.
   */
  readResponse(delegate: HTTPMessageDelegate): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      this.start(delegate, resolve);
    });
  }

  /** @internal Starts reading into `delegate`; `done(keepAlive)` runs once, maybe synchronously. */
  start(delegate: HTTPMessageDelegate, done: (keepAlive: boolean) => void): void {
    this.#delegate = delegate;
    this.#onDone = done;
    this.#state = S_HEAD;
    this.#run();
  }

  // -------------------------------------------------------------------------------------------
  // Reading

  /** @internal Bytes (or EOF) arrived: continue reading. */
  resume(): void {
    this.#run();
  }

  #run(): void {
    if (this.#completed || this.#detached) return;
    this.#inRun = true;
    try {
      this.#loop();
    } catch (e) {
      this.#inRun = false;
      this.#handleError(e);
      return;
    }
    this.#inRun = false;
    this.#maybeComplete();
  }

  /**
   * Hands the delegate the next piece (≤ chunkSize) of a counted body: a Content-Length body or
   * one chunk's data. True when the loop must stop: waiting for bytes, or for the delegate.
   */
  #deliverCounted(): boolean {
    const w = this.#wire;
    if (w.avail === 0 && !w.pull()) {
      this.#waitBody();
      return true;
    }
    let n = w.avail;
    if (n > this.#remaining) n = this.#remaining;
    if (n > this.#params.chunkSize) n = this.#params.chunkSize;
    this.#remaining -= n;
    return this.#deliver(w.take(n));
  }

  #loop(): void {
    const w = this.#wire;
    for (;;) {
      switch (this.#state) {
        case S_HEAD: {
          if (!this.#readHead()) return;
          break;
        }
        case S_FIXED: {
          if (this.#remaining === 0) {
            this.#state = S_FINISH;
            break;
          }
          if (this.#deliverCounted()) return;
          break;
        }
        case S_CHUNK_SIZE: {
          if (!this.#readChunkSize()) return;
          break;
        }
        case S_CHUNK_DATA: {
          if (this.#remaining === 0) {
            this.#state = S_CHUNK_CRLF;
            break;
          }
          if (this.#deliverCounted()) return;
          break;
        }
        case S_CHUNK_CRLF: {
          if (w.avail < 2 && !w.pull()) {
            this.#waitBody();
            return;
          }
          if (w.avail < 2) break;
          if (w.buf[w.pos] !== 13 || w.buf[w.pos + 1] !== 10) {
            throw new HTTPInputError('Malformed chunked body: no CRLF after chunk data');
          }
          w.skip(2);
          this.#state = S_CHUNK_SIZE;
          break;
        }
        case S_TRAILERS: {
          if (!this.#readTrailers()) return;
          break;
        }
        case S_UNTIL_CLOSE: {
          if (w.avail === 0 && !w.pull()) {
            if (w.eof || this.stream.closed()) {
              this.#state = S_FINISH;
              break;
            }
            w.wait(this, T_NONE, 0);
            return;
          }
          let n = w.avail;
          if (n > this.#params.chunkSize) n = this.#params.chunkSize;
          this.#bodyBytes += n;
          if (this.#bodyBytes > this.#maxBodySize) throw this.#tooLarge();
          if (this.#deliver(w.take(n))) return;
          break;
        }
        case S_FINISH: {
          this.#finishBody();
          return;
        }
        default:
          // S_HEADERS_CB / S_DATA_CB (waiting for the delegate), S_DONE, S_CLOSED
          return;
      }
    }
  }

  /** Parses the head when complete; false when waiting (data, delegate) or finished. */
  #readHead(): boolean {
    const w = this.#wire;
    const p = this.#params;
    for (;;) {
      // Empty lines before a request line are ignored (RFC 9112 §2.2).
      while (w.avail >= 2 && w.buf[w.pos] === 13 && w.buf[w.pos + 1] === 10) w.skip(2);
      if (w.avail > 0) {
        const buf = w.buf;
        const start = w.pos;
        if (this.#p === null || this.#p.headScan === 0) {
          // First look at this head: the usual head is short and arrived whole. One latin1 string
          // of the first bytes, searched as a string (cheaper than a Buffer search plus a slice).
          const avail = buf.length - start;
          let n = avail < HEAD_WINDOW ? avail : HEAD_WINDOW;
          if (n > p.maxHeaderSize) n = p.maxHeaderSize;
          const text = latin1(buf, start, start + n);
          // The usual head: a request line, then field lines one regex pass finds well-formed,
          // then the blank line. Otherwise: a plain search for the blank line.
          let e = -1;
          let rl = -1;
          const cr = text.indexOf('\r');
          if (cr > 0 && text.charCodeAt(cr + 1) === 10 && !this.isClient) {
            const fe = text.charCodeAt(cr + 2) === 13 ? cr : fieldSectionEnd(text, cr + 2);
            if (fe !== -1 && isBlankLine(text, fe)) {
              e = fe;
              rl = cr;
            }
          }
          if (e === -1) e = text.indexOf('\r\n\r\n');
          if (e !== -1) {
            this.#parseHead(text, e, rl);
            w.skip(e + 4);
            return this.#afterHead();
          }
        }
        const limit = start + p.maxHeaderSize;
        // Bytes already searched are not searched again (slow senders cost linear time).
        const ph = (this.#p ??= new PartialHead());
        const from = ph.headScan > 3 ? start + ph.headScan - 3 : start;
        const end = buf.indexOf(CRLFCRLF, from);
        ph.headScan = buf.length - start;
        if (end !== -1 && end + 4 <= limit) {
          this.#p = null;
          const head = buf.toString('latin1', start, end);
          this.#parseHead(head, head.length, -1);
          w.skip(end + 4 - start);
          return this.#afterHead();
        }
        if (end !== -1 || buf.length >= limit) {
          throw new HTTPInputError('Request header fields too large', { status: 431 });
        }
        if (!this.isClient) this.#checkPartialHead(buf, start);
      }
      if (w.pull()) continue;
      if (w.eof || this.stream.closed()) {
        this.#connectionLost();
        return false;
      }
      if (this.isClient) {
        w.wait(this, T_NONE, 0);
      } else if (w.avail === 0 && (this.#p === null || this.#p.headStart === 0)) {
        w.wait(this, T_IDLE, p.idleTimeout);
      } else {
        const t = p.headerTimeout;
        const ph = (this.#p ??= new PartialHead());
        if (ph.headStart === 0) ph.headStart = clockNow();
        w.wait(this, T_HEADER, t === 0 ? 0 : Math.max(1, ph.headStart + t - clockNow()));
      }
      return false;
    }
  }

  /** Rejects a partial request head as early as its bytes allow (each byte is looked at once). */
  #checkPartialHead(buf: Buffer, start: number): void {
    const ph = (this.#p ??= new PartialHead());
    const n = buf.length;
    // Bytes: no CTLs, no bare CR/LF. A CR as the last byte may be half of a CRLF: keep it for later.
    const scanEnd = buf[n - 1] === 13 ? n - 1 : n;
    if (start + ph.pScan < scanEnd) {
      checkHeadBytes(buf.toString('latin1', start + ph.pScan, scanEnd));
      ph.pScan = scanEnd - start;
    }
    if (ph.pHeaders === null) {
      // The request line.
      const eol = buf.indexOf(CRLF, start + (ph.pScanLine > 1 ? ph.pScanLine - 1 : 0));
      if (eol === -1) {
        ph.pScanLine = n - start;
        const len = n - start;
        if (len >= MAX_REQUEST_LINE) throw new HTTPInputError('Request line too long', { status: 414 });
        // The method: only its first bytes matter.
        let i = start;
        const mEnd = Math.min(n, start + MAX_METHOD_LENGTH + 1);
        while (i < mEnd && buf[i] !== 0x20) {
          const c = buf[i] as number;
          if (TCHAR[c] !== 1 && !(c === 13 && i === n - 1)) {
            throw new HTTPInputError('Malformed HTTP request line: invalid method');
          }
          i++;
        }
        if (i - start > MAX_METHOD_LENGTH)
          throw new HTTPInputError('Malformed HTTP request line: method too long');
        if (i < n && buf[i] === 0x20) {
          const sp1 = i;
          if (sp1 + 1 < n && buf[sp1 + 1] === 0x20) {
            throw new HTTPInputError('Malformed HTTP request line: empty request-target');
          }
          const sp2 = buf.indexOf(0x20, sp1 + 1);
          if (sp2 !== -1) {
            // The version: at most a few bytes after the second space.
            let v = buf.toString('latin1', sp2 + 1, Math.min(n, sp2 + 12));
            if (v.endsWith('\r')) v = v.slice(0, -1);
            const vs = classifyVersion(v, true);
            if (vs > 0) {
              throw new HTTPInputError(`Unsupported HTTP version ${JSON.stringify(v.slice(0, 16))}`, {
                status: vs,
              });
            }
          }
        }
        return;
      }
      const line = buf.toString('latin1', start, eol);
      this.#parseRequestLine(line, 0, line.length);
      ph.pHeaders = new HTTPHeaders();
      ph.pLines = eol + 2 - start;
    }
    // Complete header lines, each parsed once.
    const h = ph.pHeaders;
    for (;;) {
      const ls = start + ph.pLines;
      if (ls >= n) return;
      const c = buf[ls];
      if (c === 0x20 || c === 0x09) {
        throw new HTTPInputError('Malformed HTTP headers: obs-fold (line folding) is not allowed');
      }
      const eol = buf.indexOf(CRLF, ls);
      if (eol === -1) return;
      parseHeaderLines(buf.toString('latin1', ls, eol), 0, eol - ls, h);
      ph.pLines = eol + 2 - start;
      const cl = h.get('content-length');
      if (cl !== undefined && parseContentLength(cl) < 0) {
        throw new HTTPInputError(`Invalid Content-Length ${JSON.stringify(cl.slice(0, 40))}`);
      }
      if (cl !== undefined && h.has('transfer-encoding')) {
        throw new HTTPInputError('Message with both Transfer-Encoding and Content-Length');
      }
    }
  }

  /** Parses the request line `s[start, end)`; every byte of it is checked. */
  #parseRequestLine(s: string, start: number, end: number): RequestStartLine {
    if (end - start > MAX_REQUEST_LINE - 2)
      throw new HTTPInputError('Request line too long', { status: 414 });
    const sp1 = s.indexOf(' ', start);
    if (sp1 <= start || sp1 >= end || sp1 - start > MAX_METHOD_LENGTH)
      throw new HTTPInputError('Malformed HTTP request line: bad method');
    const sp2 = s.indexOf(' ', sp1 + 1);
    if (sp2 === -1 || sp2 >= end) throw new HTTPInputError('Malformed HTTP request line: no HTTP version');
    for (let i = start; i < sp1; i++) {
      if (TCHAR[s.charCodeAt(i)] !== 1)
        throw new HTTPInputError('Malformed HTTP request line: invalid method');
    }
    // The common methods and versions as constants (no copies; later comparisons are cheap).
    let method: string;
    const m0 = s.charCodeAt(start);
    if (
      sp1 - start === 3 &&
      m0 === 0x47 &&
      s.charCodeAt(start + 1) === 0x45 &&
      s.charCodeAt(start + 2) === 0x54
    )
      method = 'GET';
    else if (sp1 - start === 4 && m0 === 0x50 && s.startsWith('POST', start)) method = 'POST';
    else method = s.slice(start, sp1);
    checkRequestTargetIn(method, s, sp1 + 1, sp2);
    let version: string;
    const minor = end - sp2 === 9 && isHttp1Prefix(s, sp2 + 1) ? s.charCodeAt(end - 1) : 0;
    if (minor === 0x31) version = 'HTTP/1.1';
    else if (minor === 0x30) version = 'HTTP/1.0';
    else {
      version = s.slice(sp2 + 1, end);
      const vs = classifyVersion(version);
      if (vs !== 0) {
        throw new HTTPInputError(`Unsupported HTTP version ${JSON.stringify(version.slice(0, 16))}`, {
          status: vs,
        });
      }
    }
    const methods = this.#params.methods;
    if (methods !== null && !methods.has(method)) {
      throw new HTTPInputError(`Method not implemented: ${JSON.stringify(method)}`, { status: 501 });
    }
    return new RequestStartLine(method, s.slice(sp1 + 1, sp2), version);
  }

  /**
   * Parses the head `text[0, end)` (start line and fields, without the blank line). `rl`, when not
   * -1, is where the request line ends, its field lines already found well-formed.
   */
  #parseHead(text: string, end: number, rl: number): void {
    let eol = rl !== -1 ? rl : text.indexOf('\r\n');
    if (eol === -1 || eol > end) eol = end;
    const headers = new HTTPHeaders();
    if (this.isClient) {
      const head = end === text.length ? text : text.slice(0, end);
      checkHeadBytes(head);
      if (eol < end) parseHeaderLines(head, eol + 2, end, headers);
      this.#messageStartLine = parseResponseStartLine(head.slice(0, eol));
      this.#fields = FIELDS_UNKNOWN;
    } else {
      // The request line is checked byte by byte by its parser (token method, VCHAR target, exact
      // version), the fields by parseFields: together every byte of the head.
      let sl: RequestStartLine;
      try {
        sl = this.#parseRequestLine(text, 0, eol);
      } catch (e) {
        // A malformed byte or field line anywhere in the head is a 400 before any other verdict
        // on the request line (414, 501, 505).
        if ((e as HTTPInputError).status !== 400) {
          checkHeadBytes(text.slice(0, end));
          if (eol < end) parseFields(text, eol + 2, end, new HTTPHeaders());
        }
        throw e;
      }
      const seen =
        eol >= end
          ? 0
          : rl !== -1
            ? splitFields(text, eol + 2, end, headers, addTokenField)
            : parseFields(text, eol + 2, end, headers, addTokenField);
      this.#messageStartLine = sl;
      this.#requestStartLine = sl;
      this.#requestHeaders = headers;
      this.#fields = seen;
      if (sl.version === 'HTTP/1.1' || (seen & F_HOST) !== 0) {
        if ((seen & F_HOST) === 0) throw new HTTPInputError('Missing Host header');
        if ((seen & F_HOST_REPEATED) !== 0) throw new HTTPInputError('Multiple Host headers');
        if (!isValidHost(parsedFields.host)) throw new HTTPInputError('Invalid Host header');
      }
    }
    this.#messageHeaders = headers;
  }

  /** Which framing fields the request head had (`F_*` bits of parseFields). */
  #fields = FIELDS_UNKNOWN;

  /** Framing and the delegate's `headersReceived`; false when paused or finished. */
  #afterHead(): boolean {
    const headers = this.#messageHeaders as HTTPHeaders;
    const sl = this.#messageStartLine as RequestStartLine | ResponseStartLine;
    const w = this.#wire;
    w.disarm();
    this.#p = null;
    if (this.isClient) {
      const code = (sl as ResponseStartLine).code;
      if (code >= 100 && code < 200) {
        if (headers.has('content-length') || headers.has('transfer-encoding')) {
          throw new HTTPInputError(`Response code ${code} cannot have a body`);
        }
        // Informational: skip it and read the real response.
        this.#messageHeaders = null;
        this.#messageStartLine = null;
        return true;
      }
    }
    this.#determineFraming(sl, headers);
    if (this.#params.decompress && !this.isClient && (this.#fields & F_CONTENT_ENCODING) !== 0) {
      const ce = headers.get('content-encoding');
      if (ce !== undefined && ce.trim().toLowerCase() === 'gzip') {
        this.#gzip = [];
        headers.add('X-Consumed-Content-Encoding', ce);
        headers.delete('Content-Encoding');
      }
    }
    this.#state = S_HEADERS_CB;
    const r = (this.#delegate as HTTPMessageDelegate).headersReceived(sl, headers);
    if (r !== undefined && r !== null && typeof (r as Promise<void>).then === 'function') {
      (r as Promise<void>).then(
        () => this.#afterHeadersCb(),
        (e: unknown) => this.#handleError(e),
      );
      return false;
    }
    this.#startBody();
    return this.#state !== S_DONE && this.#state !== S_CLOSED;
  }

  #afterHeadersCb(): void {
    if (this.#completed || this.#detached) return;
    try {
      this.#startBody();
    } catch (e) {
      this.#handleError(e);
      return;
    }
    this.#run();
  }

  // Framing decided from the head: state to enter after headersReceived.
  #bodyState = S_FINISH;

  #determineFraming(sl: RequestStartLine | ResponseStartLine, headers: HTTPHeaders): void {
    const f = this.#fields;
    const te = (f & F_TRANSFER_ENCODING) !== 0 ? headers.get('transfer-encoding') : undefined;
    const cl = (f & F_CONTENT_LENGTH) !== 0 ? headers.get('content-length') : undefined;
    const isRequest = !this.isClient;
    if (!isRequest) {
      const code = (sl as ResponseStartLine).code;
      const method = this.#requestStartLine?.method;
      if (code === 204 || code === 304 || method === 'HEAD') {
        if (code === 204 && (te !== undefined || (cl !== undefined && cl !== '0'))) {
          throw new HTTPInputError(`Response with code ${code} should not have a body`);
        }
        this.#bodyState = S_FINISH;
        this.#remaining = 0;
        return;
      }
    }
    if (te !== undefined) {
      if (cl !== undefined)
        throw new HTTPInputError('Message with both Transfer-Encoding and Content-Length');
      if (sl.version === 'HTTP/1.0') throw new HTTPInputError('Transfer-Encoding is not allowed in HTTP/1.0');
      if (te.trim().toLowerCase() !== 'chunked') {
        throw new HTTPInputError(`Unsupported Transfer-Encoding ${JSON.stringify(te.slice(0, 40))}`);
      }
      this.#bodyState = S_CHUNK_SIZE;
      return;
    }
    if (cl !== undefined) {
      const n = parseContentLength(cl);
      if (n < 0) throw new HTTPInputError(`Invalid Content-Length ${JSON.stringify(cl.slice(0, 40))}`);
      this.#remaining = n;
      this.#bodyState = n === 0 ? S_FINISH : S_FIXED;
      return;
    }
    // No framing: a request has no body; a response runs until the connection closes.
    this.#remaining = 0;
    this.#bodyState = isRequest ? S_FINISH : S_UNTIL_CLOSE;
    if (!isRequest) this.#disconnectOnFinish = true;
  }

  #startBody(): void {
    const next = this.#bodyState;
    if (!this.isClient && next !== S_FINISH) {
      const req = this.#requestStartLine as RequestStartLine;
      const expect = (this.#requestHeaders as HTTPHeaders).get('expect');
      if (
        req.version === 'HTTP/1.1' &&
        expect !== undefined &&
        expect.trim().toLowerCase() === '100-continue'
      ) {
        if (this.#responseStarted) {
          // Answered before asking for the body: the client may never send it. Skip it and close.
          this.#disconnectOnFinish = true;
          this.#state = S_FINISH;
          return;
        }
        this.#pendingWrite = this.#wire.send('HTTP/1.1 100 Continue\r\n\r\n');
      }
    }
    if (next === S_FIXED && this.#remaining > this.#maxBodySize) throw this.#tooLarge();
    if (this.#bodyTimeoutMs > 0 && next !== S_FINISH) this.#bodyDeadline = clockNow() + this.#bodyTimeoutMs;
    this.#state = next;
  }

  #tooLarge(): HTTPInputError {
    return new HTTPInputError('Request body too large', { status: 413 });
  }

  #waitBody(): void {
    const w = this.#wire;
    if (w.eof || this.stream.closed()) {
      this.#connectionLost();
      return;
    }
    if (this.#bodyDeadline > 0) {
      w.wait(this, T_BODY, Math.max(1, this.#bodyDeadline - clockNow()));
    } else {
      w.wait(this, T_BODY, this.#params.idleTimeout);
    }
  }

  /** Hands a body piece to the delegate; true when the delegate paused us. */
  #deliver(chunk: Buffer): boolean {
    if (this.#gzip !== null) {
      this.#gzip.push(chunk);
      return false;
    }
    if (this.#writeFinished && !this.isClient) return false; // answered early: discard
    const r = (this.#delegate as HTTPMessageDelegate).dataReceived(chunk);
    if (r !== undefined && r !== null && typeof (r as Promise<void>).then === 'function') {
      const back = this.#state;
      this.#state = S_DATA_CB;
      (r as Promise<void>).then(
        () => {
          if (this.#state !== S_DATA_CB) return;
          this.#state = back;
          this.#run();
        },
        (e: unknown) => this.#handleError(e),
      );
      return true;
    }
    return false;
  }

  /** Parses a chunk-size line; false when waiting for more bytes. */
  #readChunkSize(): boolean {
    const w = this.#wire;
    for (;;) {
      if (w.avail > 0) {
        const buf = w.buf;
        const start = w.pos;
        const eol = buf.indexOf(13, start);
        if (eol !== -1 && eol + 1 < buf.length) {
          if (buf[eol + 1] !== 10) throw new HTTPInputError('Malformed chunked body: bare CR');
          if (eol - start > MAX_CHUNK_LINE) throw new HTTPInputError('Chunk extensions too long');
          const size = parseChunkSizeLine(buf, start, eol);
          w.skip(eol + 2 - start);
          if (size === 0) {
            this.#state = S_TRAILERS;
            return true;
          }
          this.#bodyBytes += size;
          if (this.#bodyBytes > this.#maxBodySize) throw this.#tooLarge();
          this.#remaining = size;
          this.#state = S_CHUNK_DATA;
          return true;
        }
        if (eol === -1) {
          if (buf.indexOf(10, start) !== -1) throw new HTTPInputError('Malformed chunked body: bare LF');
          // Check what is there already so garbage fails fast.
          if (buf.length - start > MAX_CHUNK_LINE) throw new HTTPInputError('Chunk extensions too long');
          parseChunkSizeLine(buf, start, buf.length, true);
        }
      }
      if (w.pull()) continue;
      this.#waitBody();
      return false;
    }
  }

  /** Reads the trailer section after the last chunk; false when waiting. */
  #readTrailers(): boolean {
    const w = this.#wire;
    const max = this.#params.maxHeaderSize;
    for (;;) {
      if (w.avail >= 2) {
        const buf = w.buf;
        const start = w.pos;
        if (buf[start] === 13 && buf[start + 1] === 10) {
          w.skip(2);
          this.#state = S_FINISH;
          return true;
        }
        const ph = (this.#p ??= new PartialHead());
        const from = ph.trailerScan > 3 ? start + ph.trailerScan - 3 : start;
        const end = buf.indexOf(CRLFCRLF, from);
        if (end !== -1) {
          if (end + 4 - start > max) throw new HTTPInputError('Trailer section too large', { status: 431 });
          const block = buf.toString('latin1', start, end);
          checkHeadBytes(block);
          const trailers = new HTTPHeaders();
          parseHeaderLines(block, 0, block.length, trailers);
          for (const forbidden of ['Content-Length', 'Transfer-Encoding', 'Host']) {
            if (trailers.has(forbidden)) throw new HTTPInputError(`${forbidden} is not allowed in a trailer`);
          }
          this.#trailers = trailers;
          w.skip(end + 4 - start);
          this.#state = S_FINISH;
          return true;
        }
        if (buf.length - start > max) throw new HTTPInputError('Trailer section too large', { status: 431 });
        const n = buf.length;
        const scanEnd = buf[n - 1] === 13 ? n - 1 : n;
        if (start + ph.trailerScan < scanEnd) {
          checkHeadBytes(buf.toString('latin1', start + ph.trailerScan, scanEnd));
          ph.trailerScan = scanEnd - start;
        }
      } else if (w.avail === 1 && w.buf[w.pos] === 10) {
        throw new HTTPInputError('Malformed chunked body: bare LF');
      }
      if (w.pull()) continue;
      this.#waitBody();
      return false;
    }
  }

  #finishBody(): void {
    this.#wire.disarm();
    if (this.#gzip !== null) {
      const parts = this.#gzip;
      this.#gzip = null;
      const compressed = parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts);
      let plain: Buffer;
      try {
        plain = gunzipSync(compressed, { maxOutputLength: this.#maxBodySize });
      } catch (e) {
        const code = (e as { code?: string }).code;
        if (code === 'ERR_BUFFER_TOO_LARGE' || e instanceof RangeError) {
          throw new HTTPInputError('Decompressed request body too large', { status: 413, cause: e });
        }
        throw new HTTPInputError(`Invalid gzip request body: ${(e as Error).message}`, { cause: e });
      }
      this.#state = S_DATA_CB;
      if (plain.length > 0) {
        const r = (this.#delegate as HTTPMessageDelegate).dataReceived(plain);
        if (r !== undefined && r !== null && typeof (r as Promise<void>).then === 'function') {
          (r as Promise<void>).then(
            () => {
              if (this.#state !== S_DATA_CB) return;
              this.#state = S_FINISH;
              this.#run();
            },
            (e: unknown) => this.#handleError(e),
          );
          return;
        }
      }
    }
    this.#readFinished = true;
    this.#state = S_DONE;
    this.#delegateDone = true;
    (this.#delegate as HTTPMessageDelegate).finish();
  }

  // -------------------------------------------------------------------------------------------
  // Completion and errors

  #maybeComplete(): void {
    if (this.#completed || this.#inRun || !this.#readFinished) return;
    if (!this.isClient && !this.#writeFinished) return;
    this.#complete();
  }

  #complete(): void {
    if (this.#completed) return;
    this.#completed = true;
    const done = this.#onDone;
    this.#onDone = null;
    let keep =
      !this.#disconnectOnFinish && !this.#params.noKeepAlive && !this.stream.closed() && !this.#detached;
    if (keep && !this.isClient && this.#wire.draining) keep = false;
    if (this.isClient && keep) keep = canKeepAlive(this.#messageStartLine, this.#messageHeaders);
    if (this.isClient && keep) this.#wire.unread();
    if (!keep && !this.#detached && !this.isClient) this.#closeAfterWrites();
    if (done === null) return;
    // Only a burst of pipelined requests can outrun the socket; otherwise we wait for bytes anyway.
    if (keep && !this.isClient && this.#pendingWrite !== null && this.#wire.avail > 0) {
      if (this.stream.writeBufferSize + this.#wire.outBytes > WRITE_HIGH_WATER) {
        // The client pipelines faster than it reads: let the socket drain first (bounded).
        this.#wire.arm(T_IDLE, this.#params.idleTimeout);
        this.#pendingWrite.then(
          () => done(true),
          () => done(false),
        );
        return;
      }
    }
    done(keep);
  }

  #closeAfterWrites(): void {
    // A peer that stops reading must not keep the connection forever.
    this.#wire.arm(T_IDLE, this.#params.idleTimeout || ms(DEFAULT_IDLE_CONNECTION_TIMEOUT, 0));
    const p = this.#pendingWrite;
    const close = () => this.stream.close();
    if (p === null) close();
    else p.then(close, close);
  }

  /** The stream closed (EOF or error) while reading. */
  #connectionLost(): void {
    this.#state = S_CLOSED;
    this.#notifyClose();
    this.#completed = true;
    const done = this.#onDone;
    this.#onDone = null;
    this.stream.close();
    done?.(false);
  }

  /** @internal The stream closed; tell the delegate and the close callback. */
  onStreamClosed(): void {
    if (this.#completed && this.#writeFinished) return;
    this.#notifyClose();
    if (!this.#completed) {
      this.#completed = true;
      this.#state = S_CLOSED;
      const done = this.#onDone;
      this.#onDone = null;
      done?.(false);
    }
  }

  #notifyClose(): void {
    const d = this.#delegate;
    if (d !== null && !this.#delegateDone) {
      this.#delegateDone = true;
      try {
        d.onConnectionClose();
      } catch (e) {
        appLog.error(`Exception in onConnectionClose: ${describeError(e)}`);
      }
    }
    const cb = this.#closeCallback;
    if (cb !== null) {
      this.#closeCallback = null;
      try {
        cb();
      } catch (e) {
        appLog.error(`Exception in connection close callback: ${describeError(e)}`);
      }
    }
  }

  #handleError(e: unknown): void {
    if (this.#completed || this.#detached) return;
    this.#state = S_CLOSED;
    let status = 500;
    if (e instanceof HTTPInputError) {
      status = e.status;
      genLog.info(`Malformed HTTP message from ${this.context?.remoteIp ?? 'peer'}: ${e.message}`);
    } else if (e instanceof HTTPOutputError) {
      genLog.warn(`Bad HTTP output: ${e.message}`);
    } else {
      appLog.error(`Uncaught exception in HTTP delegate: ${describeError(e)}`);
    }
    if (!this.isClient && !this.#responseStarted && !this.stream.closed()) {
      this.#responseStarted = true;
      this.#pendingWrite = this.#wire.send(errorResponse(status));
    }
    this.#writeFinished = true;
    this.#notifyClose();
    this.#completed = true;
    this.#disconnectOnFinish = true;
    this.#wire.disarm();
    this.#closeAfterWrites();
    const done = this.#onDone;
    this.#onDone = null;
    done?.(false);
  }

  /** @internal */
  onTimeout(kind: number): void {
    if (this.#completed) {
      // Done reading and answering, but the peer does not take the answer: give up.
      this.stream.close();
      return;
    }
    if (kind === T_IDLE) {
      this.#completed = true;
      this.#state = S_CLOSED;
      this.stream.close();
      const done = this.#onDone;
      this.#onDone = null;
      done?.(false);
      return;
    }
    this.#handleError(
      new HTTPInputError(
        kind === T_HEADER ? 'Timeout reading request head' : 'Timeout reading request body',
        {
          status: 408,
        },
      ),
    );
  }

  // -------------------------------------------------------------------------------------------
  // Writing

  /**
   * Writes the start line and headers (plus `chunk`, in the same socket write). On a server the
   * response is chunked automatically for HTTP/1.1 without `Content-Length` (not for HEAD, 1xx,
   * 204, 304); `Connection: close` is added when the connection will close; `Date` when absent.
   *
   * @throws {HTTPOutputError} for a field with CR/LF or a bad name (nothing is written), or a
   *   second call.
   */
  writeHeaders(
    startLine: RequestStartLine | ResponseStartLine,
    headers: HTTPHeaders,
    chunk?: string | Uint8Array,
  ): Promise<void> {
    if (this.#responseStarted && !this.isClient) throw new HTTPOutputError('writeHeaders called twice');
    const fields = headers.serialize();
    let latin1 = serializeState.latin1;
    let head: string;
    if (this.isClient) {
      const req = startLine as RequestStartLine;
      if (!isToken(req.method) || !isPlainTarget(req.path)) throw new HTTPOutputError('Invalid request line');
      this.#requestStartLine = req;
      this.#requestHeaders = headers;
      const m = req.method;
      this.#chunkingOutput =
        (m === 'POST' || m === 'PUT' || m === 'PATCH') &&
        !headers.has('content-length') &&
        !headers.has('transfer-encoding');
      head = `${m} ${req.path} HTTP/1.1\r\n${fields}`;
      if (this.#chunkingOutput) head += 'Transfer-Encoding: chunked\r\n';
      const cl = headers.get('content-length');
      this.#expectedRemaining = cl === undefined ? -1 : parseContentLength(cl);
    } else {
      const res = startLine as ResponseStartLine;
      const code = res.code;
      const status = statusLine(code, res.reason);
      if (status.latin1) latin1 = true;
      const st = serializeState;
      const cl = st.contentLength;
      const hasCl = cl !== undefined;
      const req = this.#requestStartLine;
      const reqVersion = req?.version ?? 'HTTP/1.1';
      const isHead = req?.method === 'HEAD';
      const noBody = code === 204 || code === 304 || (code >= 100 && code < 200);
      this.#chunkingOutput =
        reqVersion === 'HTTP/1.1' && !isHead && !noBody && !hasCl && !st.transferEncoding;
      head = status.line + fields;
      const reqConn = this.#requestHeaders?.get('connection');
      // Answering before the body was read: the rest of it is discarded and the connection closes.
      if (!this.#readFinished && this.#requestStartLine !== null && this.#bodyState !== S_FINISH) {
        this.#disconnectOnFinish = true;
      }
      if (reqVersion === 'HTTP/1.1') {
        if (
          this.#params.noKeepAlive ||
          this.#wire.draining ||
          (reqConn !== undefined && hasToken(reqConn, 'close'))
        ) {
          this.#disconnectOnFinish = true;
        }
      } else {
        const wantsKeepAlive = reqConn !== undefined && hasToken(reqConn, 'keep-alive');
        if (
          !wantsKeepAlive ||
          this.#params.noKeepAlive ||
          this.#wire.draining ||
          (!hasCl && !isHead && !noBody)
        ) {
          this.#disconnectOnFinish = true;
        } else if (!st.connection) {
          head += 'Connection: keep-alive\r\n';
        }
      }
      if (this.#disconnectOnFinish && reqVersion === 'HTTP/1.1' && !st.connection) {
        head += 'Connection: close\r\n';
      }
      if (this.#chunkingOutput) head += 'Transfer-Encoding: chunked\r\n';
      if (!st.date) head += dateHeaderLine();
      if (isHead || code === 304 || noBody) this.#expectedRemaining = 0;
      else if (hasCl) {
        const n = parseContentLength(cl);
        if (n < 0) throw new HTTPOutputError('Invalid Content-Length header');
        this.#expectedRemaining = n;
      } else this.#expectedRemaining = -1;
    }
    head += '\r\n';
    this.#responseStarted = true;
    const len = chunk === undefined ? 0 : chunkLength(chunk);
    if (len > 0 && len <= COALESCE_LIMIT && !this.#chunkingOutput) {
      // Head and body in one buffer: one plain socket write.
      this.#account(len);
      const ascii = !latin1;
      let out: string | Buffer;
      let outLatin1 = false;
      if (typeof chunk === 'string' && ascii) out = head + chunk;
      else if (Buffer.isBuffer(chunk)) {
        // One latin1 string (a byte per character) that the socket writes without a Buffer.
        out = head + bodyText(chunk, len);
        outLatin1 = true;
      } else {
        const b = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Uint8Array);
        out = Buffer.allocUnsafe(head.length + b.byteLength);
        writeLatin1(out, head);
        out.set(b, head.length);
      }
      const p = this.#wire.send(out, outLatin1);
      this.#pendingWrite = p;
      return p;
    }
    let p = this.#wire.send(head, latin1);
    this.#pendingWrite = p;
    if (len > 0) p = this.write(chunk as string | Uint8Array);
    return p;
  }

  /**
   * Writes a body chunk (chunk-encoded when the message is chunked).
   *
   * @throws {HTTPOutputError} when writing past the declared `Content-Length` (the connection is
   *   closed), after `finish`, or before `writeHeaders`.
   */
  write(chunk: string | Uint8Array): Promise<void> {
    if (!this.#responseStarted) throw new HTTPOutputError('write called before writeHeaders');
    if (this.#writeFinished) throw new HTTPOutputError('write called after finish');
    const len = chunkLength(chunk);
    this.#account(len);
    if (len === 0) return this.#pendingWrite ?? Promise.resolve();
    let p: Promise<void>;
    if (this.#chunkingOutput) {
      const w = this.#wire;
      w.send(`${len.toString(16)}\r\n`);
      w.send(chunk);
      p = w.send('\r\n');
    } else {
      p = this.#wire.send(chunk);
    }
    this.#pendingWrite = p;
    return p;
  }

  #account(len: number): void {
    if (this.#expectedRemaining >= 0) {
      this.#expectedRemaining -= len;
      if (this.#expectedRemaining < 0) {
        // Earlier responses still go out; this one is cut.
        this.#writeFinished = true;
        this.#disconnectOnFinish = true;
        this.#closeAfterWrites();
        throw new HTTPOutputError(
          'Tried to write more data than Content-Length',
          HTTPErrorCode.CONTENT_LENGTH_MISMATCH,
        );
      }
    }
  }

  /**
   * Ends the message: writes the last chunk of a chunked body; checks the declared
   * `Content-Length` was met.
   *
   * @throws {HTTPOutputError} when fewer bytes than `Content-Length` were written (the connection
   *   is closed).
   */
  finish(): void {
    if (this.#writeFinished) return;
    if (!this.#responseStarted) throw new HTTPOutputError('finish called before writeHeaders');
    if (this.#expectedRemaining > 0 && !this.stream.closed()) {
      const n = this.#expectedRemaining;
      this.#writeFinished = true;
      this.#disconnectOnFinish = true;
      this.#closeAfterWrites();
      throw new HTTPOutputError(
        `Tried to write ${n} bytes less than Content-Length`,
        HTTPErrorCode.CONTENT_LENGTH_MISMATCH,
      );
    }
    if (this.#chunkingOutput) this.#pendingWrite = this.#wire.send('0\r\n\r\n');
    this.#writeFinished = true;
    if (!this.isClient && !this.#readFinished) {
      // Answered before the request was read in full: discard the rest and close afterwards.
      this.#disconnectOnFinish = true;
    }
    if (this.isClient) return;
    this.#maybeComplete();
  }
}

function canKeepAlive(sl: RequestStartLine | ResponseStartLine | null, headers: HTTPHeaders | null): boolean {
  if (sl === null || headers === null) return false;
  const conn = headers.get('connection');
  if (sl.version === 'HTTP/1.1') return conn === undefined || !hasToken(conn, 'close');
  return conn !== undefined && hasToken(conn, 'keep-alive');
}

/** The response a server sends for a bad request. */
export function errorResponse(status: number): string {
  return `HTTP/1.1 ${status} ${responses[status] ?? 'Error'}\r\nConnection: close\r\nContent-Length: 0\r\n${dateHeaderLine()}\r\n`;
}

/**
 * Parses `1*HEXDIG *( BWS ";" BWS token [ BWS "=" BWS ( token / quoted-string ) ] )` in
 * `buf[start, end)` and returns the size. With `partial`, only checks the bytes so far.
 */
function parseChunkSizeLine(buf: Buffer, start: number, end: number, partial = false): number {
  let i = start;
  let size = 0;
  let digits = 0;
  while (i < end) {
    const c = buf[i] as number;
    let d: number;
    if (c >= 0x30 && c <= 0x39) d = c - 0x30;
    else if (c >= 0x61 && c <= 0x66) d = c - 0x57;
    else if (c >= 0x41 && c <= 0x46) d = c - 0x37;
    else break;
    if (size > 0 || d > 0) digits++;
    if (digits > 13) throw new HTTPInputError('Chunk size too large');
    size = size * 16 + d;
    i++;
  }
  if (i === start) {
    if (partial && i === end) return 0;
    throw new HTTPInputError('Malformed chunked body: invalid chunk size');
  }
  // chunk extensions
  while (i < end) {
    let ws = 0;
    while (i < end && (buf[i] === 0x20 || buf[i] === 0x09)) {
      i++;
      ws++;
    }
    if (i === end) {
      if (ws > 0 && !partial) throw new HTTPInputError('Malformed chunked body: whitespace after chunk size');
      break;
    }
    if (buf[i] !== 0x3b) throw new HTTPInputError('Malformed chunked body: invalid chunk extension');
    i++;
    while (i < end && (buf[i] === 0x20 || buf[i] === 0x09)) i++;
    const ns = i;
    while (i < end && TCHAR[buf[i] as number] === 1) i++;
    if (i === end) {
      if (partial) break;
      if (i === ns) throw new HTTPInputError('Malformed chunked body: empty chunk extension');
      break;
    }
    if (i === ns) throw new HTTPInputError('Malformed chunked body: empty chunk extension');
    let j = i;
    while (j < end && (buf[j] === 0x20 || buf[j] === 0x09)) j++;
    if (j < end && buf[j] === 0x3d) {
      i = j + 1;
      while (i < end && (buf[i] === 0x20 || buf[i] === 0x09)) i++;
      if (i === end) {
        if (partial) break;
        throw new HTTPInputError('Malformed chunked body: empty chunk extension value');
      }
      if (buf[i] === 0x22) {
        i++;
        let closed = false;
        while (i < end) {
          const c = buf[i] as number;
          if (c === 0x22) {
            closed = true;
            i++;
            break;
          }
          if (c === 0x5c) {
            i++;
            if (i === end) break;
            const q = buf[i] as number;
            if (q !== 0x09 && (q < 0x20 || q === 0x7f)) {
              throw new HTTPInputError('Malformed chunked body: invalid quoted-pair in chunk extension');
            }
            i++;
            continue;
          }
          if (c !== 0x09 && (c < 0x20 || c === 0x7f)) {
            throw new HTTPInputError('Malformed chunked body: invalid byte in chunk extension');
          }
          i++;
        }
        if (!closed) {
          if (partial) break;
          throw new HTTPInputError('Malformed chunked body: unterminated quoted chunk extension');
        }
      } else {
        const vs = i;
        while (i < end && TCHAR[buf[i] as number] === 1) i++;
        if (i === vs) throw new HTTPInputError('Malformed chunked body: invalid chunk extension value');
      }
    } else {
      i = j === end && partial ? j : i;
    }
  }
  return size;
}

/** What {@link HTTP1ServerConnection.startServing} takes (an `HTTPServerConnectionDelegate`). */
interface ServerDelegate {
  startRequest(serverConn: object, requestConn: HTTPConnection): HTTPMessageDelegate;
  onClose(serverConn: object): void;
}

/**
 * The server end of an HTTP/1.x connection: reads requests one after another (pipelined ones in
 * a synchronous loop while their bytes are buffered) and hands each to the delegate, answering
 * strictly in order.
 */
export class HTTP1ServerConnection {
  /** The connection's stream. */
  readonly stream: IOStream;
  /** What the server knows about the peer. */
  readonly context: HTTPRequestContext | undefined;
  readonly #params: Params;
  readonly #wire: Wire;
  #delegate: ServerDelegate | null = null;
  #current: HTTP1Connection | null = null;
  #looping = false;
  #again = false;
  #closed = false;
  #servingWaiters: Array<() => void> | null = null;

  constructor(stream: IOStream, params?: HTTP1ConnectionParameters, context?: HTTPRequestContext) {
    this.stream = stream;
    this.context = context;
    this.#params = resolveParams(params, false);
    this.#wire = new Wire(stream);
    this.#wire.owner = this;
    this.#wire.readDirectly();
  }

  /** Starts reading requests and handing them to `delegate`. */
  startServing(delegate: ServerDelegate): void {
    if (this.#delegate !== null) throw new Error('startServing called twice');
    this.#delegate = delegate;
    this.stream.setCloseCallback(this.#onStreamClose);
    this.stream.setNodelay(true);
    this.#loop();
  }

  /** Whether a request is being read or answered right now. */
  get busy(): boolean {
    return this.#current !== null;
  }

  /** Closes the connection and resolves when the serving loop ended. */
  close(): Promise<void> {
    this.stream.close();
    this.#end();
    return this.#served();
  }

  /** Resolves once the connection is closed and the serving loop ended. */
  #served(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    return new Promise<void>((r) => {
      (this.#servingWaiters ??= []).push(r);
    });
  }

  /**
   * Graceful shutdown: an idle connection closes now; a request in progress is answered with
   * `Connection: close` (when its headers are not yet out) and the connection closes after it.
   * Resolves when the connection closed.
   */
  drain(): Promise<void> {
    this.#wire.draining = true;
    const done = this.#served();
    if (this.#current === null) this.#wire.closeSoon();
    return done;
  }

  #loop(): void {
    if (this.#looping) {
      this.#again = true;
      return;
    }
    this.#looping = true;
    const w = this.#wire;
    do {
      this.#again = false;
      if (this.#closed) break;
      if (w.avail === 0 && !w.pull()) {
        if (w.eof || this.stream.closed()) {
          this.stream.close();
          this.#end();
          break;
        }
        if (w.draining) {
          w.closeSoon();
          break;
        }
        w.wait(this, T_IDLE, this.#params.idleTimeout);
        break;
      }
      nextReading(); // a new request: its own clock reading
      const conn = new HTTP1Connection(this.stream, false, this.#params as never, this.context, w);
      this.#current = conn;
      let delegate: HTTPMessageDelegate;
      try {
        delegate = (this.#delegate as ServerDelegate).startRequest(this, conn);
      } catch (e) {
        appLog.error(`Exception in startRequest: ${describeError(e)}`);
        this.stream.close();
        this.#end();
        break;
      }
      conn.start(delegate, this.#requestDone);
    } while (this.#again);
    this.#looping = false;
  }

  /** @internal Bytes (or EOF) arrived while idle. */
  resume(): void {
    this.#loop();
  }

  #requestDone = (keepAlive: boolean): void => {
    const conn = this.#current;
    this.#current = null;
    if (conn?.detached) {
      // The stream belongs to someone else now.
      this.stream.setCloseCallback(null);
      this.#end();
      return;
    }
    if (!keepAlive || this.#closed) {
      if (!this.#closed && this.stream.closed()) this.#end();
      else if (!this.#closed) {
        // closeAfterWrites is in flight; end when the stream closes.
        this.stream.setCloseCallback(this.#onStreamClose);
      }
      return;
    }
    this.#loop();
  };

  /** @internal A timeout of this connection expired. */
  onTimeout(kind: number): void {
    const cur = this.#current;
    if (cur !== null) {
      cur.onTimeout(kind);
      return;
    }
    // Idle between requests.
    this.stream.close();
    this.#end();
  }

  #onStreamClose = (): void => {
    const cur = this.#current;
    this.#current = null;
    cur?.onStreamClosed();
    this.#end();
  };

  #end(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#wire.dispose();
    const d = this.#delegate;
    if (d !== null) {
      try {
        d.onClose(this);
      } catch (e) {
        appLog.error(`Exception in onClose: ${describeError(e)}`);
      }
    }
    const waiters = this.#servingWaiters;
    this.#servingWaiters = null;
    if (waiters !== null) for (const w of waiters) w();
  }
}
