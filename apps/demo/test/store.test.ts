import { configureLogging } from '@tornado-ts/ioloop';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { MemoryStore } from '../src/memory-store';
import { RedisStore, StoreUnavailableError } from '../src/redis-store';
import {
  type ChatMessage,
  cleanMessage,
  cleanName,
  HISTORY_SIZE,
  InvalidMessageError,
  MAX_BODY_LENGTH,
  type MessageStore,
  type ProcessStats,
} from '../src/store';
import { type RedisServer, startRedis } from './helpers/redis';

let redis: RedisServer;
let prefixCounter = 0;
const open: MessageStore[] = [];

beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
});

/** A fresh room per test: a new key prefix on the shared redis-server. */
async function redisStore(prefix = `t${++prefixCounter}:`, opts = {}): Promise<RedisStore> {
  const store = await RedisStore.connect(redis.url, { prefix, ...opts });
  open.push(store);
  return store;
}

function nextMessage(store: MessageStore, predicate: (m: ChatMessage) => boolean = () => true) {
  return new Promise<ChatMessage>((resolve) => {
    const off = store.subscribe((m) => {
      if (predicate(m)) {
        off();
        resolve(m);
      }
    });
  });
}

function stats(key: string, updatedAt = Date.now()): ProcessStats {
  return {
    key,
    pid: 1,
    hostname: 'h',
    taskId: null,
    startedAt: updatedAt,
    updatedAt,
    requests: 3,
    openConnections: 1,
    longPolls: 0,
    lineClients: 0,
    rssBytes: 1,
  };
}

describe('message validation', () => {
  it('cleans names and refuses empty or long ones', () => {
    expect(cleanName('  ada \t lovelace\u0007 ')).toBe('ada lovelace');
    expect(() => cleanName(' \u0001 ')).toThrow(InvalidMessageError);
    expect(() => cleanName('x'.repeat(33))).toThrow(/at most 32/);
  });

  it('keeps newlines, drops other control characters, refuses empty and oversized bodies', () => {
    expect(cleanMessage({ from: 'a', body: ' hi\nthere\u0000 ' })).toEqual({ from: 'a', body: 'hi\nthere' });
    expect(cleanMessage({ from: 'a', body: '', image: '/images/x' })).toEqual({
      from: 'a',
      body: '',
      image: '/images/x',
    });
    const err = (() => {
      try {
        cleanMessage({ from: 'a', body: '   ' });
      } catch (e) {
        return e as InvalidMessageError;
      }
    })();
    expect(err?.code).toBe('ERR_DEMO_INVALID_MESSAGE');
    expect(err?.name).toBe('InvalidMessageError');
    expect(() => cleanMessage({ from: 'a', body: 'x'.repeat(MAX_BODY_LENGTH + 1) })).toThrow(/at most/);
  });
});

describe.each([
  ['memory', async () => new MemoryStore() as MessageStore],
  ['redis', async () => (await redisStore()) as MessageStore],
])('%s store', (_kind, make) => {
  it('assigns increasing ids, keeps order, and answers since(cursor)', async () => {
    const store = await make();
    expect(store.lastId()).toBe(0);
    expect(store.since()).toEqual([]);
    expect(store.since(5)).toEqual([]);
    const a = await store.add({ from: 'ann', body: 'one' });
    const b = await store.add({ from: 'bob', body: 'two' });
    expect(b.id).toBe(a.id + 1);
    expect(store.lastId()).toBe(b.id);
    expect(store.since().map((m) => m.body)).toEqual(['one', 'two']);
    expect(store.since(a.id)).toEqual([b]);
    expect(store.since(b.id)).toEqual([]);
    expect(store.since(0).length).toBe(2);
    expect(typeof a.time).toBe('number');
  });

  it('tells subscribers about each new message once, until they unsubscribe', async () => {
    const store = await make();
    const seen: string[] = [];
    const off = store.subscribe((m) => seen.push(m.body));
    const next = nextMessage(store);
    await store.add({ from: 'ann', body: 'hello' });
    expect((await next).body).toBe('hello');
    off();
    await store.add({ from: 'ann', body: 'unheard' });
    expect(seen).toEqual(['hello']);
  });

  it(`keeps only the last ${HISTORY_SIZE} messages`, async () => {
    const store = await make();
    for (let i = 1; i <= HISTORY_SIZE + 5; i++) await store.add({ from: 'ann', body: `m${i}` });
    const kept = store.since();
    expect(kept.length).toBe(HISTORY_SIZE);
    expect(kept[0]?.body).toBe('m6');
    expect(kept.at(-1)?.body).toBe(`m${HISTORY_SIZE + 5}`);
    expect(store.since(1)[0]?.body).toBe('m6'); // a cursor older than the history gets all of it
  });

  it('refuses invalid messages without storing them', async () => {
    const store = await make();
    await expect(store.add({ from: '', body: 'x' })).rejects.toThrow(InvalidMessageError);
    expect(store.lastId()).toBe(0);
  });

  it('keeps images and stats', async () => {
    const store = await make();
    const data = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 255]);
    const id = await store.saveImage({ data, contentType: 'image/png' });
    expect(id).toMatch(/^[0-9a-f]{32}$/);
    const loaded = await store.loadImage(id);
    expect(loaded?.contentType).toBe('image/png');
    expect(Buffer.compare(loaded!.data, data)).toBe(0);
    expect(await store.loadImage('0'.repeat(32))).toBeNull();
    await store.ping();
    await store.reportStats(stats('h:1'));
    expect((await store.allStats()).map((s) => s.key)).toEqual(['h:1']);
    await store.forgetStats('h:1');
    expect(await store.allStats()).toEqual([]);
  });
});

describe('memory store', () => {
  it('drops the oldest images past its byte budget', async () => {
    const store = new MemoryStore({ maxImageBytes: 10 });
    const first = await store.saveImage({ data: Buffer.alloc(6), contentType: 'image/png' });
    const second = await store.saveImage({ data: Buffer.alloc(6), contentType: 'image/png' });
    expect(await store.loadImage(first)).toBeNull();
    expect(await store.loadImage(second)).not.toBeNull();
    // A single image larger than the budget is still kept until the next one arrives.
    const big = await store.saveImage({ data: Buffer.alloc(20), contentType: 'image/png' });
    expect(await store.loadImage(big)).not.toBeNull();
    await store.close();
    expect(await store.loadImage(big)).toBeNull();
  });
});

describe('redis store', () => {
  it('is one room for several processes: each sees the others’ messages in id order', async () => {
    const a = await redisStore('shared1:');
    const b = await redisStore('shared1:');
    const seenByB = nextMessage(b, (m) => m.body === 'from a');
    const sent = await a.add({ from: 'ann', body: 'from a' });
    expect(await seenByB).toEqual(sent);
    const seenByA = nextMessage(a, (m) => m.body === 'from b');
    await b.add({ from: 'bob', body: 'from b' });
    await seenByA;
    expect(a.since().map((m) => m.body)).toEqual(['from a', 'from b']);
    expect(b.since().map((m) => m.body)).toEqual(['from a', 'from b']);
    // A late joiner loads the history from the list.
    const c = await redisStore('shared1:');
    expect(c.since()).toEqual(a.since());
  });

  it('keeps the history as a capped list in Redis', async () => {
    const store = await redisStore('capped:', { historySize: 3 });
    for (let i = 0; i < 5; i++) await store.add({ from: 'ann', body: `m${i}` });
    const raw = new Redis(redis.url);
    try {
      const list = await raw.lrange('capped:history', 0, -1);
      expect(list.map((j) => JSON.parse(j).body)).toEqual(['m2', 'm3', 'm4']);
      expect(await raw.get('capped:seq')).toBe('5');
    } finally {
      raw.disconnect();
    }
    expect(store.since().map((m) => m.body)).toEqual(['m2', 'm3', 'm4']);
  });

  it('catches up after its subscription was cut, and ignores malformed publications', async () => {
    const lines: string[] = [];
    const push = (msg: string, ...args: unknown[]) => lines.push(`${msg} ${args.join(' ')}`);
    const restore = configureLogging({ sink: { debug: push, info: push, warn: push, error: push } });
    const raw = new Redis(redis.url);
    try {
      const a = await redisStore('cut:');
      const b = await redisStore('cut:');
      await raw.publish('cut:messages', 'not json');
      await raw.publish('cut:messages', '{"nope":1}');
      // Cut a's subscriber connection; b posts while a is reconnecting.
      const caught = nextMessage(a, (m) => m.body === 'while away');
      const killed = await raw.client('KILL', 'TYPE', 'pubsub');
      expect(Number(killed)).toBeGreaterThanOrEqual(2);
      await b.add({ from: 'bob', body: 'while away' });
      expect((await caught).from).toBe('bob');
      expect(lines.some((l) => l.includes('malformed'))).toBe(true);
    } finally {
      raw.disconnect();
      restore();
    }
  });

  it('fills a gap in the ids from the list', async () => {
    const a = await redisStore('gap:');
    const b = await redisStore('gap:');
    await a.add({ from: 'ann', body: 'first' });
    // Publish id 3 directly while id 2 only exists in the list: a must fetch id 2 too.
    const raw = new Redis(redis.url);
    try {
      const two = JSON.stringify({ id: 2, from: 'x', body: 'second', time: 1 });
      const three = JSON.stringify({ id: 3, from: 'x', body: 'third', time: 2 });
      await raw.rpush('gap:history', two, three);
      await raw.set('gap:seq', 3);
      const got = nextMessage(b, (m) => m.id === 3);
      await raw.publish('gap:messages', three);
      await got;
      expect(b.since().map((m) => m.body)).toEqual(['first', 'second', 'third']);
      // a posting after the gap also fetches what it missed before answering.
      const four = await a.add({ from: 'ann', body: 'fourth' });
      expect(four.id).toBe(4);
      expect(a.since().map((m) => m.id)).toEqual([1, 2, 3, 4]);
    } finally {
      raw.disconnect();
    }
  });

  it('starts over when the room was reset under it', async () => {
    const a = await redisStore('reset:');
    const b = await redisStore('reset:');
    await a.add({ from: 'ann', body: 'old 1' });
    await a.add({ from: 'ann', body: 'old 2' });
    const raw = new Redis(redis.url);
    try {
      await raw.del('reset:seq', 'reset:history');
    } finally {
      raw.disconnect();
    }
    const fresh = nextMessage(a, (m) => m.body === 'new 1');
    await b.add({ from: 'bob', body: 'new 1' });
    await fresh;
    expect(a.since().map((m) => m.body)).toEqual(['new 1']);
  });

  it('drops stale stats rows', async () => {
    const store = await redisStore('stats:', { statsTtl: 30 });
    await store.reportStats(stats('b:2'));
    await store.reportStats(stats('a:1'));
    await store.reportStats(stats('old:3', Date.now() - 60_000));
    expect((await store.allStats()).map((s) => s.key)).toEqual(['a:1', 'b:2']);
    const raw = new Redis(redis.url);
    try {
      expect(await raw.hkeys('stats:stats')).not.toContain('old:3');
    } finally {
      raw.disconnect();
    }
  });

  it('fails fast while Redis is down, and closes without waiting for it', async () => {
    const own = await startRedis();
    const store = await RedisStore.connect(own.url, { prefix: 'down:' });
    try {
      await store.add({ from: 'ann', body: 'up' });
      await own.stop();
      await vi.waitFor(() => expect(store.ping()).rejects.toThrow(StoreUnavailableError));
      const err = await store.add({ from: 'ann', body: 'down' }).catch((e: StoreUnavailableError) => e);
      expect(err).toBeInstanceOf(StoreUnavailableError);
      expect((err as StoreUnavailableError).code).toBe('ERR_DEMO_STORE_UNAVAILABLE');
      await expect(store.saveImage({ data: Buffer.from('x'), contentType: 'image/png' })).rejects.toThrow(
        StoreUnavailableError,
      );
      expect(store.since().map((m) => m.body)).toEqual(['up']); // the local copy still reads
    } finally {
      await store.close();
      await own.stop();
    }
  });

  it('fails fast when Redis is not there', async () => {
    await expect(
      RedisStore.connect('redis://127.0.0.1:1', { redis: { retryStrategy: () => null } }),
    ).rejects.toThrow();
  });
});
