import { connect } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type HTTP1Connection,
  type HTTPConnection,
  HTTPHeaders,
  type HTTPMessageDelegate,
  type HTTPServerConnectionDelegate,
  type RequestStartLine,
  ResponseStartLine,
} from '../src/index';
import { type Running, raw, startServer, statuses } from './helpers/server';

let s: Running | undefined;
afterEach(async () => {
  await s?.close();
  s = undefined;
});

const H = 'Host: x\r\n';

/** A delegate server that records what each request delivered and answers with a summary. */
function recorder(opts: {
  onHeaders?: (conn: HTTPConnection, start: RequestStartLine, headers: HTTPHeaders) => void | Promise<void>;
  onData?: (chunk: Buffer) => void | Promise<void>;
  log: string[];
}): HTTPServerConnectionDelegate {
  return {
    startRequest(_sc, conn): HTTPMessageDelegate {
      const chunks: Buffer[] = [];
      let start: RequestStartLine;
      return {
        headersReceived(sl, headers) {
          start = sl as RequestStartLine;
          opts.log.push(`headers ${start.path}`);
          return opts.onHeaders?.(conn, start, headers);
        },
        dataReceived(chunk) {
          chunks.push(chunk);
          opts.log.push(`data ${chunk.length}`);
          return opts.onData?.(chunk);
        },
        finish() {
          opts.log.push('finish');
          const body = Buffer.concat(chunks);
          const trailers = (conn as HTTP1Connection).trailers;
          const text = `${start.path} ${body.length} ${body.subarray(0, 32).toString()} ${trailers ? JSON.stringify(trailers.toJSON()) : '-'}`;
          void conn.writeHeaders(
            new ResponseStartLine('HTTP/1.1', 200, 'OK'),
            new HTTPHeaders({ 'Content-Length': String(Buffer.byteLength(text)) }),
            text,
          );
          conn.finish();
        },
        onConnectionClose() {
          opts.log.push('close');
        },
      };
    },
    onClose() {
      opts.log.push('server-close');
    },
  };
}

describe('request bodies', () => {
  it('splits a large fixed body into chunkSize pieces', async () => {
    const log: string[] = [];
    s = await startServer(recorder({ log }), { chunkSize: 1000 });
    const body = 'q'.repeat(3500);
    const r = await raw(s.port, `POST /big HTTP/1.1\r\n${H}Content-Length: 3500\r\n\r\n${body}`, {
      until: (d) => d.includes('/big 3500'),
    });
    expect(statuses(r.data)).toEqual([200]);
    const sizes = log.filter((l) => l.startsWith('data')).map((l) => Number(l.slice(5)));
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(3500);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(1000);
  });

  it('reads chunked bodies with extensions and exposes trailers', async () => {
    const log: string[] = [];
    s = await startServer(recorder({ log }));
    const r = await raw(
      s.port,
      `POST /c HTTP/1.1\r\n${H}Transfer-Encoding: Chunked\r\n\r\n5;a=b;c="d\\"e";f\r\nhello\r\n1 ;g=h\r\n!\r\n000\r\nX-Sum: abc\r\nX-Two: 2\r\n\r\n`,
      { until: (d) => d.includes('X-Sum') },
    );
    expect(r.data).toContain('/c 6 hello! {"X-Sum":"abc","X-Two":"2"}');
  });

  it('waits for the delegate when dataReceived returns a promise', async () => {
    const log: string[] = [];
    let pending = 0;
    s = await startServer(
      recorder({
        log,
        onData: async () => {
          pending++;
          expect(pending).toBe(1);
          await new Promise<void>((r) => setImmediate(r));
          pending--;
        },
      }),
      { chunkSize: 2 },
    );
    const r = await raw(s.port, `POST /slow HTTP/1.1\r\n${H}Content-Length: 7\r\n\r\nabcdefg`, {
      until: (d) => d.includes('/slow 7'),
    });
    expect(r.data).toContain('/slow 7 abcdefg');
    expect(log.filter((l) => l.startsWith('data'))).toEqual(['data 2', 'data 2', 'data 2', 'data 1']);
  });

  it('waits for an async headersReceived before reading the body', async () => {
    const log: string[] = [];
    s = await startServer(
      recorder({
        log,
        onHeaders: async () => {
          await new Promise<void>((r) => setImmediate(r));
          log.push('headers done');
        },
      }),
    );
    const r = await raw(s.port, `POST /h HTTP/1.1\r\n${H}Content-Length: 2\r\n\r\nok`, {
      until: (d) => d.includes('/h 2'),
    });
    expect(r.data).toContain('/h 2 ok');
    expect(log.indexOf('headers done')).toBeLessThan(log.indexOf('data 2'));
  });

  it('lets the delegate lower maxBodySize per request (413 before reading)', async () => {
    const log: string[] = [];
    s = await startServer(
      recorder({
        log,
        onHeaders: (conn, start) => {
          if (start.path === '/small') conn.setMaxBodySize?.(4);
        },
      }),
    );
    const ok = await raw(s.port, `POST /big HTTP/1.1\r\n${H}Content-Length: 5\r\n\r\nhello`, {
      until: (d) => d.includes('/big 5'),
    });
    expect(statuses(ok.data)).toEqual([200]);
    const r = await raw(s.port, `POST /small HTTP/1.1\r\n${H}Content-Length: 5\r\n\r\nhello`);
    expect(statuses(r.data)).toEqual([413]);
    expect(r.closed).toBe(true);
    expect(log).toContain('close');
  });

  it('answers 100-continue once the delegate accepted the headers', async () => {
    s = await startServer();
    const port = s.port;
    const got = await new Promise<string>((resolve, reject) => {
      const sock = connect(port, '127.0.0.1');
      let data = '';
      let sentBody = false;
      sock.on('connect', () => {
        sock.write(`PUT /up HTTP/1.1\r\n${H}Content-Length: 4\r\nExpect: 100-continue\r\n\r\n`);
      });
      sock.on('data', (d) => {
        data += d.toString('latin1');
        if (!sentBody && data.includes('100 Continue\r\n\r\n')) {
          sentBody = true;
          sock.write('data');
        }
        if (data.includes('PUT /up 4\ndata')) {
          sock.destroy();
          resolve(data);
        }
      });
      sock.on('error', reject);
    });
    expect(got.startsWith('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK')).toBe(true);
  });

  it('does not send 100 Continue when the delegate answered early, and closes', async () => {
    const log: string[] = [];
    s = await startServer(
      recorder({
        log,
        onHeaders: (conn) => {
          void conn.writeHeaders(
            new ResponseStartLine('HTTP/1.1', 401, 'Unauthorized'),
            new HTTPHeaders({ 'Content-Length': '0' }),
          );
          conn.finish();
        },
      }),
    );
    const r = await raw(s.port, `POST /up HTTP/1.1\r\n${H}Content-Length: 4\r\nExpect: 100-continue\r\n\r\n`);
    expect(r.data).not.toContain('100 Continue');
    expect(statuses(r.data)).toEqual([401]);
    expect(r.data).toContain('Connection: close');
    expect(r.closed).toBe(true);
  });

  it('discards the rest of the body after an early answer and closes', async () => {
    const log: string[] = [];
    s = await startServer(
      recorder({
        log,
        onHeaders: (conn) => {
          void conn.writeHeaders(
            new ResponseStartLine('HTTP/1.1', 403, 'Forbidden'),
            new HTTPHeaders({ 'Content-Length': '0' }),
          );
          conn.finish();
        },
      }),
    );
    const r = await raw(s.port, `POST /x HTTP/1.1\r\n${H}Content-Length: 4\r\n\r\nabcd`);
    expect(statuses(r.data)).toEqual([403]);
    expect(r.closed).toBe(true);
    expect(log.filter((l) => l.startsWith('data'))).toEqual([]);
  });
});

describe('Content-Length repeats', () => {
  it('accepts identical repeated Content-Length fields and lists', async () => {
    s = await startServer();
    const r = await raw(
      s.port,
      `POST /a HTTP/1.1\r\n${H}Content-Length: 3\r\nContent-Length: 003\r\n\r\nabcPOST /b HTTP/1.1\r\n${H}Content-Length: 2, 2\r\n\r\nxy`,
      { until: (d) => d.includes('POST /b 2') },
    );
    expect(statuses(r.data)).toEqual([200, 200]);
    expect(r.data).toContain('POST /a 3\nabc');
  });
});

describe('gzip request bodies', () => {
  it('inflates gzip bodies with decompressRequest', async () => {
    let seen: HTTPHeaders | undefined;
    s = await startServer(
      (req) => {
        seen = req.headers;
        const c = req.connection!;
        void c.writeHeaders(
          new ResponseStartLine('HTTP/1.1', 200, 'OK'),
          new HTTPHeaders({ 'Content-Length': String(req.body.length) }),
          req.body,
        );
        c.finish();
      },
      { decompressRequest: true },
    );
    const gz = gzipSync(Buffer.from('inflated text '.repeat(100)));
    const r = await raw(
      s.port,
      [`POST / HTTP/1.1\r\n${H}Content-Encoding: gzip\r\nContent-Length: ${gz.length}\r\n\r\n`, gz],
      { until: (d) => d.endsWith('inflated text ') },
    );
    expect(r.data).toContain(`Content-Length: ${14 * 100}`);
    expect(seen?.get('X-Consumed-Content-Encoding')).toBe('gzip');
    expect(seen?.has('Content-Encoding')).toBe(false);
  });

  it('refuses a decompression bomb with 413', async () => {
    s = await startServer(undefined, { decompressRequest: true, maxBodySize: 64 * 1024 });
    const gz = gzipSync(Buffer.alloc(10 * 1024 * 1024));
    expect(gz.length).toBeLessThan(64 * 1024);
    const r = await raw(s.port, [
      `POST / HTTP/1.1\r\n${H}Content-Encoding: gzip\r\nContent-Length: ${gz.length}\r\n\r\n`,
      gz,
    ]);
    expect(statuses(r.data)).toEqual([413]);
    expect(r.closed).toBe(true);
  });

  it('refuses invalid gzip with 400', async () => {
    s = await startServer(undefined, { decompressRequest: true });
    const r = await raw(
      s.port,
      `POST / HTTP/1.1\r\n${H}Content-Encoding: gzip\r\nContent-Length: 4\r\n\r\nnope`,
    );
    expect(statuses(r.data)).toEqual([400]);
    expect(r.closed).toBe(true);
  });

  it('inflates chunked gzip bodies for streaming delegates', async () => {
    const log: string[] = [];
    s = await startServer(recorder({ log, onData: async () => {} }), { decompressRequest: true });
    const gz = gzipSync(Buffer.from('abc'));
    const r = await raw(
      s.port,
      [
        `POST /z HTTP/1.1\r\n${H}Content-Encoding: GZIP\r\nTransfer-Encoding: chunked\r\n\r\n${gz.length.toString(16)}\r\n`,
        gz,
        '\r\n0\r\n\r\n',
      ],
      { until: (d) => d.includes('/z 3') },
    );
    expect(r.data).toContain('/z 3 abc');
  });

  it('passes gzip bodies through without decompressRequest', async () => {
    s = await startServer();
    const gz = gzipSync(Buffer.from('abc'));
    const r = await raw(s.port, [
      `POST / HTTP/1.1\r\n${H}Content-Encoding: gzip\r\nContent-Length: ${gz.length}\r\nConnection: close\r\n\r\n`,
      gz,
    ]);
    expect(r.data).toContain(`POST / ${gz.length}`);
  });
});

describe('form bodies in callback mode', () => {
  it('parses urlencoded and multipart bodies before calling back', async () => {
    s = await startServer((req) => {
      const text = JSON.stringify({ args: req.arguments, files: Object.keys(req.files) });
      const c = req.connection!;
      void c.writeHeaders(
        new ResponseStartLine('HTTP/1.1', 200, 'OK'),
        new HTTPHeaders({ 'Content-Length': String(Buffer.byteLength(text)) }),
        text,
      );
      c.finish();
    });
    const form = 'a=1&b=two+words';
    const r1 = await raw(
      s.port,
      `POST /?q=0 HTTP/1.1\r\n${H}Content-Type: application/x-www-form-urlencoded\r\nContent-Length: ${form.length}\r\nConnection: close\r\n\r\n${form}`,
    );
    expect(r1.data).toContain('{"args":{"q":["0"],"a":["1"],"b":["two words"]},"files":[]}');
    const mp =
      '--B\r\nContent-Disposition: form-data; name="f"; filename="a.txt"\r\n\r\nfile!\r\n--B\r\nContent-Disposition: form-data; name="k"\r\n\r\nv\r\n--B--\r\n';
    const r2 = await raw(
      s.port,
      `POST / HTTP/1.1\r\n${H}Content-Type: multipart/form-data; boundary=B\r\nContent-Length: ${mp.length}\r\nConnection: close\r\n\r\n${mp}`,
    );
    expect(r2.data).toContain('{"args":{"k":["v"]},"files":["f"]}');
  });

  it('answers 400 to a broken multipart body', async () => {
    s = await startServer();
    const mp = '--B\r\nContent-Disposition: form-data; name="k"\r\n\r\nv';
    const r = await raw(
      s.port,
      `POST / HTTP/1.1\r\n${H}Content-Type: multipart/form-data; boundary=B\r\nContent-Length: ${mp.length}\r\n\r\n${mp}GET /next HTTP/1.1\r\n${H}\r\n`,
      { until: (d) => d.includes('GET /next') },
    );
    expect(statuses(r.data)).toEqual([400, 200]);
  });
});
