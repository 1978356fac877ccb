import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import * as net from 'node:net';
import { join } from 'node:path';
import * as tls from 'node:tls';
import type { IOStream } from '@tornado-ts/iostream';
import { SSLIOStream } from '@tornado-ts/iostream';
import { afterEach, describe, expect, it } from 'vitest';
import { TCPServer } from '../src/index';
import { captureLogs, request } from './helpers/net';

const cert = readFileSync(join(__dirname, 'fixtures', 'cert.pem'));
const key = readFileSync(join(__dirname, 'fixtures', 'key.pem'));

class TlsEcho extends TCPServer {
  kinds: string[] = [];
  override async handleStream(stream: IOStream): Promise<void> {
    this.kinds.push(stream.constructor.name);
    const line = await stream.readUntil('\n').catch(() => null);
    if (line === null) return;
    await stream.write(`secure ${line.toString()}`);
    stream.close();
  }
}

const servers: TCPServer[] = [];
let logs: ReturnType<typeof captureLogs> | null = null;

afterEach(async () => {
  logs?.restore();
  logs = null;
  for (const s of servers.splice(0)) await s.stop();
});

async function start(opts: ConstructorParameters<typeof TCPServer>[0] = {}): Promise<[TlsEcho, number]> {
  const server = new TlsEcho({ sslOptions: { key, cert }, ...opts });
  servers.push(server);
  await server.listen(0, '127.0.0.1');
  return [server, server.addresses()[0]!.port];
}

function tlsRequest(port: number, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = tls.connect({ port, host: '127.0.0.1', ca: cert, servername: 'localhost' }, () =>
      sock.write(line),
    );
    let out = '';
    sock.on('data', (d) => (out += d.toString()));
    sock.once('error', reject);
    sock.once('close', () => resolve(out));
  });
}

describe('TCPServer with sslOptions', () => {
  it('wraps accepted sockets in TLS and hands over SSLIOStreams', async () => {
    const [server, port] = await start();
    expect(await tlsRequest(port, 'hi\n')).toBe('secure hi\n');
    expect(server.kinds).toEqual([SSLIOStream.name]);
  });

  it('accepts a ready secureContext', async () => {
    const server = new TlsEcho({ sslOptions: { secureContext: tls.createSecureContext({ key, cert }) } });
    servers.push(server);
    await server.listen(0, '127.0.0.1');
    expect(await tlsRequest(server.addresses()[0]!.port, 'ctx\n')).toBe('secure ctx\n');
  });

  it('fails at construction on a bad key', () => {
    expect(() => new TCPServer({ sslOptions: { key: 'not a key', cert } })).toThrow();
  });

  it('logs a failed handshake (plain text to a TLS port) and keeps serving', async () => {
    logs = captureLogs();
    const [, port] = await start();
    await request(port, 'GET / HTTP/1.0\r\n\r\n');
    expect(await logs.wait(/SSL Error on 127\.0\.0\.1/)).toMatch(/^warn /);
    expect(await tlsRequest(port, 'after\n')).toBe('secure after\n');
  });

  it('logs a client that hangs up mid-handshake at debug level only', async () => {
    logs = captureLogs();
    const [, port] = await start();
    const sock = net.connect({ port, host: '127.0.0.1' });
    await once(sock, 'connect');
    sock.destroy();
    expect(await logs.wait(/SSL Error on 127\.0\.0\.1/)).toMatch(/^debug /);
    expect(await tlsRequest(port, 'still\n')).toBe('secure still\n');
  });

  it('a handshakeTimeout too long for a timer means no limit (it used to fire after 1 ms)', async () => {
    const [, port] = await start({ handshakeTimeout: Number.POSITIVE_INFINITY });
    const sock = net.connect({ port, host: '127.0.0.1' });
    await once(sock, 'connect');
    // Past the 1 ms an overflowing timer would take, the silent connection is still open.
    await new Promise((r) => setTimeout(r, 50));
    expect(sock.destroyed).toBe(false);
    sock.destroy();
    expect(await tlsRequest(port, 'patient\n')).toBe('secure patient\n');
  });

  it('closes connections that do not finish the handshake in handshakeTimeout', async () => {
    logs = captureLogs();
    const [, port] = await start({ handshakeTimeout: 0.05 });
    const sock = net.connect({ port, host: '127.0.0.1' });
    sock.on('error', () => {});
    await once(sock, 'connect');
    await once(sock, 'close');
    expect(await logs.wait(/TLS handshake timeout/)).toMatch(/^debug /);
  });
});
