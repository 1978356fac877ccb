/**
 * HTTP utilities shared by clients and servers: headers, start lines, the server-side request
 * object, body/cookie/query parsing, dates and URLs. Tornado's `tornado.httputil`.
 *
 * @module
 */
import { STATUS_CODES } from 'node:http';
import { unescape as qsUnescape } from 'node:querystring';
import { Busboy, type BusboyFileStream, type BusboyInstance } from '@fastify/busboy';
import { clockNow } from './clock';
import { HTTPErrorCode, HTTPInputError, HTTPOutputError } from './errors';
import { isSupportedVersion, isToken, parseHeaderLine } from './parse';

/** Reason phrases by status code (`responses[404] === 'Not Found'`). */
export const responses: Readonly<Record<number, string | undefined>> = STATUS_CODES;

const BAD_OUT_VALUE = /[^\t\x20-\x7e\x80-\xff]/;
/** Anything but HTAB, SP and VCHAR. */
const NOT_PLAIN = /[^\t\x20-\x7e]/;

/**
 * @internal What the last {@link HTTPHeaders.serialize} saw, so the writer needs no further
 * lookups: bytes above 0x7F, and the fields that shape the framing.
 */
export const serializeState = {
  latin1: false,
  /** The `Content-Length` value (repeats joined with ","), or `undefined`. */
  contentLength: undefined as string | undefined,
  transferEncoding: false,
  connection: false,
  date: false,
};

/** Whether a string may be sent as a reason phrase or field value (HTAB, SP, VCHAR, obs-text). */
export function isSendable(v: string): boolean {
  return !BAD_OUT_VALUE.test(v);
}

/**
 * The last header block {@link HTTPHeaders.serialize} built, with the fields it came from:
 * responses repeat the same fields, so the text (already validated) is reused when every name and
 * value is equal again.
 */
const lastBlock = {
  entries: [] as string[],
  text: '',
  contentLength: undefined as string | undefined,
  transferEncoding: false,
  connection: false,
  date: false,
  latin1: false,
};

/** The fields of an empty {@link HTTPHeaders} (shared, never written: the first field replaces it). */
const NO_FIELDS: Array<string | string[]> = [];

/** Above this many distinct names, lookups go through a `Map` keyed by the lower-cased name. */
const INDEX_MIN = 12;

/**
 * Whether two names of the same length are equal ignoring case, exactly as comparing their
 * `toLowerCase()` would say: ASCII letters fold inline, anything beyond ASCII takes the slow path.
 */
function sameName(a: string, b: string): boolean {
  const n = a.length;
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    if (x > 0x7f || y > 0x7f) return a.toLowerCase() === b.toLowerCase();
    const lx = x | 0x20;
    if (lx !== (y | 0x20) || lx < 0x61 || lx > 0x7a) return false;
  }
  return true;
}

/**
 * The one character whose `toLowerCase()` is longer than itself ('İ' -> 'i' + U+0307), and the
 * combining dot it brings: only a name holding one of them can equal a name of another length.
 */
const DOTTED_I = '\u0130';
const COMBINING_DOT = '\u0307';

/**
 * Checks a field value for the wire: 0 when plain (HTAB, SP, VCHAR), 1 when it holds obs-text
 * (bytes 0x80–0xFF: the head goes out as latin1).
 *
 * @throws {HTTPOutputError} for CR, LF, NUL, other control bytes or characters above U+00FF.
 */
function checkOutValue(v: string, name: string): number {
  if (v.length > 8) {
    // Longer values: the regex engine scans faster than a loop.
    if (!NOT_PLAIN.test(v)) return 0;
    if (BAD_OUT_VALUE.test(v)) throw new HTTPOutputError(`Invalid header value for ${name}`);
    return 1;
  }
  let wide = 0;
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c >= 0x20 && c < 0x7f) continue;
    if (c === 0x09) continue;
    if (c >= 0x80 && c <= 0xff) wide = 1;
    else throw new HTTPOutputError(`Invalid header value for ${name}`);
  }
  return wide;
}

/**
 * @internal `headers.add(name, value)` for a `name` known to be a token (the wire parser's fields).
 */
export let addTokenField: (h: HTTPHeaders, name: string, value: string) => void = () => {};

// Kinds of field names for serialize.
const K_OTHER = 0;
const K_DATE = 1;
const K_CONNECTION = 2;
const K_CONTENT_LENGTH = 3;
const K_TRANSFER_ENCODING = 4;
/** Field names already checked by serialize, with their kind: responses repeat the same few. */
const nameKinds = new Map<string, number>();
const NAME_KINDS_MAX = 1024;

/**
 * The kind of a field name about to be sent (whether it shapes the framing).
 *
 * @throws {HTTPOutputError} for a name that is not a token.
 */
function nameKind(name: string): number {
  const known = nameKinds.get(name);
  if (known !== undefined) return known;
  if (!isToken(name)) throw new HTTPOutputError(`Invalid header name ${JSON.stringify(name)}`);
  let k = K_OTHER;
  const n = name.length;
  if (n === 4 && sameName(name, 'date')) k = K_DATE;
  else if (n === 10 && sameName(name, 'connection')) k = K_CONNECTION;
  else if (n === 14 && sameName(name, 'content-length')) k = K_CONTENT_LENGTH;
  else if (n === 17 && sameName(name, 'transfer-encoding')) k = K_TRANSFER_ENCODING;
  if (nameKinds.size >= NAME_KINDS_MAX) nameKinds.clear();
  nameKinds.set(name, k);
  return k;
}

/**
 * A case-insensitive, multi-valued, order-keeping dictionary of HTTP header fields.
 *
 * `get` joins repeated fields with `","` (RFC 9110 §5.3); `getList` returns them apart;
 * iteration yields every `[name, value]` pair, grouped by name in first-seen order.
 *
 * Fields are kept as the caller wrote them (no lower-cased copies): a lookup compares names
 * ignoring ASCII case, and only a set of many distinct names builds a lower-cased index.
 *
 * @example
 * ```ts
 * const h = new HTTPHeaders({ 'Content-Type': 'text/html' });
 * h.add('Set-Cookie', 'A=B');
 * h.add('set-cookie', 'C=D');
 * h.get('content-type'); // 'text/html'
 * h.getList('Set-Cookie'); // ['A=B', 'C=D']
 * ```
 */
export class HTTPHeaders implements Iterable<[string, string]> {
  // One entry per distinct name, two slots each: the name as first added, then its value (a
  // string) or its values (an array, once the name repeats).
  #a: Array<string | string[]> = NO_FIELDS;
  /** Lower-cased name -> slot of its entry; only for many names, built on demand. */
  #index: Map<string, number> | null = null;
  /** A stored name holds {@link DOTTED_I} or {@link COMBINING_DOT}. */
  #dotted = false;

  constructor(init?: Record<string, string> | Iterable<readonly [string, string]> | HTTPHeaders) {
    if (init === undefined || init === null) return;
    if (init instanceof HTTPHeaders) {
      const src = init.#a;
      this.#dotted = init.#dotted;
      if (src.length > 0) {
        const a = src.slice();
        for (let i = 1; i < a.length; i += 2) {
          const x = a[i] as string | string[];
          if (typeof x !== 'string') a[i] = x.slice();
        }
        this.#a = a;
      }
    } else if (typeof (init as Iterable<unknown>)[Symbol.iterator] === 'function') {
      for (const [k, v] of init as Iterable<readonly [string, string]>) this.add(k, v);
    } else {
      for (const k of Object.keys(init)) this.add(k, (init as Record<string, string>)[k] as string);
    }
  }

  /** The slot of `name`'s entry, or -1. */
  #find(name: string): number {
    const a = this.#a;
    const n = a.length;
    if (n > INDEX_MIN * 2) return this.#lookup(name);
    const len = name.length;
    for (let i = 0; i < n; i += 2) {
      const k = a[i] as string;
      if (k === name || (k.length === len && sameName(k, name))) return i;
    }
    // Lower-casing may change a name's length ('İ' -> 'i̇'): then compare the slow way.
    if (this.#dotted) {
      const lower = name.toLowerCase();
      for (let i = 0; i < n; i += 2) if ((a[i] as string).toLowerCase() === lower) return i;
    }
    return -1;
  }

  #lookup(name: string): number {
    let index = this.#index;
    if (index === null) {
      index = new Map();
      const a = this.#a;
      for (let i = 0; i < a.length; i += 2) index.set((a[i] as string).toLowerCase(), i);
      this.#index = index;
    }
    return index.get(name.toLowerCase()) ?? -1;
  }

  #append(name: string, value: string): void {
    let a = this.#a;
    if (a === NO_FIELDS) {
      // The first field: an array of just its two slots (most sets hold a few fields).
      a = [name, value];
      this.#a = a;
    } else a.push(name, value);
    if (name.indexOf(DOTTED_I) !== -1 || name.indexOf(COMBINING_DOT) !== -1) this.#dotted = true;
    if (this.#index !== null) this.#index.set(name.toLowerCase(), a.length - 2);
  }

  /** Adds a value, keeping earlier values of the same name. */
  add(name: string, value: string): void {
    const v = typeof value === 'string' ? value : String(value);
    const i = this.#find(name);
    if (i === -1) this.#append(name, v);
    else this.#more(i, v);
  }

  #more(i: number, v: string): void {
    const a = this.#a;
    const cur = a[i + 1] as string | string[];
    if (typeof cur === 'string') a[i + 1] = [cur, v];
    else cur.push(v);
  }

  static {
    addTokenField = (h: HTTPHeaders, name: string, value: string): void => {
      const i = h.#find(name);
      if (i !== -1) {
        h.#more(i, value);
        return;
      }
      // A token is ASCII: no dotted-I check.
      let a = h.#a;
      if (a === NO_FIELDS) {
        a = [name, value];
        h.#a = a;
      } else a.push(name, value);
      if (h.#index !== null) h.#index.set(name.toLowerCase(), a.length - 2);
    };
  }

  /** The value of `name` (repeats joined with ","), or `undefined` (or `dflt`) when absent. */
  get(name: string): string | undefined;
  get(name: string, dflt: string): string;
  get(name: string, dflt?: string): string | undefined {
    const i = this.#find(name);
    if (i === -1) return dflt;
    const v = this.#a[i + 1] as string | string[];
    return typeof v === 'string' ? v : v.join(',');
  }

  /** Every value of `name`, in order; `[]` when absent. */
  getList(name: string): string[] {
    const i = this.#find(name);
    if (i === -1) return [];
    const v = this.#a[i + 1] as string | string[];
    return typeof v === 'string' ? [v] : v.slice();
  }

  /** Replaces every value of `name` with one value. */
  set(name: string, value: string): void {
    const v = typeof value === 'string' ? value : String(value);
    const i = this.#find(name);
    if (i === -1) this.#append(name, v);
    else this.#a[i + 1] = v;
  }

  /** Whether `name` is present. */
  has(name: string): boolean {
    return this.#find(name) !== -1;
  }

  /** Removes every value of `name`; returns whether it was present. */
  delete(name: string): boolean {
    const i = this.#find(name);
    if (i === -1) return false;
    this.#a.splice(i, 2);
    this.#index = null;
    return true;
  }

  /** Removes every field. */
  clear(): void {
    this.#a = NO_FIELDS;
    this.#index = null;
    this.#dotted = false;
  }

  /** Number of distinct field names. */
  get size(): number {
    return this.#a.length >> 1;
  }

  /** The distinct field names, each as first added. */
  *names(): IterableIterator<string> {
    const a = this.#a;
    for (let i = 0; i < a.length; i += 2) yield a[i] as string;
  }

  /** Every `[name, value]` pair (repeated fields yield one pair per value). Alias of iteration. */
  getAll(): IterableIterator<[string, string]> {
    return this[Symbol.iterator]();
  }

  *[Symbol.iterator](): IterableIterator<[string, string]> {
    const a = this.#a;
    for (let i = 0; i < a.length; i += 2) {
      const name = a[i] as string;
      const v = a[i + 1] as string | string[];
      if (typeof v === 'string') yield [name, v];
      else for (const x of v) yield [name, x];
    }
  }

  /**
   * Calls `fn(name, value)` for every pair; the allocation-free form of iteration used on hot
   * paths.
   */
  forEach(fn: (name: string, value: string) => void): void {
    const a = this.#a;
    for (let i = 0; i < a.length; i += 2) {
      const name = a[i] as string;
      const v = a[i + 1] as string | string[];
      if (typeof v === 'string') fn(name, v);
      else for (const x of v) fn(name, x);
    }
  }

  /** A deep copy. */
  copy(): HTTPHeaders {
    return new HTTPHeaders(this);
  }

  /** `{ name: joinedValue }`, names as first added. */
  toJSON(): Record<string, string> {
    const out: Record<string, string> = {};
    const a = this.#a;
    for (let i = 0; i < a.length; i += 2) {
      const v = a[i + 1] as string | string[];
      out[a[i] as string] = typeof v === 'string' ? v : v.join(',');
    }
    return out;
  }

  /**
   * The fields as `Name: value\r\n` lines for the wire, validated: names must be tokens and
   * values must not hold CR, LF, NUL or other control bytes, nor characters above U+00FF.
   *
   * @throws {HTTPOutputError} for a field that cannot be sent.
   */
  serialize(): string {
    const a = this.#a;
    const n = a.length;
    const last = lastBlock.entries;
    if (n === last.length && n > 0) {
      // The same fields as the last block (names and values equal, each once): the same text.
      let i = 0;
      while (i < n && a[i] === last[i]) i++;
      if (i === n) {
        const st = serializeState;
        st.contentLength = lastBlock.contentLength;
        st.transferEncoding = lastBlock.transferEncoding;
        st.connection = lastBlock.connection;
        st.date = lastBlock.date;
        st.latin1 = lastBlock.latin1;
        return lastBlock.text;
      }
    }
    let s = '';
    let wide = 0;
    let contentLength: string | undefined;
    let transferEncoding = false;
    let connection = false;
    let date = false;
    let repeated = false;
    for (let i = 0; i < n; i += 2) {
      const name = a[i] as string;
      const kind = nameKind(name);
      const v = a[i + 1] as string | string[];
      if (typeof v === 'string') {
        wide |= checkOutValue(v, name);
        s += `${name}: ${v}\r\n`;
      } else {
        repeated = true;
        for (const m of v) {
          wide |= checkOutValue(m, name);
          s += `${name}: ${m}\r\n`;
        }
      }
      if (kind !== K_OTHER) {
        if (kind === K_CONTENT_LENGTH) contentLength = typeof v === 'string' ? v : v.join(',');
        else if (kind === K_DATE) date = true;
        else if (kind === K_CONNECTION) connection = true;
        else transferEncoding = true;
      }
    }
    const st = serializeState;
    st.contentLength = contentLength;
    st.transferEncoding = transferEncoding;
    st.connection = connection;
    st.date = date;
    st.latin1 = wide !== 0;
    if (!repeated && n > 0) {
      // Remembered only without repeated fields: their value arrays may change in place.
      const b = lastBlock;
      b.entries = a.slice() as string[];
      b.text = s;
      b.contentLength = contentLength;
      b.transferEncoding = transferEncoding;
      b.connection = connection;
      b.date = date;
      b.latin1 = wide !== 0;
    }
    return s;
  }

  /** The fields as `Name: value\r\n` lines. */
  toString(): string {
    let s = '';
    this.forEach((n, v) => {
      s += `${n}: ${v}\r\n`;
    });
    return s;
  }

  /**
   * Parses a header block (lines separated by CRLF or LF, an optional blank line ends it).
   * Strict like the wire parser: no obs-fold, no whitespace before a colon, token names, no
   * control bytes in values.
   *
   * @throws {HTTPInputError} on malformed input.
   */
  static parse(text: string): HTTPHeaders {
    const h = new HTTPHeaders();
    let pos = 0;
    const n = text.length;
    while (pos < n) {
      let eol = text.indexOf('\n', pos);
      if (eol === -1) eol = n;
      const lineEnd = eol > pos && text.charCodeAt(eol - 1) === 13 ? eol - 1 : eol;
      if (lineEnd === pos) break; // blank line: end of the block
      for (let i = pos; i < lineEnd; i++) {
        const c = text.charCodeAt(i);
        if (c > 255) throw new HTTPInputError('Malformed HTTP header line: non-latin1 character');
      }
      parseHeaderLine(text, pos, lineEnd, h, true);
      pos = eol + 1;
    }
    return h;
  }
}

/** The first line of a request: `GET /path HTTP/1.1`. */
export class RequestStartLine {
  constructor(
    /** The method, e.g. `GET`. */
    readonly method: string,
    /** The request-target as sent: `/path?query`, an absolute URI or `*`. */
    readonly path: string,
    /** `HTTP/1.0` or `HTTP/1.1`. */
    readonly version: string,
  ) {}

  toString(): string {
    return `${this.method} ${this.path} ${this.version}`;
  }
}

/** The first line of a response: `HTTP/1.1 200 OK`. */
export class ResponseStartLine {
  constructor(
    /** `HTTP/1.0` or `HTTP/1.1`. */
    readonly version: string,
    /** The status code. */
    readonly code: number,
    /** The reason phrase. */
    readonly reason: string,
  ) {}

  toString(): string {
    return `${this.version} ${this.code} ${this.reason}`;
  }
}

/**
 * Parses `METHOD SP request-target SP HTTP-version` strictly (single spaces, token method,
 * HTTP/1.0 or HTTP/1.1).
 *
 * @throws {HTTPInputError} when malformed.
 */
export function parseRequestStartLine(line: string): RequestStartLine {
  const sp1 = line.indexOf(' ');
  const sp2 = sp1 === -1 ? -1 : line.indexOf(' ', sp1 + 1);
  if (sp1 <= 0 || sp2 === -1 || line.indexOf(' ', sp2 + 1) !== -1) {
    throw new HTTPInputError(`Malformed HTTP request line: ${JSON.stringify(line.slice(0, 100))}`);
  }
  const method = line.slice(0, sp1);
  const path = line.slice(sp1 + 1, sp2);
  const version = line.slice(sp2 + 1);
  if (!isToken(method)) throw new HTTPInputError('Malformed HTTP request line: invalid method');
  if (path.length === 0) throw new HTTPInputError('Malformed HTTP request line: empty request-target');
  if (!isSupportedVersion(version)) {
    throw new HTTPInputError(
      `Malformed HTTP version in request line: ${JSON.stringify(version.slice(0, 20))}`,
    );
  }
  return new RequestStartLine(method, path, version);
}

/**
 * Parses `HTTP-version SP status-code SP [ reason-phrase ]`.
 *
 * @throws {HTTPInputError} when malformed.
 */
export function parseResponseStartLine(line: string): ResponseStartLine {
  const sp1 = line.indexOf(' ');
  const version = sp1 === -1 ? line : line.slice(0, sp1);
  if (!isSupportedVersion(version)) {
    throw new HTTPInputError(
      `Malformed HTTP version in response line: ${JSON.stringify(version.slice(0, 20))}`,
    );
  }
  const codeStr = line.slice(sp1 + 1, sp1 + 4);
  const after = line.charCodeAt(sp1 + 4);
  if (sp1 === -1 || !/^[1-9][0-9][0-9]$/.test(codeStr) || !(Number.isNaN(after) || after === 0x20)) {
    throw new HTTPInputError(`Malformed HTTP response line: ${JSON.stringify(line.slice(0, 100))}`);
  }
  return new ResponseStartLine(version, Number(codeStr), line.slice(sp1 + 5));
}

/** An uploaded file from a `multipart/form-data` body. */
export interface HTTPFile {
  /** The file name the client sent. */
  filename: string;
  /** The file's bytes. */
  body: Buffer;
  /** The part's `Content-Type` (default `application/unknown`, as Tornado). */
  contentType: string;
}

/** Query or form arguments: every value of every name, in order. */
export type Arguments = Record<string, string[]>;
/** Uploaded files by field name. */
export type Files = Record<string, HTTPFile[]>;

function emptyArgs<T>(): Record<string, T> {
  return Object.create(null) as Record<string, T>;
}

/**
 * Parses a query string or an `application/x-www-form-urlencoded` body into
 * `{ name: [values] }` (blank values kept, `+` is a space, percent-escapes decoded as UTF-8).
 * The result has no prototype, so `__proto__` is an ordinary name.
 */
export function parseQsBytes(qs: string): Arguments {
  const out = emptyArgs<string[]>();
  if (qs.length === 0) return out;
  let pos = 0;
  const n = qs.length;
  while (pos <= n) {
    let amp = qs.indexOf('&', pos);
    if (amp === -1) amp = n;
    if (amp > pos) {
      const eq = qs.indexOf('=', pos);
      let k: string;
      let v: string;
      if (eq === -1 || eq > amp) {
        k = qsDecode(qs.slice(pos, amp));
        v = '';
      } else {
        k = qsDecode(qs.slice(pos, eq));
        v = qsDecode(qs.slice(eq + 1, amp));
      }
      const list = out[k];
      if (list === undefined) out[k] = [v];
      else list.push(v);
    }
    pos = amp + 1;
  }
  return out;
}

function qsDecode(s: string): string {
  if (s.indexOf('+') !== -1) s = s.replace(/\+/g, ' ');
  return s.indexOf('%') === -1 ? s : qsUnescape(s);
}

/**
 * Parses a header value with parameters (`text/html; charset="utf-8"`) into the value and a
 * params record (names lower-cased, quotes removed).
 */
export function parseHeaderValue(line: string): [string, Record<string, string>] {
  const parts = splitParams(line);
  const key = (parts.shift() ?? '').trim();
  const params = emptyArgs<string>();
  for (const p of parts) {
    const eq = p.indexOf('=');
    if (eq === -1) continue;
    const name = p.slice(0, eq).trim().toLowerCase();
    let value = p.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) {
      value = value.slice(1, -1).replace(/\\(.)/g, '$1');
    }
    params[name] = value;
  }
  return [key, params];
}

function splitParams(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < s.length; i++) {
    const ch = s[i] as string;
    if (quoted) {
      if (ch === '\\' && i + 1 < s.length) {
        cur += ch + (s[i + 1] as string);
        i++;
        continue;
      }
      if (ch === '"') quoted = false;
      cur += ch;
    } else if (ch === '"') {
      quoted = true;
      cur += ch;
    } else if (ch === ';') {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out;
}

/**
 * Parses a request body into `args` and `files` according to its `Content-Type`:
 * `application/x-www-form-urlencoded` (synchronously) and `multipart/form-data` (via
 * `@fastify/busboy`, which delivers parts asynchronously, hence the promise). Other types are
 * left alone.
 *
 * @throws {HTTPInputError} (`ERR_HTTP_INVALID_BODY`, through the promise) for a body with a
 *   `Content-Encoding` (the server decompresses gzip before this point when `decompressRequest`
 *   is on), a multipart body without a boundary, or a truncated or malformed multipart body.
 */
export async function parseBodyArguments(
  contentType: string,
  body: Uint8Array,
  args: Arguments,
  files: Files,
  headers?: HTTPHeaders,
): Promise<void> {
  if (headers?.has('Content-Encoding')) {
    throw new HTTPInputError(`Unsupported Content-Encoding: ${headers.get('Content-Encoding')}`, {
      code: HTTPErrorCode.INVALID_BODY,
    });
  }
  const lower = contentType.toLowerCase();
  if (lower.startsWith('application/x-www-form-urlencoded')) {
    parseUrlencodedBody(body, args);
  } else if (lower.startsWith('multipart/form-data')) {
    const [, params] = parseHeaderValue(contentType);
    const boundary = params.boundary;
    if (!boundary) {
      throw new HTTPInputError('Invalid multipart/form-data: no boundary', {
        code: HTTPErrorCode.INVALID_BODY,
      });
    }
    await parseMultipartFormData(boundary, body, args, files);
  }
}

/** Whether {@link parseBodyArguments} would do anything with a body of this `Content-Type`. */
export function isFormContentType(contentType: string | undefined): boolean {
  if (contentType === undefined) return false;
  const lower = contentType.toLowerCase();
  return lower.startsWith('application/x-www-form-urlencoded') || lower.startsWith('multipart/form-data');
}

/** Parses an `application/x-www-form-urlencoded` body into `args` (synchronous). */
export function parseUrlencodedBody(body: Uint8Array, args: Arguments): void {
  const buf = Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const parsed = parseQsBytes(buf.toString('utf8'));
  for (const k in parsed) {
    const vals = parsed[k] as string[];
    const list = args[k];
    if (list === undefined) args[k] = vals;
    else list.push(...vals);
  }
}

function invalidMultipart(why: string, cause?: unknown): HTTPInputError {
  return new HTTPInputError(`Invalid multipart/form-data: ${why}`, {
    code: HTTPErrorCode.INVALID_BODY,
    cause,
  });
}

/**
 * Parses a complete `multipart/form-data` body (RFC 7578) into `args` and `files`.
 *
 * @throws {HTTPInputError} (`ERR_HTTP_INVALID_BODY`, through the promise) when the body is
 *   malformed or truncated.
 */
export function parseMultipartFormData(
  boundary: string,
  data: Uint8Array,
  args: Arguments,
  files: Files,
): Promise<void> {
  const buf = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  // The close delimiter must be there: a truncated body is refused, not half-parsed.
  const closeDelim = `--${boundary}--`;
  const ci = buf.lastIndexOf(closeDelim, undefined, 'latin1');
  if (ci === -1 || (ci !== 0 && !(buf[ci - 2] === 13 && buf[ci - 1] === 10))) {
    return Promise.reject(invalidMultipart('no final boundary'));
  }
  return new Promise<void>((resolve, reject) => {
    const fieldArgs = emptyArgs<string[]>();
    const fileParts: Array<[string, HTTPFile]> = [];
    let open = 1; // busboy itself + one per file part still streaming
    let failed = false;
    const fail = (e: unknown) => {
      if (failed) return;
      failed = true;
      reject(invalidMultipart((e as Error).message, e));
    };
    const done = () => {
      if (failed || --open > 0) return;
      for (const k in fieldArgs) {
        const list = args[k];
        if (list === undefined) args[k] = fieldArgs[k] as string[];
        else list.push(...(fieldArgs[k] as string[]));
      }
      for (const [name, file] of fileParts) {
        const list = files[name];
        if (list === undefined) files[name] = [file];
        else list.push(file);
      }
      resolve();
    };
    let bb: BusboyInstance;
    try {
      bb = new Busboy({
        headers: {
          'content-type': `multipart/form-data; boundary="${boundary.replace(/(["\\])/g, '\\$1')}"`,
        },
        limits: {
          fieldSize: buf.length + 1,
          fileSize: buf.length + 1,
          fields: Infinity,
          files: Infinity,
          parts: Infinity,
        },
        defCharset: 'utf8',
      });
    } catch (e) {
      fail(e);
      return;
    }
    bb.on('field', (name: string, value: string) => {
      const list = fieldArgs[name];
      if (list === undefined) fieldArgs[name] = [value];
      else list.push(value);
    });
    bb.on(
      'file',
      (name: string, stream: BusboyFileStream, filename: string, _enc: string, mimeType: string) => {
        open++;
        const chunks: Buffer[] = [];
        const file: HTTPFile = { filename, body: EMPTY, contentType: mimeType || 'application/unknown' };
        fileParts.push([name, file]);
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('error', fail);
        stream.on('end', () => {
          file.body = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
          done();
        });
      },
    );
    bb.on('error', fail);
    bb.on('finish', done);
    try {
      bb.end(buf);
    } catch (e) {
      fail(e);
    }
  });
}

/**
 * Parses a `Cookie` header into `{ name: value }` the way browsers send it (Tornado's
 * `parse_cookie`): pairs split on `;`, surrounding whitespace and quotes removed.
 */
export function parseCookie(cookie: string): Record<string, string> {
  const out = emptyArgs<string>();
  for (const chunk of cookie.split(';')) {
    const eq = chunk.indexOf('=');
    const key = (eq === -1 ? '' : chunk.slice(0, eq)).trim();
    const val = (eq === -1 ? chunk : chunk.slice(eq + 1)).trim();
    if (key || val) out[key] = unquoteCookie(val);
  }
  return out;
}

function unquoteCookie(s: string): string {
  if (s.length < 2 || s[0] !== '"' || s[s.length - 1] !== '"') return s;
  return s
    .slice(1, -1)
    .replace(/\\([0-3][0-7][0-7]|.)/g, (_m, g: string) =>
      g.length === 3 ? String.fromCharCode(Number.parseInt(g, 8)) : g,
    );
}

/**
 * Formats a time as an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the form HTTP uses in
 * `Date`, `Expires`, `Last-Modified`. A number is seconds since the epoch (as Tornado).
 */
export function formatTimestamp(ts: number | Date): string {
  const d = ts instanceof Date ? ts : new Date(ts * 1000);
  if (Number.isNaN(d.getTime())) throw new TypeError(`Invalid timestamp: ${String(ts)}`);
  return d.toUTCString();
}

/**
 * Appends query arguments to a URL, keeping its existing query and fragment.
 *
 * @example
 * ```ts
 * urlConcat('http://example.com/foo?a=b', { c: 'd' }); // 'http://example.com/foo?a=b&c=d'
 * urlConcat('/path', [['x', '1'], ['x', '2']]);        // '/path?x=1&x=2'
 * ```
 */
export function urlConcat(
  url: string,
  args: Record<string, string | string[]> | Iterable<readonly [string, string]> | null | undefined,
): string {
  if (args === null || args === undefined) return url;
  let fragment = '';
  const hash = url.indexOf('#');
  if (hash !== -1) {
    fragment = url.slice(hash);
    url = url.slice(0, hash);
  }
  const q = url.indexOf('?');
  const base = q === -1 ? url : url.slice(0, q);
  const params = new URLSearchParams(q === -1 ? '' : url.slice(q + 1));
  if (typeof (args as Iterable<unknown>)[Symbol.iterator] === 'function') {
    for (const [k, v] of args as Iterable<readonly [string, string]>) params.append(k, v);
  } else if (typeof args === 'object') {
    for (const [k, v] of Object.entries(args as Record<string, string | string[]>)) {
      if (Array.isArray(v)) for (const x of v) params.append(k, x);
      else params.append(k, v);
    }
  } else {
    throw new TypeError("'args' must be a record or an iterable of pairs");
  }
  const qs = params.toString();
  return `${base}${qs ? `?${qs}` : ''}${fragment}`;
}

/** `host` lower-cased without a `:port` suffix (as `splitHostAndPort(host.toLowerCase())[0]`). */
function hostNameOf(host: string): string {
  const colon = host.lastIndexOf(':');
  let end = host.length;
  if (colon > 0 && colon < end - 1) {
    let digits = true;
    for (let i = colon + 1; i < end; i++) {
      const c = host.charCodeAt(i);
      if (c < 0x30 || c > 0x39) {
        digits = false;
        break;
      }
    }
    if (digits) end = colon;
  }
  return (end === host.length ? host : host.slice(0, end)).toLowerCase();
}

/** Splits `host:port` (or `[v6]:port`) into the host and the port (null when absent). */
export function splitHostAndPort(netloc: string): [string, number | null] {
  const colon = netloc.lastIndexOf(':');
  if (colon > 0 && colon < netloc.length - 1) {
    let port = 0;
    for (let i = colon + 1; i < netloc.length; i++) {
      const c = netloc.charCodeAt(i);
      if (c < 0x30 || c > 0x39) return [netloc, null];
      port = port * 10 + (c - 0x30);
    }
    return [netloc.slice(0, colon), port];
  }
  return [netloc, null];
}

/**
 * What a connection knows about its peer (Tornado's `_HTTPRequestContext`), reachable as
 * `requestConn.context`. With `xheaders`, the server rewrites `remoteIp` and `protocol` from
 * `X-Real-Ip`/`X-Forwarded-For`/`X-Scheme`/`X-Forwarded-Proto` for the duration of one request.
 */
export interface HTTPRequestContext {
  /** The client's IP address (or the proxy-supplied one with `xheaders`); `'0.0.0.0'` on a Unix socket. */
  remoteIp: string;
  /** `'http'` or `'https'`. */
  protocol: string;
  /** The peer address as the socket reports it (`{ address, family, port }`), or a path. */
  address: unknown;
  /** Proxies whose `X-Forwarded-For` entries are skipped when walking from the right. */
  trustedDownstream: ReadonlySet<string>;
}

/** Options of {@link HTTPServerRequest}'s constructor (Tornado's keyword arguments). */
export interface HTTPServerRequestOptions {
  method?: string;
  uri?: string;
  version?: string;
  headers?: HTTPHeaders;
  body?: Buffer;
  host?: string;
  files?: Files;
  connection?: HTTPConnection;
  startLine?: RequestStartLine;
  serverConnection?: object;
}

/**
 * One HTTP request as a server sees it, complete with its body. Built by `HTTPServer` for a
 * request callback; `web` builds it for its handlers.
 *
 * @example
 * ```ts
 * const req = new HTTPServerRequest({ method: 'GET', uri: '/a?x=1&x=2' });
 * req.path; // '/a'
 * req.arguments.x; // ['1', '2']
 * ```
 */
export class HTTPServerRequest {
  /** `GET`, `POST`… */
  method: string;
  /** The request-target as sent: path plus query. */
  uri: string;
  /** `HTTP/1.0` or `HTTP/1.1`. */
  version: string;
  /** The request's header fields. */
  headers: HTTPHeaders;
  /** The (decompressed) body. */
  body: Buffer;
  // `host` and `hostName` are worked out on first use: many requests never look at them.
  #host: string | undefined;
  #hostName: string | undefined;

  /** The `Host` (or the authority of an absolute-form request-target), default `127.0.0.1`. */
  get host(): string {
    let h = this.#host;
    if (h === undefined) {
      h = this.headers.get('host') ?? '127.0.0.1';
      this.#host = h;
    }
    return h;
  }
  set host(v: string) {
    this.#host = v;
  }

  /** `host` lower-cased without the port. */
  get hostName(): string {
    let h = this.#hostName;
    if (h === undefined) {
      h = hostNameOf(this.host);
      this.#hostName = h;
    }
    return h;
  }
  set hostName(v: string) {
    this.#hostName = v;
  }
  /** The path part of `uri`. */
  path: string;
  /** The query part of `uri` (without `?`). */
  query: string;
  /** The client address (from the connection's context); null without a connection. */
  remoteIp: string | null;
  /** `http` or `https` (from the connection's context). */
  protocol: string;
  // Argument records are built on first use: most requests never look at them.
  #query0: string;
  #arguments: Arguments | null = null;
  #queryArguments: Arguments | null = null;
  #bodyArguments: Arguments | null = null;
  #files: Files | null;

  /** Query and body arguments merged. */
  get arguments(): Arguments {
    if (this.#arguments === null) this.#arguments = parseQsBytes(this.#query0);
    return this.#arguments;
  }
  set arguments(v: Arguments) {
    this.#arguments = v;
  }

  /** Arguments from the query string. */
  get queryArguments(): Arguments {
    if (this.#queryArguments === null) this.#queryArguments = parseQsBytes(this.#query0);
    return this.#queryArguments;
  }
  set queryArguments(v: Arguments) {
    this.#queryArguments = v;
  }

  /** Arguments from a form body (filled by {@link parseBody}). */
  get bodyArguments(): Arguments {
    if (this.#bodyArguments === null) this.#bodyArguments = emptyArgs<string[]>();
    return this.#bodyArguments;
  }
  set bodyArguments(v: Arguments) {
    this.#bodyArguments = v;
  }

  /** Uploaded files (filled by {@link parseBody}). */
  get files(): Files {
    if (this.#files === null) this.#files = emptyArgs<HTTPFile[]>();
    return this.#files;
  }
  set files(v: Files) {
    this.#files = v;
  }
  /** The connection to answer on (`writeHeaders`/`write`/`finish`). */
  connection: HTTPConnection | undefined;
  /** The server-side connection that carried the request. */
  serverConnection: object | undefined;
  #start: number;
  #finish: number | null = null;
  #cookies: Record<string, string> | null = null;

  constructor(opts: HTTPServerRequestOptions = {}) {
    const sl = opts.startLine;
    this.method = sl ? sl.method : (opts.method ?? 'GET');
    this.uri = sl ? sl.path : (opts.uri ?? '/');
    this.version = sl ? sl.version : (opts.version ?? 'HTTP/1.0');
    this.headers = opts.headers ?? new HTTPHeaders();
    this.body = opts.body ?? EMPTY;
    const ctx = opts.connection?.context;
    this.remoteIp = ctx ? ctx.remoteIp : null;
    this.protocol = ctx ? ctx.protocol : 'http';
    this.#files = opts.files ?? null;
    this.connection = opts.connection;
    this.serverConnection = opts.serverConnection;
    this.#start = clockNow();

    let uri = this.uri;
    let authority: string | undefined;
    if (uri.charCodeAt(0) !== 0x2f && uri !== '*') {
      // absolute-form (RFC 9112 §3.2.2): the authority replaces Host, the path is what follows.
      const m = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/([^/?#]*)(.*)$/.exec(uri);
      if (m) {
        const auth = m[1] as string;
        const at = auth.lastIndexOf('@');
        authority = at === -1 ? auth : auth.slice(at + 1);
        uri = m[2] as string;
        if (uri === '' || uri[0] === '?') uri = `/${uri}`;
      }
    }
    const q = uri.indexOf('?');
    let path = q === -1 ? uri : uri.slice(0, q);
    const hash = path.indexOf('#');
    if (hash !== -1) path = path.slice(0, hash);
    let query = q === -1 ? '' : uri.slice(q + 1);
    const qhash = query.indexOf('#');
    if (qhash !== -1) query = query.slice(0, qhash);
    this.path = path;
    this.query = query;
    this.#host = opts.host ?? authority;
    this.#query0 = query;
  }

  /** Cookies from the `Cookie` header, parsed once. */
  get cookies(): Record<string, string> {
    if (this.#cookies === null) {
      this.#cookies = emptyArgs<string>();
      for (const c of this.headers.getList('Cookie')) Object.assign(this.#cookies, parseCookie(c));
    }
    return this.#cookies;
  }

  /** When the request object was created, in seconds since the epoch. */
  get startTime(): number {
    return (performance.timeOrigin + this.#start) / 1000;
  }

  /** Seconds the request took (until {@link markFinished}, or until now). */
  requestTime(): number {
    return ((this.#finish ?? performance.now()) - this.#start) / 1000;
  }

  /** Records that the response was finished (stops {@link requestTime}). */
  markFinished(): void {
    this.#finish ??= performance.now();
  }

  /** `protocol://host/uri`. */
  fullUrl(): string {
    return `${this.protocol}://${this.host}${this.uri}`;
  }

  /**
   * Parses a form body into {@link bodyArguments} and {@link files} and merges the arguments
   * into {@link arguments}. Resolves at once for bodies that are not forms.
   *
   * @throws {HTTPInputError} (through the promise) for a malformed body; the caller answers 400.
   */
  async parseBody(): Promise<void> {
    const ct = this.headers.get('Content-Type');
    if (ct === undefined || this.body.length === 0 || !isFormContentType(ct)) return;
    await parseBodyArguments(ct, this.body, this.bodyArguments, this.files, this.headers);
    for (const k in this.bodyArguments) {
      const vals = this.bodyArguments[k] as string[];
      const list = this.arguments[k];
      if (list === undefined) this.arguments[k] = vals.slice();
      else list.push(...vals);
    }
  }

  toString(): string {
    return `HTTPServerRequest(protocol=${this.protocol}, host=${this.host}, method=${this.method}, uri=${this.uri}, version=${this.version}, remoteIp=${this.remoteIp})`;
  }
}

const EMPTY: Buffer = Buffer.alloc(0);

/**
 * The writing side of one HTTP message exchange, handed to a delegate per request
 * (`HTTP1Connection` implements it).
 */
export interface HTTPConnection {
  /**
   * Writes the start line and header fields, and optionally the first chunk of the body in the
   * same socket write. Resolves when the bytes are flushed.
   *
   * @throws {HTTPOutputError} (through the promise) for a header with CR/LF or a bad name.
   */
  writeHeaders(
    startLine: RequestStartLine | ResponseStartLine,
    headers: HTTPHeaders,
    chunk?: string | Uint8Array,
  ): Promise<void>;
  /** Writes a body chunk (chunked-encoded when the message is chunked). Resolves when flushed. */
  write(chunk: string | Uint8Array): Promise<void>;
  /** Ends the message. */
  finish(): void;
  /** The peer information (server side). */
  readonly context?: HTTPRequestContext;
  /** Called once when the connection closes before the exchange ended. `null` removes it. */
  setCloseCallback?(cb: (() => void) | null): void;
  /** Caps this message's body (bytes); must be called before the body is read. */
  setMaxBodySize?(n: number): void;
  /** Bounds the wait for this message's body (seconds); `null` or `0` for none. */
  setBodyTimeout?(timeout: number | null): void;
}

/** Receives one HTTP message (request on a server, response on a client) as it is parsed. */
export interface HTTPMessageDelegate {
  /**
   * The start line and header fields arrived. Returning a promise pauses reading until it
   * settles (a rejection closes the connection).
   */
  headersReceived(
    startLine: RequestStartLine | ResponseStartLine,
    headers: HTTPHeaders,
  ): void | Promise<void>;
  /** A chunk of the body (decompressed when `decompressRequest`); a promise pauses reading. */
  dataReceived(chunk: Buffer): void | Promise<void>;
  /** The message is complete. */
  finish(): void;
  /** The connection closed before the message was complete. */
  onConnectionClose(): void;
}

/** Creates a {@link HTTPMessageDelegate} per request on a server connection (`HTTPServer`, `web.Application`). */
export interface HTTPServerConnectionDelegate {
  /**
   * A new request starts on `serverConn`; `requestConn` is where it is answered.
   */
  startRequest(serverConn: object, requestConn: HTTPConnection): HTTPMessageDelegate;
  /** The server connection closed. */
  onClose(serverConn: object): void;
}
