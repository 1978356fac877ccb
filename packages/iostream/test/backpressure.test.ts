import { afterEach, describe, expect, it } from 'vitest';
import { IOStream } from '../src/index';
import { FakeSocket, tcpPair, tick } from './helpers';

let cleanup: (() => Promise<void>) | null = null;
afterEach(async () => {
  await cleanup?.();
  cleanup = null;
});

function pattern(offset: number, n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (offset + i) % 251;
  return b;
}

describe('backpressure', () => {
  it('a fast writer into a slow reader: the read buffer stays bounded and nothing is dropped', async () => {
    const pair = await tcpPair();
    cleanup = pair.close;
    const MAX = 256 * 1024;
    const TOTAL = 16 * 1024 * 1024;
    const reader = new IOStream(pair.server, { maxBufferSize: MAX });
    const writer = new IOStream(pair.client);
    const writes: Promise<void>[] = [];
    for (let off = 0; off < TOTAL; off += 1 << 20) writes.push(writer.write(pattern(off, 1 << 20)));

    // Nobody reads: the buffer fills to the limit, then the socket is paused.
    while (reader.readBufferSize < MAX) await tick();
    for (let i = 0; i < 20; i++) await tick();
    expect(reader.readBufferSize).toBeGreaterThanOrEqual(MAX);
    expect(reader.readBufferSize).toBeLessThan(MAX + 128 * 1024);
    expect(pair.server.isPaused()).toBe(true);
    expect(writer.writing()).toBe(true); // the rest waits in the writer, not in the reader

    // Now read it all in order, with bounded reads; the socket resumes as the buffer drains.
    let off = 0;
    let maxSeen = 0;
    while (off < TOTAL) {
      const chunk = await reader.readBytes(Math.min(48 * 1024, TOTAL - off));
      maxSeen = Math.max(maxSeen, reader.readBufferSize);
      expect(chunk.equals(pattern(off, chunk.length))).toBe(true);
      off += chunk.length;
    }
    expect(maxSeen).toBeLessThan(MAX + 128 * 1024);
    await Promise.all(writes);
    expect(writer.writing()).toBe(false);
    reader.close();
    writer.close();
  });

  it('pauses at maxBufferSize and resumes once a read drains below it', async () => {
    const sock = new FakeSocket();
    const s = new IOStream(sock, { maxBufferSize: 8 });
    sock.feed('0123456789');
    await tick();
    expect(sock.isPaused()).toBe(true);
    expect(s.readBufferSize).toBe(10);
    expect((await s.readBytes(4)).toString()).toBe('0123');
    expect(sock.isPaused()).toBe(false);
    sock.feed('ab');
    await tick();
    expect((await s.readUntil('b')).toString()).toBe('456789ab');
    s.close();
  });

  it('a pending read on a paused stream resumes it when there is room', async () => {
    const sock = new FakeSocket();
    const s = new IOStream(sock, { maxBufferSize: 8 });
    sock.feed('01234567');
    await tick();
    expect(sock.isPaused()).toBe(true);
    expect((await s.readBytes(8)).length).toBe(8);
    expect(sock.isPaused()).toBe(false);
    s.close();
  });
});

describe('writeBufferSize', () => {
  it('counts what the kernel has not taken and drops to 0 once the peer reads it', async () => {
    const pair = await tcpPair();
    cleanup = pair.close;
    const writer = new IOStream(pair.client);
    const reader = new IOStream(pair.server);
    expect(writer.writeBufferSize).toBe(0);
    const big = pattern(0, 8 * 1024 * 1024);
    const done = writer.write(big);
    expect(writer.writeBufferSize).toBeGreaterThan(0);
    expect(writer.writeBufferSize).toBeLessThanOrEqual(big.length);
    const got = await reader.readBytes(big.length);
    await done;
    expect(got.equals(big)).toBe(true);
    expect(writer.writeBufferSize).toBe(0);
  });
});
