import { configureLogging, type LogSink, resetLogging } from '@tornado-ts/ioloop';
import { afterEach, describe, expect, it } from 'vitest';
import {
  HTTP1ServerConnection,
  HTTPHeaders,
  HTTPInputError,
  type HTTPMessageDelegate,
  HTTPOutputError,
  type HTTPServerConnectionDelegate,
  ResponseStartLine,
} from '../src/index';
import { type Running, raw, startServer, statuses } from './helpers/server';

let s: Running | undefined;
afterEach(async () => {
  resetLogging();
  await s?.close();
  s = undefined;
});

const H = 'Host: x\r\n';

function capture(): { lines: string[]; sink: LogSink } {
  const lines: string[] = [];
  const push = (msg: string) => {
    lines.push(msg);
  };
  return { lines, sink: { debug: push, info: push, warn: push, error: push } };
}

function delegateServer(
  make: (conn: Parameters<HTTPServerConnectionDelegate['startRequest']>[1]) => Partial<HTTPMessageDelegate>,
): HTTPServerConnectionDelegate {
  return {
    startRequest(_sc, conn) {
      const d = make(conn);
      return {
        headersReceived: d.headersReceived ?? (() => {}),
        dataReceived: d.dataReceived ?? (() => {}),
        finish:
          d.finish ??
          (() => {
            void conn.writeHeaders(
              new ResponseStartLine('HTTP/1.1', 200, 'OK'),
              new HTTPHeaders({ 'Content-Length': '2' }),
              'ok',
            );
            conn.finish();
          }),
        onConnectionClose: d.onConnectionClose ?? (() => {}),
      };
    },
    onClose() {},
  };
}

describe('delegate failures', () => {
  it('answers 500 and closes when headersReceived throws', async () => {
    const log = capture();
    configureLogging({ level: 'error', sink: log.sink });
    s = await startServer(
      delegateServer(() => ({
        headersReceived: () => {
          throw new Error('bad delegate');
        },
      })),
    );
    const r = await raw(s.port, `GET / HTTP/1.1\r\n${H}\r\n`);
    expect(statuses(r.data)).toEqual([500]);
    expect(r.closed).toBe(true);
    expect(log.lines.some((l) => l.includes('bad delegate'))).toBe(true);
  });

  it('answers with the status of an HTTPInputError from dataReceived', async () => {
    s = await startServer(
      delegateServer(() => ({
        dataReceived: async () => {
          throw new HTTPInputError('no thanks', { status: 413 });
        },
      })),
    );
    const r = await raw(s.port, `POST / HTTP/1.1\r\n${H}Content-Length: 3\r\n\r\nabc`);
    expect(statuses(r.data)).toEqual([413]);
    expect(r.closed).toBe(true);
  });

  it('answers 500 when an async headersReceived rejects', async () => {
    s = await startServer(
      delegateServer(() => ({
        headersReceived: async () => {
          throw new Error('later');
        },
      })),
    );
    const r = await raw(s.port, `POST / HTTP/1.1\r\n${H}Content-Length: 3\r\n\r\nabc`);
    expect(statuses(r.data)).toEqual([500]);
  });

  it('logs throwing close hooks and a throwing startRequest', async () => {
    const log = capture();
    configureLogging({ level: 'error', sink: log.sink });
    let calls = 0;
    s = await startServer({
      startRequest(_sc, conn) {
        if (++calls === 2) throw new Error('no delegate today');
        conn.setCloseCallback?.(() => {
          throw new Error('close callback broke');
        });
        return {
          headersReceived: () => {},
          dataReceived: () => {},
          finish: () => {},
          onConnectionClose: () => {
            throw new Error('onConnectionClose broke');
          },
        };
      },
      onClose() {
        throw new Error('onClose broke');
      },
    });
    await raw(s.port, `POST / HTTP/1.1\r\n${H}Content-Length: 5\r\n\r\nab`, { windowMs: 150 });
    const r = await raw(s.port, `GET / HTTP/1.1\r\n${H}\r\n`);
    expect(r.closed).toBe(true);
    await new Promise<void>((resolve) => {
      const check = () =>
        log.lines.filter((l) => l.includes('onClose broke')).length >= 2 ? resolve() : setImmediate(check);
      check();
    });
    for (const what of [
      'close callback broke',
      'onConnectionClose broke',
      'no delegate today',
      'onClose broke',
    ]) {
      expect(log.lines.some((l) => l.includes(what))).toBe(true);
    }
  });

  it('refuses to start serving twice', async () => {
    const { IOStream } = await import('@tornado-ts/iostream');
    const { Duplex } = await import('node:stream');
    const stream = new IOStream(
      new Duplex({
        read() {},
        write(_c, _e, cb) {
          cb();
        },
      }),
    );
    const conn = new HTTP1ServerConnection(stream);
    const d = delegateServer(() => ({}));
    conn.startServing(d);
    expect(conn.busy).toBe(false);
    expect(() => conn.startServing(d)).toThrow(/twice/);
    await conn.close();
  });
});

describe('output validation', () => {
  it.each([
    ['a status code out of range', () => new ResponseStartLine('HTTP/1.1', 42, 'X'), new HTTPHeaders()],
    [
      'CR/LF in the reason phrase',
      () => new ResponseStartLine('HTTP/1.1', 200, 'OK\r\nX-Evil: 1'),
      new HTTPHeaders(),
    ],
    [
      'a bad Content-Length',
      () => new ResponseStartLine('HTTP/1.1', 200, 'OK'),
      new HTTPHeaders({ 'Content-Length': 'ten' }),
    ],
    [
      'a bad header name',
      () => new ResponseStartLine('HTTP/1.1', 200, 'OK'),
      new HTTPHeaders({ 'Bad Name': '1' }),
    ],
    [
      'a character above U+00FF',
      () => new ResponseStartLine('HTTP/1.1', 200, 'OK'),
      new HTTPHeaders({ 'X-S': '\u2603' }),
    ],
  ])('refuses %s', async (_w, line, headers) => {
    let err: unknown;
    s = await startServer((req) => {
      try {
        void req.connection!.writeHeaders(line(), headers);
      } catch (e) {
        err = e;
        throw e;
      }
    });
    const r = await raw(s.port, `GET / HTTP/1.1\r\n${H}\r\n`, { until: (d) => d.includes('\r\n\r\n') });
    expect(err).toBeInstanceOf(HTTPOutputError);
    expect(statuses(r.data)).toEqual([500]);
    expect(r.data).not.toContain('Evil');
  });

  it('checks every reason phrase, also for a status code answered before', async () => {
    const reasons: Record<string, string> = { '/a': 'OK', '/b': 'Fine', '/c': 'OK\r\nX-Evil: 1', '/d': 'OK' };
    s = await startServer((req) => {
      void req.connection!.writeHeaders(
        new ResponseStartLine('HTTP/1.1', 200, reasons[req.path] as string),
        new HTTPHeaders({ 'Content-Length': '0' }),
      );
      req.connection!.finish();
    });
    const r = await raw(
      s.port,
      ['/a', '/b', '/a', '/c'].map((p) => `GET ${p} HTTP/1.1\r\n${H}\r\n`).join(''),
      { until: (d) => d.includes(' 500 ') },
    );
    expect(r.data.match(/^HTTP\/1\.1 .*$/gm)).toEqual([
      'HTTP/1.1 200 OK',
      'HTTP/1.1 200 Fine',
      'HTTP/1.1 200 OK',
      'HTTP/1.1 500 Internal Server Error',
    ]);
    expect(r.data).not.toContain('Evil');
  });

  it('batches many pipelined responses, large ones included, in order', async () => {
    s = await startServer((req) => {
      const size = Number(req.path.slice(1));
      const c = req.connection!;
      void c.writeHeaders(
        new ResponseStartLine('HTTP/1.1', 200, 'OK'),
        new HTTPHeaders({ 'Content-Length': String(size), 'X-Size': String(size) }),
        Buffer.alloc(size, 'y'),
      );
      c.finish();
    });
    const sizes = [10, 20_000, 5, 40_000, 30_000, 1, 25_000, 7];
    const r = await raw(s.port, sizes.map((n) => `GET /${n} HTTP/1.1\r\n${H}\r\n`).join(''), {
      until: (d) => d.includes('X-Size: 7\r\n') && d.endsWith('yyyyyyy'),
    });
    expect([...r.data.matchAll(/X-Size: (\d+)/g)].map((m) => Number(m[1]))).toEqual(sizes);
    expect(r.data.length).toBeGreaterThan(sizes.reduce((a, b) => a + b, 0));
  });
});

describe('parser corners', () => {
  it.each([
    ['a method too long before its space arrives', 'A'.repeat(40), 400],
    ['a request line too long before its end arrives', `GET /${'a'.repeat(8300)}`, 414],
    ['an empty target before the version arrives', 'GET  ', 400],
    ['a bad version before the line ends', 'GET / HTTP/x', 400],
    [
      'Content-Length and Transfer-Encoding before the head ends',
      `POST / HTTP/1.1\r\n${H}Content-Length: 1\r\nTransfer-Encoding: chunked\r\n`,
      400,
    ],
    ['a bad Content-Length before the head ends', `POST / HTTP/1.1\r\n${H}Content-Length: x\r\n`, 400],
    ['obs-fold before the head ends', `GET / HTTP/1.1\r\n${H} folded`, 400],
  ])('rejects %s without waiting for the rest', async (_w, bytes, status) => {
    s = await startServer();
    const r = await raw(s.port, bytes, { windowMs: 3000 });
    expect(statuses(r.data)).toEqual([status]);
    expect(r.closed).toBe(true);
  });

  it('accepts chunk extensions with whitespace around "="', async () => {
    s = await startServer();
    const r = await raw(
      s.port,
      `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n3 ; a = b ;c="q\\"x"\r\nabc\r\n0\r\n\r\n`,
      { until: (d) => d.includes('abc') },
    );
    expect(statuses(r.data)).toEqual([200]);
  });

  it('bounds the trailer section', async () => {
    s = await startServer(undefined, { maxHeaderSize: 1024 });
    const r = await raw(
      s.port,
      `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\nX-T: ${'t'.repeat(2000)}\r\n\r\n`,
    );
    expect(statuses(r.data)).toEqual([431]);
    const r2 = await raw(
      s.port,
      `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\nX-T: ${'t'.repeat(2000)}`,
    );
    expect(statuses(r2.data)).toEqual([431]);
  });

  it('reads a body spread over many small packets', async () => {
    s = await startServer(undefined, { chunkSize: 3 });
    const parts = [`POST / HTTP/1.1\r\n${H}Content-Length: 10\r\n\r\n`, '01234', '56789'];
    const r = await raw(s.port, parts, { until: (d) => d.includes('0123456789') });
    expect(r.data).toContain('POST / 10\n0123456789');
  });
});
