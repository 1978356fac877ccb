import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_IDLE_CONNECTION_TIMEOUT } from '../src/index';
import { type Running, raw, startServer, statuses } from './helpers/server';

let s: Running | undefined;
afterEach(async () => {
  await s?.close();
  s = undefined;
});

const H = 'Host: x\r\n';

describe('timeouts', () => {
  it('defaults to a 65 s idle timeout', () => {
    expect(DEFAULT_IDLE_CONNECTION_TIMEOUT).toBe(65);
  });

  it('closes an idle connection silently', async () => {
    s = await startServer(undefined, { idleConnectionTimeout: 0.15 });
    const r = await raw(s.port, [], { windowMs: 5000 });
    expect(r.data).toBe('');
    expect(r.closed).toBe(true);
  });

  it('closes a keep-alive connection idle after a request', async () => {
    s = await startServer(undefined, { idleConnectionTimeout: 0.15 });
    const r = await raw(s.port, `GET / HTTP/1.1\r\n${H}\r\n`, { windowMs: 5000 });
    expect(statuses(r.data)).toEqual([200]);
    expect(r.closed).toBe(true);
  });

  it('answers 408 when a started head does not complete in time', async () => {
    s = await startServer(undefined, { headerTimeout: 0.15, idleConnectionTimeout: 30 });
    const r = await raw(s.port, `GET / HTTP/1.1\r\n${H}X-Slow: `, { windowMs: 5000 });
    expect(statuses(r.data)).toEqual([408]);
    expect(r.closed).toBe(true);
  });

  it('bounds the head by the idle timeout when no header timeout is set', async () => {
    s = await startServer(undefined, { idleConnectionTimeout: 0.15 });
    const r = await raw(s.port, 'GET / HT', { windowMs: 5000 });
    expect(statuses(r.data)).toEqual([408]);
  });

  it('answers 408 when the body does not arrive within bodyTimeout', async () => {
    s = await startServer(undefined, { bodyTimeout: 0.15, idleConnectionTimeout: 30 });
    const r = await raw(s.port, `POST / HTTP/1.1\r\n${H}Content-Length: 10\r\n\r\nabc`, { windowMs: 5000 });
    expect(statuses(r.data)).toEqual([408]);
    expect(r.closed).toBe(true);
  });

  it('bounds a stalled chunked body by the idle timeout', async () => {
    s = await startServer(undefined, { idleConnectionTimeout: 0.15 });
    const r = await raw(s.port, `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n5\r\nab`, {
      windowMs: 5000,
    });
    expect(statuses(r.data)).toEqual([408]);
    expect(r.closed).toBe(true);
  });

  it('lets a delegate change the body timeout per request', async () => {
    s = await startServer({
      startRequest: (_sc, conn) => ({
        headersReceived: () => conn.setBodyTimeout?.(0.1),
        dataReceived: () => {},
        finish: () => {},
        onConnectionClose: () => {},
      }),
      onClose: () => {},
    });
    const r = await raw(s.port, `POST / HTTP/1.1\r\n${H}Content-Length: 10\r\n\r\nabc`, { windowMs: 5000 });
    expect(statuses(r.data)).toEqual([408]);
  });

  it('rejects nonsensical limits', async () => {
    const { HTTP1Connection, HTTPServer } = await import('../src/index');
    expect(() => new HTTPServer(() => {}, { maxHeaderSize: -1 })).toThrow(RangeError);
    expect(() => new HTTPServer(() => {}, { maxBodySize: 0 })).toThrow(RangeError);
    expect(() => new HTTP1Connection({} as never, true, { chunkSize: 0 })).toThrow(RangeError);
  });
});

describe('peers that stop reading', () => {
  it('drops a pipelining client that never reads its answers', async () => {
    const { connect } = await import('node:net');
    const { HTTPHeaders, ResponseStartLine } = await import('../src/index');
    const big = Buffer.alloc(100_000, 'r');
    s = await startServer(
      (req) => {
        const c = req.connection!;
        void c.writeHeaders(
          new ResponseStartLine('HTTP/1.1', 200, 'OK'),
          new HTTPHeaders({ 'Content-Length': String(big.length) }),
          big,
        );
        c.finish();
      },
      { idleConnectionTimeout: 0.3 },
    );
    const server = s.server;
    const sock = connect(s.port, '127.0.0.1');
    sock.on('error', () => {});
    await new Promise<void>((r) => sock.on('connect', r));
    sock.pause();
    sock.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(200));
    await new Promise<void>((resolve) => {
      const check = () => (server.connectionCount === 0 ? resolve() : setTimeout(check, 20));
      setTimeout(check, 20);
    });
    expect(server.connectionCount).toBe(0);
    sock.destroy();
  });
});
