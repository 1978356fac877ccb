import { afterEach, describe, expect, it } from 'vitest';
import { IOStream, StreamClosedError } from '../src/index';
import { captureLogLines, FakeSocket, tcpPair, tick } from './helpers';

let cleanup: (() => Promise<void>) | null = null;
afterEach(async () => {
  await cleanup?.();
  cleanup = null;
});

describe('close', () => {
  it('close during a pending read rejects it with StreamClosedError, then runs the close callback once', async () => {
    const sock = new FakeSocket();
    const s = new IOStream(sock);
    const order: string[] = [];
    s.setCloseCallback(() => order.push('close-callback'));
    const p = s.readUntil('\n').catch((e) => {
      order.push('read-rejected');
      return e;
    });
    s.close();
    s.close();
    const err = await p;
    expect(err).toBeInstanceOf(StreamClosedError);
    expect(err.realError).toBeNull();
    expect(err.code).toBe('ERR_STREAM_CLOSED');
    await new Promise((r) => setImmediate(r));
    await tick();
    expect(order).toEqual(['read-rejected', 'close-callback']);
    expect(s.closed()).toBe(true);
    expect(sock.destroyed).toBe(true);
  });

  it('EOF with buffered data: reads the buffer satisfies still succeed, then StreamClosedError', async () => {
    const sock = new FakeSocket();
    const s = new IOStream(sock);
    sock.feed('line1\nline2\npart');
    sock.feed(null);
    await tick();
    expect(s.closed()).toBe(true);
    expect((await s.readUntil('\n')).toString()).toBe('line1\n');
    expect((await s.readUntil('\n')).toString()).toBe('line2\n');
    await expect(s.readUntil('\n')).rejects.toBeInstanceOf(StreamClosedError);
    expect((await s.readBytes(10, { partial: true })).toString()).toBe('part');
    await expect(s.readBytes(1)).rejects.toBeInstanceOf(StreamClosedError);
    await expect(s.readUntilRegex(/x/)).rejects.toBeInstanceOf(StreamClosedError);
  });

  it('EOF while a read waits for more: the buffered part stays, the read rejects', async () => {
    const sock = new FakeSocket();
    const s = new IOStream(sock);
    const p = s.readBytes(10);
    sock.feed('abc');
    await tick();
    sock.feed(null);
    await expect(p).rejects.toBeInstanceOf(StreamClosedError);
    expect(s.readBufferSize).toBe(3);
  });

  it('EOF satisfies a pending partial read from the buffer', async () => {
    const sock = new FakeSocket();
    const s = new IOStream(sock);
    sock.feed('abc');
    await tick();
    expect((await s.readBytes(2)).toString()).toBe('ab');
    const p = s.readInto(Buffer.alloc(5), { partial: true });
    expect(await p).toBe(1);
    s.close();
  });

  it('the close callback runs even when set after the close, and its throw is logged', async () => {
    const { lines, restore } = captureLogLines();
    try {
      const s = new IOStream(new FakeSocket());
      s.close();
      const ran = new Promise<void>((r) =>
        s.setCloseCallback(() => {
          r();
          throw new Error('boom');
        }),
      );
      await ran;
      await tick();
      expect(lines.some((l) => l.includes('close callback'))).toBe(true);
    } finally {
      restore();
    }
  });

  it('setCloseCallback(null) removes the callback', async () => {
    const s = new IOStream(new FakeSocket());
    let ran = false;
    s.setCloseCallback(() => {
      ran = true;
    });
    s.setCloseCallback(null);
    s.close();
    await tick();
    await tick();
    expect(ran).toBe(false);
  });

  it('a stream over a destroyed socket is closed from the start', async () => {
    const sock = new FakeSocket();
    sock.destroy();
    const s = new IOStream(sock);
    expect(s.closed()).toBe(true);
    await expect(s.readBytes(1)).rejects.toBeInstanceOf(StreamClosedError);
  });

  it('rejects a non-stream', () => {
    expect(() => new IOStream(null as never)).toThrow(TypeError);
    expect(() => new IOStream(new FakeSocket(), { maxBufferSize: -5 })).toThrow(RangeError);
  });

  it('a peer reset over TCP: reads reject with StreamClosedError whose realError is ECONNRESET', async () => {
    const pair = await tcpPair();
    cleanup = pair.close;
    const s = new IOStream(pair.server);
    const closed = new Promise<void>((r) => s.setCloseCallback(r));
    const p = s.readUntil('\n');
    pair.client.resetAndDestroy();
    const err = await p.catch((e) => e);
    expect(err).toBeInstanceOf(StreamClosedError);
    expect((err.realError as NodeJS.ErrnoException).code).toBe('ECONNRESET');
    expect(s.error).toBe(err.realError);
    await closed;
  });

  it('logs unexpected socket errors as warnings, but not peer resets', async () => {
    const { lines, restore } = captureLogLines();
    try {
      const a = new FakeSocket();
      const sa = new IOStream(a);
      a.destroy(new Error('weird failure'));
      const reset = new FakeSocket();
      const sb = new IOStream(reset);
      reset.destroy(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }));
      await tick();
      expect(sa.error?.message).toBe('weird failure');
      expect(sb.error?.message).toBe('read ECONNRESET');
      expect(lines.filter((l) => l.includes('weird failure'))).toHaveLength(1);
      expect(lines.some((l) => l.includes('ECONNRESET'))).toBe(false);
    } finally {
      restore();
    }
  });

  it('a peer FIN over TCP closes the stream; pending writes and reads settle before the callback', async () => {
    const pair = await tcpPair();
    cleanup = pair.close;
    const s = new IOStream(pair.server);
    let settled = 0;
    const done = new Promise<void>((resolve) =>
      s.setCloseCallback(() => {
        expect(settled).toBe(1);
        resolve();
      }),
    );
    s.readBytes(100).catch(() => settled++);
    pair.client.end('bye');
    await done;
    expect(s.closed()).toBe(true);
    expect((await s.readUntilClose()).toString()).toBe('bye');
  });
});
