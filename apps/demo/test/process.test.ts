import { Agent } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ChatMessage } from '../src/store';
import { type DemoProcess, spawnDemo } from './helpers/child';
import { LineClient } from './helpers/lines';
import { type RedisServer, startRedis } from './helpers/redis';
import { Session } from './helpers/session';

const procs: DemoProcess[] = [];
const sessions: Session[] = [];

afterEach(async () => {
  await Promise.all(sessions.splice(0).map((s) => s.close()));
  await Promise.all(procs.splice(0).map((p) => p.kill()));
});

function demo(args: string[]): DemoProcess {
  const p = spawnDemo(['--address', '127.0.0.1', '--port', '0', '--chat-port=-1', ...args]);
  procs.push(p);
  return p;
}

/** A session on one single keep-alive connection, so all its requests reach one worker. */
function pinnedSession(base: string): Session {
  const s = new Session(base, { dispatcher: new Agent({ connections: 1 }) });
  sessions.push(s);
  return s;
}

describe('the demo as a program', () => {
  it('refuses --processes 2 without --redis, with a message that says what to do', async () => {
    const p = demo(['--processes', '2']);
    expect(await p.exited).toEqual({ code: 2, signal: null });
    expect(p.output()).toMatch(/error: --processes 2 starts 2 processes, but without --redis/);
    expect(p.output()).toContain('Usage: npm start');
  });

  it('prints its usage', async () => {
    const p = demo(['--help']);
    expect(await p.exited).toEqual({ code: 0, signal: null });
    expect(p.output()).toContain('--cookie-secret S');
  });

  it('drains on SIGTERM: the waiting long poll is answered, then it exits 0', async () => {
    const p = demo(['--poll-timeout', '60']);
    const [, port] = (await p.waitFor(/http:\/\/127\.0\.0\.1:(\d+)\//)) as RegExpMatchArray;
    const s = pinnedSession(`http://127.0.0.1:${port}`);
    expect((await s.signIn('ann')).status).toBe(302);
    const poll = s.get('/api/messages?cursor=0&wait=1');
    // Wait until the poll is parked on the server: /stats.json on a second connection says so.
    const probe = pinnedSession(`http://127.0.0.1:${port}`);
    for (let i = 0; i < 200; i++) {
      const stats = (await probe.get('/stats.json')).json<{ totals: { longPolls: number } }>();
      if (stats.totals.longPolls === 1) break;
    }
    await probe.close();
    p.child.kill('SIGTERM');
    const res = await poll;
    expect(res.status).toBe(200);
    expect(res.json()).toEqual({ messages: [], cursor: 0 });
    expect(await p.exited).toEqual({ code: 0, signal: null });
    expect(p.output()).toContain('drained');
  });
});

describe('several processes and Redis', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it('is one room across workers, sharing the generated cookie secret, and exits 0 on SIGTERM', async () => {
    const p = demo(['--processes', '2', '--redis', redis.url, '--poll-timeout', '20', '--chat-port', '0']);
    await p.waitFor(/worker 0 \(pid \d+\)[^\n]*http:\/\/127\.0\.0\.1:\d+/);
    const [, port, chatPort] = (await p.waitFor(
      /worker 1 \(pid \d+\)[^\n]*http:\/\/127\.0\.0\.1:(\d+)\/[^\n]*nc 127\.0\.0\.1 (\d+)/,
    )) as RegExpMatchArray;
    const base = `http://127.0.0.1:${port}`;
    // Open connections until two of them are served by different workers.
    const byWorker = new Map<string, Session>();
    for (let i = 0; i < 60 && byWorker.size < 2; i++) {
      const s = pinnedSession(base);
      const res = await s.get('/auth/login');
      const worker = String(res.headers['x-served-by']);
      if (!byWorker.has(worker)) byWorker.set(worker, s);
    }
    expect(byWorker.size).toBe(2);
    const [[workerA, ann], [workerB, bob]] = [...byWorker] as [[string, Session], [string, Session]];
    expect((await ann.signIn('ann')).status).toBe(302);
    expect((await bob.signIn('bob')).status).toBe(302);
    // A cookie signed by one worker is valid on the other: the primary's secret is shared.
    let crossChecked = false;
    for (let i = 0; i < 60 && !crossChecked; i++) {
      const res = await pinnedSession(base).fetch('GET', '/', {
        headers: { cookie: `chatdemo_user=${ann.cookies.get('chatdemo_user')}` },
      });
      if (res.headers['x-served-by'] === workerB) {
        expect(res.status).toBe(200);
        expect(res.text).toContain('<b id="me">ann</b>');
        crossChecked = true;
      }
    }
    expect(crossChecked).toBe(true);
    // bob waits on worker B; ann posts on worker A; bob's long poll gets it.
    const cursor = (await bob.get('/api/messages')).json<{ cursor: number }>().cursor;
    const poll = bob.get(`/api/messages?cursor=${cursor}&wait=1`);
    const posted = await ann.postJson('/api/messages', { body: 'across workers' });
    expect(posted.status).toBe(201);
    expect(posted.headers['x-served-by']).toBe(workerA);
    const got = await poll;
    expect(got.headers['x-served-by']).toBe(workerB);
    expect(got.json<{ messages: ChatMessage[] }>().messages.map((m) => [m.from, m.body])).toEqual([
      ['ann', 'across workers'],
    ]);
    // The TCP chat, on whichever worker accepts it, is the same room too.
    const tcp = await LineClient.connect(Number(chatPort));
    try {
      await tcp.waitFor('ann: across workers'); // replayed history
      const fromTcp = bob.get(`/api/messages?cursor=${cursor + 1}&wait=1`);
      tcp.send('hello from nc');
      const seen = (await fromTcp).json<{ messages: ChatMessage[] }>().messages;
      expect(seen.map((m) => m.body)).toEqual(['hello from nc']);
      await ann.postJson('/api/messages', { body: 'back to nc' });
      await tcp.waitFor('ann: back to nc');
    } finally {
      await tcp.destroy();
    }
    // /stats lists both workers.
    const stats = (await bob.get('/stats.json')).json<{ processes: { key: string; taskId: number }[] }>();
    expect(stats.processes.map((s) => s.taskId).sort()).toEqual([0, 1]);
    for (const s of byWorker.values()) await s.close();
    p.child.kill('SIGTERM');
    expect(await p.exited).toEqual({ code: 0, signal: null });
    expect(p.output()).toMatch(/child 0 \(pid \d+\) exited with status 0/);
    expect(p.output()).toMatch(/child 1 \(pid \d+\) exited with status 0/);
  });
});
