import { connect, type Socket } from 'node:net';
import { StreamClosedError } from '@tornado-ts/iostream';
import { afterEach, describe, expect, it } from 'vitest';
import { HTTPHeaders, type HTTPServerRequest, ResponseStartLine } from '../src/index';
import { type Running, startServer } from './helpers/server';

let s: Running | undefined;
let client: Socket | undefined;
afterEach(async () => {
  client?.destroy();
  client = undefined;
  await s?.close();
  s = undefined;
});

const BIG = 32 * 1024 * 1024;

/** A client that sends one request and does not read until `resume()`. */
function stalledClient(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1', () => {
      sock.pause();
      sock.write('GET /big HTTP/1.1\r\nHost: x\r\n\r\n');
      resolve(sock);
    });
    sock.on('error', reject);
  });
}

describe('head and body in one write', () => {
  it('sends every byte value of a small Buffer body exactly', async () => {
    const body = Buffer.from(Array.from({ length: 512 }, (_, i) => (i * 7) & 0xff));
    s = await startServer((req: HTTPServerRequest) => {
      const b = req.path === '/view' ? body.subarray(100, 300) : body;
      void req.connection!.writeHeaders(
        new ResponseStartLine('HTTP/1.1', 200, 'OK'),
        new HTTPHeaders({ 'Content-Length': String(b.length), 'X-Name': 'caf\u00e9' }),
        b,
      );
      req.connection!.finish();
    });
    for (const path of ['/', '/view']) {
      const got = await new Promise<Buffer>((resolve, reject) => {
        const chunks: Buffer[] = [];
        const sock = connect(s!.port, '127.0.0.1', () => {
          sock.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
        });
        sock.on('data', (d: Buffer) => chunks.push(d));
        sock.on('end', () => resolve(Buffer.concat(chunks)));
        sock.on('error', reject);
      });
      const sep = got.indexOf('\r\n\r\n');
      expect(got.subarray(0, sep).toString('latin1')).toContain('X-Name: caf\u00e9');
      const expected = path === '/view' ? body.subarray(100, 300) : body;
      expect(got.subarray(sep + 4).equals(expected)).toBe(true);
    }
  });
});

describe('write promises (resolve once the kernel has the bytes)', () => {
  it('a small response resolves at once; a large one only after the peer read it', async () => {
    const events: string[] = [];
    let smallDone!: Promise<void>;
    let bigDone!: Promise<void>;
    let answered!: () => void;
    const ready = new Promise<void>((r) => {
      answered = r;
    });
    s = await startServer((req: HTTPServerRequest) => {
      const conn = req.connection!;
      smallDone = conn.writeHeaders(
        new ResponseStartLine('HTTP/1.1', 200, 'OK'),
        new HTTPHeaders({ 'Content-Length': String(BIG + 5) }),
        'small',
      );
      bigDone = conn.write(Buffer.alloc(BIG, 0x61));
      conn.finish();
      void smallDone.then(() => events.push('small'));
      void bigDone.then(() => events.push('big'));
      answered();
    });
    client = await stalledClient(s.port);
    await ready;
    await smallDone;
    // The peer reads nothing: 32 MiB cannot all be in the kernel yet.
    await new Promise((r) => setImmediate(r));
    expect(events).toEqual(['small']);
    let received = 0;
    const all = new Promise<void>((r) => {
      client!.on('data', (d: Buffer) => {
        received += d.length;
        if (received >= BIG) r();
      });
    });
    client.resume();
    await bigDone;
    expect(events).toEqual(['small', 'big']);
    await all;
  });

  it('a write not yet flushed rejects with StreamClosedError when the connection closes', async () => {
    let bigDone!: Promise<void>;
    let answered!: () => void;
    const ready = new Promise<void>((r) => {
      answered = r;
    });
    s = await startServer((req: HTTPServerRequest) => {
      const conn = req.connection!;
      void conn.writeHeaders(
        new ResponseStartLine('HTTP/1.1', 200, 'OK'),
        new HTTPHeaders({ 'Content-Length': String(BIG) }),
      );
      bigDone = conn.write(Buffer.alloc(BIG, 0x62));
      answered();
    });
    client = await stalledClient(s.port);
    await ready;
    client.destroy();
    await expect(bigDone).rejects.toBeInstanceOf(StreamClosedError);
  });

  it('a write after the connection closed rejects with StreamClosedError', async () => {
    let conn!: NonNullable<HTTPServerRequest['connection']>;
    let answered!: () => void;
    const ready = new Promise<void>((r) => {
      answered = r;
    });
    s = await startServer((req: HTTPServerRequest) => {
      conn = req.connection!;
      answered();
    });
    client = await stalledClient(s.port);
    await ready;
    await s.server.closeAllConnections();
    await expect(
      conn.writeHeaders(
        new ResponseStartLine('HTTP/1.1', 200, 'OK'),
        new HTTPHeaders({ 'Content-Length': '2' }),
        'ok',
      ),
    ).rejects.toBeInstanceOf(StreamClosedError);
  });
});
