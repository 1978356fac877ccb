import { createHook } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { IOStream, StreamBufferFullError, StreamClosedError } from '../src/index';
import { FakeSocket, tcpPair, tick } from './helpers';

let cleanup: (() => Promise<void>) | null = null;
afterEach(async () => {
  await cleanup?.();
  cleanup = null;
});

describe('write', () => {
  it('writes the first write of a tick at once and coalesces the rest of the tick, in order', async () => {
    const sock = new FakeSocket();
    const s = new IOStream(sock);
    const ps = [
      s.write('HTTP/1.1 200 OK\r\n'),
      s.write(Buffer.from('A: b\r\n\r\n')),
      s.write(new Uint8Array([0x68, 0x69])),
    ];
    expect(s.writing()).toBe(true);
    await Promise.all(ps);
    expect(sock.writeCalls).toBe(1);
    expect(sock.writevCalls).toBe(1);
    expect(sock.written.length).toBe(3);
    expect(sock.output()).toBe('HTTP/1.1 200 OK\r\nA: b\r\n\r\nhi');
    expect(s.writing()).toBe(false);
    s.close();
  });

  it('does not copy buffers', async () => {
    const sock = new FakeSocket();
    const s = new IOStream(sock);
    const big = Buffer.alloc(1 << 20, 7);
    await s.write(big);
    expect(sock.written[0]).toBe(big);
    s.close();
  });

  it('streams 12 MB of writes over TCP in order, each promise resolving in order', async () => {
    const pair = await tcpPair();
    cleanup = pair.close;
    const w = new IOStream(pair.server);
    const r = new IOStream(pair.client);
    const parts = Array.from({ length: 24 }, () => randomBytes(512 * 1024));
    const resolved: number[] = [];
    const writes = parts.map((p, i) => w.write(p).then(() => resolved.push(i)));
    const total = parts.reduce((n, p) => n + p.length, 0);
    const got = await r.readBytes(total);
    await Promise.all(writes);
    expect(resolved).toEqual(parts.map((_, i) => i));
    expect(Buffer.compare(got, Buffer.concat(parts))).toBe(0);
    w.close();
    r.close();
  });

  it('write after close rejects with StreamClosedError (and never as an unhandled rejection)', async () => {
    const s = new IOStream(new FakeSocket());
    s.close();
    await expect(s.write('x')).rejects.toBeInstanceOf(StreamClosedError);
    s.write('ignored'); // not awaited: must not surface as unhandledRejection
    await tick();
  });

  it('writes pending at close reject with StreamClosedError', async () => {
    const pair = await tcpPair();
    cleanup = pair.close;
    const s = new IOStream(pair.server);
    pair.client.pause(); // the peer does not read: the kernel buffers fill up
    const big = Buffer.alloc(32 << 20);
    const p = s.write(big);
    const q = s.write('after');
    await tick();
    expect(s.writing()).toBe(true);
    s.close();
    await expect(p).rejects.toBeInstanceOf(StreamClosedError);
    await expect(q).rejects.toBeInstanceOf(StreamClosedError);
  });

  it('maxWriteBufferSize: a write past it is refused and the stream stays open', async () => {
    const sock = new FakeSocket();
    const s = new IOStream(sock, { maxWriteBufferSize: 10 });
    const a = s.write('12345678');
    await expect(s.write('abc')).rejects.toBeInstanceOf(StreamBufferFullError);
    await a;
    await s.write('abcdefghij');
    expect(s.closed()).toBe(false);
    expect(sock.output()).toBe('12345678abcdefghij');
    s.close();
  });

  it('a refused or dropped write that nobody awaits raises no unhandledRejection', async () => {
    // Fire-and-forget writes are common; a slow peer filling the write buffer must not crash the process.
    const seen: unknown[] = [];
    const onUnhandled = (reason: unknown) => seen.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const s = new IOStream(new FakeSocket(), { maxWriteBufferSize: 4 });
      void s.write('1234');
      void s.write('5'); // refused: StreamBufferFullError
      s.close(); // the first write is dropped: StreamClosedError
      void s.write('x'); // on a closed stream: StreamClosedError
      await tick();
      await tick();
      expect(seen).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('a socket write error closes the stream with that error', async () => {
    const sock = new FakeSocket();
    sock._write = (_c, _e, cb) => cb(new Error('disk on fire'));
    const s = new IOStream(sock);
    const err = await s.write('x').catch((e) => e);
    expect(err).toBeInstanceOf(StreamClosedError);
    expect(s.closed()).toBe(true);
    expect(s.error?.message).toBe('disk on fire');
  });

  it('setNodelay works on sockets and is a no-op on other streams', async () => {
    const pair = await tcpPair();
    cleanup = pair.close;
    const s = new IOStream(pair.server);
    s.setNodelay(true);
    s.setNodelay(false);
    new IOStream(new FakeSocket()).setNodelay(true);
    expect(s.socket).toBe(pair.server);
    s.close();
  });
});

describe('write fast path', () => {
  it('a write the kernel takes at once returns the shared, resolved promise', async () => {
    const pair = await tcpPair();
    cleanup = pair.close;
    const s = new IOStream(pair.server);
    const a = s.write('a');
    await tick(); // the next write starts a new tick
    const b = s.write('b');
    expect(a).toBe(b);
    await expect(a).resolves.toBeUndefined();
    expect(s.writing()).toBe(false);
    const peer = new IOStream(pair.client);
    expect((await peer.readBytes(2)).toString()).toBe('ab');
    // Closing the stream never touches the shared promise.
    s.close();
    await expect(a).resolves.toBeUndefined();
    peer.close();
  });

  it('the shared write promise can be chained while async_hooks track promises', async () => {
    const hook = createHook({ init() {} }).enable();
    try {
      const pair = await tcpPair();
      cleanup = pair.close;
      const s = new IOStream(pair.server);
      const done: string[] = [];
      await s.write('x').then(() => done.push('first'));
      await tick();
      await s.write('y').then(() => done.push('second'));
      expect(done).toEqual(['first', 'second']);
      s.close();
    } finally {
      hook.disable();
    }
  });

  it('writes the kernel could not take at once resolve in order via the socket callbacks', async () => {
    const sock = new FakeSocket();
    const s = new IOStream(sock);
    const order: number[] = [];
    const ps = [1, 2, 3].map((i) => s.write(`w${i}`).then(() => order.push(i)));
    await tick();
    const p4 = s.write('w4').then(() => order.push(4));
    await Promise.all([...ps, p4]);
    expect(order).toEqual([1, 2, 3, 4]);
    expect(sock.output()).toBe('w1w2w3w4');
    expect(s.writing()).toBe(false);
    s.close();
  });

  it('latin1 strings are written one byte per character', async () => {
    const sock = new FakeSocket();
    const s = new IOStream(sock, { maxWriteBufferSize: 10 });
    await s.write('\u00e9t\u00e9', 'latin1');
    expect(Buffer.concat(sock.written)).toEqual(Buffer.from([0xe9, 0x74, 0xe9]));
    // Counted as one byte per character against maxWriteBufferSize.
    await expect(s.write('x'.repeat(11), 'latin1')).rejects.toBeInstanceOf(StreamBufferFullError);
    s.close();
  });

  it('a write error after the kernel took earlier writes closes the stream and rejects the waiting ones', async () => {
    const sock = new FakeSocket();
    let n = 0;
    sock._write = (_c, _e, cb) => {
      n++;
      setImmediate(() => cb(n === 2 ? new Error('second failed') : null));
    };
    const s = new IOStream(sock);
    const first = s.write('1');
    await tick();
    const second = s.write('2');
    await expect(first).resolves.toBeUndefined();
    await expect(second).rejects.toBeInstanceOf(StreamClosedError);
    expect(s.error?.message).toBe('second failed');
  });
});
