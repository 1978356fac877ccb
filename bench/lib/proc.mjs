// Process plumbing of the runner: spawning pinned servers and clients, waiting on them, RSS.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';

/**
 * Runs a command to completion, collecting its output.
 * @param {string} cmd
 * @param {string[]} argv
 * @param {{ timeoutMs?: number, cwd?: string, input?: string }} [opts]
 * @returns {Promise<{ code: number | null, signal: string | null, stdout: string, stderr: string, timedOut: boolean }>}
 */
export function run(cmd, argv, opts = {}) {
  return new Promise((resolve) => {
    const child = spawn(cmd, argv, {
      cwd: opts.cwd,
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout?.setEncoding('utf8').on('data', (d) => {
      stdout += d;
    });
    child.stderr?.setEncoding('utf8').on('data', (d) => {
      stderr += d;
    });
    const timer = opts.timeoutMs
      ? setTimeout(() => {
          timedOut = true;
          child.kill('SIGKILL');
        }, opts.timeoutMs)
      : undefined;
    child.on('error', (err) => {
      stderr += String(err.message);
    });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
    if (child.stdin) {
      child.stdin.on('error', () => {});
      child.stdin.end(opts.input);
    }
  });
}

/** @param {string} cmd */
export function have(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/** @returns {Promise<number>} a port free on 127.0.0.1 right now */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/**
 * The command prefix that pins a process to a CPU (`taskset -c N`) and raises its open-files
 * limit to the hard limit, or nothing when pinning is off.
 * @param {number | null} cpu
 * @param {string[]} command
 * @returns {[string, string[]]}
 */
export function pinned(cpu, command) {
  const pin = cpu === null ? [] : ['taskset', '-c', String(cpu)];
  return ['sh', ['-c', 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"', 'sh', ...pin, ...command]];
}

/**
 * @typedef {object} Server
 * @property {import('node:child_process').ChildProcess} child
 * @property {number} port
 * @property {number} pid
 * @property {() => boolean} alive
 * @property {() => string} stderr
 * @property {() => Promise<void>} stop
 */

/**
 * Starts a server script and waits for its "listening <port>" line.
 * Rejects with the server's own error text when it exits or stays silent.
 * @param {string[]} command    full command (already pinned)
 * @param {number} port
 * @param {{ timeoutMs?: number, cwd?: string }} [opts]
 * @returns {Promise<Server>}
 */
export function startServer(command, port, opts = {}) {
  const [cmd, ...argv] = command;
  const child = spawn(/** @type {string} */ (cmd), argv, {
    cwd: opts.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  let stdout = '';
  let exited = false;
  child.stderr?.setEncoding('utf8').on('data', (d) => {
    stderr = (stderr + d).slice(-20_000);
  });
  /** @type {Promise<void>} */
  const exitPromise = new Promise((resolve) => {
    child.on('exit', () => {
      exited = true;
      resolve();
    });
  });
  /** @type {Server} */
  const server = {
    child,
    port,
    pid: child.pid ?? -1,
    alive: () => !exited,
    stderr: () => stderr,
    stop: async () => {
      if (exited) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exitPromise;
      clearTimeout(t);
    },
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`did not listen within ${(opts.timeoutMs ?? 20_000) / 1000} s${tail(stderr)}`));
    }, opts.timeoutMs ?? 20_000);
    child.stdout?.setEncoding('utf8').on('data', (d) => {
      stdout += d;
      if (/^listening \d+$/m.test(stdout)) {
        clearTimeout(timer);
        resolve(server);
      }
    });
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`exited (${signal ?? `code ${code}`}) before listening${tail(stderr)}`));
    });
  });
}

/** @param {string} text */
function tail(text) {
  const lines = text.trim().split('\n').filter(Boolean);
  return lines.length ? `: ${lines.slice(-3).join(' / ').slice(0, 400)}` : '';
}

/**
 * Resident set size of a process, in KiB (from /proc/<pid>/status).
 * @param {number} pid
 * @returns {number}
 */
export function rssKiB(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+) kB/m.exec(status);
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]);
}

/** @param {number} ms */
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
