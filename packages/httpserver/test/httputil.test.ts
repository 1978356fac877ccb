import { describe, expect, it } from 'vitest';
import { serializeState } from '../src/httputil';
import type { Arguments, Files } from '../src/index';
import {
  formatTimestamp,
  type HTTPConnection,
  HTTPErrorCode,
  HTTPHeaders,
  HTTPInputError,
  HTTPOutputError,
  HTTPServerRequest,
  parseBodyArguments,
  parseCookie,
  parseHeaderValue,
  parseQsBytes,
  parseRequestStartLine,
  parseResponseStartLine,
  RequestStartLine,
  ResponseStartLine,
  responses,
  splitHostAndPort,
  urlConcat,
} from '../src/index';
import {
  checkHeadBytes,
  checkRequestTarget,
  F_CONTENT_ENCODING,
  F_CONTENT_LENGTH,
  F_HOST,
  F_HOST_REPEATED,
  F_TRANSFER_ENCODING,
  hasToken,
  isAbsoluteUri,
  isValidHost,
  parseContentLength,
  parsedFields,
  parseFields,
  parseHeaderLines,
} from '../src/parse';

describe('HTTPHeaders', () => {
  it('is case-insensitive, multi-valued and keeps order', () => {
    const h = new HTTPHeaders({ 'Content-Type': 'text/html' });
    h.add('Set-Cookie', 'A=B');
    h.add('set-cookie', 'C=D');
    h.add('X-Other', '1');
    expect(h.get('content-type')).toBe('text/html');
    expect(h.get('SET-COOKIE')).toBe('A=B,C=D');
    expect(h.getList('Set-Cookie')).toEqual(['A=B', 'C=D']);
    expect(h.getList('missing')).toEqual([]);
    expect(h.get('missing')).toBeUndefined();
    expect(h.get('missing', 'dflt')).toBe('dflt');
    expect([...h]).toEqual([
      ['Content-Type', 'text/html'],
      ['Set-Cookie', 'A=B'],
      ['Set-Cookie', 'C=D'],
      ['X-Other', '1'],
    ]);
    expect([...h.getAll()].length).toBe(4);
    expect([...h.names()]).toEqual(['Content-Type', 'Set-Cookie', 'X-Other']);
    expect(h.size).toBe(3);
    h.set('set-cookie', 'E=F');
    expect(h.getList('Set-Cookie')).toEqual(['E=F']);
    h.set('New', 'v');
    expect(h.get('new')).toBe('v');
    expect(h.has('NEW')).toBe(true);
    expect(h.delete('new')).toBe(true);
    expect(h.delete('new')).toBe(false);
    expect(h.has('new')).toBe(false);
    const pairs: string[] = [];
    h.add('X-Other', '2');
    h.add('X-Other', '3');
    h.forEach((n, v) => {
      pairs.push(`${n}=${v}`);
    });
    expect(pairs).toEqual([
      'Content-Type=text/html',
      'Set-Cookie=E=F',
      'X-Other=1',
      'X-Other=2',
      'X-Other=3',
    ]);
    expect(h.toJSON()).toEqual({ 'Content-Type': 'text/html', 'Set-Cookie': 'E=F', 'X-Other': '1,2,3' });
    expect(h.toString()).toBe(
      'Content-Type: text/html\r\nSet-Cookie: E=F\r\nX-Other: 1\r\nX-Other: 2\r\nX-Other: 3\r\n',
    );
    const c = h.copy();
    c.add('X-Other', '4');
    expect(h.getList('x-other')).toHaveLength(3);
    expect(c.getList('x-other')).toHaveLength(4);
    c.clear();
    expect(c.size).toBe(0);
  });

  it('is built from pairs or another HTTPHeaders', () => {
    const h = new HTTPHeaders([
      ['A', '1'],
      ['a', '2'],
    ]);
    expect(h.getList('A')).toEqual(['1', '2']);
    expect(new HTTPHeaders(h).get('a')).toBe('1,2');
    expect(new HTTPHeaders().size).toBe(0);
  });

  it('never shares fields between instances (empty, cleared, copied)', () => {
    const a = new HTTPHeaders();
    const b = new HTTPHeaders();
    a.add('X', '1');
    expect(b.size).toBe(0);
    expect([...b]).toEqual([]);
    b.set('Y', '2');
    expect(a.has('y')).toBe(false);
    a.clear();
    a.add('Z', '3');
    expect(b.has('z')).toBe(false);
    const c = new HTTPHeaders(new HTTPHeaders());
    c.add('W', '4');
    expect(new HTTPHeaders().size).toBe(0);
    const d = new HTTPHeaders(a);
    d.add('z', '5');
    expect(a.getList('z')).toEqual(['3']);
    expect(d.getList('Z')).toEqual(['3', '5']);
    expect(new HTTPHeaders().delete('x')).toBe(false);
  });

  it('keeps its semantics with many names (indexed lookups)', () => {
    const h = new HTTPHeaders();
    for (let i = 0; i < 40; i++) h.add(`X-Field-${i}`, String(i));
    h.add('x-field-7', 'again');
    expect(h.size).toBe(40);
    expect(h.get('X-FIELD-7')).toBe('7,again');
    expect(h.getList('x-field-39')).toEqual(['39']);
    expect(h.has('x-field-40')).toBe(false);
    expect(h.delete('X-Field-0')).toBe(true);
    expect(h.has('x-field-0')).toBe(false);
    // the index is rebuilt after a delete: later names still resolve to the right entries
    expect(h.get('x-field-39')).toBe('39');
    h.set('X-FIELD-39', 'set');
    h.add('New-Name', 'n');
    expect(h.get('new-name')).toBe('n');
    expect(h.get('x-field-39')).toBe('set');
    expect([...h.names()][0]).toBe('X-Field-1');
    expect([...h].length).toBe(41);
    h.clear();
    expect(h.get('x-field-1')).toBeUndefined();
  });

  it('compares names beyond ASCII as toLowerCase does', () => {
    const h = new HTTPHeaders();
    h.add('\u00c9t\u00e9', '1');
    expect(h.get('\u00e9T\u00c9')).toBe('1');
    // U+0130 lower-cases to two code units ("i" + U+0307)
    h.add('\u0130x', '2');
    expect(h.get('i\u0307x')).toBe('2');
    expect(h.copy().get('i\u0307X')).toBe('2');
    const h2 = new HTTPHeaders({ 'i\u0307y': '3' });
    expect(h2.get('\u0130Y')).toBe('3');
    expect(h2.get('\u0130Z')).toBeUndefined();
    expect(h.get('Ix')).toBeUndefined();
    expect(h.has('\u00e9t\u00e8')).toBe(false);
  });

  it('serializes with the framing fields noticed whatever their case', () => {
    const h = new HTTPHeaders({ 'content-LENGTH': '5', DATE: 'x', connection: 'close' });
    h.add('Transfer-Encoding', 'chunked');
    h.add('X-Latin', 'caf\u00e9');
    h.add('X-Two', 'a');
    h.add('X-Two', 'b');
    expect(h.serialize()).toBe(
      'content-LENGTH: 5\r\nDATE: x\r\nconnection: close\r\nTransfer-Encoding: chunked\r\nX-Latin: caf\u00e9\r\nX-Two: a\r\nX-Two: b\r\n',
    );
    expect(serializeState).toMatchObject({
      contentLength: '5',
      date: true,
      connection: true,
      transferEncoding: true,
      latin1: true,
    });
    expect(new HTTPHeaders({ A: 'b' }).serialize()).toBe('A: b\r\n');
    expect(serializeState).toMatchObject({ contentLength: undefined, date: false, latin1: false });
    // the last block is reused only for equal fields, with its framing facts
    const block = () => new HTTPHeaders({ 'Content-Length': String(12 + 1), Date: 'd' });
    expect(block().serialize()).toBe('Content-Length: 13\r\nDate: d\r\n');
    new HTTPHeaders({ X: 'caf\u00e9' }).serialize();
    expect(serializeState.latin1).toBe(true);
    expect(block().serialize()).toBe('Content-Length: 13\r\nDate: d\r\n');
    expect(block().serialize()).toBe('Content-Length: 13\r\nDate: d\r\n');
    expect(serializeState).toMatchObject({
      contentLength: '13',
      date: true,
      latin1: false,
      connection: false,
    });
    expect(new HTTPHeaders({ 'Content-Length': '14', Date: 'd' }).serialize()).toBe(
      'Content-Length: 14\r\nDate: d\r\n',
    );
    expect(serializeState.contentLength).toBe('14');
    const rep = new HTTPHeaders({ 'Content-Length': '14', Date: 'd' });
    rep.add('date', 'e');
    expect(rep.serialize()).toBe('Content-Length: 14\r\nDate: d\r\nDate: e\r\n');
    rep.delete('date');
    rep.add('Date', 'd');
    expect(rep.serialize()).toBe('Content-Length: 14\r\nDate: d\r\n');
    expect(() => new HTTPHeaders({ 'Content-Length': '14', Date: 'd\n' }).serialize()).toThrow(
      HTTPOutputError,
    );
    expect(new HTTPHeaders().serialize()).toBe('');
    expect(serializeState.contentLength).toBeUndefined();
    // names checked once are remembered (a bounded memo): many distinct names, then the same again
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 1100; i++) {
        expect(new HTTPHeaders({ [`X-N${i}`]: 'v' }).serialize()).toBe(`X-N${i}: v\r\n`);
      }
    }
    expect(() => new HTTPHeaders({ 'Bad Name': 'v' }).serialize()).toThrow(HTTPOutputError);
    expect(() => new HTTPHeaders({ 'Bad Name': 'v' }).serialize()).toThrow(HTTPOutputError);
    expect(() => new HTTPHeaders({ A: 'x\u0100' }).serialize()).toThrow(HTTPOutputError);
    expect(() => new HTTPHeaders({ A: `${'long'.repeat(5)}\u0100` }).serialize()).toThrow(HTTPOutputError);
    expect(new HTTPHeaders({ A: 'caf\u00e9'.repeat(4) }).serialize()).toBe(`A: ${'caf\u00e9'.repeat(4)}\r\n`);
    expect(serializeState.latin1).toBe(true);
    expect(() =>
      new HTTPHeaders([
        ['A', 'ok'],
        ['a', 'b\nc'],
      ]).serialize(),
    ).toThrow(HTTPOutputError);
  });

  it('parses a header block strictly', () => {
    const h = HTTPHeaders.parse(
      'Content-Type: text/html\r\nX-A:  spaced \t\r\nX-A: two\nEmpty:\r\n\r\nIgnored: yes',
    );
    expect(h.get('content-type')).toBe('text/html');
    expect(h.getList('x-a')).toEqual(['spaced', 'two']);
    expect(h.get('Empty')).toBe('');
    expect(h.has('Ignored')).toBe(false);
    expect(HTTPHeaders.parse('').size).toBe(0);
  });

  it.each([
    ['obs-fold', 'A: b\r\n c\r\n'],
    ['space before colon', 'A : b\r\n'],
    ['tab before colon', 'A\t: b\r\n'],
    ['no colon', 'Abc\r\n'],
    ['empty name', ': b\r\n'],
    ['bad name byte', 'A@b: c\r\n'],
    ['NUL in value', 'A: b\0c\r\n'],
    ['bare CR in value', 'A: b\rc\r\n'],
    ['non-latin1', 'A: \u2603\r\n'],
    ['DEL in value', 'A: \x7f\r\n'],
  ])('rejects %s', (_what, text) => {
    expect(() => HTTPHeaders.parse(text)).toThrow(HTTPInputError);
  });
});

describe('parseFields', () => {
  it('adds every field and reports the framing fields', () => {
    const h = new HTTPHeaders();
    const text =
      'HOST: a.example\r\ncontent-length: 3\r\nX:  v \t\r\nTransfer-encoding: chunked\r\nContent-Encoding: gzip\r\nEmpty:';
    const seen = parseFields(text, 0, text.length, h);
    expect(seen).toBe(F_HOST | F_CONTENT_LENGTH | F_TRANSFER_ENCODING | F_CONTENT_ENCODING);
    expect(parsedFields.host).toBe('a.example');
    expect(h.get('x')).toBe('v');
    expect(h.get('empty')).toBe('');
    expect([...h.names()]).toEqual([
      'HOST',
      'content-length',
      'X',
      'Transfer-encoding',
      'Content-Encoding',
      'Empty',
    ]);
    const long = `A:  ${'x'.repeat(40)} \t \r\nB:\t${'y'.repeat(20)}`;
    const hl = new HTTPHeaders();
    parseFields(`${long}\r\n\r\nbody`, 0, long.length, hl);
    expect(hl.get('a')).toBe('x'.repeat(40));
    expect(hl.get('b')).toBe('y'.repeat(20));
    const two = 'Host: a\r\nhost: b';
    expect(parseFields(two, 0, two.length, new HTTPHeaders()) & F_HOST_REPEATED).toBe(F_HOST_REPEATED);
    expect(parsedFields.host).toBe('a');
    // same lengths, other names
    const other = 'Hose: a\r\nContent-Lengthy: 1\r\ncontent-lengtx: 2';
    expect(parseFields(other, 0, other.length, new HTTPHeaders())).toBe(0);
  });

  it.each([
    ['obs-fold', 'A: b\r\n c', /obs-fold/],
    ['space before colon', 'A : b', /whitespace before the colon/],
    ['no colon', 'Abc\r\nB: c', /no colon/],
    ['no colon at the end', 'Abc', /no colon/],
    ['empty name', ': b', /empty field name/],
    ['bad name byte', 'A@b: c', /invalid byte in field name/],
    ['control byte in a name', 'A\x01: c', /control byte 0x01/],
    ['bare LF in a name', 'A\nB: c', /bare LF/],
    ['NUL in a value', 'A: b\0c', /control byte 0x00/],
    ['bare CR in a value', 'A: b\rc', /bare CR/],
    ['bare CR at the end', 'A: b\r', /bare CR/],
    ['bare LF in a value', 'A: b\nc: d', /bare LF/],
    ['DEL in a value', 'A: \x7f', /control byte 0x7f/],
    ['NUL in a long value', `A: ${'v'.repeat(30)}\0x\r\nB: c`, /control byte 0x00/],
    ['bare LF in a long value', `A: ${'v'.repeat(30)}\nB: c`, /bare LF/],
    ['bare CR in a long value', `A: ${'v'.repeat(30)}\rB: c`, /bare CR/],
    ['bare CR ending a long value', `A: ${'v'.repeat(30)}\r`, /bare CR/],
    ['DEL in a long last value', `A: ${'v'.repeat(30)}\x7f`, /control byte 0x7f/],
  ])('rejects %s', (_what, text, msg) => {
    expect(() => parseFields(text, 0, text.length, new HTTPHeaders())).toThrow(msg);
  });
});

describe('start lines', () => {
  it('parses request lines', () => {
    const l = parseRequestStartLine('GET /foo?x=1 HTTP/1.1');
    expect(l).toBeInstanceOf(RequestStartLine);
    expect([l.method, l.path, l.version]).toEqual(['GET', '/foo?x=1', 'HTTP/1.1']);
    expect(String(l)).toBe('GET /foo?x=1 HTTP/1.1');
  });

  it.each([
    'GET  / HTTP/1.1',
    'GET / HTTP/1.1 ',
    'GET /',
    'GET / HTTP/2.0',
    'GET / HTTP/1.2',
    'G@T / HTTP/1.1',
    ' GET / HTTP/1.1',
    'GET / http/1.1',
    'GET',
  ])('rejects request line %j', (line) => {
    expect(() => parseRequestStartLine(line)).toThrow(HTTPInputError);
  });

  it('parses response lines', () => {
    const l = parseResponseStartLine('HTTP/1.1 404 Not Found');
    expect(l).toBeInstanceOf(ResponseStartLine);
    expect([l.version, l.code, l.reason]).toEqual(['HTTP/1.1', 404, 'Not Found']);
    expect(parseResponseStartLine('HTTP/1.0 204').reason).toBe('');
    expect(String(new ResponseStartLine('HTTP/1.1', 200, 'OK'))).toBe('HTTP/1.1 200 OK');
  });

  it.each([
    'HTTP/1.1 20 OK',
    'HTTP/2 200 OK',
    'HTTP/1.1 2000 OK',
    'HTTP/1.1',
    'HTTP/1.1 abc OK',
    'HTTP/1.1 099 X',
  ])('rejects response line %j', (line) => {
    expect(() => parseResponseStartLine(line)).toThrow(HTTPInputError);
  });
});

describe('parse helpers', () => {
  it('checks head bytes', () => {
    expect(() => checkHeadBytes('GET / HTTP/1.1\r\nA: b\tc')).not.toThrow();
    expect(() => checkHeadBytes('GET / HTTP/1.1\nA: b')).toThrow(/bare LF/);
    expect(() => checkHeadBytes('GET / HTTP/1.1\rA: b')).toThrow(/bare CR/);
    expect(() => checkHeadBytes('GET / HTTP/1.1\r\nA: \x01')).toThrow(/control byte 0x01/);
  });

  it('parses header lines', () => {
    const got: string[] = [];
    parseHeaderLines('X: 1\r\nY:2', 0, 10, { add: (n, v) => got.push(`${n}=${v}`) });
    expect(got).toEqual(['X=1', 'Y=2']);
  });

  it('checks request targets', () => {
    expect(() => checkRequestTarget('GET', '/a?b#c')).not.toThrow();
    expect(() => checkRequestTarget('OPTIONS', '*')).not.toThrow();
    expect(() => checkRequestTarget('GET', 'http://x.org:80/a')).not.toThrow();
    expect(() => checkRequestTarget('GET', '*')).toThrow(/OPTIONS/);
    expect(() => checkRequestTarget('CONNECT', 'example.com:443')).toThrow(/form/);
    expect(() => checkRequestTarget('GET', '/caf\u00e9')).toThrow(/invalid byte/);
    expect(() => checkRequestTarget('GET', '/a\0')).toThrow(/invalid byte/);
    expect(() => checkRequestTarget('GET', '')).toThrow(/empty/);
    expect(isAbsoluteUri('svn+ssh://h/x')).toBe(true);
    expect(isAbsoluteUri('1http://h')).toBe(false);
    expect(isAbsoluteUri('ht_tp://h')).toBe(false);
    expect(isAbsoluteUri('://h')).toBe(false);
  });

  it.each([
    ['localhost', true],
    ['localhost:8080', true],
    ['0.0.0.0=5000', true],
    ['[::1]:80', true],
    ['[::1]', true],
    ['', false],
    ['user@localhost', false],
    ['localhost/path', false],
    ['a, b', false],
    ['a:80x', false],
    ['[::1', false],
    ['[zz]', false],
    ['a]:8', false],
  ])('validates Host %j -> %s', (host, ok) => {
    expect(isValidHost(host)).toBe(ok);
  });

  it.each([
    ['0', 0],
    ['005', 5],
    ['5, 5', 5],
    ['5,5', 5],
    ['\t42 ', 42],
    ['', -1],
    ['5, 6', -1],
    ['+5', -1],
    ['-1', -1],
    ['0x5', -1],
    ['1 0', -1],
    ['1_0', -1],
    ['1000000000000000000000', -1],
    ['5,', -1],
  ])('parses Content-Length %j -> %d', (v, n) => {
    expect(parseContentLength(v)).toBe(n);
  });

  it('finds list tokens', () => {
    expect(hasToken('close', 'close')).toBe(true);
    expect(hasToken('Keep-Alive, Close', 'close')).toBe(true);
    expect(hasToken('token, close , x', 'close')).toBe(true);
    expect(hasToken('closed', 'close')).toBe(false);
    expect(hasToken('xclose, closex', 'close')).toBe(false);
    expect(hasToken('', 'close')).toBe(false);
  });
});

function fakeConn(ctx: { remoteIp: string; protocol: string }): HTTPConnection {
  return {
    context: { ...ctx, address: null, trustedDownstream: new Set() },
    writeHeaders: async () => {},
    write: async () => {},
    finish: () => {},
  };
}

describe('HTTPServerRequest', () => {
  it('has Tornado defaults', () => {
    const r = new HTTPServerRequest();
    expect(r.method).toBe('GET');
    expect(r.uri).toBe('/');
    expect(r.version).toBe('HTTP/1.0');
    expect(r.host).toBe('127.0.0.1');
    expect(r.hostName).toBe('127.0.0.1');
    expect(r.remoteIp).toBeNull();
    expect(r.protocol).toBe('http');
    expect(r.body.length).toBe(0);
    expect(r.cookies).toEqual({});
    expect(Object.keys(r.files)).toEqual([]);
    expect(r.fullUrl()).toBe('http://127.0.0.1/');
    expect(String(r)).toContain('method=GET');
  });

  it('splits the uri, parses the query and reads the context', () => {
    const headers = new HTTPHeaders({ Host: 'Example.COM:8080', Cookie: 'a=1; b="x\\"y"' });
    headers.add('Cookie', 'c=3');
    const r = new HTTPServerRequest({
      startLine: new RequestStartLine('POST', '/p/a%20th?x=1&x=2&y=&z&w=a+b%21', 'HTTP/1.1'),
      headers,
      connection: fakeConn({ remoteIp: '10.0.0.1', protocol: 'https' }),
    });
    expect(r.method).toBe('POST');
    expect(r.path).toBe('/p/a%20th');
    expect(r.query).toBe('x=1&x=2&y=&z&w=a+b%21');
    expect(r.queryArguments).toEqual({ x: ['1', '2'], y: [''], z: [''], w: ['a b!'] });
    expect(r.arguments).toEqual(r.queryArguments);
    expect(r.arguments.x).not.toBe(r.queryArguments.x);
    expect(r.host).toBe('Example.COM:8080');
    expect(r.hostName).toBe('example.com');
    expect(r.remoteIp).toBe('10.0.0.1');
    expect(r.protocol).toBe('https');
    expect(r.fullUrl()).toBe('https://Example.COM:8080/p/a%20th?x=1&x=2&y=&z&w=a+b%21');
    expect(r.cookies).toEqual({ a: '1', b: 'x"y', c: '3' });
    expect(r.cookies).toBe(r.cookies);
  });

  it('takes host and path from an absolute-form target', () => {
    const r = new HTTPServerRequest({
      uri: 'http://user@hypnotoad.org:1234?hail=all#frag',
      headers: new HTTPHeaders({ Host: 'ignored' }),
    });
    expect(r.host).toBe('hypnotoad.org:1234');
    expect(r.hostName).toBe('hypnotoad.org');
    expect(r.path).toBe('/');
    expect(r.query).toBe('hail=all');
    const r2 = new HTTPServerRequest({ uri: 'http://h/a/b' });
    expect(r2.path).toBe('/a/b');
    const r3 = new HTTPServerRequest({ uri: '/x#y' });
    expect(r3.path).toBe('/x');
    const r4 = new HTTPServerRequest({ uri: '*', method: 'OPTIONS', host: 'given' });
    expect(r4.path).toBe('*');
    expect(r4.host).toBe('given');
  });

  it('measures request time', () => {
    const r = new HTTPServerRequest();
    expect(r.requestTime()).toBeGreaterThanOrEqual(0);
    expect(Math.abs(r.startTime - Date.now() / 1000)).toBeLessThan(60);
    r.markFinished();
    const t = r.requestTime();
    expect(r.requestTime()).toBe(t);
  });

  it('parses a urlencoded body and merges arguments', async () => {
    const r = new HTTPServerRequest({
      method: 'POST',
      uri: '/?a=1',
      headers: new HTTPHeaders({ 'Content-Type': 'application/x-www-form-urlencoded; charset=utf-8' }),
      body: Buffer.from('a=2&b=%E2%98%83&c'),
    });
    await r.parseBody();
    expect(r.bodyArguments).toEqual({ a: ['2'], b: ['\u2603'], c: [''] });
    expect(r.arguments).toEqual({ a: ['1', '2'], b: ['\u2603'], c: [''] });
    expect(r.queryArguments).toEqual({ a: ['1'] });
  });

  it('parses multipart bodies with files', async () => {
    const body = Buffer.from(
      '--XX\r\nContent-Disposition: form-data; name="a"\r\n\r\nhello\r\n' +
        '--XX\r\nContent-Disposition: form-data; name="f"; filename="x.txt"\r\nContent-Type: text/plain\r\n\r\nfile\r\ndata\r\n' +
        '--XX\r\nContent-Disposition: form-data; name="f"; filename="e.bin"\r\n\r\n\r\n' +
        '--XX\r\nContent-Disposition: form-data; name="a"\r\n\r\nagain\r\n--XX--\r\n',
    );
    const r = new HTTPServerRequest({
      method: 'POST',
      headers: new HTTPHeaders({ 'Content-Type': 'multipart/form-data; boundary=XX' }),
      body,
    });
    await r.parseBody();
    expect(r.bodyArguments).toEqual({ a: ['hello', 'again'] });
    expect(r.arguments).toEqual({ a: ['hello', 'again'] });
    expect(r.files.f).toHaveLength(2);
    expect(r.files.f?.[0]?.filename).toBe('x.txt');
    expect(r.files.f?.[0]?.contentType).toBe('text/plain');
    expect(r.files.f?.[0]?.body.toString()).toBe('file\r\ndata');
    expect(r.files.f?.[1]?.body.length).toBe(0);
    expect(r.files.f?.[1]?.contentType).toBe('text/plain');
  });

  it('ignores bodies of other types and empty bodies', async () => {
    const r = new HTTPServerRequest({
      method: 'POST',
      headers: new HTTPHeaders({ 'Content-Type': 'application/json' }),
      body: Buffer.from('{"a":1}'),
    });
    await r.parseBody();
    expect(r.bodyArguments).toEqual({});
    const r2 = new HTTPServerRequest({ method: 'POST', body: Buffer.from('a=1') });
    await r2.parseBody();
    expect(r2.bodyArguments).toEqual({});
  });
});

describe('parseBodyArguments', () => {
  const args = (): Arguments => Object.create(null);
  const files = (): Files => Object.create(null);

  it.each([
    ['no boundary', 'multipart/form-data', '--XX--\r\n'],
    [
      'truncated',
      'multipart/form-data; boundary=XX',
      '--XX\r\nContent-Disposition: form-data; name="a"\r\n\r\nhel',
    ],
    ['no final boundary', 'multipart/form-data; boundary=XX', '--XX\r\n\r\n'],
    ['final boundary glued', 'multipart/form-data; boundary=XX', 'junk--XX--'],
  ])('rejects multipart with %s', async (_w, ct, body) => {
    try {
      await parseBodyArguments(ct, Buffer.from(body), args(), files());
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(HTTPInputError);
      expect((e as HTTPInputError).code).toBe(HTTPErrorCode.INVALID_BODY);
    }
  });

  it('accepts a quoted boundary and Uint8Array bodies', async () => {
    const a = args();
    const f = files();
    const body = new TextEncoder().encode(
      '--a b\r\nContent-Disposition: form-data; name="k"\r\n\r\nv\r\n--a b--',
    );
    await parseBodyArguments('multipart/form-data; boundary="a b"', body, a, f);
    expect(a).toEqual({ k: ['v'] });
    const u = args();
    await parseBodyArguments('application/x-www-form-urlencoded', new TextEncoder().encode('x=1'), u, f);
    expect(u).toEqual({ x: ['1'] });
  });

  it('refuses an encoded body', async () => {
    await expect(
      parseBodyArguments(
        'application/x-www-form-urlencoded',
        Buffer.from('a=1'),
        args(),
        files(),
        new HTTPHeaders({ 'Content-Encoding': 'gzip' }),
      ),
    ).rejects.toThrow(/Content-Encoding/);
  });

  it('keeps __proto__ an ordinary key', () => {
    const a = parseQsBytes('__proto__=1&constructor=2');
    expect(Object.getOwnPropertyDescriptor(a, '__proto__')?.value).toEqual(['1']);
    expect(a.constructor).toEqual(['2']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(parseQsBytes('&&a=%zz&')).toEqual({ a: ['%zz'] });
  });
});

describe('small helpers', () => {
  it('parses cookies like Tornado', () => {
    expect(parseCookie('a=1; b=2;c = 3 ; =e; noeq')).toEqual({ a: '1', b: '2', c: '3', '': 'noeq' });
    expect(parseCookie('q="a\\073b\\"c"')).toEqual({ q: 'a;b"c' });
    expect(parseCookie('')).toEqual({});
  });

  it('parses header values with params', () => {
    expect(parseHeaderValue('text/html; charset="utf-8"; q=0.5; bad')).toEqual([
      'text/html',
      { charset: 'utf-8', q: '0.5' },
    ]);
    expect(parseHeaderValue('form-data; name="a;b\\"c"')).toEqual(['form-data', { name: 'a;b"c' }]);
  });

  it('formats timestamps as IMF-fixdate', () => {
    expect(formatTimestamp(784111777)).toBe('Sun, 06 Nov 1994 08:49:37 GMT');
    expect(formatTimestamp(new Date(Date.UTC(2026, 0, 2, 3, 4, 5)))).toBe('Fri, 02 Jan 2026 03:04:05 GMT');
    expect(() => formatTimestamp(Number.NaN)).toThrow(TypeError);
  });

  it('concatenates urls', () => {
    expect(urlConcat('http://example.com/foo', { c: 'd' })).toBe('http://example.com/foo?c=d');
    expect(urlConcat('http://example.com/foo?a=b', { c: 'd' })).toBe('http://example.com/foo?a=b&c=d');
    expect(urlConcat('http://example.com/foo?a=b#frag', [['c', 'd e']])).toBe(
      'http://example.com/foo?a=b&c=d+e#frag',
    );
    expect(urlConcat('/p', { x: ['1', '2'] })).toBe('/p?x=1&x=2');
    expect(urlConcat('/p', {})).toBe('/p');
    expect(urlConcat('/p', null)).toBe('/p');
    expect(() => urlConcat('/p', 5 as never)).toThrow(TypeError);
  });

  it('splits host and port', () => {
    expect(splitHostAndPort('a.b:80')).toEqual(['a.b', 80]);
    expect(splitHostAndPort('a.b')).toEqual(['a.b', null]);
    expect(splitHostAndPort('[::1]:8')).toEqual(['[::1]', 8]);
  });

  it('has reason phrases', () => {
    expect(responses[404]).toBe('Not Found');
  });

  it('has errors with names, codes and statuses', () => {
    const e = new HTTPInputError('too big', { status: 431 });
    expect(e.name).toBe('HTTPInputError');
    expect(e.code).toBe('ERR_HTTP_HEADER_TOO_LARGE');
    expect(e.status).toBe(431);
    expect(new HTTPInputError('x').code).toBe('ERR_HTTP_BAD_REQUEST');
    expect(new HTTPInputError('x', { status: 413 }).code).toBe(HTTPErrorCode.BODY_TOO_LARGE);
    expect(new HTTPInputError('x', { status: 408 }).code).toBe(HTTPErrorCode.REQUEST_TIMEOUT);
    expect(new HTTPInputError('x', { status: 414 }).code).toBe(HTTPErrorCode.URI_TOO_LONG);
    const cause = new Error('c');
    expect(new HTTPInputError('x', { cause }).cause).toBe(cause);
    const o = new HTTPOutputError('bad');
    expect(o.name).toBe('HTTPOutputError');
    expect(o.code).toBe('ERR_HTTP_OUTPUT');
    expect(new HTTPOutputError('n', HTTPErrorCode.CONTENT_LENGTH_MISMATCH).code).toBe(
      'ERR_HTTP_CONTENT_LENGTH_MISMATCH',
    );
  });
});
