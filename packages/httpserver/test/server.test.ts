import { connect, type Socket } from 'node:net';
import { configureLogging, type LogSink, resetLogging } from '@tornado-ts/ioloop';
import { IOStream } from '@tornado-ts/iostream';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type HTTP1Connection,
  HTTP1ServerConnection,
  HTTPHeaders,
  type HTTPMessageDelegate,
  HTTPOutputError,
  HTTPServer,
  type HTTPServerConnectionDelegate,
  type HTTPServerRequest,
  RequestContext,
  ResponseStartLine,
} from '../src/index';
import { type Running, raw, startServer, statuses, upgradeToEcho } from './helpers/server';

let s: Running | undefined;
afterEach(async () => {
  resetLogging();
  await s?.close();
  s = undefined;
});

const H = 'Host: x\r\n';

function text(req: HTTPServerRequest, body: string, code = 200): void {
  const c = req.connection!;
  void c.writeHeaders(
    new ResponseStartLine('HTTP/1.1', code, 'OK'),
    new HTTPHeaders({ 'Content-Length': String(Buffer.byteLength(body)) }),
    body,
  );
  c.finish();
}

function capture(): { lines: string[]; sink: LogSink } {
  const lines: string[] = [];
  const push = (msg: string) => {
    lines.push(msg);
  };
  return { lines, sink: { debug: push, info: push, warn: push, error: push } };
}

describe('xheaders', () => {
  const who = (req: HTTPServerRequest) => text(req, `${req.remoteIp} ${req.protocol} ${req.fullUrl()}\n`);

  it('takes the client address and scheme from proxy headers, per request', async () => {
    s = await startServer(who, { xheaders: true, trustedDownstream: ['10.0.0.2'] });
    const r = await raw(
      s.port,
      [
        `GET /1 HTTP/1.1\r\n${H}X-Real-Ip: 1.2.3.4\r\nX-Scheme: https\r\n\r\n`,
        `GET /2 HTTP/1.1\r\n${H}X-Forwarded-For: 5.6.7.8, 9.9.9.9, 10.0.0.2\r\nX-Forwarded-Proto: http, HTTPS\r\n\r\n`,
        `GET /3 HTTP/1.1\r\n${H}X-Real-Ip: not-an-ip\r\nX-Scheme: gopher\r\n\r\n`,
        `GET /4 HTTP/1.1\r\n${H}X-Forwarded-For: ::1\r\n\r\n`,
        `GET /5 HTTP/1.1\r\n${H}\r\n`,
      ],
      { until: (d) => d.includes('/5\n') },
    );
    const lines = r.data
      .split('\r\n\r\n')
      .slice(1)
      .map((b) => b.split('\n')[0]);
    expect(lines.slice(0, 5)).toEqual([
      '1.2.3.4 https https://x/1',
      '9.9.9.9 https https://x/2',
      '127.0.0.1 http http://x/3',
      '::1 http http://x/4',
      '127.0.0.1 http http://x/5',
    ]);
  });

  it('ignores proxy headers without xheaders, and honours protocol', async () => {
    s = await startServer(who, { protocol: 'https' });
    const r = await raw(s.port, `GET /p HTTP/1.1\r\n${H}X-Real-Ip: 1.2.3.4\r\nConnection: close\r\n\r\n`);
    expect(r.data).toContain('127.0.0.1 https https://x/p');
  });

  it('describes the context', () => {
    const fake = { socket: { remoteAddress: 'nope' } } as unknown as IOStream;
    const ctx = new RequestContext(fake, { address: '', family: 'unix', port: 0 });
    expect(ctx.remoteIp).toBe('0.0.0.0');
    expect(ctx.protocol).toBe('http');
    expect(String(ctx)).toBe('0.0.0.0');
    const ctx2 = new RequestContext(fake, { address: '::1', family: 'IPv6', port: 5 }, 'https', ['a']);
    expect(String(ctx2)).toBe('::1');
    expect(ctx2.trustedDownstream.has('a')).toBe(true);
    const ctx3 = new RequestContext(fake, '/tmp/sock');
    expect(String(ctx3)).toBe('/tmp/sock');
  });
});

describe('errors in the application', () => {
  it('answers 500 for a throwing callback and keeps the connection', async () => {
    const log = capture();
    configureLogging({ level: 'error', sink: log.sink });
    s = await startServer((req) => {
      if (req.path === '/boom') throw new Error('kaboom');
      text(req, 'fine');
    });
    const r = await raw(s.port, `GET /boom HTTP/1.1\r\n${H}\r\nGET /ok HTTP/1.1\r\n${H}\r\n`, {
      until: (d) => d.includes('fine'),
    });
    expect(statuses(r.data)).toEqual([500, 200]);
    expect(r.closed).toBe(false);
    expect(log.lines.some((l) => l.includes('kaboom'))).toBe(true);
  });

  it('answers 500 for a rejecting async callback', async () => {
    s = await startServer(async () => {
      await Promise.resolve();
      throw new Error('async kaboom');
    });
    const r = await raw(s.port, `GET / HTTP/1.1\r\n${H}\r\n`, { until: (d) => d.includes('\r\n\r\n') });
    expect(statuses(r.data)).toEqual([500]);
  });

  it('closes when the callback throws after starting the response', async () => {
    s = await startServer((req) => {
      void req.connection!.writeHeaders(new ResponseStartLine('HTTP/1.1', 200, 'OK'), new HTTPHeaders());
      throw new Error('half way');
    });
    const r = await raw(s.port, `GET / HTTP/1.1\r\n${H}\r\n`);
    expect(statuses(r.data)).toEqual([200]);
    expect(r.closed).toBe(true);
  });

  it('refuses CR/LF in a header, then answers 500', async () => {
    let err: unknown;
    s = await startServer((req) => {
      try {
        void req.connection!.writeHeaders(
          new ResponseStartLine('HTTP/1.1', 200, 'OK'),
          new HTTPHeaders({ 'X-Evil': 'a\r\nSet-Cookie: owned=1' }),
        );
      } catch (e) {
        err = e;
        throw e;
      }
    });
    const r = await raw(s.port, `GET / HTTP/1.1\r\n${H}\r\n`, { until: (d) => d.includes('\r\n\r\n') });
    expect(err).toBeInstanceOf(HTTPOutputError);
    expect(r.data).not.toContain('owned');
    expect(statuses(r.data)).toEqual([500]);
  });

  it.each([
    ['more', 'hello!'],
    ['fewer', 'hell'],
  ])('closes when the application writes %s bytes than Content-Length', async (_w, body) => {
    let err: unknown;
    s = await startServer((req) => {
      const c = req.connection!;
      try {
        void c.writeHeaders(
          new ResponseStartLine('HTTP/1.1', 200, 'OK'),
          new HTTPHeaders({ 'Content-Length': '5' }),
        );
        void c.write(body);
        c.finish();
      } catch (e) {
        err = e;
      }
    });
    const r = await raw(s.port, `GET / HTTP/1.1\r\n${H}\r\n`);
    expect(err).toBeInstanceOf(HTTPOutputError);
    expect((err as HTTPOutputError).code).toBe('ERR_HTTP_CONTENT_LENGTH_MISMATCH');
    expect(r.closed).toBe(true);
  });

  it('guards the order of writes', async () => {
    const errors: string[] = [];
    s = await startServer((req) => {
      const c = req.connection! as HTTP1Connection;
      for (const f of [() => c.write('x'), () => c.finish()]) {
        try {
          void f();
        } catch (e) {
          errors.push((e as Error).message);
        }
      }
      void c.writeHeaders(
        new ResponseStartLine('HTTP/1.1', 200, 'OK'),
        new HTTPHeaders({ 'Content-Length': '0' }),
      );
      try {
        void c.writeHeaders(new ResponseStartLine('HTTP/1.1', 200, 'OK'), new HTTPHeaders());
      } catch (e) {
        errors.push((e as Error).message);
      }
      c.finish();
      c.finish();
      try {
        void c.write('late');
      } catch (e) {
        errors.push((e as Error).message);
      }
    });
    const r = await raw(s.port, `GET / HTTP/1.1\r\n${H}Connection: close\r\n\r\n`);
    expect(statuses(r.data)).toEqual([200]);
    expect(errors).toEqual([
      'write called before writeHeaders',
      'finish called before writeHeaders',
      'writeHeaders called twice',
      'write called after finish',
    ]);
  });

  it('answers 501 to unknown methods unless allowed', async () => {
    s = await startServer();
    const r = await raw(s.port, `BREW /pot HTTP/1.1\r\n${H}\r\n`);
    expect(statuses(r.data)).toEqual([501]);
    expect(r.closed).toBe(true);
    await s.close();
    s = await startServer(undefined, { methods: ['BREW', 'GET'] });
    const r2 = await raw(s.port, `BREW /pot HTTP/1.1\r\n${H}Connection: close\r\n\r\n`);
    expect(r2.data).toContain('BREW /pot 0');
    await s.close();
    s = await startServer(undefined, { methods: null });
    const r3 = await raw(s.port, `lower /x HTTP/1.1\r\n${H}Connection: close\r\n\r\n`);
    expect(r3.data).toContain('lower /x 0');
  });

  it('answers 505 to other HTTP versions', async () => {
    s = await startServer();
    const r = await raw(s.port, `GET / HTTP/1.2\r\n${H}\r\n`);
    expect(statuses(r.data)).toEqual([505]);
    const r2 = await raw(s.port, 'GET / HTTP/3.0');
    expect(statuses(r2.data)).toEqual([505]);
  });

  it('logs malformed requests at info on the general channel', async () => {
    const log = capture();
    configureLogging({ level: 'info', sink: log.sink });
    s = await startServer();
    await raw(s.port, 'GET / HTTP/1.1\r\n\r\n');
    expect(log.lines.some((l) => l.includes('Malformed HTTP message') && l.includes('Missing Host'))).toBe(
      true,
    );
  });
});

describe('delegates', () => {
  it('drives an HTTPServerConnectionDelegate and tells it about closes', async () => {
    const events: string[] = [];
    const delegate: HTTPServerConnectionDelegate = {
      startRequest(serverConn, conn): HTTPMessageDelegate {
        expect(serverConn).toBeInstanceOf(HTTP1ServerConnection);
        events.push('start');
        return {
          headersReceived: (sl) => {
            events.push(`headers ${(sl as { path: string }).path}`);
          },
          dataReceived: () => {},
          finish: () => {
            events.push('finish');
            conn.setCloseCallback?.(() => events.push('request-closed'));
            if ((conn as HTTP1Connection).context?.remoteIp !== '127.0.0.1') throw new Error('bad context');
            // Never answers: the client gives up.
          },
          onConnectionClose: () => events.push('message-closed'),
        };
      },
      onClose: () => events.push('server-conn-closed'),
    };
    s = await startServer(delegate);
    const server = s.server;
    await raw(s.port, `GET /d HTTP/1.1\r\n${H}\r\n`, { windowMs: 200 });
    await new Promise<void>((resolve) => {
      const check = () => (events.includes('server-conn-closed') ? resolve() : setImmediate(check));
      check();
    });
    expect(events).toEqual(['start', 'headers /d', 'finish', 'request-closed', 'server-conn-closed']);
    expect(server.connectionCount).toBe(0);
  });

  it('tells the message delegate when the client leaves mid-body', async () => {
    const events: string[] = [];
    s = await startServer({
      startRequest: (): HTTPMessageDelegate => ({
        headersReceived: () => {},
        dataReceived: (c) => {
          events.push(`data ${c.length}`);
        },
        finish: () => events.push('finish'),
        onConnectionClose: () => events.push('closed'),
      }),
      onClose: () => events.push('server-closed'),
    });
    await raw(s.port, `POST / HTTP/1.1\r\n${H}Content-Length: 10\r\n\r\nabc`, { windowMs: 100 });
    await new Promise<void>((resolve) => {
      const check = () => (events.includes('server-closed') ? resolve() : setImmediate(check));
      check();
    });
    expect(events).toEqual(['data 3', 'closed', 'server-closed']);
  });

  it('rejects a handler that is neither', () => {
    expect(() => new HTTPServer({} as never)).toThrow(TypeError);
  });
});

describe('shutdown', () => {
  it('stop() lets the request in flight finish with Connection: close', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    let started!: () => void;
    const inFlight = new Promise<void>((r) => {
      started = r;
    });
    s = await startServer(async (req) => {
      if (req.path === '/slow') {
        started();
        await gate;
      }
      text(req, 'done');
    });
    const idle = await openIdle(s.port);
    const res = raw(s.port, `GET /slow HTTP/1.1\r\n${H}\r\n`, { windowMs: 5000 });
    await inFlight;
    const stopped = s.server.stop();
    release();
    const r = await res;
    await stopped;
    expect(statuses(r.data)).toEqual([200]);
    expect(r.data).toContain('Connection: close\r\n');
    expect(r.closed).toBe(true);
    expect(await idle.closed).toBe(true);
    expect(s.server.connectionCount).toBe(0);
  });

  it('closeAllConnections() cuts requests in flight', async () => {
    let started!: () => void;
    const inFlight = new Promise<void>((r) => {
      started = r;
    });
    s = await startServer(() => {
      started();
    });
    const res = raw(s.port, `GET / HTTP/1.1\r\n${H}\r\n`, { windowMs: 5000 });
    await inFlight;
    await s.server.closeAllConnections();
    const r = await res;
    expect(r.data).toBe('');
    expect(r.closed).toBe(true);
  });
});

function openIdle(port: number): Promise<{ closed: Promise<boolean>; sock: Socket }> {
  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1', () => {
      resolve({
        sock,
        closed: new Promise<boolean>((r) => {
          sock.on('close', () => r(true));
          sock.on('error', () => {});
        }),
      });
    });
  });
}

describe('HTTP1ServerConnection directly', () => {
  it('serves a stream and detaches it for another protocol', async () => {
    const { createServer } = await import('node:net');
    let detached: IOStream | undefined;
    const srv = createServer((sock) => {
      const stream = new IOStream(sock);
      const conn = new HTTP1ServerConnection(stream, { idleConnectionTimeout: 5 });
      conn.startServing(
        upgradeToEcho((d) => {
          detached = d;
        }),
      );
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as { port: number }).port;
    try {
      const r = await raw(
        port,
        `GET / HTTP/1.1\r\n${H}Upgrade: echo\r\nConnection: Upgrade\r\n\r\nhi there\n`,
        {
          until: (d) => d.includes('echo:hi there\n'),
        },
      );
      expect(statuses(r.data)).toEqual([101]);
      expect(r.data).toContain('echo:hi there\n');
    } finally {
      detached?.close();
      await new Promise((r) => srv.close(r));
    }
  });
});
