import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { TASK_ID_ENV, TooManyChildRestartsError } from '../src/index';
import { runPrimary, Supervisor } from '../src/process';
import { useBundle, writeScript } from './helpers/bundle';
import { alive, allGone, killAll, zombieChildren } from './helpers/procs';

// Spawning Node processes on a loaded 2-core machine: bounded, but not tightly.
vi.setConfig({ testTimeout: 45_000, hookTimeout: 45_000 });

let dir = '';
const supervisors: Supervisor[] = [];

useBundle((d) => {
  dir = d;
});
afterEach(async () => {
  for (const s of supervisors.splice(0)) s.kill('SIGKILL');
  killAll();
});

function supervise(
  script: string,
  numProcesses: number,
  maxRestarts: number,
  args: string[] = [],
): Supervisor {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  const s = new Supervisor({ script, args, numProcesses, maxRestarts, env, stdio: 'pipe' });
  supervisors.push(s);
  return s;
}

/** Every pid the supervisor ever started, recorded at spawn time. */
function recordPids(s: Supervisor, into: number[]): () => void {
  const timer = setInterval(() => {
    for (const c of s.children().values()) if (c.pid !== undefined && !into.includes(c.pid)) into.push(c.pid);
  }, 1);
  return () => clearInterval(timer);
}

describe('Supervisor (the primary side of forkProcesses)', () => {
  it('restarts a worker that exits non-zero, with the same task id, and ends when all exit 0', async () => {
    const script = writeScript(
      dir,
      'crash-once.mjs',
      `import { existsSync, writeFileSync, appendFileSync } from 'node:fs';
const id = process.env.${TASK_ID_ENV};
const marker = process.argv[2] + '/ran-exit-' + id;
if (!existsSync(marker)) { writeFileSync(marker, ''); process.exit(3); }
appendFileSync(process.argv[2] + '/exit-log', id + '\\n');
process.exit(0);
`,
    );
    const s = supervise(script, 2, 5, [dir]);
    await expect(s.start()).resolves.toEqual({ signal: null });
    expect(s.restarts).toBe(2);
    expect(readFileSync(join(dir, 'exit-log'), 'utf8').split('\n').filter(Boolean).sort()).toEqual([
      '0',
      '1',
    ]);
    expect(zombieChildren(process.pid)).toEqual([]);
  });

  it('restarts a worker killed by a signal', async () => {
    const script = writeScript(
      dir,
      'killed-once.mjs',
      `import { existsSync, writeFileSync, appendFileSync } from 'node:fs';
const id = process.env.${TASK_ID_ENV};
const marker = process.argv[2] + '/ran-kill-' + id;
if (!existsSync(marker)) { writeFileSync(marker, ''); process.kill(process.pid, 'SIGKILL'); }
else { appendFileSync(process.argv[2] + '/kill-log', id + '\\n'); process.exit(0); }
`,
    );
    const s = supervise(script, 1, 1, [dir]);
    await expect(s.start()).resolves.toEqual({ signal: null });
    expect(s.restarts).toBe(1);
    expect(readFileSync(join(dir, 'kill-log'), 'utf8')).toBe('0\n');
  });

  it('gives up with "Too many child restarts" and stops the other workers', async () => {
    const always = writeScript(
      dir,
      'always-fail.mjs',
      `const id = Number(process.env.${TASK_ID_ENV});
if (id === 0) process.exit(1);
setInterval(() => {}, 1000);
`,
    );
    const s = supervise(always, 2, 3);
    const pids: number[] = [];
    const stop = recordPids(s, pids);
    const err = await s.start().catch((e: unknown) => e);
    stop();
    expect(err).toBeInstanceOf(TooManyChildRestartsError);
    expect(err).toMatchObject({ message: 'Too many child restarts, giving up', restarts: 3 });
    expect(s.children().size).toBe(0);
    await allGone(pids);
    expect(zombieChildren(process.pid)).toEqual([]);
  });

  it('passes a signal to every worker, restarts none and ends with that signal', async () => {
    const idle = writeScript(dir, 'idle.mjs', `setInterval(() => {}, 1000); console.log('up');\n`);
    const s = supervise(idle, 3, 100);
    const done = s.start();
    const pids = [...s.children().values()].map((c) => c.pid!);
    expect(pids).toHaveLength(3);
    await Promise.all([...s.children().values()].map((c) => new Promise((r) => c.stdout!.once('data', r))));
    s.kill('SIGTERM');
    await expect(done).resolves.toEqual({ signal: 'SIGTERM' });
    expect(s.restarts).toBe(0);
    expect(pids.some(alive)).toBe(false);
    expect(zombieChildren(process.pid)).toEqual([]);
    s.kill('SIGTERM'); // nothing left: harmless
  });

  it('runPrimary passes SIGTERM and SIGINT on to the workers and resolves with the signal', async () => {
    const idle = writeScript(dir, 'idle2.mjs', `setInterval(() => {}, 1000); console.log('up');\n`);
    const env = { ...process.env };
    delete env.NODE_OPTIONS;
    const before = process.listenerCount('SIGTERM');
    const done = runPrimary(2, 5, { script: idle, env, stdio: 'pipe' });
    // runPrimary installs its forwarders once the (empty) socket hand-over is done.
    for (let i = 0; i < 200 && process.listenerCount('SIGTERM') === before; i++)
      await new Promise((r) => setImmediate(r));
    expect(process.listenerCount('SIGTERM')).toBe(before + 1);
    process.emit('SIGINT', 'SIGINT');
    await expect(done).resolves.toEqual({ signal: 'SIGINT' });
    expect(process.listenerCount('SIGTERM')).toBe(before);
    expect(zombieChildren(process.pid)).toEqual([]);
  });

  it('with no workers asked for, settles at once', async () => {
    const s = supervise(join(dir, 'never-run.mjs'), 0, 1);
    await expect(s.start()).resolves.toEqual({ signal: null });
    expect(s.start()).toBe(s.start());
  });
});
