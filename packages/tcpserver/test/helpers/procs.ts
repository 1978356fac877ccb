import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { until } from './net';

// The bundled package cannot find the ioloop addon next to itself: tell it where it is.
const ADDON = resolve(__dirname, '..', '..', '..', 'ioloop', 'build', 'Release', 'tornado_ioloop.node');

/** Children spawned by a test; `killAll` in afterEach/finally takes them all down. */
export const spawned: ChildProcess[] = [];
/** Worker pids a test learned about (grandchildren): killed too, in case a primary left them. */
export const extraPids = new Set<number>();

export function killAll(): void {
  for (const c of spawned.splice(0)) {
    if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  }
  for (const pid of extraPids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  extraPids.clear();
}

/** Runs `node script args` with piped output; collects stdout lines and stderr text. */
export function runNode(
  script: string,
  args: string[] = [],
  opts: { env?: NodeJS.ProcessEnv; shellPrefix?: string } = {},
): {
  child: ChildProcess;
  lines: string[];
  stderr: () => string;
  waitLine: (re: RegExp) => Promise<string>;
  waitStderr: (re: RegExp) => Promise<void>;
} {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    TORNADO_TS_LOG_LEVEL: 'info',
    ...(existsSync(ADDON) ? { TORNADO_TS_IOLOOP_ADDON: ADDON } : {}),
    ...opts.env,
  };
  delete env.NODE_OPTIONS;
  const child =
    opts.shellPrefix !== undefined
      ? spawn('sh', ['-c', `${opts.shellPrefix} && exec "$0" "$@"`, process.execPath, script, ...args], {
          stdio: ['pipe', 'pipe', 'pipe'],
          env,
        })
      : spawn(process.execPath, [script, ...args], { stdio: ['pipe', 'pipe', 'pipe'], env });
  spawned.push(child);
  const lines: string[] = [];
  const waiters: { re: RegExp; resolve: (l: string) => void }[] = [];
  let partial = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => {
    partial += d.toString();
    const parts = partial.split('\n');
    partial = parts.pop() ?? '';
    for (const line of parts) {
      lines.push(line);
      for (const w of waiters.splice(0)) {
        if (w.re.test(line)) w.resolve(line);
        else waiters.push(w);
      }
    }
  });
  const errWaiters: { re: RegExp; resolve: () => void }[] = [];
  child.stderr?.on('data', (d: Buffer) => {
    err += d.toString();
    for (const w of errWaiters.splice(0)) {
      if (w.re.test(err)) w.resolve();
      else errWaiters.push(w);
    }
  });
  const waitStderr = (re: RegExp): Promise<void> => {
    if (re.test(err)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      errWaiters.push({ re, resolve });
      child.once('exit', () =>
        setImmediate(() => (re.test(err) ? resolve() : reject(new Error(`no ${re} in: ${err}`)))),
      );
    });
  };
  const waitLine = (re: RegExp): Promise<string> => {
    const hit = lines.find((l) => re.test(l));
    if (hit !== undefined) return Promise.resolve(hit);
    return new Promise((resolve, reject) => {
      waiters.push({ re, resolve });
      child.once('exit', () => setImmediate(() => reject(new Error(`exited before ${re}; stderr: ${err}`))));
    });
  };
  return { child, lines, stderr: () => err, waitLine, waitStderr };
}

/** Resolves with how a child process ended. */
export function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

/** Whether `pid` is a live process (a zombie counts as alive here: it must be reaped). */
export function alive(pid: number): boolean {
  return existsSync(`/proc/${pid}`);
}

/** Waits until none of `pids` exists any more (reaped, not zombies). */
export async function allGone(pids: number[], ms = 5000): Promise<void> {
  await until(() => pids.every((p) => !alive(p)), ms);
}

/** Pids of zombie children of `ppid`. */
export function zombieChildren(ppid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (fields[0] === 'Z' && Number(fields[1]) === ppid) out.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}
