import * as net from 'node:net';
import { fdSupport } from '@tornado-ts/ioloop';
import type { IOStream } from '@tornado-ts/iostream';
import { FdSocket } from '@tornado-ts/iostream';
import { afterEach, describe, expect, it } from 'vitest';
import { type HTTP1Connection, HTTPHeaders, type HTTPServerRequest, ResponseStartLine } from '../src/index';
import { echo, type Running, raw, startServer, statuses, upgradeToEcho } from './helpers/server';

// The same server behaviour over both transports TCPServer can hand the HTTP layer: the ioloop
// addon's native sockets (the default) and net.Socket (nativeSockets: false, TLS, unix sockets).
const modes = fdSupport().available ? ([true, false] as const) : ([false] as const);

let running: Running | null = null;
afterEach(async () => {
  await running?.close();
  running = null;
});

describe.each(modes)('HTTPServer with nativeSockets: %s', (native) => {
  it('keep-alive, pipelining in order, a body, and the transport it runs on', async () => {
    const sockets: unknown[] = [];
    running = await startServer(
      (req: HTTPServerRequest) => {
        sockets.push((req.connection as HTTP1Connection).stream.socket);
        return echo(req);
      },
      { nativeSockets: native },
    );
    const pipelined = [
      'GET /a HTTP/1.1\r\nHost: x\r\n\r\n',
      'POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello',
      'GET /c HTTP/1.1\r\nHost: x\r\n\r\n',
    ].join('');
    const r = await raw(running.port, pipelined, {
      until: (d) => statuses(d).length === 3 && d.endsWith('\n'),
    });
    expect(statuses(r.data)).toEqual([200, 200, 200]);
    const bodies = r.data.split(/HTTP\/1\.1 200 OK\r\n[\s\S]*?\r\n\r\n/).filter(Boolean);
    expect(bodies).toEqual(['GET /a 0\n', 'POST /b 5\nhello', 'GET /c 0\n']);
    expect(r.closed).toBe(false);
    expect(sockets[0]).toBeInstanceOf(native ? FdSocket : net.Socket);
    expect(new Set(sockets).size).toBe(1);
  });

  it('fetch over keep-alive, then a head over maxHeaderSize gets 431 and a closed connection', async () => {
    running = await startServer(echo, { nativeSockets: native, maxHeaderSize: 1024 });
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`http://127.0.0.1:${running.port}/n${i}`);
      expect(await res.text()).toBe(`GET /n${i} 0\n`);
    }
    const r = await raw(running.port, `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(2000)}\r\n\r\n`);
    expect(statuses(r.data)).toEqual([431]);
    expect(r.closed).toBe(true);
  });

  it('a large response to a client that reads slowly arrives whole', async () => {
    const big = Buffer.alloc(8 * 1024 * 1024, 'z');
    let stream: IOStream | null = null;
    running = await startServer(
      (req) => {
        const conn = req.connection!;
        stream = (conn as HTTP1Connection).stream;
        void conn.writeHeaders(
          new ResponseStartLine('HTTP/1.1', 200, 'OK'),
          new HTTPHeaders({ 'Content-Length': String(big.length) }),
          big,
        );
        conn.finish();
      },
      { nativeSockets: native },
    );
    const sock = net.connect(running.port, '127.0.0.1');
    sock.pause();
    sock.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    // the kernel's buffers fill up: the rest waits in the server's write buffer
    while (stream === null || (stream as IOStream).writeBufferSize === 0)
      await new Promise((r) => setImmediate(r));
    let received = 0;
    await new Promise<void>((resolve) => {
      sock.on('data', (d: Buffer) => {
        received += d.length;
        if (received >= big.length) resolve();
      });
      sock.resume();
    });
    expect(received).toBeGreaterThanOrEqual(big.length);
    sock.destroy();
  });

  it('detach() after a 101 hands the bytes that came with the head to the next reader', async () => {
    let detached: IOStream | null = null;
    running = await startServer(
      upgradeToEcho((d) => {
        detached = d;
      }) as never,
      { nativeSockets: native },
    );
    // the head and the first bytes of the new protocol in one packet
    const r = await raw(
      running.port,
      'GET / HTTP/1.1\r\nHost: x\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\nhi there\n',
      {
        until: (d) => d.includes('echo:hi there\n'),
      },
    );
    expect(statuses(r.data)).toEqual([101]);
    expect(r.data).toContain('echo:hi there\n');
    (detached as IOStream | null)?.close();
  });
});
