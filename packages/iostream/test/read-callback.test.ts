import { afterEach, describe, expect, it } from 'vitest';
import { IOStream, ReadInProgressError, UnsatisfiableReadError } from '../src/index';
import { captureLogLines, FakeSocket, tcpPair, tick } from './helpers';

let cleanup: (() => Promise<void>) | null = null;
afterEach(async () => {
  await cleanup?.();
  cleanup = null;
});

describe('setReadCallback', () => {
  it('is called synchronously per arrival; a parser drains complete lines in a loop and keeps the rest', () => {
    const sock = new FakeSocket();
    const s = new IOStream(sock);
    const lines: string[] = [];
    let calls = 0;
    s.setReadCallback((st) => {
      calls++;
      let line: Buffer | null;
      while ((line = st.tryReadUntil('\n')) !== null) lines.push(line.toString());
    });
    // FakeSocket pushes synchronously in flowing mode: the hook runs inside feed().
    sock.emit('data', Buffer.from('one\ntwo\nthr'));
    expect(calls).toBe(1);
    expect(lines).toEqual(['one\n', 'two\n']);
    expect(s.readBufferSize).toBe(3);
    sock.emit('data', Buffer.from('ee\n'));
    expect(lines).toEqual(['one\n', 'two\n', 'three\n']);
    expect(s.readBufferSize).toBe(0);
    s.close();
  });

  it('is called once more on EOF with closed() true, and can still take the buffered rest', async () => {
    const pair = await tcpPair();
    cleanup = pair.close;
    const s = new IOStream(pair.server);
    const seen: Array<{ closed: boolean; rest: string | null }> = [];
    let resolveClosed!: () => void;
    const closed = new Promise<void>((r) => {
      resolveClosed = r;
    });
    s.setReadCallback((st) => {
      if (!st.closed()) return; // only whole input wanted
      const rest = st.tryReadBytes(st.readBufferSize);
      seen.push({ closed: st.closed(), rest: rest === null ? null : rest.toString() });
      resolveClosed();
    });
    pair.client.end('tail without newline');
    await closed;
    expect(seen).toEqual([{ closed: true, rest: 'tail without newline' }]);
    // The hook is removed after the close call: nothing more happens.
    await tick();
    expect(seen.length).toBe(1);
  });

  it('close() from inside the hook delivers the close call after the hook returns, once', () => {
    const sock = new FakeSocket();
    const s = new IOStream(sock);
    const events: string[] = [];
    let depth = 0;
    s.setReadCallback((st) => {
      depth++;
      events.push(`${st.closed() ? 'close' : 'data'}@${depth}`);
      if (!st.closed()) st.close();
      depth--;
    });
    sock.emit('data', Buffer.from('x'));
    expect(events).toEqual(['data@1', 'close@1']);
    expect(s.closed()).toBe(true);
  });

  it('set on a closed stream: called soon with closed() true', async () => {
    const sock = new FakeSocket();
    const s = new IOStream(sock);
    s.close();
    let closedSeen = false;
    s.setReadCallback((st) => {
      closedSeen = st.closed();
    });
    expect(closedSeen).toBe(false);
    await tick();
    expect(closedSeen).toBe(true);
  });

  it('is exclusive with promise reads: a clear error either way', async () => {
    const sock = new FakeSocket();
    const s = new IOStream(sock);
    const pending = s.readBytes(3);
    expect(() => s.setReadCallback(() => {})).toThrow(ReadInProgressError);
    sock.feed('abc');
    expect((await pending).toString()).toBe('abc');
    s.setReadCallback(() => {});
    expect(() => s.readUntil('\n')).toThrow(/setReadCallback/);
    expect(() => s.readBytes(1)).toThrow(ReadInProgressError);
    expect(() => s.readUntilRegex(/x/)).toThrow(ReadInProgressError);
    expect(() => s.readInto(new Uint8Array(2))).toThrow(ReadInProgressError);
    expect(() => s.readUntilClose()).toThrow(ReadInProgressError);
    expect(() => s.setReadCallback('nope' as never)).toThrow(TypeError);
    // Removing the hook gives promise reads back.
    s.setReadCallback(null);
    const p = s.readBytes(1);
    sock.feed('z');
    expect((await p).toString()).toBe('z');
    s.close();
  });

  it('backpressure: bytes left unread pause the socket at maxBufferSize, draining resumes it', async () => {
    const sock = new FakeSocket();
    const s = new IOStream(sock, { maxBufferSize: 8 });
    let calls = 0;
    s.setReadCallback(() => {
      calls++; // takes nothing
    });
    sock.feed('0123456789');
    await tick();
    expect(calls).toBe(1);
    expect(s.readBufferSize).toBe(10);
    expect(sock.isPaused()).toBe(true);
    expect(s.tryReadBytes(4)?.toString()).toBe('0123');
    expect(sock.isPaused()).toBe(false);
    s.close();
  });

  it('backpressure over TCP: a lagging parser bounds the buffer and loses nothing', async () => {
    const pair = await tcpPair();
    cleanup = pair.close;
    const MAX = 64 * 1024;
    const TOTAL = 4 * 1024 * 1024;
    const reader = new IOStream(pair.server, { maxBufferSize: MAX });
    const writer = new IOStream(pair.client);
    const data = Buffer.allocUnsafe(TOTAL);
    for (let i = 0; i < TOTAL; i++) data[i] = i % 251;
    const done = writer.write(data);
    let maxSeen = 0;
    reader.setReadCallback((st) => {
      maxSeen = Math.max(maxSeen, st.readBufferSize);
    });
    while (!pair.server.isPaused()) await tick();
    expect(reader.readBufferSize).toBeGreaterThanOrEqual(MAX);
    // Drain in fixed blocks from outside the hook; the socket resumes and the rest comes in.
    const got: Buffer[] = [];
    let n = 0;
    while (n < TOTAL) {
      const b = reader.tryReadBytes(Math.min(16 * 1024, reader.readBufferSize));
      if (b !== null && b.length > 0) {
        got.push(b);
        n += b.length;
      } else await tick();
    }
    await done;
    expect(Buffer.concat(got).equals(data)).toBe(true);
    expect(maxSeen).toBeLessThan(MAX + 128 * 1024);
    reader.close();
    writer.close();
  });

  it('a throw from the hook is logged and closes the stream; tryReadUntil limits still apply', () => {
    const cap = captureLogLines();
    try {
      const sock = new FakeSocket();
      const s = new IOStream(sock);
      s.setReadCallback(() => {
        throw new Error('parser bug');
      });
      sock.emit('data', Buffer.from('x'));
      expect(s.closed()).toBe(true);
      expect(s.error?.message).toBe('parser bug');
      expect(cap.lines.some((l) => l.includes('read callback'))).toBe(true);

      const sock2 = new FakeSocket();
      const s2 = new IOStream(sock2);
      let err: unknown = null;
      s2.setReadCallback((st) => {
        if (st.closed()) return;
        try {
          st.tryReadUntil('\n', { maxBytes: 4 });
        } catch (e) {
          err = e;
        }
      });
      sock2.emit('data', Buffer.from('too long line'));
      expect(err).toBeInstanceOf(UnsatisfiableReadError);
      expect(s2.closed()).toBe(true);
    } finally {
      cap.restore();
    }
  });
});
