/**
 * Binding listening sockets: {@link bindSockets} and {@link bindUnixSocket}, after Tornado's
 * `tornado.netutil.bind_sockets` / `bind_unix_socket`.
 *
 * @module
 */
import { lookup } from 'node:dns/promises';
import { chmod, lstat, unlink } from 'node:fs/promises';
import { type AddressInfo, createServer, isIP, type ListenOptions, type Server } from 'node:net';
import { networkInterfaces } from 'node:os';
import { resolve as resolvePath } from 'node:path';
import { manageServer } from './accept';
import { NotASocketError, ReusePortUnsupportedError } from './errors';
import { inheritedServers, registerBound } from './process';

/** The listen backlog used when none is given (Tornado's `_DEFAULT_BACKLOG`). */
export const DEFAULT_BACKLOG = 128;

/** Options of {@link bindSockets}. */
export interface BindSocketsOptions {
  /** `4` or `6` to bind only that family; `0` (default) binds every family the address resolves to. */
  family?: 0 | 4 | 6;
  /** The listen backlog. Default {@link DEFAULT_BACKLOG} (128). */
  backlog?: number;
  /**
   * Set `SO_REUSEPORT` so several processes can bind the same port themselves. Needs a Node.js
   * that supports it (22.12+ / 23.1+); elsewhere {@link ReusePortUnsupportedError} is thrown.
   */
  reusePort?: boolean;
}

/** Options of {@link bindUnixSocket}. */
export interface BindUnixSocketOptions {
  /** Permission bits of the socket file. Default `0o600`. */
  mode?: number;
  /** The listen backlog. Default {@link DEFAULT_BACKLOG} (128). */
  backlog?: number;
}

/** Whether the running Node.js can set `SO_REUSEPORT` on a listening TCP socket. */
export function supportsReusePort(version: string = process.versions.node): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return major > 23 || (major === 23 && minor >= 1) || (major === 22 && minor >= 12);
}

function checkBacklog(backlog: number | undefined): number {
  if (backlog === undefined) return DEFAULT_BACKLOG;
  // Node's listen() silently ignores a backlog it cannot use: say so instead.
  if (!Number.isInteger(backlog) || backlog < 0) {
    throw new RangeError(`backlog must be a non-negative integer, got ${String(backlog)}`);
  }
  return backlog;
}

/** A fresh server that does not read from accepted sockets before a handler owns them. */
function newServer(): Server {
  const server = createServer({ pauseOnConnect: true });
  manageServer(server, true);
  return server;
}

/**
 * `server.listen(...args)` as a promise that settles on `'listening'` or `'error'`.
 * @internal
 */
export function listenAsync(server: Server, ...args: unknown[]): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => {
      server.off('listening', onListening);
      reject(err);
    };
    const onListening = (): void => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    (server.listen as (...a: unknown[]) => Server)(...args);
  });
}

function hasIPv6(): boolean {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv6') return true;
  }
  return false;
}

interface Target {
  host: string;
  family: 4 | 6;
}

async function resolveTargets(address: string | undefined, family: 0 | 4 | 6): Promise<Target[]> {
  if (address === undefined || address === '') {
    const out: Target[] = [];
    if (family !== 6) out.push({ host: '0.0.0.0', family: 4 });
    if (family !== 4 && hasIPv6()) out.push({ host: '::', family: 6 });
    return out;
  }
  const literal = isIP(address);
  if (literal !== 0) {
    if (family !== 0 && family !== literal) {
      throw new RangeError(`${address} is not an IPv${family} address`);
    }
    return [{ host: address, family: literal as 4 | 6 }];
  }
  const results = await lookup(address, { all: true, family });
  const seen = new Set<string>();
  const out: Target[] = [];
  for (const r of results) {
    if (seen.has(r.address)) continue;
    seen.add(r.address);
    out.push({ host: r.address, family: r.family as 4 | 6 });
  }
  // IPv4 first, as Tornado sorts getaddrinfo's answer by family.
  return out.sort((a, b) => a.family - b.family);
}

class RetryablePortError extends Error {}

async function bindOnce(
  targets: Target[],
  port: number,
  backlog: number,
  reusePort: boolean,
  wildcard: boolean,
): Promise<Server[]> {
  const servers: Server[] = [];
  let boundPort = port;
  try {
    for (const { host, family } of targets) {
      const server = newServer();
      const options: ListenOptions = {
        host,
        port: boundPort,
        backlog,
        ipv6Only: family === 6,
        exclusive: true,
      };
      if (reusePort) (options as ListenOptions & { reusePort?: boolean }).reusePort = true;
      try {
        await listenAsync(server, options);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        // Like Tornado: a host whose IPv6 loopback is disabled still binds its IPv4 address,
        // and the wildcard address skips IPv6 where the kernel has none.
        if (
          family === 6 &&
          (code === 'EADDRNOTAVAIL' || code === 'EAFNOSUPPORT') &&
          (wildcard || host === '::1')
        ) {
          continue;
        }
        if (port === 0 && servers.length > 0 && code === 'EADDRINUSE') throw new RetryablePortError();
        throw err;
      }
      if (port === 0 && servers.length === 0) boundPort = (server.address() as AddressInfo).port;
      servers.push(server);
    }
  } catch (err) {
    for (const s of servers) s.close();
    throw err;
  }
  return servers;
}

/**
 * Creates listening TCP sockets on `port` for every address `address` resolves to, like Tornado's
 * `bind_sockets`: an empty or omitted address binds all interfaces (IPv4 `0.0.0.0` and, where the
 * host has IPv6, `::`), a host name binds each of its addresses. IPv6 sockets are v6-only, so
 * IPv4 and IPv6 never fight over the port. Port `0` picks a free port for the first socket and
 * reuses it for the others, so all of them share one number.
 *
 * Address reuse (`SO_REUSEADDR`) and close-on-exec are always on (libuv sets both).
 * Connections that arrive before an accept handler is attached wait, unread, and are handed to
 * the first handler ({@link addAcceptHandler}, {@link TCPServer.addSockets}).
 *
 * Inside a worker started by {@link forkProcesses}, a call that the primary made before forking
 * returns the primary's sockets (all workers accept on them) instead of binding again.
 *
 * @example
 * ```ts
 * const sockets = await bindSockets(8888);            // 0.0.0.0:8888 and [::]:8888
 * const [local] = await bindSockets(0, '127.0.0.1');  // a free port on the loopback
 * ```
 */
export async function bindSockets(
  port: number,
  address?: string,
  opts: BindSocketsOptions = {},
): Promise<Server[]> {
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`port must be an integer from 0 to 65535, got ${String(port)}`);
  }
  const family = opts.family ?? 0;
  if (family !== 0 && family !== 4 && family !== 6)
    throw new RangeError(`family must be 0, 4 or 6, got ${family}`);
  const backlog = checkBacklog(opts.backlog);
  const reusePort = opts.reusePort === true;
  if (reusePort && !supportsReusePort()) throw new ReusePortUnsupportedError();
  const key = `tcp|${port}|${address ?? ''}|${family}|${reusePort}`;
  const inherited = await inheritedServers(key);
  if (inherited !== null) return inherited;

  const targets = await resolveTargets(address, family);
  const wildcard = address === undefined || address === '';
  for (let attempt = 1; ; attempt++) {
    try {
      const servers = await bindOnce(targets, port, backlog, reusePort, wildcard);
      registerBound(key, 'tcp', backlog, servers);
      return servers;
    } catch (err) {
      // Port 0: the number the first family got was taken on another one; pick another.
      if (err instanceof RetryablePortError && attempt < 10) continue;
      if (err instanceof RetryablePortError) {
        throw Object.assign(new Error(`could not find a free port shared by every address of ${address}`), {
          code: 'EADDRINUSE',
        });
      }
      throw err;
    }
  }
}

/**
 * Creates a listening unix socket at `path`, like Tornado's `bind_unix_socket`. A stale socket
 * file at `path` is replaced; any other kind of file is left alone and
 * {@link NotASocketError} is thrown. The socket file gets permission bits `mode` (default `0o600`).
 *
 * @example
 * ```ts
 * const server = await bindUnixSocket('/tmp/app.sock', { mode: 0o660 });
 * ```
 */
export async function bindUnixSocket(path: string, opts: BindUnixSocketOptions = {}): Promise<Server> {
  if (typeof path !== 'string' || path === '') {
    throw new TypeError(`path must be a non-empty string, got ${String(path)}`);
  }
  const mode = opts.mode ?? 0o600;
  if (!Number.isInteger(mode) || mode < 0 || mode > 0o7777) {
    throw new RangeError(`mode must be permission bits from 0 to 0o7777, got ${String(mode)}`);
  }
  const backlog = checkBacklog(opts.backlog);
  const absolute = resolvePath(path);
  const key = `unix|${absolute}`;
  const inherited = await inheritedServers(key);
  if (inherited?.[0] !== undefined) return inherited[0];

  let stat: Awaited<ReturnType<typeof lstat>> | undefined;
  try {
    stat = await lstat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (stat !== undefined) {
    if (!stat.isSocket()) throw new NotASocketError(path);
    try {
      await unlink(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  const server = newServer();
  await listenAsync(server, { path, backlog, exclusive: true });
  try {
    await chmod(path, mode);
  } catch (err) {
    server.close();
    throw err;
  }
  registerBound(key, 'unix', backlog, [server], absolute);
  return server;
}
