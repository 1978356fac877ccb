import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Signed values in Tornado's format (used by signed cookies), byte-compatible with Python
 * Tornado's `create_signed_value` / `decode_signed_value`: version 2 (HMAC-SHA256 with length-
 * prefixed fields and an optional key version) is written; versions 1 and 2 are read.
 * @module
 */

/** A secret, or a map of key versions to secrets for key rotation. */
export type CookieSecret = string | Uint8Array | Record<string | number, string | Uint8Array>;

/** Options of {@link createSignedValue}. */
export interface CreateSignedValueOptions {
  /** Format version, 2 (the default) or 1. */
  version?: 1 | 2;
  /** Clock in seconds since the epoch, for tests. */
  clock?: () => number;
  /** With a secret map: the key version to sign with (required then). */
  keyVersion?: number;
}

/** Options of {@link decodeSignedValue}. */
export interface DecodeSignedValueOptions {
  /** Values older than this many days read as `null` (31 by default). */
  maxAgeDays?: number;
  /** Clock in seconds since the epoch, for tests. */
  clock?: () => number;
  /** The oldest format version accepted (1 by default; 2 refuses v1 values). */
  minVersion?: 1 | 2;
}

const defaultClock = () => Date.now() / 1000;
const VERSION_RE = /^([1-9][0-9]*)\|/;

function field(s: string): string {
  return `${Buffer.byteLength(s)}:${s}`;
}

function secretFor(secret: CookieSecret, keyVersion: number | undefined): string | Uint8Array | undefined {
  if (typeof secret === 'string' || secret instanceof Uint8Array) return secret;
  return secret[keyVersion ?? 0];
}

function hmacHex(alg: 'sha256' | 'sha1', secret: string | Uint8Array, ...parts: (string | Uint8Array)[]) {
  const h = createHmac(alg, secret);
  for (const p of parts) h.update(p);
  return h.digest('hex');
}

/**
 * Signs and timestamps `value` so it cannot be forged; `name` binds the value to one cookie name.
 * @example
 * ```ts
 * const signed = createSignedValue('secret', 'user', 'alice');
 * decodeSignedValue('secret', 'user', signed)?.toString(); // 'alice'
 * ```
 */
export function createSignedValue(
  secret: CookieSecret,
  name: string,
  value: string | Uint8Array,
  opts: CreateSignedValueOptions = {},
): string {
  const version = opts.version ?? 2;
  const timestamp = String(Math.floor((opts.clock ?? defaultClock)()));
  const b64 = Buffer.from(typeof value === 'string' ? Buffer.from(value, 'utf8') : value).toString('base64');
  const isMap = !(typeof secret === 'string' || secret instanceof Uint8Array);
  if (isMap && opts.keyVersion === undefined) throw new TypeError('keyVersion is required with a secret map');
  const key = secretFor(secret, opts.keyVersion);
  if (key === undefined) throw new TypeError(`no secret for key version ${opts.keyVersion}`);
  if (version === 1) {
    if (isMap) throw new TypeError('key versioning needs signed value version 2');
    const sig = hmacHex('sha1', key, name, b64, timestamp);
    return `${b64}|${timestamp}|${sig}`;
  }
  const toSign = `2|${field(String(opts.keyVersion ?? 0))}|${field(timestamp)}|${field(name)}|${field(b64)}|`;
  return toSign + hmacHex('sha256', key, toSign);
}

/** The format version of a signed value (1 when it has no version prefix). */
function versionOf(value: string): number {
  const m = VERSION_RE.exec(value);
  if (!m) return 1;
  const v = Number(m[1]);
  return v > 999 ? 1 : v;
}

function safeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}

interface V2Fields {
  keyVersion: number;
  timestamp: string;
  name: string;
  value: string;
  signature: string;
  signed: string;
}

function decodeFieldsV2(value: string): V2Fields | null {
  // field lengths count UTF-8 bytes (a cookie name may be non-ASCII), so parse the bytes
  const b = Buffer.from(value, 'utf8');
  let pos = 2;
  const fields: string[] = [];
  for (let i = 0; i < 4; i++) {
    const colon = b.indexOf(0x3a, pos);
    if (colon < 0) return null;
    const lenStr = b.toString('latin1', pos, colon);
    if (!/^[0-9]+$/.test(lenStr)) return null;
    const end = colon + 1 + Number(lenStr);
    if (end >= b.length || b[end] !== 0x7c) return null;
    fields.push(b.toString('utf8', colon + 1, end));
    pos = end + 1;
  }
  const [kv, timestamp, name, val] = fields as [string, string, string, string];
  if (!/^-?[0-9]+$/.test(kv)) return null;
  return {
    keyVersion: Number(kv),
    timestamp,
    name,
    value: val,
    signature: b.toString('utf8', pos),
    signed: b.toString('utf8', 0, pos),
  };
}

const BASE64_RE = /^[A-Za-z0-9+/]*={0,2}$/;

function b64decode(s: string): Buffer | null {
  if (s.length % 4 !== 0 || !BASE64_RE.test(s)) return null;
  return Buffer.from(s, 'base64');
}

/**
 * Verifies a value made by {@link createSignedValue} (here or by Python Tornado) and returns the
 * original bytes, or `null` when it is missing, malformed, tampered with, signed for another
 * name, signed with an unknown key version or older than `maxAgeDays`.
 */
export function decodeSignedValue(
  secret: CookieSecret,
  name: string,
  value: string | null | undefined,
  opts: DecodeSignedValueOptions = {},
): Buffer | null {
  if (!value) return null;
  const clock = opts.clock ?? defaultClock;
  const maxAgeDays = opts.maxAgeDays ?? 31;
  const version = versionOf(value);
  if (version < (opts.minVersion ?? 1)) return null;
  if (version === 1) {
    if (!(typeof secret === 'string' || secret instanceof Uint8Array)) return null;
    const parts = value.split('|');
    if (parts.length !== 3) return null;
    const [b64, ts, sig] = parts as [string, string, string];
    if (!safeEqual(sig, hmacHex('sha1', secret, name, b64, ts))) return null;
    if (!/^[0-9]+$/.test(ts) || ts.startsWith('0')) return null;
    const t = Number(ts);
    const now = clock();
    if (t < now - maxAgeDays * 86400 || t > now + 31 * 86400) return null;
    return b64decode(b64);
  }
  if (version !== 2) return null;
  const f = decodeFieldsV2(value);
  if (!f) return null;
  const key = secretFor(secret, f.keyVersion);
  if (key === undefined) return null;
  if (!safeEqual(f.signature, hmacHex('sha256', key, f.signed))) return null;
  if (f.name !== name) return null;
  if (!/^[0-9]+$/.test(f.timestamp)) return null;
  if (Number(f.timestamp) < clock() - maxAgeDays * 86400) return null;
  return b64decode(f.value);
}

/** The key version a v2 signed value was signed with (0 for v1 values or unversioned keys). */
export function getSignatureKeyVersion(value: string): number | null {
  if (versionOf(value) < 2) return null;
  return decodeFieldsV2(value)?.keyVersion ?? null;
}

/** XORs `data` with a repeating 4-byte `mask` (the websocket/xsrf masking). */
export function xorMask(mask: Uint8Array, data: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(data.length);
  for (let i = 0; i < data.length; i++) out[i] = data[i]! ^ mask[i & 3]!;
  return out;
}

/** A decoded xsrf token: its format version, the raw 16 bytes and the creation time. */
export interface XsrfToken {
  version: 1 | 2;
  token: Buffer;
  timestamp: number;
}

const HEX_RE = /^(?:[0-9a-fA-F]{2})*$/;

/**
 * Decodes an xsrf token in Tornado's v2 format (`2|mask|masked-token|timestamp`, hex) or its
 * v1 format (hex, or the raw string). Returns `null` for a malformed value.
 */
export function decodeXsrfToken(value: string): XsrfToken | null {
  const m = VERSION_RE.exec(value);
  if (m) {
    if (m[1] !== '2') return null;
    const parts = value.split('|');
    if (parts.length !== 4) return null;
    const [, maskHex, maskedHex, ts] = parts as [string, string, string, string];
    if (maskHex.length !== 8 || !HEX_RE.test(maskHex) || !HEX_RE.test(maskedHex)) return null;
    if (!/^[0-9]+$/.test(ts)) return null;
    return {
      version: 2,
      token: xorMask(Buffer.from(maskHex, 'hex'), Buffer.from(maskedHex, 'hex')),
      timestamp: Number(ts),
    };
  }
  const token = HEX_RE.test(value) ? Buffer.from(value, 'hex') : Buffer.from(value, 'utf8');
  return { version: 1, token, timestamp: Math.floor(Date.now() / 1000) };
}

/** Encodes a raw xsrf token as a fresh masked v2 token (a new random mask each call, against BREACH). */
export function encodeXsrfToken(token: Uint8Array, timestamp: number): string {
  const mask = randomBytes(4);
  return `2|${mask.toString('hex')}|${xorMask(mask, token).toString('hex')}|${Math.floor(timestamp)}`;
}
