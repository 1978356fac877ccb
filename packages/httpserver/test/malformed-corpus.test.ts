/**
 * Our own raw corpus of malformed and smuggling requests, sent over real sockets. Every request
 * is answered with a 4xx and the connection closes; a smuggled request is never served.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Running, raw, startServer, statuses } from './helpers/server';

const H = 'Host: x\r\n';
const post = (headers: string, body = '') => `POST / HTTP/1.1\r\n${H}${headers}\r\n${body}`;
const chunked = (body: string) => post('Transfer-Encoding: chunked\r\n', body);

/** [name, raw bytes (latin1), expected status]. */
const MALFORMED: Array<[string, string, number]> = [
  // request line
  ['double space after method', `GET  / HTTP/1.1\r\n${H}\r\n`, 400],
  ['trailing space after version', `GET / HTTP/1.1 \r\n${H}\r\n`, 400],
  ['tab as separator', `GET\t/ HTTP/1.1\r\n${H}\r\n`, 400],
  ['leading space', ` GET / HTTP/1.1\r\n${H}\r\n`, 400],
  ['bare LF after request line', `GET / HTTP/1.1\n${H}\r\n`, 400],
  ['bare CR after request line', `GET / HTTP/1.1\r${H}\r\n`, 400],
  ['space in target', `GET /a b HTTP/1.1\r\n${H}\r\n`, 400],
  ['junk after version', `GET / HTTP/1.1x\r\n${H}\r\n`, 400],
  ['leading zeros in version', `GET / HTTP/01.1\r\n${H}\r\n`, 400],
  ['version without minor', `GET / HTTP/1\r\n${H}\r\n`, 400],
  ['lower-case protocol name', `GET / http/1.1\r\n${H}\r\n`, 400],
  ['NUL in target', `GET /\x00 HTTP/1.1\r\n${H}\r\n`, 400],
  ['DEL in target', `GET /\x7f HTTP/1.1\r\n${H}\r\n`, 400],
  ['non-ASCII in target', `GET /caf\xc3\xa9 HTTP/1.1\r\n${H}\r\n`, 400],
  ['invalid method byte', `G(T / HTTP/1.1\r\n${H}\r\n`, 400],
  ['overlong method', `${'A'.repeat(40)} / HTTP/1.1\r\n${H}\r\n`, 400],
  ['asterisk with GET', `GET * HTTP/1.1\r\n${H}\r\n`, 400],
  ['CONNECT authority-form', `CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n`, 400],
  ['relative target', `GET foo HTTP/1.1\r\n${H}\r\n`, 400],
  ['HTTP/0.9 request', 'GET /\r\n\r\n', 400],
  ['HTTP/2 preface', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 400],
  ['missing target', `GET HTTP/1.1\r\n${H}\r\n`, 400],
  ['whitespace-only request line', '   \r\n\r\n', 400],
  ['binary garbage', '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n', 400],
  ['request line too long', `GET /${'a'.repeat(9000)} HTTP/1.1\r\n${H}\r\n`, 414],
  // a malformed field is a 400 before the request line's other verdicts (505, 501)
  ['HTTP/1.2 with an obs-fold field', `GET / HTTP/1.2\r\n${H} folded\r\n\r\n`, 400],
  ['HTTP/1.2 with a control byte in a field', `GET / HTTP/1.2\r\n${H}X: \x01\r\n\r\n`, 400],
  ['unknown method with a bad field name', `FOO / HTTP/1.1\r\n${H}Bad Name: v\r\n\r\n`, 400],
  ['unknown method', `FOO / HTTP/1.1\r\n${H}\r\n`, 501],
  // Host
  ['missing Host on HTTP/1.1', 'GET / HTTP/1.1\r\n\r\n', 400],
  ['two Host fields', `GET / HTTP/1.1\r\n${H}Host: y\r\n\r\n`, 400],
  ['two identical Host fields', `GET / HTTP/1.1\r\n${H}${H}\r\n`, 400],
  ['Host with userinfo', 'GET / HTTP/1.1\r\nHost: user@x\r\n\r\n', 400],
  ['Host with path', 'GET / HTTP/1.1\r\nHost: x/evil\r\n\r\n', 400],
  ['Host list', 'GET / HTTP/1.1\r\nHost: x, y\r\n\r\n', 400],
  ['empty Host', 'GET / HTTP/1.1\r\nHost: \r\n\r\n', 400],
  ['Host with bad port', 'GET / HTTP/1.1\r\nHost: x:80a\r\n\r\n', 400],
  // header lines
  ['obs-fold', `GET / HTTP/1.1\r\n${H}X-A: a\r\n b\r\n\r\n`, 400],
  ['obs-fold with tab', `GET / HTTP/1.1\r\n${H}X-A: a\r\n\tb\r\n\r\n`, 400],
  ['space before colon', `GET / HTTP/1.1\r\n${H}X-A : a\r\n\r\n`, 400],
  ['tab before colon', `GET / HTTP/1.1\r\n${H}X-A\t: a\r\n\r\n`, 400],
  ['line without colon', `GET / HTTP/1.1\r\n${H}NoColon\r\n\r\n`, 400],
  ['empty field name', `GET / HTTP/1.1\r\n${H}: a\r\n\r\n`, 400],
  ['@ in field name', `GET / HTTP/1.1\r\n${H}X@A: a\r\n\r\n`, 400],
  ['non-ASCII field name', `GET / HTTP/1.1\r\n${H}X-\xc3\xa9: a\r\n\r\n`, 400],
  ['NUL in value', `GET / HTTP/1.1\r\n${H}X-A: a\x00b\r\n\r\n`, 400],
  ['bare CR in value', `GET / HTTP/1.1\r\n${H}X-A: a\rb\r\n\r\n`, 400],
  ['bare LF between fields', `GET / HTTP/1.1\r\n${H}X-A: a\nX-B: b\r\n\r\n`, 400],
  ['control byte in value', `GET / HTTP/1.1\r\n${H}X-A: a\x01\r\n\r\n`, 400],
  ['DEL in value', `GET / HTTP/1.1\r\n${H}X-A: a\x7f\r\n\r\n`, 400],
  ['whitespace line before fields', `GET / HTTP/1.1\r\n \r\n${H}\r\n`, 400],
  ['head too large', `GET / HTTP/1.1\r\n${H}X-Big: ${'b'.repeat(70 * 1024)}\r\n\r\n`, 431],
  // Content-Length
  ['non-numeric Content-Length', post('Content-Length: abc\r\n'), 400],
  ['signed Content-Length', post('Content-Length: +5\r\n', 'hello'), 400],
  ['negative Content-Length', post('Content-Length: -1\r\n'), 400],
  ['hex Content-Length', post('Content-Length: 0x5\r\n', 'hello'), 400],
  ['Content-Length with inner space', post('Content-Length: 1 0\r\n', 'hello12345'), 400],
  ['Content-Length list of different values', post('Content-Length: 5, 6\r\n', 'hello'), 400],
  ['two different Content-Length fields', post('Content-Length: 5\r\nContent-Length: 6\r\n', 'hello'), 400],
  ['empty Content-Length', post('Content-Length: \r\n'), 400],
  ['overflowing Content-Length', post('Content-Length: 99999999999999999999\r\n'), 400],
  ['Content-Length over maxBodySize', post('Content-Length: 2000\r\n', 'x'.repeat(2000)), 413],
  // Transfer-Encoding
  [
    'Content-Length with chunked',
    post('Content-Length: 6\r\nTransfer-Encoding: chunked\r\n', '0\r\n\r\n'),
    400,
  ],
  [
    'chunked with Content-Length',
    post('Transfer-Encoding: chunked\r\nContent-Length: 6\r\n', '0\r\n\r\n'),
    400,
  ],
  ['gzip transfer coding', post('Transfer-Encoding: gzip\r\n'), 400],
  ['chunked then gzip', post('Transfer-Encoding: chunked, gzip\r\n', '0\r\n\r\n'), 400],
  ['gzip then chunked', post('Transfer-Encoding: gzip, chunked\r\n', '0\r\n\r\n'), 400],
  ['xchunked', post('Transfer-Encoding: xchunked\r\n', '0\r\n\r\n'), 400],
  ['chunked twice', post('Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n', '0\r\n\r\n'), 400],
  ['identity', post('Transfer-Encoding: identity\r\n', '0\r\n\r\n'), 400],
  ['empty Transfer-Encoding', post('Transfer-Encoding: \r\n'), 400],
  ['vertical tab in Transfer-Encoding', post('Transfer-Encoding: \x0bchunked\r\n', '0\r\n\r\n'), 400],
  [
    'Transfer-Encoding in HTTP/1.0',
    `POST / HTTP/1.0\r\n${H}Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
    400,
  ],
  ['space before colon in Transfer-Encoding', post('Transfer-Encoding : chunked\r\n', '0\r\n\r\n'), 400],
  // chunked framing
  ['non-hex chunk size', chunked('g\r\nhello\r\n0\r\n\r\n'), 400],
  ['negative chunk size', chunked('-1\r\nhello\r\n0\r\n\r\n'), 400],
  ['0x chunk size', chunked('0x5\r\nhello\r\n0\r\n\r\n'), 400],
  ['space before chunk size', chunked(' 5\r\nhello\r\n0\r\n\r\n'), 400],
  ['space after chunk size', chunked('5 \r\nhello\r\n0\r\n\r\n'), 400],
  ['underscore in chunk size', chunked('1_0\r\nhello\r\n0\r\n\r\n'), 400],
  ['bare semicolon extension', chunked('5;\r\nhello\r\n0\r\n\r\n'), 400],
  ['NUL in chunk extension', chunked('5;\x00a\r\nhello\r\n0\r\n\r\n'), 400],
  ['unterminated quoted extension', chunked('5;a="b\r\nhello\r\n0\r\n\r\n'), 400],
  ['overflowing chunk size', chunked('FFFFFFFFFFFFFFFF0\r\nhello\r\n0\r\n\r\n'), 400],
  ['chunk data longer than its size', chunked('5\r\nhello!!\r\n0\r\n\r\n'), 400],
  ['bare LF after chunk size', chunked('5\nhello\r\n0\r\n\r\n'), 400],
  ['bare LF after chunk data', chunked('5\r\nhello\n0\r\n\r\n'), 400],
  ['bare CR after chunk size', chunked('5\rhello\r\n0\r\n\r\n'), 400],
  ['chunk extension too long', chunked(`5;a=${'x'.repeat(5000)}\r\nhello\r\n0\r\n\r\n`), 400],
  ['Content-Length in trailer', chunked('5\r\nhello\r\n0\r\nContent-Length: 50\r\n\r\n'), 400],
  ['Transfer-Encoding in trailer', chunked('5\r\nhello\r\n0\r\nTransfer-Encoding: chunked\r\n\r\n'), 400],
  ['Host in trailer', chunked('5\r\nhello\r\n0\r\nHost: evil\r\n\r\n'), 400],
  ['obs-fold in trailer', chunked('5\r\nhello\r\n0\r\nX-T: a\r\n b\r\n\r\n'), 400],
  ['bare LF ending the trailer', chunked('5\r\nhello\r\n0\r\n\n'), 400],
  ['chunked body over maxBodySize', chunked(`800\r\n${'x'.repeat(2048)}\r\n0\r\n\r\n`), 413],
];

/** A valid first request followed by a smuggling attempt: the smuggled /admin is never served. */
const SMUGGLING: Array<[string, string]> = [
  [
    'CL.TE',
    post('Content-Length: 35\r\nTransfer-Encoding: chunked\r\n', `0\r\n\r\nGET /admin HTTP/1.1\r\n${H}\r\n`),
  ],
  [
    'TE.CL',
    post(
      'Transfer-Encoding: chunked\r\nContent-Length: 4\r\n',
      `5c\r\nGET /admin HTTP/1.1\r\n${H}\r\n0\r\n\r\n`,
    ),
  ],
  [
    'TE.TE obfuscated',
    post(
      'Transfer-Encoding: chunked\r\nTransfer-encoding: cow\r\n',
      `0\r\n\r\nGET /admin HTTP/1.1\r\n${H}\r\n`,
    ),
  ],
  [
    'bare LF hides Content-Length',
    `GET / HTTP/1.1\r\n${H}X: y\nContent-Length: 30\r\n\r\nGET /admin HTTP/1.1\r\n${H}\r\n`,
  ],
  [
    'obs-fold hides Content-Length',
    `GET / HTTP/1.1\r\n${H}X: y\r\n Content-Length: 30\r\n\r\nGET /admin HTTP/1.1\r\n${H}\r\n`,
  ],
  [
    'second request with two lengths',
    `GET / HTTP/1.1\r\n${H}\r\nGET /admin HTTP/1.1\r\n${H}Content-Length: 1\r\nContent-Length: 2\r\n\r\nab`,
  ],
  [
    'data after Connection: close',
    `GET / HTTP/1.1\r\n${H}Connection: close\r\n\r\nGET /admin HTTP/1.1\r\n${H}\r\n`,
  ],
  ['data after an HTTP/1.0 request', `GET / HTTP/1.0\r\n\r\nGET /admin HTTP/1.1\r\n${H}\r\n`],
  ['chunk size with LF', chunked(`0\n\r\nGET /admin HTTP/1.1\r\n${H}\r\n`)],
  ['Host-less second request', chunked(`0\r\n\r\nGET /admin HTTP/1.1\r\n\r\n`)],
  [
    'body shorter than declared swallows nothing',
    `POST / HTTP/1.1\r\n${H}Content-Length: 5\r\n\r\nGET /admin HTTP/1.1\r\n${H}\r\n`,
  ],
  ['chunk extension with CR', chunked(`5;a\rX\r\nhello\r\n0\r\n\r\nGET /admin HTTP/1.1\r\n${H}\r\n`)],
];

describe('malformed and smuggling corpus', () => {
  let s: Running;
  beforeAll(async () => {
    s = await startServer(undefined, { maxBodySize: 1024 });
  });
  afterAll(async () => {
    await s.close();
  });

  it('has at least 60 malformed cases', () => {
    expect(MALFORMED.length + SMUGGLING.length).toBeGreaterThanOrEqual(60);
  });

  it.concurrent.each(MALFORMED)('%s -> %i and close', async (_name, bytes, status) => {
    const r = await raw(s.port, bytes, { windowMs: 3000 });
    expect(statuses(r.data)).toEqual([status]);
    expect(r.data).toContain('Connection: close\r\n');
    expect(r.closed).toBe(true);
  });

  it.concurrent.each(SMUGGLING)('smuggling: %s is never served', async (_name, bytes) => {
    const r = await raw(s.port, bytes, { windowMs: 3000 });
    expect(r.closed).toBe(true);
    expect(r.data).not.toContain('/admin');
    const st = statuses(r.data);
    expect(st.filter((x) => x === 200).length).toBeLessThanOrEqual(1);
    expect(st.length).toBeGreaterThan(0);
    for (const x of st.slice(1)) expect(x).toBeGreaterThanOrEqual(400);
  });
});
