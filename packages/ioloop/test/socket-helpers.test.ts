import { linkSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  fdAccept,
  fdClose,
  fdDup,
  fdRead,
  fdSetNoDelay,
  fdShutdown,
  fdSockName,
  fdSupport,
  fdWrite,
  fdWriteString,
  IOLoop,
} from '../src/index';
import { freshLoopPerTest } from './helpers';

const support = fdSupport();
const { READ, WRITE, ERROR } = IOLoop;

let loop: IOLoop;
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) {
    try {
      c();
    } catch {
      // already closed
    }
  }
});
freshLoopPerTest((l) => {
  loop = l;
});

function closeLater(fd: number): number {
  cleanups.push(() => fdClose(fd));
  return fd;
}

/** A listening socket that only we poll: a net.Server's descriptor, duplicated, the server closed. */
async function listener(path?: string): Promise<{ fd: number; port: number }> {
  const server = net.createServer();
  await new Promise<void>((resolve) => {
    if (path) server.listen(path, resolve);
    else server.listen(0, '127.0.0.1', resolve);
  });
  const a = server.address();
  const port = typeof a === 'object' && a !== null ? a.port : 0;
  const fd = closeLater(fdDup((server as unknown as { _handle: { fd: number } })._handle.fd));
  // closing a unix socket server unlinks its path: keep a second name for the socket
  if (path) linkSync(path, `${path}.2`);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return { fd, port };
}

/** Waits until `fd` reports `events`, then stops watching it. */
function ready(fd: number, events: number, opts?: { hangupCheck?: boolean }): Promise<number> {
  return new Promise((resolve) => {
    loop.addHandler(
      fd,
      (_fd, ev) => {
        loop.removeHandler(fd);
        resolve(ev);
      },
      events,
      opts,
    );
  });
}

function fdFlags(fd: number): number {
  const info = readFileSync(`/proc/self/fdinfo/${fd}`, 'latin1');
  return Number.parseInt(/flags:\s*(\d+)/.exec(info)?.[1] ?? '0', 8);
}

const O_NONBLOCK = 0o4000;
const O_CLOEXEC = 0o2000000;

describe.skipIf(!support.available)('socket helpers', () => {
  it('fdAccept takes a connection (non-blocking, close-on-exec, peer address) and says null when none waits', async () => {
    const { fd, port } = await listener();
    expect(fdAccept(fd)).toBeNull();
    const client = net.connect(port, '127.0.0.1');
    cleanups.push(() => client.destroy());
    await ready(fd, READ);
    const c = fdAccept(fd, true);
    expect(c).not.toBeNull();
    const [cfd, address, peerPort, family] = c!;
    closeLater(cfd);
    expect(address).toBe('127.0.0.1');
    expect(family).toBe('IPv4');
    await new Promise<void>((resolve) =>
      client.connecting ? client.once('connect', () => resolve()) : resolve(),
    );
    expect(peerPort).toBe(client.localPort);
    expect(fdSockName(cfd, true)).toEqual([client.localAddress, client.localPort, 'IPv4']);
    expect(fdSockName(cfd)).toEqual(['127.0.0.1', port, 'IPv4']);
    if (process.platform === 'linux') {
      expect(fdFlags(cfd) & O_NONBLOCK).toBe(O_NONBLOCK);
      expect(fdFlags(cfd) & O_CLOEXEC).toBe(O_CLOEXEC);
      expect(fdFlags(fd) & O_CLOEXEC).toBe(O_CLOEXEC);
    }
    expect(fdAccept(fd)).toBeNull();
  });

  it('fdWriteString writes latin1 and UTF-8 bytes; fdShutdown ends the peer; read sees the peer close', async () => {
    const { fd, port } = await listener();
    const client = net.connect(port, '127.0.0.1');
    cleanups.push(() => client.destroy());
    const chunks: Buffer[] = [];
    const ended = new Promise<void>((resolve) => {
      client.on('data', (d: Buffer) => chunks.push(d));
      client.on('end', () => resolve());
    });
    await ready(fd, READ);
    const cfd = closeLater(fdAccept(fd)![0]);
    fdSetNoDelay(cfd, true);
    fdSetNoDelay(cfd, false);
    expect(fdWriteString(cfd, 'caf\u00e9 ', 'latin1')).toBe(5);
    expect(fdWriteString(cfd, 'caf\u00e9 \u20ac')).toBe(9);
    expect(fdWriteString(cfd, '')).toBe(0);
    const big = 'x'.repeat(40_000); // past the stack buffer
    let sent = 0;
    while (sent < big.length) {
      const n = fdWriteString(cfd, big.slice(sent), 'latin1');
      if (n > 0) sent += n;
      else await ready(cfd, WRITE);
    }
    fdShutdown(cfd);
    await ended;
    const all = Buffer.concat(chunks);
    expect(all.subarray(0, 5)).toEqual(Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x20]));
    expect(all.subarray(5, 14).toString('utf8')).toBe('caf\u00e9 \u20ac');
    expect(all.length).toBe(14 + big.length);
    // now the peer closes: with hangupCheck off, a plain READ, and read(2) says end of file
    client.end();
    const ev = await ready(cfd, READ, { hangupCheck: false });
    expect(ev & READ).toBe(READ);
    expect(fdRead(cfd, new Uint8Array(8))).toBe(0);
  });

  it('a reset by the peer: with hangupCheck off READ comes and the read fails with ECONNRESET', async () => {
    const { fd, port } = await listener();
    const client = net.connect(port, '127.0.0.1');
    cleanups.push(() => client.destroy());
    await ready(fd, READ);
    const cfd = closeLater(fdAccept(fd)![0]);
    await new Promise<void>((resolve) =>
      client.connecting ? client.once('connect', () => resolve()) : resolve(),
    );
    client.resetAndDestroy();
    const ev = await ready(cfd, READ, { hangupCheck: false });
    expect(ev & (READ | ERROR)).not.toBe(0);
    expect(() => fdRead(cfd, new Uint8Array(8))).toThrow(expect.objectContaining({ code: 'ECONNRESET' }));
    expect(() => fdWrite(cfd, new Uint8Array(1))).toThrow(expect.objectContaining({ syscall: 'write' }));
  });

  it('unix sockets: family unix, empty address', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tornado-ts-ioloop-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const path = join(dir, 's.sock');
    const { fd } = await listener(path);
    const client = net.connect(`${path}.2`);
    cleanups.push(() => client.destroy());
    await ready(fd, READ);
    const [cfd, address, port, family] = fdAccept(fd, true)!;
    closeLater(cfd);
    expect([address, port, family]).toEqual(['', 0, 'unix']);
    expect(fdSockName(cfd)[2]).toBe('unix');
    const got = new Promise<string>((resolve) => client.once('data', (d) => resolve(d.toString())));
    expect(fdWriteString(cfd, 'hi')).toBe(2);
    expect(await got).toBe('hi');
  });

  it('errors carry the errno code and never crash', () => {
    expect(() => fdClose(987654)).toThrow(expect.objectContaining({ code: 'EBADF' }));
    expect(() => fdDup(987654)).toThrow(expect.objectContaining({ code: 'EBADF' }));
    expect(() => fdAccept(987654)).toThrow(expect.objectContaining({ code: 'EBADF' }));
    expect(() => fdShutdown(987654)).toThrow(expect.objectContaining({ code: 'EBADF' }));
    expect(() => fdSetNoDelay(987654)).toThrow(expect.objectContaining({ code: 'EBADF' }));
    expect(() => fdSockName(987654, true)).toThrow(expect.objectContaining({ code: 'EBADF' }));
    expect(() => fdWriteString(987654, 'x')).toThrow(expect.objectContaining({ code: 'EBADF' }));
    // @ts-expect-error a bad argument from plain JS
    expect(() => fdWriteString(1, 42)).toThrow(TypeError);
    // @ts-expect-error a bad argument from plain JS
    expect(() => fdAccept('x')).toThrow(TypeError);
  });
});
