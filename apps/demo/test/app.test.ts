import { configureLogging } from '@tornado-ts/ioloop';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { MemoryStore } from '../src/memory-store';
import type { ChatMessage } from '../src/store';
import { startDemo } from './helpers/demo';
import { Session, TINY_PNG } from './helpers/session';

type Demo = Awaited<ReturnType<typeof startDemo>>;
const running: Demo[] = [];
const sessions: Session[] = [];

afterEach(async () => {
  await Promise.all(sessions.splice(0).map((s) => s.close()));
  await Promise.all(running.splice(0).map((d) => d.shutdown()));
});

async function demo(...args: Parameters<typeof startDemo>): Promise<Demo> {
  const d = await startDemo(...args);
  running.push(d);
  return d;
}

function session(d: Demo): Session {
  const s = new Session(d.base);
  sessions.push(s);
  return s;
}

async function signedIn(d: Demo, name: string): Promise<Session> {
  const s = session(d);
  const res = await s.signIn(name);
  expect(res.status).toBe(302);
  return s;
}

describe('signing in', () => {
  it('sends anonymous visitors to the sign-in page and back with a signed cookie', async () => {
    const d = await demo();
    const s = session(d);
    const home = await s.get('/');
    expect(home.status).toBe(302);
    expect(home.headers.location).toBe('/auth/login?next=%2F');
    const login = await s.get('/auth/login?next=%2F');
    expect(login.status).toBe(200);
    expect(login.text).toContain('name="_xsrf"');
    expect(login.text).toMatch(/<link rel="stylesheet" href="\/static\/chat\.css\?v=[0-9a-f]+"/);
    expect(s.xsrf).not.toBe('');
    const res = await s.postForm('/auth/login', { name: '  Ada  ', next: '/' });
    expect(res.status).toBe(302);
    expect(res.headers.location).toBe('/');
    expect(s.cookies.get('chatdemo_user')).toMatch(/\|/); // a signed value, not the bare name
    const page = await s.get('/');
    expect(page.status).toBe(200);
    expect(page.text).toContain('<b id="me">Ada</b>');
    expect(page.headers['x-served-by']).toBe(d.counters.key);
  });

  it('refuses a sign-in without the xsrf token, a bad name, a forged cookie and an open redirect', async () => {
    const d = await demo();
    const s = session(d);
    await s.get('/auth/login');
    expect((await s.postForm('/auth/login', { name: 'eve' }, { xsrf: false })).status).toBe(403);
    const bad = await s.postForm('/auth/login', { name: '   ' });
    expect(bad.status).toBe(400);
    expect(bad.text).toContain('a name is required');
    const redirect = await s.postForm('/auth/login', { name: 'eve', next: '//evil.example/' });
    expect(redirect.headers.location).toBe('/');
    s.cookies.set('chatdemo_user', 'mallory');
    expect((await s.get('/')).status).toBe(302);
  });

  it('signs out', async () => {
    const d = await demo();
    const s = await signedIn(d, 'ann');
    const res = await s.postForm('/auth/logout', {});
    expect(res.status).toBe(302);
    expect(s.cookies.has('chatdemo_user')).toBe(false);
    expect((await s.get('/')).status).toBe(302);
  });
});

describe('messages', () => {
  it('posts through the JSON API and the form, and lists them with a cursor', async () => {
    const d = await demo();
    const s = await signedIn(d, 'ann');
    const first = await s.postJson('/api/messages', { body: 'hello <b>world</b>' });
    expect(first.status).toBe(201);
    const message = first.json<{ message: ChatMessage }>().message;
    expect(message).toMatchObject({ from: 'ann', body: 'hello <b>world</b>' });
    const form = await s.postForm('/a/message/new', { body: 'from the form' });
    expect(form.status).toBe(302);
    const all = await s.get('/api/messages');
    expect(all.json<{ messages: ChatMessage[] }>().messages.map((m) => m.body)).toEqual([
      'hello <b>world</b>',
      'from the form',
    ]);
    const after = await s.get(`/api/messages?cursor=${message.id}`);
    expect(after.json()).toMatchObject({ messages: [{ body: 'from the form' }], cursor: message.id + 1 });
    const none = await s.get(`/api/messages?cursor=${message.id + 1}`);
    expect(none.json()).toEqual({ messages: [], cursor: message.id + 1 });
    // The page renders the history escaped.
    const page = await s.get('/');
    expect(page.text).toContain('hello &lt;b&gt;world&lt;/b&gt;');
    expect(page.text).toContain(`data-cursor="${message.id + 1}"`);
  });

  it('refuses posts without xsrf, without a user, and bad bodies', async () => {
    const d = await demo();
    const s = await signedIn(d, 'ann');
    const noXsrf = await s.postJson('/api/messages', { body: 'x' }, { xsrf: false });
    expect(noXsrf.status).toBe(403);
    expect(noXsrf.json()).toMatchObject({ status: 403 });
    expect((await s.postForm('/a/message/new', { body: 'x' }, { xsrf: false })).status).toBe(403);
    const anon = session(d);
    await anon.get('/auth/login');
    expect((await anon.postJson('/api/messages', { body: 'x' })).status).toBe(403);
    const anonRead = await anon.get('/api/messages');
    expect(anonRead.status).toBe(403);
    expect(anonRead.json()).toEqual({ error: 'sign in to read the room', status: 403 });
    expect((await anon.postForm('/a/message/new', { body: 'x' })).status).toBe(403);
    const empty = await s.postJson('/api/messages', { body: '  ' });
    expect(empty.status).toBe(400);
    expect(empty.json()).toMatchObject({ error: 'a message is empty' });
    expect((await s.postForm('/a/message/new', { body: '' })).status).toBe(400);
    expect((await s.postJson('/api/messages', { text: 'x' })).json()).toMatchObject({
      error: 'a "body" string is required',
    });
    const notJson = await s.fetch('POST', '/api/messages', {
      body: '{oops',
      headers: { 'content-type': 'application/json', 'x-xsrftoken': s.xsrf },
    });
    expect(notJson.status).toBe(400);
    const formApi = await s.postForm('/api/messages', { body: 'form-encoded api' });
    expect(formApi.status).toBe(201);
    expect((await s.get('/api/messages?cursor=x')).status).toBe(400);
    expect(d.store.since().map((m) => m.body)).toEqual(['form-encoded api']);
  });

  it('long-polls: a waiting request is answered by the next message', async () => {
    const d = await demo();
    const ann = await signedIn(d, 'ann');
    const bob = await signedIn(d, 'bob');
    const poll = bob.get(`/api/messages?cursor=${d.store.lastId()}&wait=1`);
    await vi.waitFor(() => expect(d.counters.longPolls).toBe(1));
    await ann.postJson('/api/messages', { body: 'wake up' });
    const res = await poll;
    expect(res.status).toBe(200);
    expect(res.json<{ messages: ChatMessage[] }>().messages.map((m) => m.body)).toEqual(['wake up']);
    expect(d.counters.longPolls).toBe(0);
  });

  it('answers a long poll with nothing when the poll timeout passes', async () => {
    const d = await demo({ pollTimeout: 0.2 });
    const s = await signedIn(d, 'ann');
    const res = await s.get('/api/messages?cursor=0&wait=1');
    expect(res.json()).toEqual({ messages: [], cursor: 0 });
  });

  it('cancels the wait of a long poll whose client went away', async () => {
    const d = await demo({ pollTimeout: 30 });
    const s = await signedIn(d, 'ann');
    const abort = new AbortController();
    const poll = s.fetch('GET', '/api/messages?cursor=0&wait=1', { signal: abort.signal });
    await vi.waitFor(() => expect(d.counters.longPolls).toBe(1));
    expect(d.ctx.waiters.count).toBe(1);
    abort.abort();
    await expect(poll).rejects.toThrow();
    await vi.waitFor(() => expect(d.counters.longPolls).toBe(0));
    expect(d.ctx.waiters.count).toBe(0); // cancelled at once, not left to its 30 s timeout
    await vi.waitFor(() => expect(d.counters.inFlight).toBe(0));
    // A message afterwards is no trouble for the cancelled waiter.
    await d.store.add({ from: 'x', body: 'later' });
    expect((await s.get('/healthz')).status).toBe(200);
  });
});

describe('image upload', () => {
  it('stores an uploaded image, posts it, and serves it back', async () => {
    const d = await demo();
    const s = await signedIn(d, 'ann');
    const res = await s.fetch('POST', '/upload', {
      body: TINY_PNG,
      headers: { 'content-type': 'image/png', 'x-xsrftoken': s.xsrf },
    });
    expect(res.status).toBe(201);
    const message = res.json<{ message: ChatMessage }>().message;
    expect(message).toMatchObject({ from: 'ann', body: '' });
    expect(message.image).toMatch(/^\/images\/[0-9a-f]{32}$/);
    const img = await s.get(message.image!);
    expect(img.status).toBe(200);
    expect(img.headers['content-type']).toBe('image/png');
    expect(img.headers['x-content-type-options']).toBe('nosniff');
    expect(Buffer.from(img.text, 'latin1').length).toBeGreaterThan(0);
    expect((await s.get('/')).text).toContain(`<img class="image" src="${message.image}"`);
    expect((await s.get('/images/0123456789abcdef0123456789abcdef')).status).toBe(404);
    expect((await s.get('/images/nope')).status).toBe(404);
  });

  it('refuses uploads over the limit (declared or streamed), of other types, or forged', async () => {
    const d = await demo({ maxUpload: 1000 });
    const s = await signedIn(d, 'ann');
    const headers = { 'content-type': 'image/png', 'x-xsrftoken': s.xsrf };
    const big = Buffer.concat([TINY_PNG, Buffer.alloc(2000)]);
    const declared = await s.fetch('POST', '/upload', { body: big, headers });
    expect(declared.status).toBe(413);
    // Chunked: no Content-Length, the limit applies while the body streams in.
    async function* chunks() {
      yield TINY_PNG;
      yield Buffer.alloc(600);
      yield Buffer.alloc(600);
    }
    const streamed = await s.fetch('POST', '/upload', { body: chunks(), headers }).catch((e: Error) => e);
    if (!(streamed instanceof Error)) expect(streamed.status).toBe(413);
    const svg = await s.fetch('POST', '/upload', {
      body: '<svg/>',
      headers: { ...headers, 'content-type': 'image/svg+xml' },
    });
    expect(svg.status).toBe(415);
    const forged = await s.fetch('POST', '/upload', { body: Buffer.from('not a png at all'), headers });
    expect(forged.status).toBe(400);
    expect((await s.fetch('POST', '/upload', { body: '', headers })).status).toBe(400);
    const noXsrf = await s.fetch('POST', '/upload', {
      body: TINY_PNG,
      headers: { 'content-type': 'image/png' },
    });
    expect(noXsrf.status).toBe(403);
    const anon = session(d);
    await anon.get('/auth/login');
    const anonRes = await anon.fetch('POST', '/upload', {
      body: TINY_PNG,
      headers: { 'content-type': 'image/png', 'x-xsrftoken': anon.xsrf },
    });
    expect(anonRes.status).toBe(403);
    expect(d.store.since()).toEqual([]);
  });
});

describe('health, stats and static files', () => {
  it('reports health, and 503 when the store does not answer', async () => {
    const d = await demo();
    const s = session(d);
    const ok = await s.get('/healthz');
    expect(ok.status).toBe(200);
    expect(ok.json()).toMatchObject({ status: 'ok', store: 'memory', pid: process.pid, taskId: null });
    const broken = new MemoryStore();
    broken.ping = () => Promise.reject(new Error('down'));
    const d2 = await demo({}, { store: broken });
    const res = await session(d2).get('/healthz');
    expect(res.status).toBe(503);
    expect(res.json()).toMatchObject({ status: 'store unavailable' });
  });

  it('shows requests, open connections and processes on /stats', async () => {
    const d = await demo();
    const s = await signedIn(d, 'ann');
    const json = await s.get('/stats.json');
    const stats = json.json<{
      self: string;
      processes: { key: string; requests: number; openConnections: number }[];
      totals: { requests: number };
    }>();
    expect(stats.self).toBe(d.counters.key);
    expect(stats.processes).toHaveLength(1);
    expect(stats.processes[0]!.requests).toBeGreaterThanOrEqual(2);
    expect(stats.processes[0]!.openConnections).toBeGreaterThanOrEqual(1);
    const page = await s.get('/stats');
    expect(page.status).toBe(200);
    expect(page.text).toContain(d.counters.key);
    expect(page.text).toMatch(/1 serving process ·/);
    expect(d.counters.byStatus['2xx']).toBeGreaterThan(0);
  });

  it('serves the CSS and JS with versioned URLs and logs requests', async () => {
    const lines: string[] = [];
    const push = (msg: string, ...args: unknown[]) => lines.push([msg, ...args].join(' '));
    const restore = configureLogging({
      level: 'info',
      sink: { debug: push, info: push, warn: push, error: push },
    });
    try {
      const d = await demo();
      const s = await signedIn(d, 'ann');
      const page = await s.get('/');
      const js = page.text.match(/src="(\/static\/chat\.js\?v=[0-9a-f]+)"/)?.[1];
      expect(js).toBeDefined();
      const res = await s.get(js!);
      expect(res.status).toBe(200);
      expect(res.text).toContain('/api/messages?cursor=');
      expect((await s.get('/static/chat.css')).text).toContain('.message');
      expect((await s.get('/nowhere')).status).toBe(404);
      expect(lines.some((l) => l.includes('404') && l.includes('/nowhere'))).toBe(true);
    } finally {
      restore();
    }
  });
});

describe('graceful shutdown', () => {
  it('answers long polls, lets in-flight requests finish, then stops', async () => {
    const d = await demo();
    running.splice(running.indexOf(d), 1);
    const s = await signedIn(d, 'ann');
    const poller = await signedIn(d, 'bob');
    const poll = poller.get('/api/messages?cursor=0&wait=1');
    await vi.waitFor(() => expect(d.counters.longPolls).toBe(1));
    // An upload whose body is only half sent when SIGTERM arrives.
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    async function* slowBody() {
      yield TINY_PNG.subarray(0, 10);
      await gate;
      yield TINY_PNG.subarray(10);
    }
    const upload = s.fetch('POST', '/upload', {
      body: slowBody(),
      headers: { 'content-type': 'image/png', 'x-xsrftoken': s.xsrf },
    });
    await vi.waitFor(() => expect(d.counters.inFlight).toBe(2));
    let drained = false;
    const stopping = d.shutdown().then(() => (drained = true));
    const polled = await poll;
    expect(polled.status).toBe(200);
    expect(polled.json()).toEqual({ messages: [], cursor: 0 });
    expect(drained).toBe(false); // the upload is still in flight
    release();
    const uploaded = await upload;
    expect(uploaded.status).toBe(201);
    await stopping;
    expect(drained).toBe(true);
    // No longer accepting.
    const fresh = new Session(d.base);
    await expect(fresh.get('/healthz')).rejects.toThrow();
    await fresh.close();
  });
});
