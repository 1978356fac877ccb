import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import {
  createSignedValue,
  decodeSignedValue,
  decodeXsrfToken,
  encodeXsrfToken,
  getSignatureKeyVersion,
} from '../src/index';

/** The first Python with Tornado installed (Debian's python3-tornado lives in /usr/bin/python3). */
const python = ['/usr/bin/python3', 'python3'].find((p) => {
  try {
    execFileSync(p, ['-c', 'import tornado.web'], { stdio: 'ignore', timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
});
const hasPythonTornado = python !== undefined;

function py(code: string): string {
  return execFileSync(python!, ['-c', code], { encoding: 'utf8', timeout: 10_000 }).trim();
}

const NOW = 1_700_000_000;
const clock = () => NOW;

describe('signed values', () => {
  it('round-trips v2 values', () => {
    const v = createSignedValue('secret', 'user', 'alice é', { clock });
    expect(v.startsWith('2|1:0|10:1700000000|4:user|')).toBe(true);
    expect(decodeSignedValue('secret', 'user', v, { clock })?.toString()).toBe('alice é');
    expect(getSignatureKeyVersion(v)).toBe(0);
  });

  it('reads null for tampering, another name, another secret, expiry, garbage', () => {
    const v = createSignedValue('secret', 'user', 'alice', { clock });
    const tampered = v.replace('YWxpY2U=', 'Ym9iYm9i');
    expect(decodeSignedValue('secret', 'user', tampered, { clock })).toBeNull();
    expect(decodeSignedValue('secret', 'other', v, { clock })).toBeNull();
    expect(decodeSignedValue('nope', 'user', v, { clock })).toBeNull();
    expect(decodeSignedValue('secret', 'user', v, { clock: () => NOW + 32 * 86400 })).toBeNull();
    expect(
      decodeSignedValue('secret', 'user', v, { clock: () => NOW + 2 * 86400, maxAgeDays: 1 }),
    ).toBeNull();
    expect(decodeSignedValue('secret', 'user', `${v.slice(0, -1)}0`, { clock })).toBeNull();
    for (const g of ['', '2|', '2|x:0|', '2|1:0|10:17000|', '2|1:a|1:1|1:n|1:v|sig', '9|whatever', 'a|b']) {
      expect(decodeSignedValue('secret', 'user', g, { clock })).toBeNull();
    }
    expect(decodeSignedValue('secret', 'user', null)).toBeNull();
  });

  it('supports key rotation with a secret map', () => {
    const secrets = { 0: 'old', 1: 'new' };
    const v = createSignedValue(secrets, 'n', 'x', { keyVersion: 1, clock });
    expect(getSignatureKeyVersion(v)).toBe(1);
    expect(decodeSignedValue(secrets, 'n', v, { clock })?.toString()).toBe('x');
    expect(decodeSignedValue({ 0: 'old' }, 'n', v, { clock })).toBeNull();
    expect(() => createSignedValue(secrets, 'n', 'x')).toThrow(/keyVersion/);
    expect(() => createSignedValue(secrets, 'n', 'x', { keyVersion: 5 })).toThrow(/no secret/);
    expect(() => createSignedValue(secrets, 'n', 'x', { keyVersion: 1, version: 1 })).toThrow(/version 2/);
  });

  it('reads v1 values, refuses them with minVersion 2', () => {
    const v = createSignedValue('secret', 'n', 'val', { version: 1, clock });
    expect(v.split('|')).toHaveLength(3);
    expect(getSignatureKeyVersion(v)).toBeNull();
    expect(decodeSignedValue('secret', 'n', v, { clock })?.toString()).toBe('val');
    expect(decodeSignedValue('secret', 'n', v, { clock, minVersion: 2 })).toBeNull();
    expect(decodeSignedValue('secret', 'n', v, { clock: () => NOW - 40 * 86400 })).toBeNull();
    expect(decodeSignedValue({ 0: 'secret' }, 'n', v, { clock })).toBeNull();
    expect(decodeSignedValue('secret', 'n', `${v}|x`, { clock })).toBeNull();
  });

  it.skipIf(!hasPythonTornado)('decodes values signed by Python Tornado and vice versa', () => {
    const fromPy = py(
      `import tornado.web as w; print(w.create_signed_value('s3cret', 'user', 'bob é', clock=lambda: ${NOW}).decode())`,
    );
    expect(decodeSignedValue('s3cret', 'user', fromPy, { clock })?.toString()).toBe('bob é');
    const rotated = py(
      `import tornado.web as w; print(w.create_signed_value({0: 'a', 3: 'b'}, 'k', 'v', key_version=3, clock=lambda: ${NOW}).decode())`,
    );
    expect(getSignatureKeyVersion(rotated)).toBe(3);
    expect(decodeSignedValue({ 0: 'a', 3: 'b' }, 'k', rotated, { clock })?.toString()).toBe('v');
    const ours = createSignedValue('s3cret', 'user', 'zoë', { clock });
    const back = py(
      `import tornado.web as w; print(w.decode_signed_value('s3cret', 'user', ${JSON.stringify(ours)}, clock=lambda: ${NOW}).decode('utf-8'))`,
    );
    expect(back).toBe('zoë');
    expect(ours).toBe(
      py(
        `import tornado.web as w; print(w.create_signed_value('s3cret', 'user', 'zoë', clock=lambda: ${NOW}).decode())`,
      ),
    );
  });
});

describe('xsrf tokens', () => {
  it('masks the same raw token differently each time', () => {
    const raw = Buffer.alloc(16, 7);
    const a = encodeXsrfToken(raw, NOW);
    const b = encodeXsrfToken(raw, NOW);
    expect(a).not.toBe(b);
    expect(decodeXsrfToken(a)).toEqual({ version: 2, token: raw, timestamp: NOW });
    expect(decodeXsrfToken(b)?.token).toEqual(raw);
  });

  it('reads v1 tokens and refuses malformed v2 ones', () => {
    expect(decodeXsrfToken('abcd')?.token).toEqual(Buffer.from([0xab, 0xcd]));
    expect(decodeXsrfToken('not-hex')?.token).toEqual(Buffer.from('not-hex'));
    expect(decodeXsrfToken('2|zz|00|1')).toBeNull();
    expect(decodeXsrfToken('2|00000000|00')).toBeNull();
    expect(decodeXsrfToken('2|00000000|00|x')).toBeNull();
    expect(decodeXsrfToken('3|a|b|c')).toBeNull();
  });

  it.skipIf(!hasPythonTornado)('is compatible with Python Tornado tokens', () => {
    const raw = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
    const ours = encodeXsrfToken(raw, NOW);
    const code = `
from unittest import mock
from tornado.web import Application, RequestHandler
from tornado.httputil import HTTPServerRequest, HTTPHeaders
app = Application(xsrf_cookies=True)
req = HTTPServerRequest(method='POST', uri='/', headers=HTTPHeaders({'Cookie': '_xsrf=${ours}', 'X-Xsrftoken': '${ours}'}), connection=mock.Mock())
h = RequestHandler(app, req)
h.check_xsrf_cookie()
print(h.xsrf_token.decode())`;
    const theirs = py(code);
    expect(theirs).not.toBe(ours);
    expect(decodeXsrfToken(theirs)).toEqual({ version: 2, token: raw, timestamp: NOW });
  });
});
