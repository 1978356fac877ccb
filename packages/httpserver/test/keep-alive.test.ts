import { afterEach, describe, expect, it } from 'vitest';
import { HTTPHeaders, type HTTPServerRequest, ResponseStartLine } from '../src/index';
import { type Running, raw, startServer, statuses } from './helpers/server';

let s: Running | undefined;
afterEach(async () => {
  await s?.close();
  s = undefined;
});

const H = 'Host: x\r\n';

function respond(
  req: HTTPServerRequest,
  body: string,
  headers: Record<string, string> = {},
  code = 200,
): void {
  const conn = req.connection!;
  void conn.writeHeaders(
    new ResponseStartLine('HTTP/1.1', code, 'OK'),
    new HTTPHeaders(headers),
    body || undefined,
  );
  conn.finish();
}

describe('keep-alive and pipelining', () => {
  it('answers pipelined requests strictly in order on one connection', async () => {
    s = await startServer();
    const reqs = Array.from({ length: 20 }, (_, i) =>
      i % 3 === 0
        ? `POST /r${i} HTTP/1.1\r\n${H}Content-Length: 3\r\n\r\nabc`
        : i % 3 === 1
          ? `POST /r${i} HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n`
          : `GET /r${i} HTTP/1.1\r\n${H}\r\n`,
    ).join('');
    const r = await raw(s.port, reqs, { until: (d) => d.includes('/r19 ') });
    const order = [...r.data.matchAll(/(?:GET|POST) \/r(\d+) (\d+)/g)].map((m) => Number(m[1]));
    expect(order).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(statuses(r.data)).toEqual(new Array(20).fill(200));
    expect(r.closed).toBe(false);
  });

  it('keeps pipelined answers in order when the first one is slow', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    let started!: () => void;
    const slowStarted = new Promise<void>((r) => {
      started = r;
    });
    s = await startServer(async (req) => {
      if (req.path === '/slow') {
        started();
        await gate;
      }
      respond(req, `${req.path}\n`, { 'Content-Length': String(req.path.length + 1) });
    });
    const result = raw(s.port, `GET /slow HTTP/1.1\r\n${H}\r\nGET /fast HTTP/1.1\r\n${H}\r\n`, {
      until: (d) => d.includes('/fast\n'),
    });
    await slowStarted;
    release();
    const r = await result;
    expect(r.data.indexOf('/slow\n')).toBeGreaterThan(-1);
    expect(r.data.indexOf('/slow\n')).toBeLessThan(r.data.indexOf('/fast\n'));
  });

  it('keeps an HTTP/1.0 connection alive on request', async () => {
    s = await startServer();
    const r = await raw(
      s.port,
      'GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /b HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n',
      { until: (d) => d.includes('GET /b') },
    );
    expect(statuses(r.data)).toEqual([200, 200]);
    expect(r.data.match(/Connection: keep-alive/g)).toHaveLength(2);
    expect(r.closed).toBe(false);
  });

  it('closes an HTTP/1.0 connection by default', async () => {
    s = await startServer();
    const r = await raw(s.port, 'GET /a HTTP/1.0\r\n\r\n');
    expect(statuses(r.data)).toEqual([200]);
    expect(r.closed).toBe(true);
  });

  it('closes after Connection: close, listed among other tokens', async () => {
    s = await startServer();
    const r = await raw(s.port, `GET /a HTTP/1.1\r\n${H}Connection: keep-alive, Close\r\n\r\n`);
    expect(statuses(r.data)).toEqual([200]);
    expect(r.data).toContain('Connection: close\r\n');
    expect(r.closed).toBe(true);
  });

  it('closes after each request with noKeepAlive', async () => {
    s = await startServer(undefined, { noKeepAlive: true });
    const r = await raw(s.port, `GET /a HTTP/1.1\r\n${H}\r\nGET /b HTTP/1.1\r\n${H}\r\n`);
    expect(statuses(r.data)).toEqual([200]);
    expect(r.data).toContain('Connection: close\r\n');
    expect(r.closed).toBe(true);
  });

  it('skips empty lines between pipelined requests', async () => {
    s = await startServer();
    const r = await raw(s.port, `\r\n\r\nGET /a HTTP/1.1\r\n${H}\r\n\r\nGET /b HTTP/1.1\r\n${H}\r\n`, {
      until: (d) => d.includes('GET /b'),
    });
    expect(statuses(r.data)).toEqual([200, 200]);
  });

  it('serves requests sent one byte at a time', async () => {
    s = await startServer();
    const req = `POST /bytes HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n3;x=1\r\nabc\r\n0\r\nX-T: 1\r\n\r\n`;
    const r = await raw(
      s.port,
      [...Buffer.from(req)].map((b) => Buffer.from([b])),
      {
        until: (d) => d.includes('abc'),
      },
    );
    expect(statuses(r.data)).toEqual([200]);
    expect(r.data).toContain('POST /bytes 3\nabc');
  });
});

describe('response framing', () => {
  it('chunks an HTTP/1.1 response without Content-Length', async () => {
    s = await startServer((req) => {
      const c = req.connection!;
      void c.writeHeaders(new ResponseStartLine('HTTP/1.1', 200, 'OK'), new HTTPHeaders(), 'hello ');
      void c.write('');
      void c.write(Buffer.from('world'));
      c.finish();
    });
    const r = await raw(s.port, `GET / HTTP/1.1\r\n${H}\r\n`, { until: (d) => d.endsWith('0\r\n\r\n') });
    expect(r.data).toContain('Transfer-Encoding: chunked\r\n');
    expect(r.data.split('\r\n\r\n')[1]).toBe('6\r\nhello \r\n5\r\nworld\r\n0');
    expect(r.data).toMatch(/Date: \w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} GMT\r\n/);
  });

  it('delimits an HTTP/1.0 response without Content-Length by closing', async () => {
    s = await startServer((req) => {
      const c = req.connection!;
      void c.writeHeaders(new ResponseStartLine('HTTP/1.1', 200, 'OK'), new HTTPHeaders(), 'until close');
      c.finish();
    });
    const r = await raw(s.port, 'GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n');
    expect(r.data).not.toContain('chunked');
    expect(r.data).not.toContain('keep-alive');
    expect(r.data.endsWith('\r\n\r\nuntil close')).toBe(true);
    expect(r.closed).toBe(true);
  });

  it('sends no body for HEAD, 204 and 304 and does not chunk them', async () => {
    s = await startServer((req) => {
      const c = req.connection!;
      const code = req.path === '/204' ? 204 : req.path === '/304' ? 304 : 200;
      const h = new HTTPHeaders(code === 200 ? { 'Content-Length': '5' } : {});
      void c.writeHeaders(new ResponseStartLine('HTTP/1.1', code, 'X'), h);
      c.finish();
    });
    const r = await raw(
      s.port,
      `HEAD / HTTP/1.1\r\n${H}\r\nGET /204 HTTP/1.1\r\n${H}\r\nGET /304 HTTP/1.1\r\n${H}\r\nGET /204 HTTP/1.1\r\n${H}Connection: close\r\n\r\n`,
    );
    expect(statuses(r.data)).toEqual([200, 204, 304, 204]);
    expect(r.closed).toBe(true);
    expect(r.data).not.toContain('chunked');
    expect(r.data).toContain('Content-Length: 5\r\n');
  });

  it('keeps the header case and order given, and the caller Date', async () => {
    s = await startServer((req) => {
      respond(req, 'ok', {
        'X-First': '1',
        'content-length': '2',
        Date: 'Thu, 01 Jan 1970 00:00:00 GMT',
      });
    });
    const r = await raw(s.port, `GET / HTTP/1.1\r\n${H}Connection: close\r\n\r\n`);
    expect(r.data).toContain('X-First: 1\r\ncontent-length: 2\r\nDate: Thu, 01 Jan 1970 00:00:00 GMT\r\n');
    expect(r.data.match(/Date:/g)).toHaveLength(1);
  });

  it('writes latin1 header values byte for byte', async () => {
    s = await startServer((req) =>
      respond(req, 'ok', { 'Content-Length': '2', 'X-Name': 'D\u00fcsseldorf' }),
    );
    const r = await raw(s.port, `GET / HTTP/1.1\r\n${H}Connection: close\r\n\r\n`);
    expect(r.data).toContain('X-Name: D\u00fcsseldorf\r\n');
  });

  it('writes a large body after the head', async () => {
    const big = Buffer.alloc(100_000, 'z');
    s = await startServer((req) => {
      const c = req.connection!;
      void c.writeHeaders(
        new ResponseStartLine('HTTP/1.1', 200, 'OK'),
        new HTTPHeaders({ 'Content-Length': String(big.length) }),
        big,
      );
      c.finish();
    });
    const r = await raw(s.port, `GET / HTTP/1.1\r\n${H}Connection: close\r\n\r\n`);
    expect(r.data.split('\r\n\r\n')[1]).toHaveLength(100_000);
  });

  it('accepts a string body with non-ASCII text next to the head', async () => {
    s = await startServer((req) =>
      respond(req, 'h\u00e9', { 'Content-Length': String(Buffer.byteLength('h\u00e9')), 'X-L': '\u00e9' }),
    );
    const r = await raw(s.port, `GET / HTTP/1.1\r\n${H}Connection: close\r\n\r\n`);
    expect(Buffer.from(r.data.split('\r\n\r\n')[1]!, 'latin1').toString('utf8')).toBe('h\u00e9');
  });
});
