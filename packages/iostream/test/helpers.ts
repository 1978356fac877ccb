import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Duplex } from 'node:stream';
import { configureLogging } from '@tornado-ts/ioloop';
import { IOStream, type IOStreamOptions } from '../src/index';

/**
 * An in-memory connected Duplex: the test delivers bytes with `feed()` (one chunk per call, so
 * chunk boundaries are exact) and ends with `feed(null)`; writes are collected in `written`.
 * `writev` counts how many batched writes reached it.
 */
export class FakeSocket extends Duplex {
  written: Buffer[] = [];
  writeCalls = 0;
  writevCalls = 0;
  constructor() {
    super({ allowHalfOpen: false });
  }
  feed(chunk: string | Buffer | null): void {
    this.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  }
  override _read(): void {}
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    this.writeCalls++;
    this.written.push(chunk);
    setImmediate(cb);
  }
  override _writev(chunks: { chunk: Buffer }[], cb: (e?: Error | null) => void): void {
    this.writevCalls++;
    for (const c of chunks) this.written.push(c.chunk);
    setImmediate(cb);
  }
  output(): string {
    return Buffer.concat(this.written).toString();
  }
}

/** An IOStream over a fresh {@link FakeSocket}. */
export function fakeStream(opts: IOStreamOptions = {}): { sock: FakeSocket; s: IOStream } {
  const sock = new FakeSocket();
  return { sock, s: new IOStream(sock, opts) };
}

/** Captures every log line (all levels) until `restore()` is called. */
export function captureLogLines(): { lines: string[]; restore: () => void } {
  const lines: string[] = [];
  const push = (m: string) => lines.push(m);
  const restore = configureLogging({
    level: 'debug',
    sink: { debug: push, info: push, warn: push, error: push },
  });
  return { lines, restore };
}

/** Waits one turn of the event loop (lets stream events be delivered). */
export function tick(): Promise<void> {
  return new Promise((r) => setImmediate(r));
}

/** A connected pair of real TCP sockets on 127.0.0.1, and a way to close everything. */
export async function tcpPair(serverOpts: net.ServerOpts = {}): Promise<{
  server: net.Socket;
  client: net.Socket;
  close: () => Promise<void>;
}> {
  const srv = net.createServer(serverOpts);
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  const accepted = new Promise<net.Socket>((r) => srv.once('connection', r));
  const client = net.connect(port, '127.0.0.1');
  await new Promise<void>((r, j) => {
    client.once('connect', r);
    client.once('error', j);
  });
  const server = await accepted;
  return {
    server,
    client,
    close: async () => {
      server.destroy();
      client.destroy();
      await new Promise<void>((r) => srv.close(() => r()));
    },
  };
}

/** A listening TCP server on 127.0.0.1 whose connections go to `onConn`; returns its port and a closer. */
export async function listen(
  onConn: (s: net.Socket) => void,
): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const srv = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    onConn(s);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return {
    port: (srv.address() as net.AddressInfo).port,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => srv.close(() => r()));
    },
  };
}

export interface Cert {
  key: string;
  cert: string;
}

/** A self-signed certificate for `name` (also valid for 127.0.0.1), made with openssl in a tmp dir. */
export function selfSignedCert(name: string): Cert {
  const dir = mkdtempSync(join(tmpdir(), 'iostream-cert-'));
  try {
    const cfg = join(dir, 'req.cnf');
    writeFileSync(
      cfg,
      [
        '[req]',
        'distinguished_name = dn',
        'x509_extensions = ext',
        'prompt = no',
        '[dn]',
        `CN = ${name}`,
        '[ext]',
        `subjectAltName = DNS:${name}, IP:127.0.0.1`,
        'basicConstraints = critical, CA:TRUE',
        'keyUsage = digitalSignature, keyEncipherment, keyCertSign',
        '',
      ].join('\n'),
    );
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
        '-days',
        '2',
        '-config',
        cfg,
      ],
      { stdio: 'ignore' },
    );
    return {
      key: readFileSync(join(dir, 'key.pem'), 'utf8'),
      cert: readFileSync(join(dir, 'cert.pem'), 'utf8'),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Two in-memory Duplexes connected to each other (what one writes, the other reads). */
export function duplexPair(): [Duplex, Duplex] {
  const make = (peer: () => Duplex) =>
    new Duplex({
      read() {},
      write(chunk, _enc, cb) {
        peer().push(chunk);
        cb();
      },
      final(cb) {
        peer().push(null);
        cb();
      },
    });
  const a: Duplex = make(() => b);
  const b: Duplex = make(() => a);
  return [a, b];
}
