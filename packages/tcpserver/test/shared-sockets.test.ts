import { mkdtempSync, rmSync, statSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { bindSockets, bindUnixSocket, TASK_ID_ENV } from '../src/index';
import { detachBoundSockets, duplicateHandles, Supervisor } from '../src/process';
import { useBundle, writeScript } from './helpers/bundle';
import { connect, readUntil } from './helpers/net';
import { allGone, killAll, zombieChildren } from './helpers/procs';

// Spawning Node processes on a loaded 2-core machine: bounded, but not tightly.
vi.setConfig({ testTimeout: 45_000, hookTimeout: 45_000 });

let dir = '';
const supervisors: Supervisor[] = [];

useBundle((d) => {
  dir = d;
});
afterEach(() => {
  for (const s of supervisors.splice(0)) s.kill('SIGKILL');
  killAll();
});

function unixRequest(path: string, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(path);
    let out = '';
    sock.write(line);
    sock.on('data', (d) => (out += d.toString()));
    sock.once('error', reject);
    sock.once('close', () => resolve(out));
  });
}

async function tcpRequest(port: number, line: string): Promise<string> {
  try {
    const sock = await connect(port);
    sock.write(line);
    return await readUntil(sock, '\n');
  } catch (err) {
    return `ERR ${(err as Error).message}`;
  }
}

describe('handing bound sockets to workers', () => {
  it('copies handles through a helper process', async () => {
    expect(await duplicateHandles([])).toEqual([]);
  });

  it('workers accept on the primary sockets, TCP and unix, and serve what the primary accepted early', async () => {
    const sockDir = mkdtempSync(join(tmpdir(), 'tcpserver-shared-'));
    try {
      const [tcp] = await bindSockets(0, '127.0.0.1');
      const port = (tcp!.address() as net.AddressInfo).port;
      const path = join(sockDir, 'w.sock');
      await bindUnixSocket(path, { mode: 0o640 });
      // Accepted by this (primary) process before forking: queued, unread, must reach a worker.
      const accepted = new Promise((r) => tcp!.once('connection', r));
      const early = await connect(port);
      early.write('early\n');
      await accepted;

      const entries = await detachBoundSockets();
      expect(entries.map((e) => e.kind)).toEqual(['tcp', 'unix']);
      expect(tcp!.listening).toBe(false);
      // The unix socket path survived the primary closing its server.
      expect(statSync(path).isSocket()).toBe(true);
      expect(statSync(path).mode & 0o777).toBe(0o640);
      expect(await detachBoundSockets()).toEqual([]);

      const script = writeScript(
        dir,
        'shared-worker.mjs',
        `import { addAcceptHandler, bindSockets, bindUnixSocket, forkProcesses, taskId } from './tcpserver.mjs';
const [tcp] = await bindSockets(0, '127.0.0.1');
const unix = await bindUnixSocket(process.argv[2]);
const id = await forkProcesses(2);
if (id !== taskId() || process.env.${TASK_ID_ENV} !== undefined) process.exit(9);
for (const s of [tcp, unix]) {
  addAcceptHandler(s, (sock) => sock.once('data', (d) => sock.end(id + ' ' + d.toString())));
}
console.log('ready ' + id);
`,
      );
      const env = { ...process.env };
      delete env.NODE_OPTIONS;
      const s = new Supervisor({
        script,
        args: [path],
        numProcesses: 2,
        maxRestarts: 0,
        env,
        entries,
        stdio: 'pipe',
      });
      supervisors.push(s);
      const done = s.start();
      const pids = [...s.children().values()].map((c) => c.pid!);
      const errs: string[] = [];
      for (const c of s.children().values()) c.stderr!.on('data', (d) => errs.push(`${c.pid}: ${d}`));
      await Promise.all(
        [...s.children().values()].map(
          (c) =>
            new Promise<void>((resolve) => {
              c.stdout!.on('data', (d: Buffer) => {
                if (d.toString().includes('ready')) resolve();
              });
            }),
        ),
      );

      expect(await readUntil(early, '\n')).toMatch(/^[01] early\n$/);
      early.destroy();
      const ids = new Set<string>();
      for (let round = 0; round < 50 && ids.size < 2; round++) {
        const replies = await Promise.all(Array.from({ length: 20 }, () => tcpRequest(port, 'tcp\n')));
        for (const r of replies) {
          expect(r, errs.join('\n')).toMatch(/^[01] tcp\n$/);
          ids.add(r[0]!);
        }
      }
      expect([...ids].sort()).toEqual(['0', '1']);
      expect(await unixRequest(path, 'unix\n')).toMatch(/^[01] unix\n$/);

      s.kill('SIGTERM');
      await expect(done).resolves.toEqual({ signal: 'SIGTERM' });
      await allGone(pids);
      expect(zombieChildren(process.pid)).toEqual([]);
      // The primary gave its copies back: nobody listens any more.
      await expect(connect(port)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    } finally {
      rmSync(sockDir, { recursive: true, force: true });
    }
  });
});
