import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  addAcceptHandler,
  bindSockets,
  bindUnixSocket,
  ForkError,
  forkProcesses,
  taskId,
} from '../src/index';
import { type PrimaryChannel, setWorkerState } from '../src/process';
import { useBundle, writeScript } from './helpers/bundle';
import { closeServer, connect, readUntil } from './helpers/net';
import { killAll, spawned } from './helpers/procs';

// Spawning Node processes on a loaded 2-core machine: bounded, but not tightly.
vi.setConfig({ testTimeout: 45_000, hookTimeout: 45_000 });

// The worker side of forkProcesses, run in this process: a child process plays the primary
// (binds, lets go of its sockets, answers the handshake) and this process is its worker 0.

let dir = '';
const open: net.Server[] = [];

useBundle((d) => {
  dir = d;
});
afterEach(async () => {
  setWorkerState(null);
  killAll();
  await Promise.all(open.splice(0).map(closeServer));
});

function nextMessage(child: ChildProcess, key: string): Promise<Record<string, unknown>> {
  return new Promise((resolve) => {
    const on = (m: unknown) => {
      if (typeof m === 'object' && m !== null && key in m) {
        child.off('message', on);
        resolve(m as Record<string, unknown>);
      }
    };
    child.on('message', on);
  });
}

describe('a worker receiving the primary sockets', () => {
  it('gets the bound sockets and early connections, and notices when the primary is gone', async () => {
    const sockDir = mkdtempSync(join(tmpdir(), 'tcpserver-ws-'));
    try {
      const path = join(sockDir, 'p.sock');
      const script = writeScript(
        dir,
        'fake-primary.mjs',
        `import { bindSockets, bindUnixSocket, detachBoundSockets, sendSockets } from './tcpserver.mjs';
const [tcp] = await bindSockets(0, '127.0.0.1');
await bindUnixSocket(process.argv[2]);
tcp.once('connection', () => process.send({ accepted: true }));
let entries = [];
process.on('message', async (m) => {
  if (m.go) { entries = await detachBoundSockets(); process.send({ detached: true }); }
  if (m.tornadoTs === 'hello') sendSockets(process, entries);
});
process.send({ port: tcp.address().port });
`,
      );
      const env = { ...process.env };
      delete env.NODE_OPTIONS;
      const primary = fork(script, [path], { env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      spawned.push(primary);
      const { port } = (await nextMessage(primary, 'port')) as { port: number };
      const accepted = nextMessage(primary, 'accepted');
      const early = await connect(port);
      early.write('early\n');
      await accepted;
      primary.send({ go: true });
      await nextMessage(primary, 'detached');

      let primaryGone!: () => void;
      const gone = new Promise<void>((resolve) => (primaryGone = resolve));
      setWorkerState({
        taskId: 0,
        channel: primary as unknown as PrimaryChannel,
        onPrimaryGone: primaryGone,
      });
      expect(taskId()).toBe(0);
      const [tcp] = await bindSockets(0, '127.0.0.1');
      const unix = await bindUnixSocket(path);
      // Not bound by the primary: bound here.
      const [own] = await bindSockets(0, '127.0.0.1', { family: 4 });
      open.push(tcp!, unix, own!);
      expect(tcp!.address()).toEqual({ address: '127.0.0.1', family: 'IPv4', port });
      expect(unix.address()).toBe(path);
      expect((own!.address() as net.AddressInfo).port).not.toBe(port);
      await expect(forkProcesses(2)).resolves.toBe(0);
      await expect(forkProcesses(2)).rejects.toBeInstanceOf(ForkError);
      // After forkProcesses, binds are the worker's own again.
      const [after] = await bindSockets(0, '127.0.0.1');
      open.push(after!);
      expect((after!.address() as net.AddressInfo).port).not.toBe(port);

      for (const s of [tcp!, unix]) {
        addAcceptHandler(s, (sock, address) =>
          sock.once('data', (d) => sock.end(`${address.family} ${d.toString()}`)),
        );
      }
      expect(await readUntil(early, '\n')).toBe('IPv4 early\n');
      early.destroy();
      const again = await connect(port);
      again.write('again\n');
      expect(await readUntil(again, '\n')).toBe('IPv4 again\n');
      again.destroy();
      const u = net.connect(path);
      u.write('unix\n');
      expect(await readUntil(u, '\n')).toBe('unix unix\n');
      u.destroy();

      primary.kill('SIGKILL');
      await once(primary, 'exit');
      // The channel's 'disconnect' follows the primary's death.
      await gone;
    } finally {
      rmSync(sockDir, { recursive: true, force: true });
    }
  });

  it('times out a handshake the primary never answers', async () => {
    const silent = { send: () => true, on: () => {}, off: () => {} } as unknown as PrimaryChannel;
    setWorkerState({ taskId: 1, channel: silent, onPrimaryGone: () => {} });
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const p = forkProcesses();
      vi.advanceTimersByTime(20_000);
      await expect(p).rejects.toThrow(/did not answer/);
    } finally {
      vi.useRealTimers();
    }
  });
});
