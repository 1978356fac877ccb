import * as net from 'node:net';
import { fdSupport } from '@tornado-ts/ioloop';
import { FdSocket, type IOStream } from '@tornado-ts/iostream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { bindSockets, type PeerAddress, TCPServer } from '../src/index';
import { useBundle, writeScript } from './helpers/bundle';
import { connect, fdCount, until } from './helpers/net';
import { killAll, runNode } from './helpers/procs';

vi.setConfig({ testTimeout: 45_000, hookTimeout: 45_000 });

class Echo extends TCPServer {
  streams: IOStream[] = [];
  peers: PeerAddress[] = [];
  override async handleStream(stream: IOStream, address: PeerAddress): Promise<void> {
    this.streams.push(stream);
    this.peers.push(address);
    for (;;) {
      const line = await stream.readUntil('\n').catch(() => null);
      if (line === null) return;
      await stream.write(line);
    }
  }
}

const servers: TCPServer[] = [];
afterEach(async () => {
  killAll();
  for (const s of servers.splice(0)) {
    await s.stop();
    if (s instanceof Echo) for (const st of s.streams) st.close();
  }
});

function track<T extends TCPServer>(s: T): T {
  servers.push(s);
  return s;
}

function refused(port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.on('connect', () => {
      s.destroy();
      resolve(undefined);
    });
    s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code));
  });
}

/** Reads one line from `sock` without ending it (the helpers' readUntil destroys the socket). */
function readLine(sock: net.Socket): Promise<string> {
  return new Promise((resolve) => {
    let buf = '';
    const onData = (d: Buffer) => {
      buf += d.toString();
      const i = buf.indexOf('\n');
      if (i < 0) return;
      sock.off('data', onData);
      resolve(buf.slice(0, i + 1));
    };
    sock.on('data', onData);
  });
}

let dir = '';
useBundle((d) => {
  dir = d;
});

describe.skipIf(!fdSupport().available)('native sockets (the default for plain TCP)', () => {
  it('connections arrive on FdSockets with the peer address; nativeSockets: false gives net.Sockets', async () => {
    const native = track(new Echo());
    await native.listen(0, '127.0.0.1');
    const port = native.addresses()[0]!.port;
    const client = await connect(port);
    client.write('hello\n');
    expect(await readLine(client)).toBe('hello\n');
    expect(native.streams[0]!.socket).toBeInstanceOf(FdSocket);
    expect(native.peers[0]).toEqual({ address: '127.0.0.1', family: 'IPv4', port: client.localPort });
    client.destroy();

    const classic = track(new Echo({ nativeSockets: false }));
    await classic.listen(0, '127.0.0.1');
    const c2 = await connect(classic.addresses()[0]!.port);
    c2.write('x\n');
    expect(await readLine(c2)).toBe('x\n');
    expect(classic.streams[0]!.socket).toBeInstanceOf(net.Socket);
    c2.destroy();
  });

  it('IPv6 listeners too; addresses() keeps reporting after the take-over', async () => {
    const server = track(new Echo());
    await server.listen(0, '::1').catch(() => null);
    const a = server.addresses();
    if (a.length === 0) return; // no IPv6 loopback here
    expect(a[0]).toMatchObject({ address: '::1', family: 'IPv6' });
    const sock = net.connect(a[0]!.port, '::1');
    await new Promise<void>((r) => sock.once('connect', () => r()));
    sock.write('six\n');
    expect(await readLine(sock)).toBe('six\n');
    expect(server.peers[0]!.family).toBe('IPv6');
    sock.destroy();
  });

  it('stop() closes the listening descriptor (the port refuses) and leaks nothing', async () => {
    const before = fdCount();
    const server = new Echo();
    await server.listen(0, '127.0.0.1');
    const port = server.addresses()[0]!.port;
    const clients = await Promise.all(Array.from({ length: 20 }, () => connect(port)));
    await Promise.all(
      clients.map(async (c, i) => {
        c.write(`${i}\n`);
        expect(await readLine(c)).toBe(`${i}\n`);
      }),
    );
    await server.stop();
    expect(await refused(port)).toBe('ECONNREFUSED');
    // open connections go on after stop()
    clients[0]!.write('still\n');
    expect(await readLine(clients[0]!)).toBe('still\n');
    for (const c of clients) c.destroy();
    await until(() => server.streams.every((s) => s.closed()));
    await until(() => fdCount() <= before);
  });

  it('connections waiting in the net.Server before the take-over are served too', async () => {
    const [sock] = await bindSockets(0, '127.0.0.1');
    const port = (sock!.address() as net.AddressInfo).port;
    const early = await connect(port);
    early.write('early\n');
    await new Promise((r) => setTimeout(r, 20)); // let the net.Server accept it
    const server = track(new Echo());
    server.addSockets([sock!]);
    expect(await readLine(early)).toBe('early\n');
    expect(server.streams[0]!.socket).toBeInstanceOf(net.Socket);
    const late = await connect(port);
    late.write('late\n');
    expect(await readLine(late)).toBe('late\n');
    expect(server.streams[1]!.socket).toBeInstanceOf(FdSocket);
    early.destroy();
    late.destroy();
  });

  it('out of descriptors: accepting pauses (logged), connections wait in the backlog and are served later', async () => {
    const script = writeScript(
      dir,
      'native-emfile.mjs',
      `import { TCPServer } from './tcpserver.mjs';
const held = [];
class Hold extends TCPServer {
  handleStream(stream) {
    held.push(stream);
    stream.write('hi\\n').catch(() => {});
  }
}
const server = new Hold();
await server.listen(0, '127.0.0.1');
process.stdin.on('data', () => {
  for (const s of held.splice(0)) s.close();
  console.log('released');
});
console.log('port ' + server.addresses()[0].port);
`,
    );
    const run = runNode(script, [], { shellPrefix: 'ulimit -n 64' });
    const port = Number((await run.waitLine(/^port \d+$/)).split(' ')[1]);
    const greeted: boolean[] = new Array(100).fill(false);
    const socks = Array.from({ length: 100 }, (_, i) => {
      const s = net.connect(port, '127.0.0.1');
      s.on('error', () => {});
      s.on('data', () => {
        greeted[i] = true;
      });
      return s;
    });
    await run.waitStderr(/Error accepting a connection on 127\.0\.0\.1:\d+: EMFILE.*pausing accepts/);
    await until(() => greeted.filter(Boolean).length > 0, 10_000);
    const firstWave = greeted.filter(Boolean).length;
    expect(firstWave).toBeLessThan(100);
    expect(run.child.exitCode).toBeNull();
    // nobody was dropped: the rest are served as descriptors free up (each release frees the
    // connections held so far; the next ones are accepted after the pause)
    let releases = 0;
    while (!greeted.every(Boolean)) {
      expect(releases).toBeLessThan(10);
      const before = greeted.filter(Boolean).length;
      run.child.stdin!.write('go\n');
      releases++;
      await until(() => run.lines.filter((l) => l === 'released').length >= releases);
      await until(() => greeted.filter(Boolean).length > before || greeted.every(Boolean), 10_000);
    }
    expect(releases).toBeGreaterThan(0);
    for (const s of socks) s.destroy();
    expect(run.child.exitCode).toBeNull();
  });
});
