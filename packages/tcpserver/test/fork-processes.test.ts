import { afterEach, describe, expect, it, vi } from 'vitest';
import { cpuCount, taskId } from '../src/index';
import { useBundle, writeScript } from './helpers/bundle';
import { connect, readUntil } from './helpers/net';
import { alive, allGone, exited, extraPids, killAll, runNode } from './helpers/procs';

// Spawning Node processes on a loaded 2-core machine: bounded, but not tightly.
vi.setConfig({ testTimeout: 45_000, hookTimeout: 45_000 });

// Whole programs, as a user writes them: a primary that forks real workers.

let dir = '';

useBundle((d) => {
  dir = d;
});
afterEach(() => killAll());

/** The seed's second pattern: bindSockets, forkProcesses(2), an accept handler answering the task id. */
const TWO_WORKERS_SCRIPT = `import { addAcceptHandler, bindSockets, forkProcesses, taskId } from './tcpserver.mjs';
const socks = await bindSockets(0, '127.0.0.1');
if (taskId() === null) console.log('port ' + socks[0].address().port);
const id = await forkProcesses(2);
for (const s of socks) addAcceptHandler(s, (sock) => sock.end(id + '\\n'));
console.log('worker ' + id + ' ' + process.pid);
`;

async function ask(port: number): Promise<string> {
  const sock = await connect(port);
  sock.write('?\n');
  const out = await readUntil(sock, '\n');
  sock.destroy();
  return out.trim();
}

/**
 * The task ids that answer 200 connections (20 at a time). Which worker wins an accept is up to
 * the kernel and the scheduler; on a loaded machine one worker may sleep through a whole burst,
 * so keep going (up to 1000 connections) until both have answered.
 */
async function idsOver200(port: number): Promise<Set<string>> {
  const ids = new Set<string>();
  for (let round = 0; round < 50 && (round < 10 || ids.size < 2); round++) {
    for (const r of await Promise.all(Array.from({ length: 20 }, () => ask(port)))) ids.add(r);
  }
  return ids;
}

async function startWorkers(
  script: string,
): Promise<{ run: ReturnType<typeof runNode>; port: number; pids: number[] }> {
  const run = runNode(script);
  const port = Number((await run.waitLine(/^port \d+$/)).split(' ')[1]);
  const pids: number[] = [];
  for (const id of [0, 1]) {
    const line = await run.waitLine(new RegExp(`^worker ${id} \\d+$`));
    pids.push(Number(line.split(' ')[2]));
  }
  for (const p of pids) extraPids.add(p);
  return { run, port, pids };
}

describe('cpuCount / taskId', () => {
  it('counts at least one CPU and is no worker here', () => {
    expect(cpuCount()).toBeGreaterThanOrEqual(1);
    expect(Number.isInteger(cpuCount())).toBe(true);
    expect(taskId()).toBeNull();
  });
});

describe('forkProcesses', () => {
  it('bindSockets + forkProcesses + addAcceptHandler: workers share the port; SIGTERM stops them all', async () => {
    const script = writeScript(dir, 'pattern-sockets.mjs', TWO_WORKERS_SCRIPT);
    const { run, port, pids } = await startWorkers(script);
    expect(await idsOver200(port)).toEqual(new Set(['0', '1']));
    // The primary holds no listening socket of its own: it never serves.
    run.child.kill('SIGTERM');
    const end = await exited(run.child);
    expect(end.signal).toBe('SIGTERM');
    await allGone(pids);
    expect(run.lines.some((l) => l.includes('primary got SIGTERM: passing it to the workers'))).toBe(true);
  });

  it('TCPServer.bind + start(2): IOStream workers; a killed worker comes back with its task id', async () => {
    const script = writeScript(
      dir,
      'pattern-server.mjs',
      `import { TCPServer, taskId } from './tcpserver.mjs';
class IdServer extends TCPServer {
  async handleStream(stream) {
    await stream.readUntil('\\n');
    await stream.write(taskId() + '\\n');
    stream.close();
  }
}
const server = new IdServer();
await server.bind(0, '127.0.0.1');
if (taskId() === null) console.log('port ' + server.addresses()[0].port);
await server.start(2);
console.log('worker ' + taskId() + ' ' + process.pid);
`,
    );
    const { run, port, pids } = await startWorkers(script);
    expect(await idsOver200(port)).toEqual(new Set(['0', '1']));
    // Kill worker 1: the primary restarts it with task id 1.
    const seen = run.lines.length;
    process.kill(pids[1]!, 'SIGKILL');
    const line = await run.waitLine(new RegExp(`^worker 1 (?!${pids[1]}$)\\d+$`));
    expect(run.lines.indexOf(line)).toBeGreaterThanOrEqual(seen);
    const newPid = Number(line.split(' ')[2]);
    extraPids.add(newPid);
    expect(await idsOver200(port)).toEqual(new Set(['0', '1']));
    await run.waitStderr(/child 1 \(pid \d+\) killed by signal SIGKILL, restarting/);
    run.child.kill('SIGINT');
    expect((await exited(run.child)).signal).toBe('SIGINT');
    await allGone([pids[0]!, newPid]);
  });

  it('forkProcesses(0) starts one worker per CPU; the primary exits 0 once every worker exited 0', async () => {
    const script = writeScript(
      dir,
      'all-done.mjs',
      `import { forkProcesses } from './tcpserver.mjs';
const id = await forkProcesses(0);
console.log('worker ' + id + ' ' + process.pid);
`,
    );
    const run = runNode(script);
    const end = await exited(run.child);
    expect(end).toEqual({ code: 0, signal: null });
    // 0 means one worker per CPU, task ids 0 .. n-1.
    const ids = run.lines.filter((l) => l.startsWith('worker ')).map((l) => Number(l.split(' ')[1]));
    expect(ids.sort()).toEqual(Array.from({ length: cpuCount() }, (_, i) => i));
    expect(run.stderr()).not.toMatch(/restarting/);
  });

  it('fails loudly with "Too many child restarts" when workers keep dying', async () => {
    const script = writeScript(
      dir,
      'always-crash.mjs',
      `import { forkProcesses } from './tcpserver.mjs';
await forkProcesses(2, 3);
process.exit(7);
`,
    );
    const run = runNode(script);
    const end = await exited(run.child);
    expect(end.code).toBe(1);
    expect(run.stderr()).toMatch(/Too many child restarts, giving up/);
    expect(run.stderr()).toMatch(/exited with status 7, restarting/);
  });

  it('workers stop when the primary is killed outright', async () => {
    const script = writeScript(dir, 'orphans.mjs', TWO_WORKERS_SCRIPT);
    const { run, pids } = await startWorkers(script);
    run.child.kill('SIGKILL');
    await exited(run.child);
    await allGone(pids, 10_000);
    expect(pids.some(alive)).toBe(false);
  });
});
