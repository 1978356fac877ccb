import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import * as net from 'node:net';
import { join } from 'node:path';
import { TimeoutError } from '@tornado-ts/ioloop';
import { type IOStream, SSLIOStream } from '@tornado-ts/iostream';
import { afterEach, describe, expect, it } from 'vitest';
import { addAcceptHandler, bindSockets, TCPClient, TCPServer } from '../src/index';
import { closeServer } from './helpers/net';

const cert = readFileSync(join(__dirname, 'fixtures', 'cert.pem'));
const key = readFileSync(join(__dirname, 'fixtures', 'key.pem'));

class Echo extends TCPServer {
  override async handleStream(stream: IOStream): Promise<void> {
    const s = stream.socket as net.Socket;
    const line = await stream.readUntil('\n').catch(() => null);
    if (line === null) return;
    await stream.write(`${s.remoteAddress} ${s.remotePort} ${line.toString()}`);
    stream.close();
  }
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function echoServer(
  address: string,
  opts: ConstructorParameters<typeof TCPServer>[0] = {},
): Promise<number> {
  const server = new Echo(opts);
  cleanups.push(() => server.stop());
  await server.listen(0, address);
  return server.addresses()[0]!.port;
}

async function roundTrip(stream: IOStream, line: string): Promise<string> {
  await stream.write(line);
  const out = (await stream.readUntil('\n')).toString();
  stream.close();
  return out;
}

describe('TCPClient', () => {
  it('connects and resolves with an IOStream', async () => {
    const port = await echoServer('127.0.0.1');
    const client = new TCPClient();
    const stream = await client.connect('127.0.0.1', port);
    expect(await roundTrip(stream, 'ping\n')).toMatch(/^127\.0\.0\.1 \d+ ping\n$/);
    client.close();
  });

  it('connects from sourceIp/sourcePort', async () => {
    const port = await echoServer('127.0.0.1');
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const free = (probe.address() as net.AddressInfo).port;
    await closeServer(probe);
    const stream = await new TCPClient().connect('127.0.0.1', port, {
      sourceIp: '127.0.0.1',
      sourcePort: free,
    });
    expect(await roundTrip(stream, 'src\n')).toBe(`127.0.0.1 ${free} src\n`);
  });

  it('tries every address of a dual-stack name (happy eyeballs) and uses the one that answers', async () => {
    // A name with both families, the way a dual-stack host resolves: IPv6 first, then IPv4.
    const dual: net.LookupFunction = (_host, opts, cb) => {
      const all = [
        { address: '::1', family: 6 },
        { address: '127.0.0.1', family: 4 },
      ];
      if ((opts as { all?: boolean }).all) (cb as (e: null, a: typeof all) => void)(null, all);
      else cb(null, '::1', 6);
    };
    const lookups: string[] = [];
    const counting: net.LookupFunction = (host, opts, cb) => {
      lookups.push(host);
      dual(host, opts, cb);
    };
    const client = new TCPClient({ lookup: counting });
    // Only IPv4 listens: the IPv6 attempt is refused, the IPv4 one answers.
    const v4 = await echoServer('127.0.0.1');
    const s1 = await client.connect('dual.test', v4, { connectAttemptTimeout: 0.05 });
    expect(await roundTrip(s1, 'four\n')).toMatch(/^127\.0\.0\.1 \d+ four\n$/);
    // Only IPv6 listens on this port: the first attempt wins.
    const v6 = await echoServer('::1');
    const s2 = await client.connect('dual.test', v6, { noDelay: true });
    expect(await roundTrip(s2, 'six\n')).toMatch(/^::1 \d+ six\n$/);
    expect(lookups).toEqual(['dual.test', 'dual.test']);
    // af: 6 keeps to IPv6 literals.
    const s3 = await new TCPClient().connect('::1', v6, { af: 6 });
    expect(await roundTrip(s3, 'lit\n')).toMatch(/^::1 \d+ lit\n$/);
  });

  it('rejects with the socket error when refused', async () => {
    const [s] = await bindSockets(0, '127.0.0.1');
    const port = (s!.address() as net.AddressInfo).port;
    await closeServer(s!);
    await expect(new TCPClient().connect('127.0.0.1', port)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('connects with TLS and verifies the certificate', async () => {
    const port = await echoServer('127.0.0.1', { sslOptions: { key, cert } });
    const stream = await new TCPClient().connect('localhost', port, { sslOptions: { ca: cert }, af: 4 });
    expect(stream).toBeInstanceOf(SSLIOStream);
    expect(await roundTrip(stream, 'tls\n')).toMatch(/tls\n$/);
    await expect(new TCPClient().connect('127.0.0.1', port, { sslOptions: true })).rejects.toMatchObject({
      code: expect.stringMatching(/SELF_SIGNED|UNABLE_TO_VERIFY|DEPTH_ZERO/),
    });
  });

  it('rejects with TimeoutError when the handshake does not finish in time', async () => {
    const [s] = await bindSockets(0, '127.0.0.1');
    cleanups.push(() => closeServer(s!));
    const held: net.Socket[] = [];
    addAcceptHandler(s!, (sock) => {
      held.push(sock); // accepts, never speaks TLS
      sock.resume();
    });
    cleanups.push(() => {
      for (const h of held) h.destroy();
    });
    const port = (s!.address() as net.AddressInfo).port;
    const err = await new TCPClient()
      .connect('127.0.0.1', port, { sslOptions: { ca: cert }, timeout: 0.05 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TimeoutError);
    expect(held.length).toBe(1);
    await once(held[0]!, 'end');
  });

  it('rejects bad timeouts; a timeout too long for a timer means none; fractional attempt timeouts work', async () => {
    const port = await echoServer('127.0.0.1');
    const client = new TCPClient();
    for (const timeout of [-1, Number.NaN, '1' as unknown as number]) {
      await expect(client.connect('127.0.0.1', port, { timeout })).rejects.toThrow(/timeout must be/);
    }
    await expect(client.connect('localhost', port, { connectAttemptTimeout: -1 })).rejects.toThrow(
      /connectAttemptTimeout must be/,
    );
    // Infinity used to become a 1 ms timer (Node's setTimeout overflow), shorter than a TLS handshake.
    const tlsPort = await echoServer('127.0.0.1', { sslOptions: { key, cert } });
    const a = await client.connect('localhost', tlsPort, {
      sslOptions: { ca: cert },
      af: 4,
      timeout: Number.POSITIVE_INFINITY,
    });
    expect(await roundTrip(a, 'forever\n')).toMatch(/forever\n$/);
    // 12.5 ms is not an integer: Node's autoSelectFamilyAttemptTimeout would have refused it.
    const b = await client.connect('localhost', port, { af: 0, connectAttemptTimeout: 0.0125, timeout: 1e9 });
    expect(await roundTrip(b, 'eyeballs\n')).toMatch(/eyeballs\n$/);
  });

  it('passes buffer options to the stream', async () => {
    const [s] = await bindSockets(0, '127.0.0.1');
    cleanups.push(() => closeServer(s!));
    addAcceptHandler(s!, (sock) => sock.end('x'.repeat(64)));
    const port = (s!.address() as net.AddressInfo).port;
    const stream = await new TCPClient().connect('127.0.0.1', port, {
      maxBufferSize: 16,
      readChunkSize: 16,
      maxWriteBufferSize: 1024,
    });
    await expect(stream.readUntil('\n')).rejects.toMatchObject({
      name: expect.stringMatching(/BufferFull|Unsatisfiable/),
    });
  });
});
