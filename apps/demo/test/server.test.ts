import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configureLogging } from '@tornado-ts/ioloop';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { resolveCookieSecret, runDemo, SECRET_ENV } from '../src/server';
import { startDemo, testOptions } from './helpers/demo';
import { LineClient } from './helpers/lines';
import { type RedisServer, startOnce, startRedis } from './helpers/redis';
import { Session, TINY_PNG } from './helpers/session';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

describe('the cookie secret', () => {
  it('comes from the flag, else from the primary, else is made once and handed down', () => {
    const env: NodeJS.ProcessEnv = {};
    expect(resolveCookieSecret('from-the-flag-123', env)).toBe('from-the-flag-123');
    expect(env[SECRET_ENV]).toBeUndefined();
    const made = resolveCookieSecret(null, env);
    expect(made).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(env[SECRET_ENV]).toBe(made); // what forked workers inherit
    expect(resolveCookieSecret(null, env)).toBe(made);
  });
});

describe('serving', () => {
  let redis: RedisServer;
  let certDir: string;
  beforeAll(async () => {
    redis = await startRedis();
    certDir = await mkdtemp(join(tmpdir(), 'demo-tls-'));
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-keyout',
        join(certDir, 'key.pem'),
        '-out',
        join(certDir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
  });
  afterAll(async () => {
    await redis?.stop();
    await rm(certDir, { recursive: true, force: true });
  });

  it('runs the whole program in one process: HTTP and the TCP chat on one room', async () => {
    const lines: string[] = [];
    const push = (msg: string, ...args: unknown[]) => lines.push([msg, ...args].join(' '));
    const restore = configureLogging({
      level: 'info',
      sink: { debug: push, info: push, warn: push, error: push },
    });
    cleanups.push(async () => restore());
    const demo = await runDemo(testOptions({ port: 0, chatPort: 0 }));
    cleanups.push(() => demo.shutdown());
    expect(lines.some((l) => l.includes('tornado-ts chat') && l.includes(`${demo.httpPort}`))).toBe(true);
    const s = new Session(`http://127.0.0.1:${demo.httpPort}`);
    cleanups.push(() => s.close());
    await s.signIn('web-ann');
    const tcp = await LineClient.connect(demo.chatPort!);
    cleanups.push(() => tcp.destroy());
    await tcp.waitFor('* welcome');
    await s.postJson('/api/messages', { body: 'web to tcp' });
    await tcp.waitFor('web-ann: web to tcp');
    tcp.send('tcp to web');
    await vi.waitFor(() => expect(demo.store.since().at(-1)?.body).toBe('tcp to web'));
    const stats = (await s.get('/stats.json')).json<{ totals: { lineClients: number } }>();
    expect(stats.totals.lineClients).toBe(1);
    await demo.shutdown();
    await tcp.waitFor('* server shutting down');
  });

  it('serves HTTPS with --tls-cert/--tls-key and keeps the room in Redis with --redis', async () => {
    const demo = await startDemo({
      tlsCert: join(certDir, 'cert.pem'),
      tlsKey: join(certDir, 'key.pem'),
      redis: redis.url,
    });
    cleanups.push(() => demo.shutdown());
    expect(demo.base).toMatch(/^https:/);
    const s = new Session(demo.base);
    cleanups.push(() => s.close());
    const health = await s.get('/healthz');
    expect(health.json()).toMatchObject({ status: 'ok', store: 'redis' });
    await s.get('/auth/login');
    const login = await s.postForm('/auth/login', { name: 'tls-ann' });
    const setCookie = ([] as string[]).concat(login.headers['set-cookie'] ?? []);
    expect(setCookie.find((c) => c.startsWith('chatdemo_user='))).toMatch(/; Secure/i);
    expect((await s.postJson('/api/messages', { body: 'over tls' })).status).toBe(201);
    expect(demo.store.kind).toBe('redis');
    expect(demo.store.since().at(-1)?.body).toBe('over tls');
    // Every process publishes its counters on its own every 2 s (no /stats request needed).
    await vi.waitFor(
      async () => {
        const [mine] = await demo.store.allStats();
        expect(mine?.requests).toBeGreaterThanOrEqual(4);
      },
      { timeout: 6000, interval: 200 },
    );
  });

  it('answers 503 while Redis is down and carries on when it is back', async () => {
    const own = await startRedis();
    cleanups.push(() => own.stop());
    const demo = await startDemo({ redis: own.url });
    cleanups.push(() => demo.shutdown());
    const s = new Session(demo.base);
    cleanups.push(() => s.close());
    await s.signIn('ann');
    expect((await s.postJson('/api/messages', { body: 'before' })).status).toBe(201);
    const dir = await mkdtemp(join(tmpdir(), 'demo-redis-again-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    await own.stop();
    expect((await s.get('/healthz')).json()).toMatchObject({ status: 'store unavailable' });
    const down = await s.postJson('/api/messages', { body: 'while down' });
    expect(down.status).toBe(503);
    expect(down.json()).toEqual({ error: 'the room is unavailable right now', status: 503 });
    expect((await s.get('/stats.json')).status).toBe(503);
    // The same port again (empty: no persistence); the store reconnects by itself.
    const again = await startOnce(own.port, dir);
    cleanups.push(() => again.stop());
    await vi.waitFor(async () => expect((await s.get('/healthz')).status).toBe(200), { timeout: 10_000 });
    const after = await s.postJson('/api/messages', { body: 'after' });
    expect(after.status).toBe(201);
    // A fresh Redis restarts the ids: the process notices and starts its copy over.
    expect(demo.store.since().map((m) => m.body)).toEqual(['after']);
  });

  it('cuts requests still running when the drain timeout passes', async () => {
    const lines: string[] = [];
    const push = (msg: string, ...args: unknown[]) => lines.push([msg, ...args].join(' '));
    const restore = configureLogging({
      level: 'warn',
      sink: { debug: push, info: push, warn: push, error: push },
    });
    cleanups.push(async () => restore());
    const demo = await startDemo({ drainTimeout: 0.2 });
    const s = new Session(demo.base);
    cleanups.push(() => s.close());
    await s.signIn('slow');
    let release!: () => void;
    const never = new Promise<void>((r) => (release = r));
    cleanups.push(async () => release());
    async function* stuck() {
      yield TINY_PNG.subarray(0, 10);
      await never;
    }
    const upload = s
      .fetch('POST', '/upload', {
        body: stuck(),
        headers: { 'content-type': 'image/png', 'x-xsrftoken': s.xsrf },
      })
      .catch((e: Error) => e);
    await vi.waitFor(() => expect(demo.counters.inFlight).toBe(1));
    await demo.shutdown();
    expect(await upload).toBeInstanceOf(Error);
    expect(lines.some((l) => l.includes('drain timeout'))).toBe(true);
  });
});
