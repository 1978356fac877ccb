import { once } from 'node:events';
import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { AcceptHandlerExistsError, addAcceptHandler, bindSockets } from '../src/index';
import { captureLogs, closeServer, connect, readUntil, request } from './helpers/net';

const open: net.Server[] = [];
let logs: ReturnType<typeof captureLogs> | null = null;

afterEach(async () => {
  logs?.restore();
  logs = null;
  await Promise.all(open.splice(0).map(closeServer));
});

async function bindOne(): Promise<[net.Server, number]> {
  const [s] = await bindSockets(0, '127.0.0.1');
  open.push(s!);
  return [s!, (s!.address() as net.AddressInfo).port];
}

describe('addAcceptHandler', () => {
  it("passes the peer's address and port", async () => {
    const [s, port] = await bindOne();
    addAcceptHandler(s, (sock, address) => sock.end(`${address.address}:${address.port}`));
    const client = await connect(port);
    const localPort = client.localPort;
    const text = await readUntil(client, ':');
    expect(text).toBe(`127.0.0.1:${localPort}`);
    client.destroy();
  });

  it('works on a net.Server it did not bind', async () => {
    const s = net.createServer();
    open.push(s);
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    addAcceptHandler(s, (sock) => sock.end('plain'));
    expect(await request((s.address() as net.AddressInfo).port)).toBe('plain');
  });

  it('refuses a second handler, and the remover lets connections wait for the next one', async () => {
    const [s, port] = await bindOne();
    const remove = addAcceptHandler(s, (sock) => sock.end('first'));
    expect(() => addAcceptHandler(s, () => {})).toThrow(AcceptHandlerExistsError);
    try {
      addAcceptHandler(s, () => {});
    } catch (err) {
      expect(err).toMatchObject({ name: 'AcceptHandlerExistsError', code: 'ERR_ACCEPT_HANDLER_EXISTS' });
    }
    expect(await request(port)).toBe('first');
    remove();
    remove(); // idempotent
    const accepted = once(s, 'connection');
    const reply = request(port);
    await accepted;
    addAcceptHandler(s, (sock) => sock.end('second'));
    expect(await reply).toBe('second');
  });

  it('logs a throwing handler, destroys that socket and keeps serving', async () => {
    logs = captureLogs();
    const [s, port] = await bindOne();
    let n = 0;
    addAcceptHandler(s, (sock) => {
      if (n++ === 0) throw new Error('handler blew up');
      sock.end('fine');
    });
    expect(await request(port)).toBe('');
    expect(await logs.wait(/Error in accept handler.*handler blew up/)).toMatch(/^error /);
    expect(await request(port)).toBe('fine');
  });

  it('skips waiting connections that were closed before a handler came', async () => {
    const [s, port] = await bindOne();
    const accepted = once(s, 'connection');
    const client = await connect(port);
    const [serverSide] = (await accepted) as [net.Socket];
    client.resetAndDestroy();
    await once(client, 'close');
    serverSide.destroy();
    const seen: string[] = [];
    addAcceptHandler(s, (sock) => {
      seen.push(sock.remoteAddress ?? '?');
      sock.end('ok');
    });
    expect(await request(port)).toBe('ok');
    expect(seen).toEqual(['127.0.0.1']);
  });

  it('leaves listen errors of a server it did not bind to the caller', async () => {
    const [taken, port] = await bindOne();
    expect(taken.listening).toBe(true);
    const s = net.createServer();
    addAcceptHandler(s, () => {});
    const err = await new Promise<NodeJS.ErrnoException>((resolve) => {
      s.once('error', resolve);
      s.listen(port, '127.0.0.1');
    });
    expect(err.code).toBe('EADDRINUSE');
    expect(s.listenerCount('error')).toBe(0);
  });

  it('survives an error on a connection that waits for a handler', async () => {
    logs = captureLogs();
    const [s, port] = await bindOne();
    const accepted = once(s, 'connection');
    const client = await connect(port);
    const [waiting] = (await accepted) as [net.Socket];
    waiting.destroy(Object.assign(new Error('reset while waiting'), { code: 'ECONNRESET' }));
    expect(await logs.wait(/waiting for an accept handler failed: ECONNRESET/)).toMatch(/^debug /);
    await once(client, 'close');
    addAcceptHandler(s, (sock) => sock.end('next'));
    expect(await request(port)).toBe('next');
  });

  it('logs accept errors instead of crashing, rate limited', async () => {
    logs = captureLogs();
    const [s, port] = await bindOne();
    addAcceptHandler(s, (sock) => sock.end('still here'));
    const emfile = Object.assign(new Error('accept EMFILE'), { code: 'EMFILE' });
    s.emit('error', emfile);
    s.emit('error', emfile);
    s.emit('error', emfile);
    const errors = logs.lines.filter((l) => l.includes('Error accepting a connection'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^error .*127\.0\.0\.1:\d+: EMFILE$/);
    expect(await request(port)).toBe('still here');
  });
});
