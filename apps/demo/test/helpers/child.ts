import { type ChildProcess, spawn } from 'node:child_process';
import { TEST_DIST } from '../global-setup';

/** The demo running as `node main.js ...` in child processes (a primary and maybe workers). */
export interface DemoProcess {
  child: ChildProcess;
  /** Everything it printed so far (stdout and stderr, workers included). */
  output(): string;
  /** Resolves with the first match of `re` in the output (now or later). */
  waitFor(re: RegExp): Promise<RegExpMatchArray>;
  /** Resolves with how the process ended. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGKILLs it if it is still running (test cleanup). */
  kill(): Promise<void>;
}

/** How long to wait for an expected line of output. */
const WAIT_MS = 20_000;

/** Starts the test build of the demo with `args`. */
export function spawnDemo(args: string[], env: NodeJS.ProcessEnv = {}): DemoProcess {
  const child = spawn(process.execPath, [`${TEST_DIST}main.js`, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    // Workers inherit this environment; no inherited secret, so the primary must make one.
    env: { ...process.env, TORNADO_TS_DEMO_COOKIE_SECRET: '', TORNADO_TS_LOG_LEVEL: 'info', ...env },
  });
  let out = '';
  let waiters: { re: RegExp; resolve: (m: RegExpMatchArray) => void; reject: (e: Error) => void }[] = [];
  const onData = (chunk: Buffer) => {
    out += chunk.toString();
    waiters = waiters.filter((w) => {
      const m = out.match(w.re);
      if (m) w.resolve(m);
      return !m;
    });
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      const fail = new Error(`the demo exited (${code ?? signal}) before printing the awaited line:\n${out}`);
      for (const w of waiters) w.reject(fail);
      resolve({ code, signal });
    });
  });
  return {
    child,
    output: () => out,
    waitFor(re) {
      const m = out.match(re);
      if (m) return Promise.resolve(m);
      if (child.exitCode !== null || child.signalCode !== null) {
        return Promise.reject(new Error(`the demo has exited:\n${out}`));
      }
      return new Promise((resolve, reject) => {
        // Fail with what the program printed rather than a bare test timeout.
        const timer = setTimeout(() => {
          waiters = waiters.filter((w) => w.re !== re);
          reject(new Error(`no ${re} in the demo's output after ${WAIT_MS} ms:\n${out}`));
        }, WAIT_MS);
        waiters.push({
          re,
          resolve: (m) => {
            clearTimeout(timer);
            resolve(m);
          },
          reject: (e) => {
            clearTimeout(timer);
            reject(e);
          },
        });
      });
    },
    exited,
    async kill() {
      // Workers announce their pids; a primary killed hard would leave them behind.
      for (const m of out.matchAll(/worker \d+ \(pid (\d+)\)/g)) {
        try {
          process.kill(Number(m[1]), 'SIGKILL');
        } catch {
          // already gone
        }
      }
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}
