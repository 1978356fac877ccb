import { type ChildProcess, spawn } from 'node:child_process';
import { lookup } from 'node:dns/promises';
import { once } from 'node:events';
import { readlinkSync } from 'node:fs';
import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { addAcceptHandler, bindSockets, ReusePortUnsupportedError, supportsReusePort } from '../src/index';
import { closeServer, connect, readUntil, request, socketLinks } from './helpers/net';

const open: net.Server[] = [];
const children: ChildProcess[] = [];

afterEach(async () => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
  await Promise.all(open.splice(0).map(closeServer));
});

async function bind(...args: Parameters<typeof bindSockets>): Promise<net.Server[]> {
  const servers = await bindSockets(...args);
  open.push(...servers);
  return servers;
}

function port(server: net.Server): number {
  return (server.address() as net.AddressInfo).port;
}

function fdOf(server: net.Server): number {
  return (server as unknown as { _handle: { fd: number } })._handle.fd;
}

describe('bindSockets', () => {
  it('binds one listening socket for an IPv4 literal and serves on it', async () => {
    const servers = await bind(0, '127.0.0.1');
    expect(servers).toHaveLength(1);
    const s = servers[0]!;
    expect(s.address()).toMatchObject({ address: '127.0.0.1', family: 'IPv4' });
    expect(port(s)).toBeGreaterThan(0);
    addAcceptHandler(s, (sock, address) => {
      sock.end(`${address.family} ${address.address}`);
    });
    expect(await request(port(s))).toBe('IPv4 127.0.0.1');
  });

  it('binds IPv4 and v6-only IPv6 on one shared port for an empty address', async () => {
    const servers = await bind(0, '');
    expect(servers.map((s) => (s.address() as net.AddressInfo).address)).toEqual(['0.0.0.0', '::']);
    const [v4, v6] = servers as [net.Server, net.Server];
    expect(port(v4)).toBe(port(v6));
    const seen: string[] = [];
    addAcceptHandler(v4, (sock) => {
      seen.push('v4');
      sock.end('4');
    });
    addAcceptHandler(v6, (sock) => {
      seen.push('v6');
      sock.end('6');
    });
    expect(await request(port(v4), undefined, '127.0.0.1')).toBe('4');
    expect(await request(port(v4), undefined, '::1')).toBe('6');
    expect(seen).toEqual(['v4', 'v6']);
  });

  it('makes IPv6 sockets v6-only, so IPv4 stays free on the same port', async () => {
    const [v6] = await bind(0, undefined, { family: 6 });
    expect(v6!.address()).toMatchObject({ address: '::', family: 'IPv6' });
    const plain = net.createServer();
    open.push(plain);
    await new Promise<void>((resolve, reject) => {
      plain.once('error', reject);
      plain.listen({ port: port(v6!), host: '0.0.0.0', exclusive: true }, resolve);
    });
    expect(plain.listening).toBe(true);
  });

  it('binds only IPv4 for family 4', async () => {
    const servers = await bind(0, undefined, { family: 4 });
    expect(servers.map((s) => (s.address() as net.AddressInfo).address)).toEqual(['0.0.0.0']);
  });

  it('binds every address a host name resolves to', async () => {
    const expected = [...new Set((await lookup('localhost', { all: true })).map((r) => r.address))];
    const servers = await bind(0, 'localhost');
    expect(servers.map((s) => (s.address() as net.AddressInfo).address).sort()).toEqual(expected.sort());
    expect(new Set(servers.map(port)).size).toBe(1);
  });

  it('rejects bad ports and families with RangeError', async () => {
    await expect(bindSockets(-1)).rejects.toThrow(RangeError);
    await expect(bindSockets(70000)).rejects.toThrow(RangeError);
    await expect(bindSockets(1.5)).rejects.toThrow(RangeError);
    await expect(bindSockets(0, '127.0.0.1', { family: 6 })).rejects.toThrow(/not an IPv6 address/);
    await expect(bindSockets(0, '127.0.0.1', { family: 5 as 4 })).rejects.toThrow(RangeError);
    for (const backlog of [-1, 1.5, Number.NaN, '128' as unknown as number]) {
      await expect(bindSockets(0, '127.0.0.1', { backlog })).rejects.toThrow(/backlog must be/);
    }
  });

  it('fails with EADDRINUSE on a taken port and leaves nothing bound', async () => {
    const [v6] = await bind(0, '::1');
    const taken = port(v6!);
    // IPv4 is free on that port, IPv6 is not: the IPv4 socket bound first must be closed again.
    await expect(bindSockets(taken, '')).rejects.toMatchObject({ code: 'EADDRINUSE' });
    const again = await bind(taken, '127.0.0.1');
    expect(port(again[0]!)).toBe(taken);
  });

  it('reports reusePort as unsupported where Node cannot do it', async () => {
    expect(supportsReusePort('20.20.0')).toBe(false);
    expect(supportsReusePort('22.11.0')).toBe(false);
    expect(supportsReusePort('22.12.0')).toBe(true);
    expect(supportsReusePort('23.0.0')).toBe(false);
    expect(supportsReusePort('23.1.0')).toBe(true);
    expect(supportsReusePort('24.0.0')).toBe(true);
    if (supportsReusePort()) {
      const a = await bind(0, '127.0.0.1', { reusePort: true });
      const b = await bind(port(a[0]!), '127.0.0.1', { reusePort: true });
      expect(port(b[0]!)).toBe(port(a[0]!));
    } else {
      const err = await bindSockets(0, '127.0.0.1', { reusePort: true }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ReusePortUnsupportedError);
      expect(err).toMatchObject({ name: 'ReusePortUnsupportedError', code: 'ERR_REUSE_PORT_UNSUPPORTED' });
    }
  });

  it('turns address reuse on: a port with connections in TIME_WAIT can be bound again', async () => {
    const [s] = await bindSockets(0, '127.0.0.1');
    const p = port(s!);
    // The server closes first, so its side of the connection goes to TIME_WAIT.
    addAcceptHandler(s!, (sock) => sock.end('bye'));
    expect(await request(p)).toBe('bye');
    await closeServer(s!);
    const again = await bind(p, '127.0.0.1');
    expect(port(again[0]!)).toBe(p);
  });

  it('keeps connections that arrive before a handler is attached, unread, and serves them', async () => {
    const [s] = await bind(0, '127.0.0.1');
    const accepted = once(s!, 'connection');
    const client = await connect(port(s!));
    client.write('early bird\n');
    await accepted;
    // The data waits in the kernel, not in a JS buffer: nothing has been read yet.
    const [serverSide] = (await accepted) as [net.Socket];
    expect(serverSide.bytesRead).toBe(0);
    addAcceptHandler(s!, (sock) => {
      sock.once('data', (d) => sock.end(`got ${d.toString()}`));
    });
    expect(await readUntil(client, '\n')).toBe('got early bird\n');
    client.destroy();
  });

  it('sets close-on-exec: a spawned child inherits no listening socket and the port can be rebound', async () => {
    const [s] = await bindSockets(0, '127.0.0.1');
    const p = port(s!);
    const inode = readlinkSync(`/proc/self/fd/${fdOf(s!)}`);
    expect(inode).toMatch(/^socket:\[\d+\]$/);
    const child = spawn('sleep', ['30'], { stdio: 'ignore' });
    children.push(child);
    await once(child, 'spawn');
    expect(socketLinks(child.pid!)).not.toContain(inode);
    expect(socketLinks(child.pid!)).toEqual([]);
    // Restarting the server while the child still runs: the port is free again.
    await closeServer(s!);
    const again = await bind(p, '127.0.0.1');
    expect(port(again[0]!)).toBe(p);
    expect(child.exitCode).toBeNull();
  });
});
