import * as net from 'node:net';
import { fdAccept, fdClose, fdDup, fdSupport, IOLoop } from '@tornado-ts/ioloop';
import { afterEach, describe, expect, it } from 'vitest';
import { FdSocket, IOStream, SSLIOStream, StreamClosedError } from '../src/index';
import { type Cert, selfSignedCert } from './helpers';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) {
    try {
      await c();
    } catch {
      // already gone
    }
  }
});

/** A listening socket polled by nobody but the test: a net.Server's descriptor, copied. */
async function listener(): Promise<{ fd: number; port: number }> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const fd = fdDup((server as unknown as { _handle: { fd: number } })._handle.fd);
  cleanups.push(() => fdClose(fd));
  await new Promise<void>((r) => server.close(() => r()));
  return { fd, port };
}

/** Accepts the next connection on `fd` as an FdSocket (waits for it through the IOLoop). */
function acceptOne(fd: number): Promise<FdSocket> {
  const loop = IOLoop.current();
  return new Promise((resolve) => {
    loop.addHandler(
      fd,
      () => {
        const c = fdAccept(fd, true);
        if (c === null) return;
        loop.removeHandler(fd);
        const [cfd, address, port, family] = c;
        const s = new FdSocket(cfd, { address, port, family });
        cleanups.push(() => s.destroy());
        resolve(s);
      },
      IOLoop.READ,
    );
  });
}

/** A connected pair: an FdSocket (server side) and a net.Socket client. */
async function pair(): Promise<{ sock: FdSocket; client: net.Socket }> {
  const { fd, port } = await listener();
  const accepted = acceptOne(fd);
  const client = net.connect(port, '127.0.0.1');
  client.on('error', () => {});
  cleanups.push(() => client.destroy());
  await new Promise<void>((r) => client.once('connect', () => r()));
  return { sock: await accepted, client };
}

function collect(client: net.Socket): { data: () => Buffer; ended: Promise<void> } {
  const chunks: Buffer[] = [];
  client.on('data', (d: Buffer) => chunks.push(d));
  const ended = new Promise<void>((r) => client.once('end', () => r()));
  return { data: () => Buffer.concat(chunks), ended };
}

function pattern(n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (i * 7) % 251;
  return b;
}

describe.skipIf(!fdSupport().available)('FdSocket under an IOStream', () => {
  it('reads and writes like a net.Socket: readUntil, readBytes, write, addresses', async () => {
    const { sock, client } = await pair();
    expect(sock.remoteAddress).toBe('127.0.0.1');
    expect(sock.remotePort).toBe(client.localPort);
    expect(sock.remoteFamily).toBe('IPv4');
    expect(sock.localAddress).toBe('127.0.0.1');
    expect(sock.localPort).toBe(client.remotePort);
    expect(sock.address()).toEqual({ address: '127.0.0.1', port: client.remotePort, family: 'IPv4' });
    const stream = new IOStream(sock);
    expect(stream.socket).toBe(sock);
    const got = collect(client);
    client.write('GET / HTTP/1.1\r\n\r\nbody');
    expect((await stream.readUntil('\r\n\r\n')).toString()).toBe('GET / HTTP/1.1\r\n\r\n');
    expect((await stream.readBytes(4)).toString()).toBe('body');
    await stream.write('caf\u00e9 ', 'latin1');
    await stream.write('\u20ac ');
    await stream.write(new Uint8Array([0x21]));
    stream.close();
    await got.ended;
    expect(got.data()).toEqual(Buffer.concat([Buffer.from('caf\u00e9 ', 'latin1'), Buffer.from('\u20ac !')]));
  });

  it('addresses it was not given are looked up', async () => {
    const { fd, port } = await listener();
    const loop = IOLoop.current();
    const accepted = new Promise<FdSocket>((resolve) => {
      loop.addHandler(
        fd,
        () => {
          const c = fdAccept(fd);
          if (c === null) return;
          loop.removeHandler(fd);
          const s = new FdSocket(c[0]);
          cleanups.push(() => s.destroy());
          resolve(s);
        },
        IOLoop.READ,
      );
    });
    const client = net.connect(port, '127.0.0.1');
    cleanups.push(() => client.destroy());
    const sock = await accepted;
    await new Promise<void>((r) => (client.connecting ? client.once('connect', () => r()) : r()));
    expect([sock.remoteAddress, sock.remotePort, sock.remoteFamily]).toEqual([
      '127.0.0.1',
      client.localPort,
      'IPv4',
    ]);
    sock.destroy();
    expect(sock.address()).toEqual({});
    expect(sock.localPort).toBeUndefined();
    expect(() => new FdSocket(-1)).toThrow(RangeError);
  });

  it('a big write into a slow reader queues, reports writeBufferSize, and arrives whole and in order', async () => {
    const { sock, client } = await pair();
    const stream = new IOStream(sock);
    client.pause();
    const big = pattern(8 * 1024 * 1024);
    const first = stream.write(big);
    const second = stream.write('tail');
    expect(stream.writeBufferSize).toBeGreaterThan(0);
    expect(sock.writableLength).toBe(stream.writeBufferSize);
    // Only what the kernel took counts as written.
    expect(sock.bytesWritten).toBe(big.length + 4 - sock.writableLength);
    const got = collect(client);
    client.resume();
    await first;
    await second;
    expect(stream.writeBufferSize).toBe(0);
    expect(sock.bytesWritten).toBe(big.length + 4);
    stream.close();
    await got.ended;
    const all = got.data();
    expect(all.length).toBe(big.length + 4);
    expect(all.subarray(0, big.length).equals(big)).toBe(true);
    expect(all.subarray(big.length).toString()).toBe('tail');
  });

  it('bytesRead and bytesWritten count what crossed the kernel boundary', async () => {
    const { sock, client } = await pair();
    const stream = new IOStream(sock);
    expect([sock.bytesRead, sock.bytesWritten]).toEqual([0, 0]);
    client.write('ping\r\n');
    expect((await stream.readUntil('\r\n')).toString()).toBe('ping\r\n');
    expect(sock.bytesRead).toBe(6);
    await stream.write('héllo'); // UTF-8: 6 bytes
    await stream.write(Buffer.from('!'));
    expect(sock.bytesWritten).toBe(7);
    const got = collect(client);
    stream.close();
    await got.ended;
    expect(got.data().toString()).toBe('héllo!');
  });

  it('backpressure on reads: pauses at maxBufferSize, nothing lost', async () => {
    const { sock, client } = await pair();
    const MAX = 64 * 1024;
    const stream = new IOStream(sock, { maxBufferSize: MAX });
    const big = pattern(4 * 1024 * 1024);
    client.write(big);
    client.end();
    while (stream.readBufferSize < MAX) await new Promise((r) => setImmediate(r));
    expect(sock.isPaused()).toBe(true);
    const parts: Buffer[] = [];
    let n = 0;
    while (n < big.length) {
      const b = await stream.readBytes(Math.min(48 * 1024, big.length - n));
      parts.push(b);
      n += b.length;
      expect(stream.readBufferSize).toBeLessThan(MAX + 64 * 1024);
    }
    expect(Buffer.concat(parts).equals(big)).toBe(true);
  });

  it('writes issued while one read is delivered go out together, after the first, in order', async () => {
    const { sock, client } = await pair();
    const stream = new IOStream(sock);
    const got = collect(client);
    const writes: Promise<void>[] = [];
    stream.setReadCallback((s) => {
      // Three pipelined "requests" arrive in one read: three answers written synchronously.
      for (;;) {
        const line = s.tryReadUntil('\n');
        if (line === null) break;
        writes.push(s.write(`re:${line.toString()}`));
      }
    });
    client.write('a\nb\nc\n');
    while (writes.length < 3) await new Promise((r) => setImmediate(r));
    await Promise.all(writes);
    stream.close();
    await got.ended;
    expect(got.data().toString()).toBe('re:a\nre:b\nre:c\n');
  });

  it('cork / uncork join writes; end() half-closes after the queue and emits finish', async () => {
    const { sock, client } = await pair();
    const got = collect(client);
    const order: string[] = [];
    sock.cork();
    sock.write('one ', () => order.push('one'));
    sock.write(Buffer.from('two '), () => order.push('two'));
    sock.write('three', 'utf8', () => order.push('three'));
    expect(sock.writableLength).toBe(13);
    expect(order).toEqual([]);
    sock.uncork();
    expect(order).toEqual(['one', 'two', 'three']);
    const finished = new Promise<void>((r) => sock.end('!', () => r()));
    expect(sock.writableEnded).toBe(true);
    await finished;
    await got.ended;
    expect(got.data().toString()).toBe('one two three!');
    const late = await new Promise<Error | null | undefined>((r) => sock.write('x', r));
    expect((late as { code?: string }).code).toBe('ERR_STREAM_WRITE_AFTER_END');
    // the peer ends too: both directions are done, the socket closes itself
    const closed = new Promise<void>((r) => sock.once('close', () => r()));
    sock.resume();
    client.end();
    await closed;
    expect(sock.destroyed).toBe(true);
  });

  it('the peer closing closes the stream without an error; writes after that reject', async () => {
    const { sock, client } = await pair();
    const stream = new IOStream(sock);
    const closed = new Promise<void>((r) => stream.setCloseCallback(r));
    const pending = stream.readUntil('\n');
    client.end('partial');
    await closed;
    expect(stream.error).toBeNull();
    expect(await pending.catch((e) => e)).toBeInstanceOf(StreamClosedError);
    expect(await stream.write('x').catch((e) => e)).toBeInstanceOf(StreamClosedError);
    const late = await new Promise<Error | null | undefined>((r) => sock.write('x', r));
    expect((late as { code?: string }).code).toBe('ERR_STREAM_DESTROYED');
  });

  it('a reset by the peer closes the stream with ECONNRESET as its realError', async () => {
    const { sock, client } = await pair();
    const stream = new IOStream(sock);
    const pending = stream.readUntil('\n');
    client.resetAndDestroy();
    const err = await pending.catch((e) => e);
    expect(err).toBeInstanceOf(StreamClosedError);
    expect((err.realError as NodeJS.ErrnoException).code).toBe('ECONNRESET');
    expect(sock.destroyed).toBe(true);
  });

  it('a reset while paused and writing: queued write callbacks get the error', async () => {
    const { sock, client } = await pair();
    client.pause();
    const big = pattern(16 * 1024 * 1024);
    const results: (Error | null | undefined)[] = [];
    sock.on('error', () => {});
    sock.write(big, (e) => results.push(e));
    sock.write('more', (e) => results.push(e));
    expect(sock.writableLength).toBeGreaterThan(0);
    const closed = new Promise<boolean>((r) => sock.once('close', r));
    client.resetAndDestroy();
    expect(await closed).toBe(true);
    expect(results).toHaveLength(2);
    for (const e of results) expect(e).toBeInstanceOf(Error);
    expect(sock.errored).toBeInstanceOf(Error);
  });

  it('destroy() drops queued writes with ERR_STREAM_DESTROYED; close comes once', async () => {
    const { sock, client } = await pair();
    client.pause();
    const errors: unknown[] = [];
    sock.write(pattern(16 * 1024 * 1024), (e) => errors.push(e));
    let closes = 0;
    sock.on('close', () => closes++);
    sock.destroy();
    sock.destroy();
    await new Promise((r) => setImmediate(r));
    expect(closes).toBe(1);
    expect((errors[0] as { code?: string }).code).toBe('ERR_STREAM_DESTROYED');
    expect(sock.setNoDelay(true)).toBe(sock);
    expect(sock.setKeepAlive()).toBe(sock);
  });

  it('startTls hands the descriptor to TLS and the handshake and data go through', async () => {
    const cert: Cert = selfSignedCert('fd.test');
    const { sock, client } = await pair();
    const plain = new IOStream(sock);
    const upgraded = plain.startTls(true, { key: cert.key, cert: cert.cert });
    const tlsClient = (await import('node:tls')).connect({
      socket: client,
      ca: cert.cert,
      servername: 'fd.test',
    });
    tlsClient.on('error', () => {});
    cleanups.push(() => tlsClient.destroy());
    const s = await upgraded;
    expect(s).toBeInstanceOf(SSLIOStream);
    expect(sock.destroyed).toBe(true);
    const line = new Promise<string>((r) => tlsClient.once('data', (d) => r(d.toString())));
    tlsClient.write('secret\n');
    expect((await s.readUntil('\n')).toString()).toBe('secret\n');
    await s.write('back\n');
    expect(await line).toBe('back\n');
    s.close();
    expect(() => sock.toNetSocket()).toThrow(/destroyed/);
  });

  it('on its own (no stream): data, end and close events to listeners; off and removeAllListeners', async () => {
    const { sock, client } = await pair();
    const got: string[] = [];
    const onData = (d: Buffer) => got.push(d.toString());
    const ignored = () => got.push('never');
    sock.on('data', onData);
    sock.on('drain', ignored);
    sock.off('drain', ignored);
    expect(sock.listenerCount('data')).toBe(1);
    expect(sock.listenerCount('drain')).toBe(0);
    const ended = new Promise<void>((r) => sock.once('end', () => r()));
    const closed = new Promise<boolean>((r) => sock.once('close', r));
    sock.resume();
    expect(sock.isPaused()).toBe(false);
    client.write('one');
    while (got.length === 0) await new Promise((r) => setImmediate(r));
    sock.pause();
    expect(sock.isPaused()).toBe(true);
    sock.resume();
    client.end('two');
    await ended;
    expect(got.join('')).toBe('onetwo');
    expect(await closed).toBe(false); // the peer ended, we had ended too: closed without an error
    sock.removeAllListeners('data');
    sock.removeAllListeners();
    expect(sock.listenerCount('data')).toBe(0);
    expect(sock.emit('data', 'x')).toBe(false);
  });

  it('outside a read notification, writes after the first in one tick go out together at its end', async () => {
    const { sock, client } = await pair();
    const got = collect(client);
    const order: string[] = [];
    expect(sock.write('a', () => order.push('a'))).toBe(true);
    expect(order).toEqual(['a']); // the kernel took it at once
    expect(sock.write('b', () => order.push('b'))).toBe(false);
    expect(sock.write(Buffer.from('c'), () => order.push('c'))).toBe(false);
    expect(sock.writableLength).toBe(2); // waiting for the end of the tick
    await new Promise((r) => process.nextTick(r));
    expect(order).toEqual(['a', 'b', 'c']);
    expect(sock.writableLength).toBe(0);
    // a stream's awaited loop (each write in its own continuation) batches the same way
    const stream = new IOStream(sock);
    await Promise.all([stream.write('d'), stream.write('e'), stream.write('f')]);
    stream.close();
    await got.ended;
    expect(got.data().toString()).toBe('abcdef');
  });
});
