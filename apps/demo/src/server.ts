import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Server } from 'node:net';
import { HTTPServer } from '@tornado-ts/httpserver';
import { appLog, genLog, PeriodicCallback } from '@tornado-ts/ioloop';
import { bindSockets, cpuCount, forkProcesses } from '@tornado-ts/tcpserver';
import { type ChatContext, makeApp } from './app';
import { LineChatServer } from './line-chat';
import { MemoryStore } from './memory-store';
import type { DemoOptions } from './options';
import { RedisStore } from './redis-store';
import { Counters } from './stats';
import type { MessageStore } from './store';

/** The environment variable through which the primary hands its generated secret to workers. */
export const SECRET_ENV = 'TORNADO_TS_DEMO_COOKIE_SECRET';

/**
 * The cookie secret: the flag, else one inherited from the primary, else a new random one — put
 * in the environment so workers forked afterwards share it (a cookie signed by one worker must
 * verify on every other).
 */
export function resolveCookieSecret(flag: string | null, env: NodeJS.ProcessEnv = process.env): string {
  if (flag) return flag;
  const inherited = env[SECRET_ENV];
  if (inherited) return inherited;
  const secret = randomBytes(32).toString('base64url');
  env[SECRET_ENV] = secret;
  return secret;
}

/** A running demo in this process. */
export interface RunningDemo {
  http: HTTPServer;
  lineChat: LineChatServer | null;
  store: MessageStore;
  ctx: ChatContext;
  counters: Counters;
  /** Where HTTP(S) listens (port 0 resolved). */
  httpPort: number;
  /** Where the TCP chat listens, or `null` when off. */
  chatPort: number | null;
  /**
   * The graceful stop: stop accepting, answer every long poll, wait (up to the drain timeout)
   * for in-flight requests to finish, say goodbye to TCP chat clients, close idle connections
   * and the store. Idempotent.
   */
  shutdown(): Promise<void>;
}

/** Sockets bound before forking, so every worker accepts on the same ones. */
export interface BoundSockets {
  http: Server[];
  chat: Server[];
}

/** Binds the HTTP and TCP chat ports (in the primary, before forking). */
export async function bindDemoSockets(opts: DemoOptions): Promise<BoundSockets> {
  const http = await bindSockets(opts.port, opts.address || undefined);
  const chat = opts.chatPort >= 0 ? await bindSockets(opts.chatPort, opts.address || undefined) : [];
  return { http, chat };
}

/** Connects the store the flags ask for. */
export async function openStore(opts: DemoOptions): Promise<MessageStore> {
  return opts.redis ? RedisStore.connect(opts.redis) : new MemoryStore();
}

/**
 * Serves the demo in this process on `sockets`: the web app over HTTP(S), the line chat over TCP,
 * both on one store.
 */
export async function serveDemo(
  opts: DemoOptions,
  sockets: BoundSockets,
  extra: { taskId?: number | null; store?: MessageStore } = {},
): Promise<RunningDemo> {
  const store = extra.store ?? (await openStore(opts));
  const counters = new Counters(extra.taskId ?? null);
  const { app, ctx } = makeApp({
    store,
    counters,
    cookieSecret: resolveCookieSecret(opts.cookieSecret),
    debug: opts.debug,
    maxUpload: opts.maxUpload,
    pollTimeout: opts.pollTimeout,
  });
  const sslOptions =
    opts.tlsCert && opts.tlsKey
      ? { cert: readFileSync(opts.tlsCert), key: readFileSync(opts.tlsKey) }
      : undefined;
  const http = new HTTPServer(app, {
    xheaders: true,
    ...(sslOptions ? { sslOptions } : {}),
    idleConnectionTimeout: 60,
    maxBodySize: 1024 * 1024,
  });
  http.addSockets(sockets.http);
  counters.openConnections = () => http.connectionCount;
  let lineChat: LineChatServer | null = null;
  if (sockets.chat.length > 0) {
    lineChat = new LineChatServer(store);
    lineChat.addSockets(sockets.chat);
    const chat = lineChat;
    counters.lineClients = () => chat.clientCount;
  }
  // Every process reports its counters, so /stats on any of them lists all of them.
  const report = () => void store.reportStats(counters.snapshot()).catch(() => {});
  report();
  const reporter = new PeriodicCallback(report, 2); // seconds
  reporter.start();

  let stopping: Promise<void> | null = null;
  const shutdown = (): Promise<void> => {
    stopping ??= (async () => {
      genLog.info(
        'draining: %d request(s) in flight, %d long poll(s)',
        counters.inFlight,
        counters.longPolls,
      );
      ctx.waiters.draining = true;
      reporter.stop();
      // HTTPServer.stop is itself graceful: it stops accepting, closes idle keep-alive
      // connections and resolves once the requests in flight have finished.
      const stopped = http.stop();
      ctx.waiters.wakeAll(); // long polls answer now (and new ones do not wait)
      await lineChat?.stop();
      let timer: NodeJS.Timeout | undefined;
      const inTime = await Promise.race([
        stopped.then(() => true),
        new Promise<false>((resolve) => (timer = setTimeout(resolve, opts.drainTimeout * 1000, false))),
      ]);
      clearTimeout(timer);
      if (!inTime) {
        appLog.warn(
          'drain timeout: closing %d connection(s) with requests still in flight',
          http.connectionCount,
        );
        await http.closeAllConnections();
      }
      await lineChat?.closeAllClients();
      ctx.waiters.close();
      await store.forgetStats(counters.key).catch(() => {});
      await store.close();
      genLog.info('drained');
    })();
    return stopping;
  };

  const httpPort = sockets.http[0] ? (sockets.http[0].address() as { port: number }).port : 0;
  const chatPort = sockets.chat[0] ? (sockets.chat[0].address() as { port: number }).port : null;
  return { http, lineChat, store, ctx, counters, httpPort, chatPort, shutdown };
}

/**
 * The whole program behind `npm start`: binds, pre-forks `--processes` workers when asked
 * (the primary then only supervises), serves, and drains on SIGTERM/SIGINT before exiting 0.
 */
export async function runDemo(opts: DemoOptions): Promise<RunningDemo> {
  // Generated before forking so that every worker inherits the same secret.
  resolveCookieSecret(opts.cookieSecret);
  const sockets = await bindDemoSockets(opts);
  let taskId: number | null = null;
  if (opts.processes !== 1) {
    // Resolves in each worker only; the primary supervises (and logs "Starting N processes").
    taskId = await forkProcesses(opts.processes === 0 ? cpuCount() : opts.processes);
  }
  const demo = await serveDemo(opts, sockets, { taskId });
  const scheme = opts.tlsCert ? 'https' : 'http';
  const host = opts.address || 'localhost';
  genLog.info(
    'tornado-ts chat%s: %s://%s:%d/ (store: %s)%s',
    taskId === null ? '' : ` worker ${taskId} (pid ${process.pid})`,
    scheme,
    host.includes(':') ? `[${host}]` : host,
    demo.httpPort,
    demo.store.kind,
    demo.chatPort === null ? '' : `, line chat: nc ${host} ${demo.chatPort}`,
  );
  return demo;
}
