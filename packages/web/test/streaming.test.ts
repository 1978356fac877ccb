import { connect, type Socket } from 'node:net';
import { configureLogging, resetLogging } from '@tornado-ts/ioloop';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Application, HTTPError, RequestHandler, streamRequestBody } from '../src/index';
import { serve, type TestClient } from './helpers';

const stats = {
  bytes: 0,
  calls: 0,
  inFlight: 0,
  maxInFlight: 0,
  methodRan: 0,
  closed: 0,
  order: [] as string[],
};

@streamRequestBody
class Upload extends RequestHandler {
  override prepare() {
    stats.order.push('prepare');
    if (this.getArgument('refuse', null)) throw new HTTPError(403);
    this.request.connection!.setMaxBodySize!(10 * 1024 * 1024);
  }
  override async dataReceived(chunk: Buffer) {
    if (stats.order.at(-1) !== 'data') stats.order.push('data');
    stats.calls++;
    stats.inFlight++;
    stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight);
    await new Promise((r) => setImmediate(r));
    stats.bytes += chunk.length;
    stats.inFlight--;
  }
  override put() {
    stats.order.push('put');
    stats.methodRan++;
    this.write(`received ${stats.bytes}`);
  }
  override onConnectionClose() {
    stats.closed++;
  }
}

class StreamFailing extends RequestHandler {
  override dataReceived(): void {
    throw new Error('cannot take data');
  }
  override put() {
    this.write('not reached');
  }
}
streamRequestBody(StreamFailing);

class NoDataReceived extends RequestHandler {
  override put() {
    this.write('not reached');
  }
}
streamRequestBody(NoDataReceived);

class Buffered extends RequestHandler {
  override put() {
    this.write(`buffered ${this.request.body.length}`);
  }
}

let releaseLongPoll: (() => void) | null = null;
const longPoll = { closed: 0, finished: 0 };
class LongPoll extends RequestHandler {
  override async get() {
    await new Promise<void>((r) => {
      releaseLongPoll = r;
    });
  }
  override onConnectionClose() {
    longPoll.closed++;
    releaseLongPoll?.();
  }
  override onFinish() {
    longPoll.finished++;
  }
}

let c: TestClient;
let port = 0;
beforeAll(async () => {
  c = await serve(
    new Application([
      ['/upload', Upload],
      ['/failing', StreamFailing],
      ['/no-data-received', NoDataReceived],
      ['/buffered', Buffered],
      ['/poll', LongPoll],
    ]),
    { maxBodySize: 64 * 1024 },
  );
  port = Number(new URL(c.url('/')).port);
});
afterAll(async () => {
  await c.close();
});

function reset() {
  Object.assign(stats, {
    bytes: 0,
    calls: 0,
    inFlight: 0,
    maxInFlight: 0,
    methodRan: 0,
    closed: 0,
    order: [],
  });
}

function rawSocket(): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });
}

function readUntil(s: Socket, marker: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const onData = (d: Buffer) => {
      buf += d.toString('latin1');
      if (buf.includes(marker)) {
        s.off('data', onData);
        resolve(buf);
      }
    };
    s.on('data', onData);
    s.once('close', () => resolve(buf));
    s.once('error', reject);
  });
}

describe('streamRequestBody', () => {
  it('streams a large body through dataReceived, one chunk at a time, after prepare', async () => {
    reset();
    const body = Buffer.alloc(3 * 1024 * 1024, 0x61);
    const r = await c.request('PUT', '/upload', { body });
    expect(r.status).toBe(200);
    expect(r.text()).toBe(`received ${body.length}`);
    expect(stats.bytes).toBe(body.length);
    expect(stats.calls).toBeGreaterThan(1);
    expect(stats.maxInFlight).toBe(1);
    expect(stats.order).toEqual(['prepare', 'data', 'put']);
  });

  it('streams chunked request bodies', async () => {
    reset();
    async function* gen() {
      for (let i = 0; i < 20; i++) yield Buffer.alloc(10_000, 0x62);
    }
    const r = await c.request('PUT', '/upload', { body: gen() as never });
    expect(r.text()).toBe('received 200000');
  });

  it('sends 100-continue only after prepare accepted the request', async () => {
    reset();
    const s = await rawSocket();
    try {
      s.write('PUT /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n');
      const interim = await readUntil(s, '\r\n\r\n');
      expect(interim).toMatch(/^HTTP\/1\.1 100 Continue\r\n/);
      expect(stats.order).toEqual(['prepare']);
      const final = readUntil(s, 'received 5');
      s.write('hello');
      expect(await final).toMatch(/HTTP\/1\.1 200 OK[\s\S]*received 5$/);
    } finally {
      s.destroy();
    }
    reset();
    const refused = await rawSocket();
    try {
      refused.write(
        'PUT /upload?refuse=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n',
      );
      const answer = await readUntil(refused, '</html>');
      expect(answer).toMatch(/^HTTP\/1\.1 403 Forbidden\r\n/);
      expect(answer).not.toContain('100 Continue');
      expect(stats.calls).toBe(0);
    } finally {
      refused.destroy();
    }
  });

  it('lets prepare raise maxBodySize per request; buffered handlers keep the limit', async () => {
    reset();
    const body = Buffer.alloc(200 * 1024, 0x63);
    expect((await c.request('PUT', '/upload', { body })).text()).toBe(`received ${body.length}`);
    const small = await c.request('PUT', '/buffered', { body: Buffer.alloc(1000) });
    expect(small.text()).toBe('buffered 1000');
    const s = await rawSocket();
    try {
      s.write(`PUT /buffered HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n`);
      s.write(body);
      const answer = await readUntil(s, '\r\n\r\n');
      expect(answer).toMatch(/^HTTP\/1\.1 413 /);
    } finally {
      s.destroy();
    }
  });

  it('answers 500 (and closes) when dataReceived throws or is missing', async () => {
    for (const path of ['/failing', '/no-data-received']) {
      const s = await rawSocket();
      try {
        s.write(`PUT ${path} HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc`);
        const answer = await readUntil(s, '</html>');
        expect(answer).toMatch(/^HTTP\/1\.1 500 Internal Server Error\r\n/);
        expect(answer).not.toContain('not reached');
      } finally {
        s.destroy();
      }
    }
  });

  it('does not run the method when the client goes away mid-body', async () => {
    reset();
    const s = await rawSocket();
    s.write('PUT /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n');
    s.write(Buffer.alloc(1000));
    await expect.poll(() => stats.bytes).toBe(1000);
    s.destroy();
    await expect.poll(() => stats.closed).toBe(1);
    expect(stats.methodRan).toBe(0);
  });
});

describe('onConnectionClose', () => {
  it('tells a long-polling handler that its client left', async () => {
    const errors: string[] = [];
    const push = (m: string, ...a: unknown[]) => errors.push(`${m} ${a.join(' ')}`);
    configureLogging({ level: 'error', sink: { debug: push, info: push, warn: push, error: push } });
    longPoll.closed = 0;
    longPoll.finished = 0;
    const s = await rawSocket();
    s.write('GET /poll HTTP/1.1\r\nHost: x\r\n\r\n');
    await expect.poll(() => releaseLongPoll !== null).toBe(true);
    s.destroy();
    await expect.poll(() => longPoll.closed).toBe(1);
    // the handler then finishes into a closed connection: quietly
    await expect.poll(() => longPoll.finished).toBe(1);
    resetLogging();
    expect(errors).toEqual([]);
  });
});
