/**
 * The strict HTTP/1.1 head grammar (RFC 9110 §5, RFC 9112 §3–§5), shared by the wire parser and
 * {@link HTTPHeaders.parse}. Works on latin1 strings: one byte is one UTF-16 code unit.
 *
 * @module
 */
import { HTTPInputError } from './errors';

/** tchar of RFC 9110 §5.6.2: 1 where the byte may appear in a token (method, field name). */
export const TCHAR: Uint8Array = (() => {
  const t = new Uint8Array(256);
  const extra = "!#$%&'*+-.^_`|~";
  for (let c = 0x30; c <= 0x39; c++) t[c] = 1;
  for (let c = 0x41; c <= 0x5a; c++) t[c] = 1;
  for (let c = 0x61; c <= 0x7a; c++) t[c] = 1;
  for (const ch of extra) t[ch.charCodeAt(0)] = 1;
  return t;
})();

/**
 * A `Host` value: an IP-literal in brackets (hex digits, ":", ".", "v") or a reg-name of RFC 3986
 * §3.2.2 (unreserved, pct-encoded's "%", sub-delims except ","), then an optional `:port`.
 */
const HOST = /^(?:\[[0-9:a-fA-F.vV]*\]|[A-Za-z0-9\-._~%!$&'()*+;=]*)(?::[0-9]*)?$/;

/** Longest method we accept; the longest registered one (`UPDATEREDIRECTREF`) has 17 bytes. */
export const MAX_METHOD_LENGTH = 32;

/** Field-value bytes: HTAB, SP, VCHAR, obs-text. Anything else is rejected. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control bytes is the point
const BAD_VALUE_BYTE = /[\x00-\x08\x0a-\x1f\x7f]/;

/** Whether `s[start, end)` is a non-empty token. */
export function isToken(s: string, start = 0, end = s.length): boolean {
  if (end <= start) return false;
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c > 255 || TCHAR[c] === 0) return false;
  }
  return true;
}

/** Throws when the head (request line + header lines, CRLF separated) holds a forbidden byte. */
export function checkHeadBytes(head: string): void {
  // One pass in plain JS: cheaper than a regex with look-around on the per-request path.
  const n = head.length;
  for (let i = 0; i < n; i++) {
    const c = head.charCodeAt(i);
    if (c >= 0x20) {
      if (c === 0x7f) badHeadByte(c, i);
    } else if (c === 13) {
      if (i + 1 < n && head.charCodeAt(i + 1) === 10) i++;
      else badHeadByte(c, i);
    } else if (c !== 0x09) badHeadByte(c, i);
  }
}

function badHeadByte(c: number, at: number): never {
  const what =
    c === 13 ? 'bare CR' : c === 10 ? 'bare LF' : `control byte 0x${c.toString(16).padStart(2, '0')}`;
  throw new HTTPInputError(`Malformed HTTP message: ${what} at offset ${at}`);
}

/** Whether a string may be sent as a field value (no CR, LF, NUL or other CTL except HTAB). */
export function isValidFieldValue(v: string): boolean {
  return !BAD_VALUE_BYTE.test(v);
}

/**
 * Parses the header lines of `s[start, end)`, each terminated by CRLF except the last (`end` is
 * where the final line ends). Calls `into.add(name, value)` per field. Strict: no obs-fold,
 * no whitespace before the colon, token names, values without CTLs. The caller checked bytes with
 * {@link checkHeadBytes} (or passes `checkValues`).
 */
export function parseHeaderLines(
  s: string,
  start: number,
  end: number,
  into: HeaderSink,
  checkValues = false,
): void {
  let pos = start;
  while (pos < end) {
    let eol = s.indexOf('\r\n', pos);
    if (eol === -1 || eol > end) eol = end;
    parseHeaderLine(s, pos, eol, into, checkValues);
    pos = eol + 2;
  }
}

/** Parses one `name: value` line `s[pos, eol)`. */
export function parseHeaderLine(
  s: string,
  pos: number,
  eol: number,
  into: HeaderSink,
  checkValues = false,
): void {
  const first = s.charCodeAt(pos);
  if (first === 0x20 || first === 0x09) {
    throw new HTTPInputError('Malformed HTTP headers: obs-fold (line folding) is not allowed');
  }
  const colon = s.indexOf(':', pos);
  if (colon === -1 || colon >= eol) throw new HTTPInputError('Malformed HTTP header line: no colon');
  if (colon === pos) throw new HTTPInputError('Malformed HTTP header line: empty field name');
  for (let i = pos; i < colon; i++) {
    const c = s.charCodeAt(i);
    if (c > 255 || TCHAR[c] === 0) {
      throw new HTTPInputError(
        c === 0x20 || c === 0x09
          ? 'Malformed HTTP header line: whitespace before the colon'
          : 'Malformed HTTP header line: invalid byte in field name',
      );
    }
  }
  let vs = colon + 1;
  let ve = eol;
  while (vs < ve) {
    const c = s.charCodeAt(vs);
    if (c !== 0x20 && c !== 0x09) break;
    vs++;
  }
  while (ve > vs) {
    const c = s.charCodeAt(ve - 1);
    if (c !== 0x20 && c !== 0x09) break;
    ve--;
  }
  const value = s.slice(vs, ve);
  if (checkValues && !isValidFieldValue(value)) {
    throw new HTTPInputError('Malformed HTTP header value: invalid byte');
  }
  into.add(s.slice(pos, colon), value);
}

/** Bytes a field value may not hold (CTLs but HTAB, and DEL), searched from `lastIndex`. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control bytes is the point
const VALUE_CTL = /[\x00-\x08\x0a-\x1f\x7f]/g;

/**
 * A well-formed field section from `lastIndex`: `token ":" field-value` lines joined by CRLF
 * (values of HTAB, SP, VCHAR and obs-text; leading/trailing whitespace is trimmed afterwards).
 */
const FIELD_LINES =
  /(?:[!#$%&'*+\-.^_`|~0-9A-Za-z]+:[\t\x20-\x7e\x80-\xff]*\r\n)*[!#$%&'*+\-.^_`|~0-9A-Za-z]+:[\t\x20-\x7e\x80-\xff]*/y;

/** {@link parseFields} saw a `Host` field. */
export const F_HOST = 1;
/** {@link parseFields} saw more than one `Host` field. */
export const F_HOST_REPEATED = 2;
/** {@link parseFields} saw a `Content-Length` field. */
export const F_CONTENT_LENGTH = 4;
/** {@link parseFields} saw a `Transfer-Encoding` field. */
export const F_TRANSFER_ENCODING = 8;
/** {@link parseFields} saw a `Content-Encoding` field. */
export const F_CONTENT_ENCODING = 16;

/** The value of the first `Host` field the last {@link parseFields} call saw. */
export const parsedFields = { host: '' };

/** Whether `name` (tchar only) equals `lower` (lower-case letters and "-") ignoring case. */
function isName(name: string, lower: string): boolean {
  for (let i = 0; i < lower.length; i++) {
    if ((name.charCodeAt(i) | 0x20) !== lower.charCodeAt(i)) return false;
  }
  return true;
}

/**
 * Parses and validates the field lines of a message head, `s[start, end)`: lines separated by
 * CRLF, the last one ending at `end`. One pass over the bytes does what {@link checkHeadBytes}
 * and {@link parseHeaderLines} do together (no obs-fold, token names, no whitespace before the
 * colon, no CTLs or bare CR/LF in values) and adds each field to `into`.
 *
 * `add(into, name, value)`, when given, is called instead of `into.add(name, value)`.
 *
 * Returns which of the fields that shape the framing were seen (`F_*` bits); the first `Host`
 * value is left in {@link parsedFields}.
 *
 * @throws {HTTPInputError} on the first malformed byte or line.
 */
export function parseFields<T extends HeaderSink>(
  s: string,
  start: number,
  end: number,
  into: T,
  add?: (into: T, name: string, value: string) => void,
): number {
  // One regex pass checks the whole section (token names, a colon, value bytes, CRLF between
  // lines); a well-formed section is then split with indexOf. Anything else goes through the
  // byte-by-byte parser, which names the first fault.
  if (start >= end || fieldSectionEnd(s, start) !== end) return parseFieldsStrict(s, start, end, into, add);
  return splitFields(s, start, end, into, add);
}

/**
 * @internal Where the well-formed field lines starting at `s[start]` end (the CR after the last
 * one, or the end of `s`); -1 when not even one line is well-formed.
 */
export function fieldSectionEnd(s: string, start: number): number {
  FIELD_LINES.lastIndex = start;
  return FIELD_LINES.test(s) ? FIELD_LINES.lastIndex : -1;
}

/**
 * @internal {@link parseFields} for a section `s[start, end)` that {@link fieldSectionEnd} found
 * well-formed: splits it and adds the fields.
 */
export function splitFields<T extends HeaderSink>(
  s: string,
  start: number,
  end: number,
  into: T,
  add?: (into: T, name: string, value: string) => void,
): number {
  let seen = 0;
  let pos = start;
  while (pos < end) {
    // Well-formed: the first CR is the line's CRLF.
    let eol = s.indexOf('\r', pos);
    if (eol === -1 || eol > end) eol = end;
    const colon = s.indexOf(':', pos);
    let vs = colon + 1;
    let ve = eol;
    while (vs < ve) {
      const c = s.charCodeAt(vs);
      if (c !== 0x20 && c !== 0x09) break;
      vs++;
    }
    while (ve > vs) {
      const c = s.charCodeAt(ve - 1);
      if (c !== 0x20 && c !== 0x09) break;
      ve--;
    }
    const name = s.slice(pos, colon);
    const value = s.slice(vs, ve);
    if (add === undefined) into.add(name, value);
    else add(into, name, value);
    seen = noteField(seen, name, value);
    pos = eol + 2;
  }
  return seen;
}

/** Notes a field that shapes the framing in the `F_*` bits `seen`. */
function noteField(seen: number, name: string, value: string): number {
  switch (name.length) {
    case 4:
      if (isName(name, 'host')) {
        if ((seen & F_HOST) === 0) {
          parsedFields.host = value;
          return seen | F_HOST;
        }
        return seen | F_HOST_REPEATED;
      }
      return seen;
    case 14:
      return isName(name, 'content-length') ? seen | F_CONTENT_LENGTH : seen;
    case 16:
      return isName(name, 'content-encoding') ? seen | F_CONTENT_ENCODING : seen;
    case 17:
      return isName(name, 'transfer-encoding') ? seen | F_TRANSFER_ENCODING : seen;
    default:
      return seen;
  }
}

function parseFieldsStrict<T extends HeaderSink>(
  s: string,
  start: number,
  end: number,
  into: T,
  add?: (into: T, name: string, value: string) => void,
): number {
  let seen = 0;
  let pos = start;
  while (pos < end) {
    const ls = pos;
    let c = s.charCodeAt(pos);
    if (c === 0x20 || c === 0x09) {
      throw new HTTPInputError('Malformed HTTP headers: obs-fold (line folding) is not allowed');
    }
    while (TCHAR[c] === 1) {
      pos++;
      if (pos === end) break;
      c = s.charCodeAt(pos);
    }
    if (pos === end || c !== 0x3a) {
      if (pos < end) {
        if (c === 0x20 || c === 0x09)
          throw new HTTPInputError('Malformed HTTP header line: whitespace before the colon');
        if (c === 13 && pos + 1 < end && s.charCodeAt(pos + 1) === 10) {
          throw new HTTPInputError('Malformed HTTP header line: no colon');
        }
        if (c < 0x20 || c === 0x7f) badHeadByte(c, pos);
        throw new HTTPInputError('Malformed HTTP header line: invalid byte in field name');
      }
      throw new HTTPInputError('Malformed HTTP header line: no colon');
    }
    if (pos === ls) throw new HTTPInputError('Malformed HTTP header line: empty field name');
    const colon = pos;
    pos++;
    while (pos < end) {
      c = s.charCodeAt(pos);
      if (c !== 0x20 && c !== 0x09) break;
      pos++;
    }
    const vs = pos;
    let ve = pos;
    let cr = pos < end ? s.indexOf('\r', pos) : -1;
    if (cr === -1 || cr > end) cr = end;
    if (cr - pos > 16) {
      // A long value: the regex engine finds a forbidden byte faster than a loop. It stops at the
      // line's CR at the latest.
      VALUE_CTL.lastIndex = pos;
      if (VALUE_CTL.test(s) && VALUE_CTL.lastIndex - 1 < cr) {
        const at = VALUE_CTL.lastIndex - 1;
        badHeadByte(s.charCodeAt(at), at);
      }
      ve = cr;
      while (ve > vs) {
        c = s.charCodeAt(ve - 1);
        if (c !== 0x20 && c !== 0x09) break;
        ve--;
      }
      pos = cr;
      if (pos < end && !(pos + 1 < end && s.charCodeAt(pos + 1) === 10)) badHeadByte(13, pos);
    } else {
      for (; pos < end; pos++) {
        c = s.charCodeAt(pos);
        if (c > 0x20) {
          if (c === 0x7f) badHeadByte(c, pos);
          ve = pos + 1;
        } else if (c !== 0x20 && c !== 0x09) {
          if (c === 13 && pos + 1 < end && s.charCodeAt(pos + 1) === 10) break;
          badHeadByte(c, pos);
        }
      }
    }
    const name = s.slice(ls, colon);
    const value = s.slice(vs, ve);
    if (add === undefined) into.add(name, value);
    else add(into, name, value);
    seen = noteField(seen, name, value);
    pos += 2;
  }
  return seen;
}

/** Where parsed fields go (an `HTTPHeaders`). */
export interface HeaderSink {
  add(name: string, value: string): void;
}

/**
 * Checks a request-target's bytes (VCHAR only: no SP, CTL or non-ASCII) and form: origin-form
 * (`/…`), absolute-form (`scheme://…`), or `*` (OPTIONS only). Authority-form (CONNECT) is
 * refused: this server is not a proxy.
 */
export function checkRequestTarget(method: string, target: string): void {
  checkRequestTargetIn(method, target, 0, target.length);
}

/** {@link checkRequestTarget} for the request-target `s[start, end)`. */
export function checkRequestTargetIn(method: string, s: string, start: number, end: number): void {
  if (end <= start) throw new HTTPInputError('Malformed HTTP request line: empty request-target');
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f) {
      throw new HTTPInputError('Malformed HTTP request line: invalid byte in request-target');
    }
  }
  if (s.charCodeAt(start) === 0x2f /* / */) return;
  const target = s.slice(start, end);
  if (target === '*') {
    if (method === 'OPTIONS') return;
    throw new HTTPInputError('Malformed HTTP request line: "*" is only valid with OPTIONS');
  }
  if (isAbsoluteUri(target)) return;
  throw new HTTPInputError('Malformed HTTP request line: unsupported request-target form');
}

/** `scheme "://"` prefix of an absolute URI (RFC 3986 §3.1). */
export function isAbsoluteUri(target: string): boolean {
  const colon = target.indexOf('://');
  if (colon < 1) return false;
  const c0 = target.charCodeAt(0) | 0x20;
  if (c0 < 0x61 || c0 > 0x7a) return false;
  for (let i = 1; i < colon; i++) {
    const c = target.charCodeAt(i);
    const lc = c | 0x20;
    if (!((lc >= 0x61 && lc <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2b || c === 0x2d || c === 0x2e)) {
      return false;
    }
  }
  return true;
}

/**
 * Request methods served by default: the IANA HTTP Method Registry (minus PRI, the HTTP/2
 * preface) plus the extensions node:http's parser knows (SSDP, PURGE, SOURCE). Others get 501.
 */
export const KNOWN_METHODS: ReadonlySet<string> = new Set([
  'ACL',
  'BASELINE-CONTROL',
  'BIND',
  'CHECKIN',
  'CHECKOUT',
  'CONNECT',
  'COPY',
  'DELETE',
  'GET',
  'HEAD',
  'LABEL',
  'LINK',
  'LOCK',
  'M-SEARCH',
  'MERGE',
  'MKACTIVITY',
  'MKCALENDAR',
  'MKCOL',
  'MKREDIRECTREF',
  'MKWORKSPACE',
  'MOVE',
  'NOTIFY',
  'OPTIONS',
  'ORDERPATCH',
  'PATCH',
  'POST',
  'PROPFIND',
  'PROPPATCH',
  'PURGE',
  'PUT',
  'QUERY',
  'REBIND',
  'REPORT',
  'SEARCH',
  'SOURCE',
  'SUBSCRIBE',
  'TRACE',
  'UNBIND',
  'UNCHECKOUT',
  'UNLINK',
  'UNLOCK',
  'UNSUBSCRIBE',
  'UPDATE',
  'UPDATEREDIRECTREF',
  'VERSION-CONTROL',
]);

/**
 * Classifies a request line's version: `0` supported (HTTP/1.0, HTTP/1.1), `505` a well-formed
 * `HTTP/x.y` we do not speak, `400` malformed, `-1` (only when `partial`) undecided yet.
 */
export function classifyVersion(v: string, partial = false): number {
  if (v === 'HTTP/1.1' || v === 'HTTP/1.0') return 0;
  if (/^HTTP\/\d\.\d$/.test(v)) return 505;
  if (partial && /^(?:H(?:T(?:T(?:P(?:\/(?:\d(?:\.)?)?)?)?)?)?)?$/.test(v)) return -1;
  return 400;
}

/** The version of a start line: exactly `HTTP/1.0` or `HTTP/1.1`. */
export function isSupportedVersion(v: string): boolean {
  return v === 'HTTP/1.1' || v === 'HTTP/1.0';
}

/**
 * Checks a `Host` field value (RFC 9110 §7.2): `uri-host [ ":" port ]`, reg-name characters or an
 * IP-literal; no userinfo, path, comma or whitespace. An empty value is refused.
 */
export function isValidHost(host: string): boolean {
  return host.length > 0 && HOST.test(host);
}

/**
 * Parses a `Content-Length` value: digits only (leading zeros allowed), at most 15 of them so the
 * number stays exact. Repeated fields arrive joined with "," and must all be identical.
 * Returns -1 when invalid.
 */
export function parseContentLength(v: string): number {
  let result = -1;
  let start = 0;
  const n = v.length;
  while (start <= n) {
    let end = v.indexOf(',', start);
    if (end === -1) end = n;
    let s = start;
    let e = end;
    while (s < e && (v.charCodeAt(s) === 0x20 || v.charCodeAt(s) === 0x09)) s++;
    while (e > s && (v.charCodeAt(e - 1) === 0x20 || v.charCodeAt(e - 1) === 0x09)) e--;
    if (e === s || e - s > 15) return -1;
    let x = 0;
    for (let i = s; i < e; i++) {
      const c = v.charCodeAt(i);
      if (c < 0x30 || c > 0x39) return -1;
      x = x * 10 + (c - 0x30);
    }
    if (result !== -1 && x !== result) return -1;
    result = x;
    start = end + 1;
  }
  return result;
}

/**
 * Whether a comma-separated field value (`Connection`, `Transfer-Encoding`) lists `token`
 * (which must be lower case), compared case-insensitively.
 */
export function hasToken(value: string, token: string): boolean {
  const lower = value.toLowerCase();
  let from = 0;
  for (;;) {
    const i = lower.indexOf(token, from);
    if (i === -1) return false;
    const end = i + token.length;
    if (isListBoundary(lower, i - 1, -1) && isListBoundary(lower, end, 1)) return true;
    from = i + 1;
  }
}

function isListBoundary(s: string, i: number, dir: number): boolean {
  for (;;) {
    if (i < 0 || i >= s.length) return true;
    const c = s.charCodeAt(i);
    if (c === 0x2c) return true;
    if (c !== 0x20 && c !== 0x09) return false;
    i += dir;
  }
}
