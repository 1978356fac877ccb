import { once } from 'node:events';
import { readdirSync, readlinkSync } from 'node:fs';
import * as net from 'node:net';
import { configureLogging } from '@tornado-ts/ioloop';

/** Connects to host:port and resolves with the connected socket. */
export async function connect(port: number, host = '127.0.0.1'): Promise<net.Socket> {
  const sock = net.connect({ port, host });
  await once(sock, 'connect');
  return sock;
}

/** Connects, optionally writes `send`, and resolves with everything read until the peer closes. */
export async function request(port: number, send?: string, host = '127.0.0.1'): Promise<string> {
  const sock = net.connect({ port, host });
  const chunks: Buffer[] = [];
  sock.on('data', (c: Buffer) => chunks.push(c));
  if (send !== undefined) sock.write(send);
  await new Promise<void>((resolve, reject) => {
    sock.once('close', () => resolve());
    sock.once('error', reject);
  });
  return Buffer.concat(chunks).toString();
}

/** Reads from `sock` until `text` has arrived. */
export async function readUntil(sock: net.Socket, text: string): Promise<string> {
  let buf = '';
  for await (const chunk of sock) {
    buf += (chunk as Buffer).toString();
    if (buf.includes(text)) return buf;
  }
  return buf;
}

/** Captures log lines of every channel while the returned object is active. */
export function captureLogs(): {
  lines: string[];
  restore: () => void;
  wait: (re: RegExp) => Promise<string>;
} {
  const lines: string[] = [];
  const waiters: { re: RegExp; resolve: (l: string) => void }[] = [];
  const push = (level: string) => (msg: string) => {
    const line = `${level} ${msg}`;
    lines.push(line);
    for (const w of waiters.splice(0)) {
      if (w.re.test(line)) w.resolve(line);
      else waiters.push(w);
    }
  };
  const restore = configureLogging({
    level: 'debug',
    sink: { debug: push('debug'), info: push('info'), warn: push('warn'), error: push('error') },
  });
  return {
    lines,
    restore,
    wait: (re) => {
      const hit = lines.find((l) => re.test(l));
      if (hit !== undefined) return Promise.resolve(hit);
      return new Promise((resolve) => waiters.push({ re, resolve }));
    },
  };
}

/** The number of open file descriptors of this process. */
export function fdCount(pid: number | 'self' = 'self'): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** The `socket:[inode]` links among a process's descriptors. */
export function socketLinks(pid: number | 'self'): string[] {
  const out: string[] = [];
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const link = readlinkSync(`/proc/${pid}/fd/${fd}`);
      if (link.startsWith('socket:')) out.push(link);
    } catch {
      // closed meanwhile
    }
  }
  return out;
}

/** Resolves when `cond()` is true, checking after each macrotask turn; rejects after `ms`. */
export async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Closes a net.Server and waits for it. */
export function closeServer(server: net.Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    server.close(() => resolve());
  });
}
