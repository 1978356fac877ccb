import { describe, expect, it } from 'vitest';
import { ReadInProgressError } from '../src/index';
import { fakeStream, tick } from './helpers';

describe('unshift', () => {
  it('puts bytes in front of what is buffered; delimiter searches see them', async () => {
    const { sock, s } = fakeStream();
    sock.feed('cd\r\nrest');
    await tick();
    expect(s.tryReadBytes(1)?.toString()).toBe('c'); // a partly consumed first chunk
    s.unshift(Buffer.from('ab'));
    s.unshift(new Uint8Array([0x3e])); // '>' before 'ab'
    expect(s.readBufferSize).toBe(1 + 2 + 7);
    expect((await s.readUntil('\r\n')).toString()).toBe('>abd\r\n');
    expect(s.tryReadBytes(4)?.toString()).toBe('rest');
    s.unshift(Buffer.alloc(0));
    expect(s.readBufferSize).toBe(0);
    s.unshift(Buffer.from('x\n'));
    sock.feed('y\n');
    await tick();
    expect((await s.readUntil('\n')).toString()).toBe('x\n');
    expect((await s.readUntil('\n')).toString()).toBe('y\n');
    s.close();
  });

  it('an unshifted buffer after a failed search is searched again from the start', async () => {
    const { sock, s } = fakeStream();
    sock.feed('no delimiter yet');
    await tick();
    expect(s.tryReadUntil('\n')).toBeNull(); // remembers where it stopped
    s.unshift(Buffer.from('line\n'));
    expect(s.tryReadUntil('\n')?.toString()).toBe('line\n');
    s.close();
  });

  it('not while a read is pending; counts against maxBufferSize (pauses the socket)', async () => {
    const { sock, s } = fakeStream({ maxBufferSize: 8 });
    const p = s.readUntil('\n');
    expect(() => s.unshift(Buffer.from('x'))).toThrow(ReadInProgressError);
    sock.feed('ab\n');
    await p;
    s.unshift(Buffer.from('0123456789'));
    expect(sock.isPaused()).toBe(true);
    expect((await s.readBytes(10)).toString()).toBe('0123456789');
    expect(sock.isPaused()).toBe(false);
    s.close();
  });
});
