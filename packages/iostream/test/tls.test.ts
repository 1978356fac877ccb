import * as net from 'node:net';
import * as tls from 'node:tls';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { IOStream, SSLIOStream, StreamClosedError, StreamNotIdleError } from '../src/index';
import { type Cert, duplexPair, listen, selfSignedCert, tcpPair } from './helpers';

let certA: Cert;
let certB: Cert;
beforeAll(() => {
  certA = selfSignedCert('alpha.test');
  certB = selfSignedCert('beta.test');
});

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

/** A TCP server whose connections are upgraded with startTls(server side) and echo one line. */
async function startTlsEchoServer(sslOptions: tls.TlsOptions) {
  const results: Array<Promise<unknown>> = [];
  const srv = await listen((sock) => {
    const plain = new IOStream(sock);
    const done = (async () => {
      const s = await plain.startTls(true, sslOptions);
      const line = await s.readUntil('\n');
      await s.write(`${s.socket.servername ?? '-'} ${line}`);
      s.close();
    })();
    done.catch(() => {}); // tests that expect a failure look at it through `results`
    results.push(done);
  });
  cleanups.push(srv.close);
  return { port: srv.port, results };
}

describe('SSLIOStream', () => {
  it('startTls on both sides: handshake succeeds when the client trusts the cert, data flows', async () => {
    const { port, results } = await startTlsEchoServer({ key: certA.key, cert: certA.cert });
    const plain = await IOStream.connect(port, '127.0.0.1');
    const s = await plain.startTls(false, { ca: certA.cert }, 'alpha.test');
    expect(s).toBeInstanceOf(SSLIOStream);
    expect(plain.closed()).toBe(true);
    expect(s.socket.authorized).toBe(true);
    expect(await s.waitForHandshake()).toBe(s);
    await s.write('hello\n');
    expect((await s.readUntilClose()).toString()).toBe('alpha.test hello\n');
    await Promise.all(results);
  });

  it('the client verifies by default: an untrusted self-signed cert fails the handshake', async () => {
    const { port, results } = await startTlsEchoServer({ key: certA.key, cert: certA.cert });
    const plain = await IOStream.connect(port, '127.0.0.1');
    const err = await plain.startTls(false, {}, 'alpha.test').catch((e) => e);
    expect(err).toBeInstanceOf(StreamClosedError);
    expect((err.realError as NodeJS.ErrnoException).code).toMatch(/SELF_SIGNED|UNABLE_TO_VERIFY/);
    const serverErr = await Promise.allSettled(results);
    expect(serverErr[0]!.status).toBe('rejected');
  });

  it('the certificate name is checked against serverHostname', async () => {
    const { port } = await startTlsEchoServer({ key: certA.key, cert: certA.cert });
    const plain = await IOStream.connect(port, '127.0.0.1');
    const err = await plain.startTls(false, { ca: certA.cert }, 'beta.test').catch((e) => e);
    expect(err).toBeInstanceOf(StreamClosedError);
    expect((err.realError as NodeJS.ErrnoException).code).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
  });

  it('SNI: the server picks the certificate by the name the client sends', async () => {
    const ctxA = tls.createSecureContext(certA);
    const ctxB = tls.createSecureContext(certB);
    const { port } = await startTlsEchoServer({
      ...certA,
      SNICallback: (name, cb) => cb(null, name === 'beta.test' ? ctxB : ctxA),
    });
    for (const [name, cert] of [
      ['beta.test', certB],
      ['alpha.test', certA],
    ] as const) {
      const plain = await IOStream.connect(port, '127.0.0.1');
      const s = await plain.startTls(false, { ca: cert.cert }, name);
      expect(s.socket.getPeerCertificate().subject.CN).toBe(name);
      await s.write('x\n');
      expect((await s.readUntilClose()).toString()).toBe(`${name} x\n`);
    }
  });

  it('a server that receives the ClientHello before calling startTls still handshakes', async () => {
    const pair = await tcpPair();
    cleanups.push(pair.close);
    const server = new IOStream(pair.server);
    const client = new IOStream(pair.client);
    const c = client.startTls(false, { ca: certA.cert }, 'alpha.test');
    while (server.readBufferSize === 0) await new Promise((r) => setImmediate(r));
    const s = await server.startTls(true, { key: certA.key, cert: certA.cert });
    const cs = await c;
    await cs.write('over tls');
    expect((await s.readBytes(8)).toString()).toBe('over tls');
    cs.close();
    s.close();
  });

  it('TLS over an in-memory Duplex, with the ClientHello filling the plain stream past maxBufferSize', async () => {
    const [a, b] = duplexPair();
    const server = new IOStream(a, { maxBufferSize: 16 });
    const client = new IOStream(b);
    const c = client.startTls(false, { ca: certA.cert }, 'alpha.test');
    while (server.readBufferSize < 16) await new Promise((r) => setImmediate(r));
    expect(a.isPaused()).toBe(true);
    const s = await server.startTls(true, { key: certA.key, cert: certA.cert });
    const cs = await c;
    await cs.write('in memory');
    expect((await s.readBytes(9)).toString()).toBe('in memory');
    await s.write('and back');
    expect((await cs.readBytes(8)).toString()).toBe('and back');
    cs.close();
    s.close();
  });

  it('startTls refuses while a read is pending, and on a closed stream', async () => {
    const pair = await tcpPair();
    cleanups.push(pair.close);
    const s = new IOStream(pair.server);
    const r = s.readBytes(1);
    expect(() => s.startTls(true, certA)).toThrow(StreamNotIdleError);
    s.close();
    await expect(r).rejects.toBeInstanceOf(StreamClosedError);
    await expect(s.startTls(true, certA)).rejects.toBeInstanceOf(StreamClosedError);
  });

  it('IOStream.connect with sslOptions to a tls.Server; wrapping an accepted TLS socket', async () => {
    const server = tls.createServer({ ...certA }, async (sock) => {
      const s = new SSLIOStream(sock);
      await s.waitForHandshake(); // already done: resolves at once
      const line = await s.readUntil('\n');
      await s.write(line);
      s.close();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise((r) => server.close(r)));
    const { port } = server.address() as net.AddressInfo;
    const s = await IOStream.connect(port, '127.0.0.1', {
      sslOptions: { ca: certA.cert },
      serverHostname: 'alpha.test',
    });
    expect(s).toBeInstanceOf(SSLIOStream);
    await s.write('ping\n');
    expect((await s.readUntilClose()).toString()).toBe('ping\n');

    const bad = await IOStream.connect(port, '127.0.0.1', {
      sslOptions: true,
      serverHostname: 'alpha.test',
    }).catch((e) => e);
    expect(bad).toBeInstanceOf(StreamClosedError);

    // A timeout too long for a timer (Infinity) means none; it used to fire after 1 ms.
    const slow = await IOStream.connect(port, '127.0.0.1', {
      sslOptions: { ca: certA.cert },
      serverHostname: 'alpha.test',
      timeout: Number.POSITIVE_INFINITY,
    });
    await slow.write('again\n');
    expect((await slow.readUntilClose()).toString()).toBe('again\n');
  });

  it('IOStream.connect rejects a bad timeout', async () => {
    for (const timeout of [-1, Number.NaN, '2' as unknown as number]) {
      await expect(IOStream.connect(1, '127.0.0.1', { timeout })).rejects.toThrow(/timeout must be/);
    }
  });

  it('a TLS connect to a server that never answers the handshake times out', async () => {
    const srv = await listen(() => {});
    cleanups.push(srv.close);
    const err = await IOStream.connect(srv.port, '127.0.0.1', { sslOptions: true, timeout: 0.05 }).catch(
      (e) => e,
    );
    expect(err).toBeInstanceOf(StreamClosedError);
    expect((err.realError as NodeJS.ErrnoException).code).toBe('ETIMEDOUT');
  });

  it('waitForHandshake rejects when the stream closes before the handshake', async () => {
    const pair = await tcpPair();
    cleanups.push(pair.close);
    const s = new SSLIOStream(tls.connect({ socket: pair.client, servername: 'alpha.test' }));
    s.close();
    await expect(s.waitForHandshake()).rejects.toBeInstanceOf(StreamClosedError);
    const dead = new tls.TLSSocket(new net.Socket());
    dead.destroy();
    await expect(new SSLIOStream(dead).waitForHandshake()).rejects.toBeInstanceOf(StreamClosedError);
  });
});

describe('IOStream.connect', () => {
  it('connects to a listening server', async () => {
    const srv = await listen((sock) => sock.end('welcome'));
    cleanups.push(srv.close);
    const s = await IOStream.connect(srv.port, '127.0.0.1', { family: 4 });
    expect((await s.readUntilClose()).toString()).toBe('welcome');
  });

  it('connection refused rejects with StreamClosedError whose realError is ECONNREFUSED', async () => {
    const srv = await listen(() => {});
    const port = srv.port;
    await srv.close();
    const err = await IOStream.connect(port, '127.0.0.1').catch((e) => e);
    expect(err).toBeInstanceOf(StreamClosedError);
    expect((err.realError as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');
    expect(err.message).toMatch(/ECONNREFUSED/);
  });
});
