import http from 'node:http';
import { createServer as createNetServer, type Server as NetServer } from 'node:net';
import { IOStream } from '@tornado-ts/iostream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  HTTP1Connection,
  HTTPHeaders,
  type HTTPMessageDelegate,
  RequestStartLine,
  type ResponseStartLine,
} from '../src/index';

/** Collects one response. */
function collector() {
  const out = {
    code: 0,
    reason: '',
    headers: null as HTTPHeaders | null,
    body: '',
    finished: false,
    closed: false,
  };
  const delegate: HTTPMessageDelegate = {
    headersReceived(sl, h) {
      out.code = (sl as ResponseStartLine).code;
      out.reason = (sl as ResponseStartLine).reason;
      out.headers = h;
    },
    dataReceived(chunk) {
      out.body += chunk.toString();
    },
    finish() {
      out.finished = true;
    },
    onConnectionClose() {
      out.closed = true;
    },
  };
  return { out, delegate };
}

let nodeServer: http.Server;
let port: number;
beforeAll(async () => {
  nodeServer = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => {
      body += d;
    });
    req.on('end', () => {
      if (req.url === '/chunked') {
        res.write('one,');
        res.end('two');
      } else if (req.url === '/204') {
        res.writeHead(204).end();
      } else if (req.url === '/continue') {
        res.writeContinue();
        res.end(`after continue ${body}`);
      } else {
        res.setHeader('Content-Length', Buffer.byteLength(`${req.method} ${body}`));
        res.end(req.method === 'HEAD' ? undefined : `${req.method} ${body}`);
      }
    });
  });
  await new Promise<void>((r) => nodeServer.listen(0, '127.0.0.1', r));
  port = (nodeServer.address() as { port: number }).port;
});
afterAll(async () => {
  nodeServer.closeAllConnections();
  await new Promise((r) => nodeServer.close(r));
});

async function exchange(
  stream: IOStream,
  method: string,
  path: string,
  body?: string | string[],
  headers: Record<string, string> = {},
) {
  const conn = new HTTP1Connection(stream, true);
  const h = new HTTPHeaders({ Host: `127.0.0.1:${port}`, ...headers });
  if (typeof body === 'string') h.set('Content-Length', String(Buffer.byteLength(body)));
  await conn.writeHeaders(new RequestStartLine(method, path, 'HTTP/1.1'), h);
  if (typeof body === 'string') await conn.write(body);
  else if (Array.isArray(body)) for (const b of body) await conn.write(b);
  conn.finish();
  const { out, delegate } = collector();
  const keep = await conn.readResponse(delegate);
  return { out, keep };
}

describe('HTTP1Connection as a client', () => {
  it('talks to node:http: fixed, chunked, HEAD, 204 and chunked uploads on one connection', async () => {
    const stream = await IOStream.connect(port, '127.0.0.1');
    try {
      const a = await exchange(stream, 'POST', '/', 'hello');
      expect(a.out).toMatchObject({ code: 200, reason: 'OK', body: 'POST hello', finished: true });
      expect(a.keep).toBe(true);
      const b = await exchange(stream, 'GET', '/chunked');
      expect(b.out.body).toBe('one,two');
      expect(b.out.headers?.get('transfer-encoding')).toBe('chunked');
      const c = await exchange(stream, 'HEAD', '/');
      expect(c.out.body).toBe('');
      expect(c.out.finished).toBe(true);
      const d = await exchange(stream, 'GET', '/204');
      expect(d.out.code).toBe(204);
      const e = await exchange(stream, 'PUT', '/', ['up', 'load']);
      expect(e.out.body).toBe('PUT upload');
      const f = await exchange(stream, 'POST', '/continue', 'x', { Expect: '100-continue' });
      expect(f.out.code).toBe(200);
      expect(f.out.body).toBe('after continue x');
    } finally {
      stream.close();
    }
  });

  it('reads a close-delimited response and reports the connection unusable', async () => {
    const srv: NetServer = createNetServer((sock) => {
      sock.once('data', () => {
        sock.end('HTTP/1.0 200 OK\r\nX-A: 1\r\n\r\nuntil the end');
      });
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const p = (srv.address() as { port: number }).port;
    const stream = await IOStream.connect(p, '127.0.0.1');
    try {
      const conn = new HTTP1Connection(stream, true);
      await conn.writeHeaders(new RequestStartLine('GET', '/', 'HTTP/1.1'), new HTTPHeaders({ Host: 'x' }));
      conn.finish();
      const { out, delegate } = collector();
      expect(await conn.readResponse(delegate)).toBe(false);
      expect(out.body).toBe('until the end');
      expect(out.finished).toBe(true);
    } finally {
      stream.close();
      await new Promise((r) => srv.close(r));
    }
  });

  it.each([
    ['a malformed status line', 'HTTP/1.1 2xx OK\r\n\r\n'],
    ['a 1xx with a body', 'HTTP/1.1 100 Continue\r\nContent-Length: 1\r\n\r\n'],
    ['a 204 with a body', 'HTTP/1.1 204 No Content\r\nContent-Length: 3\r\n\r\nabc'],
    ['both lengths', 'HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n'],
  ])('refuses %s', async (_w, response) => {
    const srv: NetServer = createNetServer((sock) => {
      sock.once('data', () => sock.write(response));
      sock.on('error', () => {});
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const p = (srv.address() as { port: number }).port;
    const stream = await IOStream.connect(p, '127.0.0.1');
    try {
      const conn = new HTTP1Connection(stream, true);
      await conn.writeHeaders(new RequestStartLine('GET', '/', 'HTTP/1.1'), new HTTPHeaders({ Host: 'x' }));
      conn.finish();
      const { out, delegate } = collector();
      expect(await conn.readResponse(delegate)).toBe(false);
      expect(out.finished).toBe(false);
      expect(stream.closed()).toBe(true);
    } finally {
      stream.close();
      await new Promise((r) => srv.close(r));
    }
  });
});
