import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IOStream } from '@tornado-ts/iostream';
import { afterEach, describe, expect, it } from 'vitest';
import { bindSockets, bindUnixSocket, type PeerAddress, TCPServer, TCPServerStateError } from '../src/index';
import { captureLogs, connect, fdCount, readUntil, request, until } from './helpers/net';

class EchoServer extends TCPServer {
  streams: IOStream[] = [];
  override async handleStream(stream: IOStream): Promise<void> {
    this.streams.push(stream);
    for (;;) {
      const line = await stream.readUntil('\n').catch(() => null);
      if (line === null) return;
      await stream.write(line);
    }
  }
}

const servers: TCPServer[] = [];
let logs: ReturnType<typeof captureLogs> | null = null;

afterEach(async () => {
  logs?.restore();
  logs = null;
  for (const s of servers.splice(0)) {
    await s.stop();
    if (s instanceof EchoServer) for (const st of s.streams) st.close();
  }
});

function track<T extends TCPServer>(s: T): T {
  servers.push(s);
  return s;
}

function portOf(s: TCPServer): number {
  return s.addresses()[0]!.port;
}

async function echo(port: number, line: string, host = '127.0.0.1'): Promise<string> {
  const sock = await connect(port, host);
  sock.write(line);
  const out = await readUntil(sock, '\n');
  sock.destroy();
  return out;
}

describe('TCPServer', () => {
  it('listens and hands each connection to handleStream as an IOStream', async () => {
    const server = track(new EchoServer());
    await server.listen(0, '127.0.0.1');
    const addrs = server.addresses();
    expect(addrs).toHaveLength(1);
    expect(addrs[0]).toMatchObject({ address: '127.0.0.1', family: 'IPv4' });
    expect(await echo(portOf(server), 'hello\n')).toBe('hello\n');
  });

  it('passes the peer address to handleStream', async () => {
    let seen: PeerAddress | null = null;
    const server = track(
      new (class extends TCPServer {
        override handleStream(stream: IOStream, address: PeerAddress): void {
          seen = address;
          stream.close();
        }
      })(),
    );
    await server.listen(0, '127.0.0.1');
    const sock = await connect(portOf(server));
    const local = sock.localPort;
    await once(sock, 'close');
    expect(seen).toEqual({ address: '127.0.0.1', family: 'IPv4', port: local });
  });

  it('serves through bind() + start() and through addSockets/addSocket', async () => {
    const a = track(new EchoServer());
    await a.bind(0, '127.0.0.1');
    const port = portOf(a);
    const early = await connect(port); // bound, not yet accepting: waits in the queue
    early.write('before start\n');
    await a.start();
    await a.bind(0, '127.0.0.1'); // after start: accepts at once
    expect(a.addresses()).toHaveLength(2);
    expect(await echo(a.addresses()[1]!.port, 'second\n')).toBe('second\n');
    expect(await readUntil(early, '\n')).toBe('before start\n');

    const b = track(new EchoServer());
    const socks = await bindSockets(0, '127.0.0.1');
    b.addSockets(socks);
    b.addSockets(socks); // adding twice is harmless
    const [single] = await bindSockets(0, '127.0.0.1');
    b.addSocket(single!);
    expect(await echo(portOf(b), 'x\n')).toBe('x\n');
    expect(await echo(b.addresses()[1]!.port, 'y\n')).toBe('y\n');
  });

  it('serves unix sockets and lists them in addresses()', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tcpserver-'));
    try {
      const server = track(new EchoServer());
      const path = join(dir, 's.sock');
      server.addSocket(await bindUnixSocket(path));
      expect(server.addresses()).toEqual([{ address: path, family: 'unix', port: 0 }]);
      const sock = net.connect(path);
      sock.write('over unix\n');
      expect(await readUntil(sock, '\n')).toBe('over unix\n');
      sock.destroy();
      await server.stop();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('stop() closes the listeners but open connections go on', async () => {
    const server = track(new EchoServer());
    await server.listen(0, '127.0.0.1');
    const port = portOf(server);
    const sock = await connect(port);
    sock.write('one\n');
    expect(await readUntilOnce(sock, '\n')).toBe('one\n');
    await server.stop();
    await server.stop(); // idempotent
    expect(server.addresses()).toEqual([]);
    await expect(connect(port)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    sock.write('two\n');
    expect(await readUntilOnce(sock, '\n')).toBe('two\n');
    sock.destroy();
    await expect(server.listen(0)).rejects.toBeInstanceOf(TCPServerStateError);
    await expect(server.bind(0)).rejects.toBeInstanceOf(TCPServerStateError);
    await expect(server.start()).rejects.toMatchObject({ code: 'ERR_TCP_SERVER_STATE' });
    expect(() => server.addSockets([])).toThrow(TCPServerStateError);
  });

  it('refuses start() twice', async () => {
    const server = track(new EchoServer());
    await server.start();
    await expect(server.start()).rejects.toThrow(/already/);
  });

  it('stop() also closes sockets bound but never started, with their waiting connections', async () => {
    const server = track(new EchoServer());
    await server.bind(0, '127.0.0.1');
    const port = portOf(server);
    const waiting = await connect(port);
    waiting.on('error', () => {}); // reset or closed: either way it does not hang
    await server.stop();
    await once(waiting, 'close');
    await expect(connect(port)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('logs a throwing or rejecting handleStream and closes only that stream', async () => {
    logs = captureLogs();
    let n = 0;
    const server = track(
      new (class extends TCPServer {
        override handleStream(stream: IOStream): void | Promise<void> {
          n++;
          if (n === 1) throw new Error('sync boom');
          if (n === 2) return Promise.reject(new Error('async boom'));
          return stream.write('ok\n').then(() => stream.close());
        }
      })(),
    );
    await server.listen(0, '127.0.0.1');
    const port = portOf(server);
    expect(await request(port)).toBe('');
    expect(await request(port)).toBe('');
    expect(await request(port)).toBe('ok\n');
    expect(await logs.wait(/sync boom/)).toMatch(/^error Error in connection callback/);
    expect(await logs.wait(/async boom/)).toMatch(/^error Error in connection callback/);
  });

  it('logs NotImplementedError when handleStream is not overridden', async () => {
    logs = captureLogs();
    const server = track(new TCPServer());
    await server.listen(0, '127.0.0.1');
    expect(await request(portOf(server))).toBe('');
    expect(await logs.wait(/NotImplementedError/)).toMatch(/must be overridden/);
  });

  it('gives streams the configured buffer limit and exposes its options', async () => {
    const failures: string[] = [];
    class Limited extends TCPServer {
      override async handleStream(stream: IOStream): Promise<void> {
        await stream.readUntil('\n').catch((e: Error) => failures.push(e.name));
        stream.close();
      }
    }
    const server = track(new Limited({ maxBufferSize: 1024, readChunkSize: 512, maxWriteBufferSize: 4096 }));
    expect(server.options).toEqual({ maxBufferSize: 1024, readChunkSize: 512, maxWriteBufferSize: 4096 });
    expect(Object.isFrozen(server.options)).toBe(true);
    await server.listen(0, '127.0.0.1');
    await request(portOf(server), 'x'.repeat(8192));
    await until(() => failures.length === 1);
    expect(failures[0]).toMatch(/StreamBufferFullError|UnsatisfiableReadError/);
  });

  it('validates handshakeTimeout and the stream limits at construction', () => {
    expect(() => new TCPServer({ handshakeTimeout: -1 })).toThrow(RangeError);
    expect(() => new TCPServer({ handshakeTimeout: Number.NaN })).toThrow(RangeError);
    expect(() => new TCPServer({ maxBufferSize: -1 })).toThrow(/maxBufferSize must be/);
    expect(() => new TCPServer({ readChunkSize: Number.POSITIVE_INFINITY })).toThrow(/readChunkSize must be/);
    expect(() => new TCPServer({ maxWriteBufferSize: '1' as unknown as number })).toThrow(
      /maxWriteBufferSize must be/,
    );
  });

  it('does not let a slow handler delay other clients', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const server = track(
      new (class extends TCPServer {
        override async handleStream(stream: IOStream): Promise<void> {
          const first = await stream.readUntil('\n');
          if (first.toString() === 'slow\n') await gate; // stands for a handler that waits 5 s
          await stream.write(`done ${first.toString()}`);
          stream.close();
        }
      })(),
    );
    await server.listen(0, '127.0.0.1');
    const port = portOf(server);
    let slowDone = false;
    const slow = request(port, 'slow\n').then((r) => {
      slowDone = true;
      return r;
    });
    for (let i = 0; i < 5; i++) expect(await request(port, 'fast\n')).toBe('done fast\n');
    expect(slowDone).toBe(false);
    release();
    expect(await slow).toBe('done slow\n');
  });

  it('serves 1000 connections opened at once and leaks no descriptors', async () => {
    const server = track(new EchoServer());
    await server.listen(0, '127.0.0.1', { backlog: 1024 });
    const port = portOf(server);
    const before = fdCount();
    const replies = await Promise.all(
      Array.from({ length: 1000 }, (_, i) =>
        (async () => {
          const sock = net.connect({ port, host: '127.0.0.1' });
          sock.write(`${i}\n`);
          const out = await readUntil(sock, '\n');
          sock.destroy();
          return out;
        })(),
      ),
    );
    expect(replies.every((r, i) => r === `${i}\n`)).toBe(true);
    // The server side closes once it sees EOF; then the descriptor count is back where it was.
    await until(() => fdCount() <= before, 10_000);
    expect(fdCount()).toBeLessThanOrEqual(before);
  });
});

async function readUntilOnce(sock: net.Socket, text: string): Promise<string> {
  let buf = '';
  return new Promise((resolve, reject) => {
    const onData = (d: Buffer) => {
      buf += d.toString();
      if (buf.includes(text)) {
        sock.off('data', onData);
        sock.off('error', reject);
        resolve(buf);
      }
    };
    sock.on('data', onData);
    sock.once('error', reject);
  });
}
