/**
 * Escaping and unescaping helpers for HTML, URLs and JSON (Tornado's `tornado.escape`).
 * @module
 */

const XHTML_RE = /[&<>"']/;
const XHTML_RE_G = /[&<>"']/g;
const XHTML_MAP: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/**
 * Escapes a string so it is safe inside HTML text or a quoted attribute: `& < > " '`.
 * @example
 * ```ts
 * xhtmlEscape('<a href="x">') // '&lt;a href=&quot;x&quot;&gt;'
 * ```
 */
export function xhtmlEscape(value: unknown): string {
  const s = typeof value === 'string' ? value : String(value);
  if (!XHTML_RE.test(s)) return s;
  return s.replace(XHTML_RE_G, (c) => XHTML_MAP[c]!);
}

const NAMED_ENTITIES: Record<string, string> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
  nbsp: '\u00a0',
  copy: '\u00a9',
  reg: '\u00ae',
  hellip: '\u2026',
  mdash: '\u2014',
  ndash: '\u2013',
  laquo: '\u00ab',
  raquo: '\u00bb',
  euro: '\u20ac',
};

/** Un-escapes an XML-escaped string: named entities, `&#NN;` and `&#xHH;`. Unknown entities stay as they are. */
export function xhtmlUnescape(value: string): string {
  return value.replace(/&(#?)(\w+?);/g, (m, hash: string, body: string) => {
    if (hash) {
      const code = body[0] === 'x' || body[0] === 'X' ? Number.parseInt(body.slice(1), 16) : Number(body);
      if (Number.isInteger(code) && code >= 0 && code <= 0x10ffff) return String.fromCodePoint(code);
      return m;
    }
    return NAMED_ENTITIES[body] ?? m;
  });
}

const EXTRA_QUOTE_RE = /[!'()*]/g;
const hexByte = (c: string) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`;

/**
 * Percent-encodes a value for a URL, as Python's `quote_plus` (`plus` true, the default: spaces
 * become `+` and `/` is escaped) or `quote` (`plus` false: spaces become `%20`, `/` is kept).
 * Only `A-Z a-z 0-9 _ . - ~` (and `/` without `plus`) stay unescaped.
 */
export function urlEscape(value: string | number, plus = true): string {
  let s = encodeURIComponent(String(value)).replace(EXTRA_QUOTE_RE, hexByte);
  if (plus) s = s.replace(/%20/g, '+');
  else s = s.replace(/%2F/g, '/');
  return s;
}

const utf8Fatal = new TextDecoder('utf-8', { fatal: true });

/** Percent-decodes into bytes; malformed `%` sequences stay literal (like Python's `unquote_to_bytes`). */
export function percentDecodeBytes(value: string, plus = false): Buffer {
  if (plus) value = value.replace(/\+/g, ' ');
  const src = Buffer.from(value, 'utf8');
  const out = Buffer.allocUnsafe(src.length);
  let j = 0;
  for (let i = 0; i < src.length; i++) {
    const c = src[i]!;
    if (c === 0x25 && i + 2 < src.length) {
      const h = hexVal(src[i + 1]!);
      const l = hexVal(src[i + 2]!);
      if (h >= 0 && l >= 0) {
        out[j++] = (h << 4) | l;
        i += 2;
        continue;
      }
    }
    out[j++] = c;
  }
  return out.subarray(0, j);
}

function hexVal(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

/**
 * Decodes a percent-encoded value. With `plus` (the default) `+` means a space, as in query
 * strings; path segments use `plus = false`. Throws a `URIError` when the decoded bytes are not
 * valid UTF-8.
 */
export function urlUnescape(value: string, plus = true): string {
  if (plus && value.includes('+')) value = value.replace(/\+/g, ' ');
  if (!value.includes('%')) return value;
  try {
    return decodeURIComponent(value);
  } catch {
    try {
      return utf8Fatal.decode(percentDecodeBytes(value));
    } catch {
      throw new URIError(`invalid UTF-8 in percent-encoded value: ${value.slice(0, 100)}`);
    }
  }
}

/**
 * JSON-encodes a value so it can be embedded in a `<script>` element: `</` becomes `<\/`.
 */
export function jsonEncode(value: unknown): string {
  const s = JSON.stringify(value);
  if (s === undefined) return 'null';
  return s.includes('</') ? s.replace(/<\//g, '<\\/') : s;
}

/** Parses a JSON string or UTF-8 bytes. */
export function jsonDecode(value: string | Uint8Array): unknown {
  return JSON.parse(typeof value === 'string' ? value : Buffer.from(value).toString('utf8'));
}

/** Collapses each run of whitespace into one space and trims the ends. */
export function squeeze(value: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: these patterns exist to find control characters
  return value.replace(/[\x00-\x20]+/g, ' ').trim();
}

/** A string encoded as UTF-8 bytes; bytes and `null` pass through. */
export function utf8(value: string | Uint8Array): Buffer;
export function utf8(value: null): null;
export function utf8(value: string | Uint8Array | null): Buffer | null {
  if (value === null) return null;
  if (typeof value === 'string') return Buffer.from(value, 'utf8');
  return Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}

/** UTF-8 bytes decoded to a string (throws on invalid UTF-8); strings and `null` pass through. */
export function toUnicode(value: string | Uint8Array): string;
export function toUnicode(value: null): null;
export function toUnicode(value: string | Uint8Array | null): string | null {
  if (value === null || typeof value === 'string') return value;
  return utf8Fatal.decode(value);
}

const LINK_RE =
  /\b((?:([\w-]+):(\/{1,3})|www[.])(?:(?:(?:[^\s&()]|&amp;|&quot;)*(?:[^!"#$%&'()*+,.:;<=>?@[\]^`{|}~\s]))|(?:\((?:[^\s&()]|&amp;|&quot;)*\)))+)/g;

/**
 * Escapes `text` and turns the URLs in it into links. `extraParams` is added to each `<a>` tag;
 * only `http`/`https` links (and `www.` hosts) are linked unless `permittedProtocols` says otherwise.
 */
export function linkify(
  text: string,
  opts: {
    shorten?: boolean;
    extraParams?: string;
    requireProtocol?: boolean;
    permittedProtocols?: string[];
  } = {},
): string {
  const permitted = opts.permittedProtocols ?? ['http', 'https'];
  const extra = opts.extraParams ? ` ${opts.extraParams.trim()}` : '';
  return xhtmlEscape(text).replace(LINK_RE, (url: string, _all: string, proto?: string) => {
    if (opts.requireProtocol && !proto) return url;
    if (proto && !permitted.includes(proto)) return url;
    const href = proto ? url : `http://${url}`;
    let shown = url;
    if (opts.shorten && shown.length > 30) shown = `${shown.slice(0, 27)}...`;
    return `<a href="${href}"${extra}>${shown}</a>`;
  });
}
