import * as net from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { useBundle, writeScript } from './helpers/bundle';
import { connect, readUntil } from './helpers/net';
import { killAll, runNode } from './helpers/procs';

// Spawning Node processes on a loaded 2-core machine: bounded, but not tightly.
vi.setConfig({ testTimeout: 45_000, hookTimeout: 45_000 });

let dir = '';

useBundle((d) => {
  dir = d;
});
afterEach(() => killAll());

/** Resolves 'served' when the server greets, 'shed' when the connection is closed or reset first. */
function attempt(port: number): Promise<{ outcome: 'served' | 'shed'; sock: net.Socket }> {
  return new Promise((resolve) => {
    const sock = net.connect({ port, host: '127.0.0.1' });
    let done = false;
    const finish = (outcome: 'served' | 'shed') => {
      if (done) return;
      done = true;
      resolve({ outcome, sock });
    };
    sock.on('data', () => finish('served'));
    sock.on('error', () => finish('shed'));
    sock.on('close', () => finish('shed'));
  });
}

describe('running out of file descriptors', () => {
  it('under ulimit -n 64, 100 connections: the server sheds the excess, survives and serves again', async () => {
    const script = writeScript(
      dir,
      'emfile-server.mjs',
      `import { addAcceptHandler, bindSockets } from './tcpserver.mjs';
const [server] = await bindSockets(0, '127.0.0.1');
const held = [];
addAcceptHandler(server, (sock) => {
  held.push(sock);
  sock.on('error', () => {});
  sock.write('hi\\n');
});
process.stdin.on('data', () => {
  for (const s of held.splice(0)) s.destroy();
  console.log('released');
});
console.log('port ' + server.address().port);
`,
    );
    const run = runNode(script, [], { shellPrefix: 'ulimit -n 64' });
    const port = Number((await run.waitLine(/^port \d+$/)).split(' ')[1]);
    const results = await Promise.all(Array.from({ length: 100 }, () => attempt(port)));
    const served = results.filter((r) => r.outcome === 'served').length;
    const shed = results.filter((r) => r.outcome === 'shed').length;
    expect(served).toBeGreaterThan(0);
    expect(shed).toBeGreaterThan(0);
    expect(served + shed).toBe(100);
    for (const r of results) r.sock.destroy();
    // libuv sheds what it cannot accept (its "emfile trick": accept with a reserved descriptor
    // and close at once, so clients see a close instead of hanging) and keeps listening; it does
    // not report EMFILE when the trick works. When it does report it, the error is logged
    // (accept-handler.test.ts covers that path).
    expect(run.child.exitCode).toBeNull();

    run.child.stdin!.write('go\n');
    await run.waitLine(/^released$/);
    const sock = await connect(port);
    expect(await readUntil(sock, '\n')).toBe('hi\n');
    sock.destroy();
    expect(run.child.exitCode).toBeNull();
  });
});
