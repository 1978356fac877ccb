import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ReadInProgressError, StreamClosedError, UnsatisfiableReadError } from '../src/index';
import { fakeStream, tick } from './helpers';

describe('readUntil', () => {
  it('finds a delimiter in buffered data without waiting for the socket', async () => {
    const { sock, s } = fakeStream();
    sock.feed('GET / HTTP/1.1\r\nHost: x\r\n\r\nBODY');
    await tick();
    expect(s.readBufferSize).toBe(31);
    const head = await s.readUntil('\r\n\r\n');
    expect(head.toString()).toBe('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(s.readBufferSize).toBe(4);
    expect((await s.readBytes(4)).toString()).toBe('BODY');
    s.close();
  });

  it('finds a delimiter split across every possible chunk boundary', async () => {
    const msg = 'abc\r\n\r\ndef';
    for (let a = 1; a < msg.length; a++) {
      for (let b = a + 1; b <= msg.length; b++) {
        const { sock, s } = fakeStream();
        const p = s.readUntil('\r\n\r\n');
        sock.feed(msg.slice(0, a));
        await tick();
        sock.feed(msg.slice(a, b));
        await tick();
        if (b < msg.length) sock.feed(msg.slice(b));
        expect((await p).toString()).toBe('abc\r\n\r\n');
        await tick();
        expect(s.readBufferSize).toBe(3);
        s.close();
      }
    }
  });

  it('finds a delimiter delivered one byte per chunk, and a false start before it', async () => {
    const { sock, s } = fakeStream();
    const p = s.readUntil(Buffer.from('\r\n\r\n'));
    for (const ch of 'x\r\n\rx\r\n\r\nrest') {
      sock.feed(ch);
      await tick();
    }
    expect((await p).toString()).toBe('x\r\n\rx\r\n\r\n');
    expect(s.readBufferSize).toBe(4);
    s.close();
  });

  it('matches what indexOf on the concatenation says, for any chunking (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.uint8Array({ minLength: 1, maxLength: 8 }).map((u) => u.map((b) => b % 3)),
          {
            minLength: 1,
            maxLength: 12,
          },
        ),
        fc.uint8Array({ minLength: 1, maxLength: 4 }).map((u) => u.map((b) => b % 3)),
        async (chunks, delim) => {
          const { sock, s } = fakeStream();
          const all = Buffer.concat(chunks);
          const idx = all.indexOf(delim);
          for (const c of chunks) sock.feed(Buffer.from(c));
          await tick();
          const r = s.tryReadUntil(delim);
          if (idx < 0) expect(r).toBeNull();
          else expect(Buffer.compare(r!, all.subarray(0, idx + delim.length))).toBe(0);
          s.close();
        },
      ),
      { numRuns: 200 },
    );
  });

  it('matches incrementally across chunks the same as on the whole (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.uint8Array({ minLength: 1, maxLength: 6 }).map((u) => u.map((b) => b % 2)),
          {
            minLength: 1,
            maxLength: 10,
          },
        ),
        fc.uint8Array({ minLength: 1, maxLength: 3 }).map((u) => u.map((b) => b % 2)),
        async (chunks, delim) => {
          const { sock, s } = fakeStream();
          const all = Buffer.concat(chunks);
          const idx = all.indexOf(delim);
          let result: Buffer | null = null;
          const p = s.readUntil(delim).then(
            (b) => {
              result = b;
            },
            () => {},
          );
          for (const c of chunks) {
            sock.feed(Buffer.from(c));
            await tick();
          }
          if (idx < 0) {
            expect(result).toBeNull();
            expect(s.reading()).toBe(true);
          } else {
            await p;
            expect(Buffer.compare(result!, all.subarray(0, idx + delim.length))).toBe(0);
            expect(s.readBufferSize).toBe(all.length - idx - delim.length);
          }
          s.close();
          await p;
        },
      ),
      { numRuns: 200 },
    );
  });

  it('successive reads in one chunk agree with indexOf, for any bytes and delimiters (property)', async () => {
    // Repeated searches in the same chunk go through a latin1 text mirror of it: bytes >= 0x80,
    // changing delimiters and a chunk arriving in between must not change what is found.
    const alphabet = [0x00, 0x0a, 0x0d, 0x61, 0x80, 0xc3, 0xa9, 0xff];
    const bytes = (min: number, max: number) =>
      fc.array(fc.constantFrom(...alphabet), { minLength: min, maxLength: max }).map((a) => Buffer.from(a));
    await fc.assert(
      fc.asyncProperty(
        bytes(1, 120),
        bytes(0, 40),
        fc.array(fc.tuple(bytes(1, 3), fc.boolean()), { minLength: 1, maxLength: 12 }),
        fc.integer({ min: 0, max: 12 }),
        async (first, second, reads, feedAt) => {
          const { sock, s } = fakeStream();
          sock.feed(first);
          await tick();
          let model = first;
          for (let i = 0; i < reads.length; i++) {
            if (i === feedAt && second.length > 0) {
              sock.feed(second);
              await tick();
              model = Buffer.concat([model, second]);
            }
            const [delim, sync] = reads[i]!;
            const idx = model.indexOf(delim);
            if (sync) {
              const r = s.tryReadUntil(delim);
              if (idx < 0) {
                expect(r).toBeNull();
                continue;
              }
              expect(Buffer.compare(r!, model.subarray(0, idx + delim.length))).toBe(0);
            } else {
              if (idx < 0) continue;
              const r = await s.readUntil(delim);
              expect(Buffer.compare(r, model.subarray(0, idx + delim.length))).toBe(0);
            }
            model = model.subarray(idx + delim.length);
            expect(s.readBufferSize).toBe(model.length);
          }
          s.close();
        },
      ),
      { numRuns: 300 },
    );
  });

  it('successive reads in one big chunk (not mirrored while over 1 MiB remain)', async () => {
    const { sock, s } = fakeStream();
    const big = 'x'.repeat(1536 * 1024);
    sock.feed(`a\n${big}\nb\nc\n`);
    await tick();
    expect((await s.readUntil('\n')).toString()).toBe('a\n');
    expect((await s.readUntil('\n')).length).toBe(big.length + 1);
    expect((await s.readUntil('\n')).toString()).toBe('b\n');
    expect(s.tryReadUntil('\n')?.toString()).toBe('c\n');
    expect(s.readBufferSize).toBe(0);
    s.close();
  });

  it('rejects an empty delimiter and a bad maxBytes', () => {
    const { s } = fakeStream();
    expect(() => s.readUntil('')).toThrow(TypeError);
    expect(() => s.readUntil('x', { maxBytes: -1 })).toThrow(RangeError);
    s.close();
  });

  it('maxBytes: a delimiter found within the limit is fine', async () => {
    const { sock, s } = fakeStream();
    sock.feed('abcd\n');
    expect((await s.readUntil('\n', { maxBytes: 5 })).toString()).toBe('abcd\n');
    s.close();
  });

  it('maxBytes exceeded with the data already buffered: UnsatisfiableReadError and the stream closes', async () => {
    const { sock, s } = fakeStream();
    sock.feed('abcdef\n');
    await tick();
    const err = await s.readUntil('\n', { maxBytes: 5 }).catch((e) => e);
    expect(err).toBeInstanceOf(UnsatisfiableReadError);
    expect(err.code).toBe('ERR_UNSATISFIABLE_READ');
    expect(s.closed()).toBe(true);
    expect(s.error).toBe(err);
    expect(sock.destroyed).toBe(true);
  });

  it('maxBytes exceeded while waiting: the pending read fails and the stream closes', async () => {
    const { sock, s } = fakeStream();
    const p = s.readUntil('\r\n', { maxBytes: 6 });
    sock.feed('abc');
    await tick();
    expect(s.reading()).toBe(true);
    sock.feed('defg');
    await expect(p).rejects.toBeInstanceOf(UnsatisfiableReadError);
    expect(s.closed()).toBe(true);
  });

  it('maxBytes: a delimiter found past the limit is unsatisfiable too', async () => {
    const { sock, s } = fakeStream();
    const p = s.readUntil('\n', { maxBytes: 3 });
    sock.feed('abc\n');
    await expect(p).rejects.toBeInstanceOf(UnsatisfiableReadError);
  });

  it('refuses a second concurrent read with a clear error', async () => {
    const { s } = fakeStream();
    const p = s.readUntil('\n');
    expect(() => s.readBytes(1)).toThrow(ReadInProgressError);
    expect(() => s.readUntil('x')).toThrow(/only one read may be pending/);
    expect(() => s.tryReadBytes(1)).toThrow(ReadInProgressError);
    expect(() => s.tryReadUntil('\n')).toThrow(ReadInProgressError);
    expect(s.reading()).toBe(true);
    s.close();
    await expect(p).rejects.toBeInstanceOf(StreamClosedError);
    expect(s.reading()).toBe(false);
  });
});

describe('readUntilRegex', () => {
  it('matches across chunk boundaries', async () => {
    const { sock, s } = fakeStream();
    const p = s.readUntilRegex(/\r?\n\r?\n/);
    sock.feed('head\r');
    await tick();
    sock.feed('\n');
    await tick();
    sock.feed('\r\nbody');
    expect((await p).toString()).toBe('head\r\n\r\n');
    expect(s.readBufferSize).toBe(4);
    s.close();
  });

  it('matches buffered data at once, and ignores g/y flags', async () => {
    const { sock, s } = fakeStream();
    sock.feed('a1b22c333');
    await tick();
    const re = /\d{2}/g;
    re.lastIndex = 5;
    expect((await s.readUntilRegex(re)).toString()).toBe('a1b22');
    expect((await s.readUntilRegex(/\d{3}/y)).toString()).toBe('c333');
    s.close();
  });

  it('treats bytes as latin1 so binary data keeps its length', async () => {
    const { sock, s } = fakeStream();
    sock.feed(Buffer.from([0xff, 0xfe, 0x00, 0x41, 0x42]));
    const r = await s.readUntilRegex(new RegExp(String.fromCharCode(0, 0x41)));
    expect([...r]).toEqual([0xff, 0xfe, 0x00, 0x41]);
    s.close();
  });

  it('maxBytes exceeded (buffered or pending) closes with UnsatisfiableReadError', async () => {
    const a = fakeStream();
    a.sock.feed('xxxxxxxx');
    await tick();
    await expect(a.s.readUntilRegex(/y/, { maxBytes: 4 })).rejects.toBeInstanceOf(UnsatisfiableReadError);
    expect(a.s.closed()).toBe(true);

    const b = fakeStream();
    const p = b.s.readUntilRegex(/y/, { maxBytes: 4 });
    b.sock.feed('xxx');
    await tick();
    b.sock.feed('xxx');
    await expect(p).rejects.toBeInstanceOf(UnsatisfiableReadError);

    const c = fakeStream();
    const q = c.s.readUntilRegex(/ab/, { maxBytes: 3 });
    c.sock.feed('xxab');
    await expect(q).rejects.toBeInstanceOf(UnsatisfiableReadError);

    const d = fakeStream();
    d.sock.feed('xxxab');
    await tick();
    await expect(d.s.readUntilRegex(/ab/, { maxBytes: 3 })).rejects.toBeInstanceOf(UnsatisfiableReadError);
  });

  it('rejects a non-RegExp', () => {
    const { s } = fakeStream();
    expect(() => s.readUntilRegex('x' as unknown as RegExp)).toThrow(TypeError);
    s.close();
  });
});

describe('tryReadUntil / tryReadBytes', () => {
  it('take buffered data synchronously or return null', async () => {
    const { sock, s } = fakeStream();
    expect(s.tryReadUntil('\n')).toBeNull();
    expect(s.tryReadBytes(1)).toBeNull();
    expect(s.tryReadBytes(0)!.length).toBe(0);
    sock.feed('line one\nli');
    await tick();
    expect(s.tryReadUntil('\n')!.toString()).toBe('line one\n');
    expect(s.tryReadUntil('\n')).toBeNull();
    expect(s.readBufferSize).toBe(2);
    sock.feed('ne two\n');
    await tick();
    expect(s.tryReadBytes(3)!.toString()).toBe('lin');
    expect(s.tryReadUntil(new Uint8Array([0x0a]))!.toString()).toBe('e two\n');
    expect(s.tryReadBytes(1)).toBeNull();
    expect(() => s.tryReadBytes(-1)).toThrow(RangeError);
    s.close();
  });

  it('tryReadUntil over maxBytes throws UnsatisfiableReadError and closes', async () => {
    const { sock, s } = fakeStream();
    sock.feed('0123456789');
    await tick();
    expect(() => s.tryReadUntil('\n', { maxBytes: 8 })).toThrow(UnsatisfiableReadError);
    expect(s.closed()).toBe(true);

    const b = fakeStream();
    b.sock.feed('0123456789\n');
    await tick();
    expect(() => b.s.tryReadUntil('\n', { maxBytes: 8 })).toThrow(UnsatisfiableReadError);
  });

  it('a failed tryReadUntil followed by readUntil completes when the rest arrives', async () => {
    const { sock, s } = fakeStream();
    sock.feed('HTTP/1.1 200 OK\r\nA: b\r\n');
    await tick();
    expect(s.tryReadUntil('\r\n\r\n')).toBeNull();
    const p = s.readUntil('\r\n\r\n');
    sock.feed('\r\n');
    expect((await p).toString()).toBe('HTTP/1.1 200 OK\r\nA: b\r\n\r\n');
    s.close();
  });
});
