import { describe, expect, it } from 'vitest';
import { StreamBufferFullError, StreamClosedError } from '../src/index';
import { fakeStream, tick } from './helpers';

describe('readBytes', () => {
  it('gathers bytes across chunks and leaves the rest buffered', async () => {
    const { sock, s } = fakeStream();
    const p = s.readBytes(5);
    sock.feed('ab');
    await tick();
    expect(s.reading()).toBe(true);
    sock.feed('cdefg');
    expect((await p).toString()).toBe('abcde');
    expect(s.readBufferSize).toBe(2);
    expect((await s.readBytes(2)).toString()).toBe('fg');
    expect((await s.readBytes(0)).length).toBe(0);
    s.close();
  });

  it('returns a whole chunk without copying it', async () => {
    const { sock, s } = fakeStream();
    const chunk = Buffer.from('exactly');
    const p = s.readBytes(chunk.length);
    sock.feed(chunk);
    expect(await p).toBe(chunk);
    s.close();
  });

  it('partial: resolves with what is there, up to n', async () => {
    const { sock, s } = fakeStream();
    const p = s.readBytes(10, { partial: true });
    sock.feed('abc');
    expect((await p).toString()).toBe('abc');
    sock.feed('defghijklmnop');
    await tick();
    expect((await s.readBytes(10, { partial: true })).toString()).toBe('defghijklm');
    expect((await s.readBytes(10, { partial: true })).toString()).toBe('nop');
    s.close();
  });

  it('validates n', () => {
    const { s } = fakeStream();
    expect(() => s.readBytes(-1)).toThrow(RangeError);
    expect(() => s.readBytes(1.5)).toThrow(RangeError);
    s.close();
  });

  it('a read larger than maxBufferSize fails with StreamBufferFullError and closes', async () => {
    const { s } = fakeStream({ maxBufferSize: 16 });
    await expect(s.readBytes(17)).rejects.toBeInstanceOf(StreamBufferFullError);
    expect(s.closed()).toBe(true);
    expect((s.error as StreamBufferFullError).code).toBe('ERR_STREAM_BUFFER_FULL');
  });

  it('a readUntil that would need more than maxBufferSize fails and closes', async () => {
    const { sock, s } = fakeStream({ maxBufferSize: 8 });
    const p = s.readUntil('\n');
    sock.feed('0123');
    await tick();
    sock.feed('45678');
    await expect(p).rejects.toBeInstanceOf(StreamBufferFullError);
    expect(s.closed()).toBe(true);
  });
});

describe('readInto', () => {
  it('fills the buffer from buffered data and then from the socket', async () => {
    const { sock, s } = fakeStream();
    sock.feed('abc');
    await tick();
    const buf = Buffer.alloc(8);
    const p = s.readInto(buf);
    sock.feed('de');
    await tick();
    expect(s.reading()).toBe(true);
    sock.feed('fghij');
    expect(await p).toBe(8);
    expect(buf.toString()).toBe('abcdefgh');
    expect((await s.readBytes(2)).toString()).toBe('ij');
    s.close();
  });

  it('resolves at once when buffered data fills it', async () => {
    const { sock, s } = fakeStream();
    sock.feed('abcdef');
    await tick();
    const buf = new Uint8Array(4);
    expect(await s.readInto(buf)).toBe(4);
    expect(Buffer.from(buf).toString()).toBe('abcd');
    expect(await s.readInto(new Uint8Array(0))).toBe(0);
    s.close();
  });

  it('partial: resolves with the count that came', async () => {
    const { sock, s } = fakeStream();
    const buf = Buffer.alloc(10);
    const p = s.readInto(buf, { partial: true });
    sock.feed('xyz');
    expect(await p).toBe(3);
    expect(buf.subarray(0, 3).toString()).toBe('xyz');
    sock.feed('12');
    await tick();
    expect(await s.readInto(buf, { partial: true })).toBe(2);
    s.close();
  });

  it('does not count against maxBufferSize', async () => {
    const { sock, s } = fakeStream({ maxBufferSize: 4 });
    const buf = Buffer.alloc(12);
    const p = s.readInto(buf);
    sock.feed('abcdef');
    await tick();
    sock.feed('ghijkl');
    expect(await p).toBe(12);
    expect(buf.toString()).toBe('abcdefghijkl');
    s.close();
  });

  it('rejects a non-Uint8Array and rejects on a closed stream', async () => {
    const { s } = fakeStream();
    expect(() => s.readInto('x' as unknown as Uint8Array)).toThrow(TypeError);
    s.close();
    await expect(s.readInto(Buffer.alloc(1))).rejects.toBeInstanceOf(StreamClosedError);
  });
});

describe('readUntilClose', () => {
  it('gets everything the peer sent before EOF', async () => {
    const { sock, s } = fakeStream();
    sock.feed('one ');
    await tick();
    const p = s.readUntilClose();
    sock.feed('two ');
    sock.feed('three');
    sock.feed(null);
    expect((await p).toString()).toBe('one two three');
    expect(s.closed()).toBe(true);
    expect(s.error).toBeNull();
  });

  it('on a closed stream resolves with what is buffered (possibly nothing)', async () => {
    const { sock, s } = fakeStream();
    sock.feed('left');
    sock.feed(null);
    await tick();
    expect(s.closed()).toBe(true);
    expect((await s.readUntilClose()).toString()).toBe('left');
    expect((await s.readUntilClose()).length).toBe(0);
  });

  it('past maxBufferSize fails with StreamBufferFullError', async () => {
    const { sock, s } = fakeStream({ maxBufferSize: 4 });
    const p = s.readUntilClose();
    sock.feed('abcdef');
    await expect(p).rejects.toBeInstanceOf(StreamBufferFullError);
  });
});
