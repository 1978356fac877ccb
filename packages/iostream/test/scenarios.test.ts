// Scenarios after Tornado's iostream_test, over real TCP on 127.0.0.1.
import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { IOStream, StreamClosedError, UnsatisfiableReadError } from '../src/index';
import { listen, tcpPair, tick } from './helpers';

let cleanup: (() => Promise<void>) | null = null;
afterEach(async () => {
  await cleanup?.();
  cleanup = null;
});

async function streams() {
  const pair = await tcpPair();
  cleanup = pair.close;
  return { server: new IOStream(pair.server), client: new IOStream(pair.client) };
}

describe('Tornado iostream scenarios', () => {
  it('small reads from a large buffer', async () => {
    const { server, client } = await streams();
    await server.write(Buffer.alloc(1024 * 1024, 0x61));
    while (client.readBufferSize < 1024 * 1024) await tick();
    for (let i = 0; i < 1000; i++) expect((await client.readBytes(10)).toString()).toBe('aaaaaaaaaa');
    expect(client.readBufferSize).toBe(1024 * 1024 - 10000);
    server.close();
    client.close();
  });

  it('small readUntils from a large buffer', async () => {
    const { server, client } = await streams();
    await server.write('abcd\r\n'.repeat(64 * 1024));
    for (let i = 0; i < 64 * 1024; i++) expect((await client.readUntil('\r\n')).toString()).toBe('abcd\r\n');
    server.close();
    client.close();
  }, 60_000); // 65,536 awaited reads: a few seconds, much more on a loaded machine with coverage on

  it('a large readUntil: the delimiter comes after 2 MB in many chunks', async () => {
    const { server, client } = await streams();
    const body = Buffer.alloc(2 * 1024 * 1024, 0x78);
    const p = client.readUntil('\r\n\r\n');
    for (let off = 0; off < body.length; off += 4096) await server.write(body.subarray(off, off + 4096));
    await server.write('\r\n\r\ntail');
    const got = await p;
    expect(got.length).toBe(body.length + 4);
    expect(got.subarray(0, body.length).equals(body)).toBe(true);
    expect((await client.readBytes(4)).toString()).toBe('tail');
    server.close();
    client.close();
  });

  it('many mixed reads', async () => {
    const { server, client } = await streams();
    const w = server.write('one\r\ntwo\r\n3456789ABCDEFthe rest');
    expect((await client.readUntil('\r\n')).toString()).toBe('one\r\n');
    expect((await client.readUntilRegex(/\r\n/)).toString()).toBe('two\r\n');
    expect((await client.readBytes(3)).toString()).toBe('345');
    const buf = Buffer.alloc(4);
    expect(await client.readInto(buf)).toBe(4);
    expect(buf.toString()).toBe('6789');
    expect((await client.readUntil('F')).toString()).toBe('ABCDEF');
    await w;
    server.close();
    expect((await client.readUntilClose()).toString()).toBe('the rest');
  });

  it('maxBytes only bounds the read, not data buffered after the delimiter', async () => {
    const { server, client } = await streams();
    await server.write(`abcdef\r\n${'x'.repeat(100)}`);
    while (client.readBufferSize < 108) await tick();
    expect((await client.readUntil('\r\n', { maxBytes: 8 })).toString()).toBe('abcdef\r\n');
    expect(client.closed()).toBe(false);
    expect((await client.readUntilRegex(/x{100}/, { maxBytes: 100 })).length).toBe(100);
    server.close();
    client.close();
  });

  it('a readUntil that the buffer cannot satisfy after close rejects; maxBytes wins over closed', async () => {
    const { server, client } = await streams();
    await server.write('no newline here');
    server.close();
    await new Promise<void>((r) => client.setCloseCallback(r));
    await expect(client.readUntil('\n')).rejects.toBeInstanceOf(StreamClosedError);
    await expect(client.readUntil('\n', { maxBytes: 4 })).rejects.toBeInstanceOf(UnsatisfiableReadError);
  });

  it('close with buffered data: the peer reads 1 MB written just before the close', async () => {
    const { server, client } = await streams();
    const data = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < data.length; i++) data[i] = i & 0xff;
    await server.write(data);
    server.close();
    const parts: Buffer[] = [];
    for (;;) {
      const b = await client.readBytes(64 * 1024, { partial: true }).catch((e) => e);
      if (b instanceof StreamClosedError) break;
      parts.push(b as Buffer);
    }
    expect(Buffer.concat(parts).equals(data)).toBe(true);
    expect(client.closed()).toBe(true);
    expect(client.error).toBeNull();
  });

  it('write while connecting is delivered once connected', async () => {
    const srv = await listen(async (sock) => {
      const s = new IOStream(sock);
      const line = await s.readUntil('\n');
      await s.write(`got ${line}`);
      s.close();
    });
    const prev = cleanup;
    cleanup = async () => {
      await prev?.();
      await srv.close();
    };
    const s = new IOStream(net.connect(srv.port, '127.0.0.1'));
    const w = s.write('early\n');
    expect((await s.readUntilClose()).toString()).toBe('got early\n');
    await w;
  });

  it('zero-byte writes and reads', async () => {
    const { server, client } = await streams();
    await server.write('');
    await server.write(new Uint8Array(0));
    expect((await client.readBytes(0)).length).toBe(0);
    await server.write('x');
    expect((await client.readBytes(1)).toString()).toBe('x');
    server.close();
    client.close();
  });

  it('a close callback set on a stream that closes while a read is pending runs after the read fails', async () => {
    const { server, client } = await streams();
    const events: string[] = [];
    client.setCloseCallback(() => events.push('closed'));
    const p = client.readBytes(10).catch(() => events.push('read failed'));
    server.close();
    await p;
    await new Promise((r) => setImmediate(r));
    expect(events).toEqual(['read failed', 'closed']);
  });

  it('echo: a request/response loop over one connection', async () => {
    const { server, client } = await streams();
    const serving = (async () => {
      for (;;) {
        const line = await server.readUntil('\n').catch(() => null);
        if (line === null) return;
        await server.write(line);
      }
    })();
    for (let i = 0; i < 200; i++) {
      await client.write(`message ${i}\n`);
      expect((await client.readUntil('\n')).toString()).toBe(`message ${i}\n`);
    }
    client.close();
    await serving;
  });
});
