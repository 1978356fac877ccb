import { randomBytes } from 'node:crypto';
import { appLog } from '@tornado-ts/ioloop';
import { Redis, type RedisOptions } from 'ioredis';
import {
  type ChatMessage,
  cleanMessage,
  HISTORY_SIZE,
  type MessageStore,
  type NewMessage,
  type ProcessStats,
  type StoredImage,
} from './store';

/** Raised at once for a store operation while the Redis connection is down (no queueing). */
export class StoreUnavailableError extends Error {
  override readonly name = 'StoreUnavailableError';
  readonly code = 'ERR_DEMO_STORE_UNAVAILABLE';
}

/** Options of {@link RedisStore.connect}. */
export interface RedisStoreOptions {
  /** Prefix of every key and channel, so several rooms can share one Redis (default `chat:`). */
  prefix?: string;
  /** Messages kept in the history list (default {@link HISTORY_SIZE}). */
  historySize?: number;
  /** Seconds an uploaded image lives (default one day). */
  imageTtl?: number;
  /** Seconds after which a process that stopped reporting drops off `/stats` (default 30). */
  statsTtl?: number;
  /** Extra ioredis options (tests use them to shorten retries). */
  redis?: RedisOptions;
}

/**
 * Appends a message atomically: the id comes from INCR, the JSON (sent without the id) gets it
 * spliced in, the list is pushed and trimmed, and the message is published — all in one script,
 * so list order, id order and publish order are the same in every process.
 * KEYS: seq, history. ARGV: json-without-id, history size, channel.
 */
const ADD_SCRIPT = `
local id = redis.call('INCR', KEYS[1])
local json = '{"id":' .. id .. ',' .. string.sub(ARGV[1], 2)
redis.call('RPUSH', KEYS[2], json)
redis.call('LTRIM', KEYS[2], -tonumber(ARGV[2]), -1)
redis.call('PUBLISH', ARGV[3], json)
return json
`;

type WithAdd = Redis & {
  chatAdd(seq: string, history: string, json: string, size: number, channel: string): Promise<string>;
};

function parseMessage(json: string): ChatMessage | null {
  try {
    const value = JSON.parse(json) as ChatMessage;
    if (typeof value.id !== 'number' || typeof value.from !== 'string') return null;
    return value;
  } catch {
    return null;
  }
}

/**
 * The room in Redis, shared by every process and machine that points at it: the history is a
 * list capped at the last {@link HISTORY_SIZE} messages, new messages arrive by pub/sub. Each
 * process keeps a local copy of the history fed by its subscription, so `since()` never waits on
 * the network; a gap in the ids or a reconnect makes it re-read the list, so nothing is missed.
 *
 * Two connections are kept (commands, and the subscriber Redis requires to be separate), both
 * reconnecting with a capped backoff; errors are logged, never thrown at the process.
 */
export class RedisStore implements MessageStore {
  readonly kind = 'redis' as const;
  readonly #cmd: WithAdd;
  readonly #sub: Redis;
  readonly #keys: { seq: string; history: string; channel: string; stats: string; image: string };
  readonly #historySize: number;
  readonly #imageTtl: number;
  readonly #statsTtl: number;
  #messages: ChatMessage[] = [];
  #listeners = new Set<(message: ChatMessage) => void>();
  #syncing: Promise<void> = Promise.resolve();
  #closed = false;

  private constructor(cmd: Redis, sub: Redis, opts: RedisStoreOptions) {
    const prefix = opts.prefix ?? 'chat:';
    this.#keys = {
      seq: `${prefix}seq`,
      history: `${prefix}history`,
      channel: `${prefix}messages`,
      stats: `${prefix}stats`,
      image: `${prefix}image:`,
    };
    this.#historySize = opts.historySize ?? HISTORY_SIZE;
    this.#imageTtl = opts.imageTtl ?? 86_400;
    this.#statsTtl = opts.statsTtl ?? 30;
    cmd.defineCommand('chatAdd', { numberOfKeys: 2, lua: ADD_SCRIPT });
    this.#cmd = cmd as WithAdd;
    this.#sub = sub;
  }

  /**
   * Connects to `url` (`redis://[:password@]host:port[/db]`), subscribes, and loads the history.
   * Rejects when Redis cannot be reached at start, so a misconfigured server fails fast.
   */
  static async connect(url: string, opts: RedisStoreOptions = {}): Promise<RedisStore> {
    const options: RedisOptions = {
      lazyConnect: true,
      connectionName: `tornado-ts-demo:${process.pid}`,
      maxRetriesPerRequest: 2,
      retryStrategy: (times) => Math.min(50 * 2 ** times, 1000),
      ...opts.redis,
    };
    const cmd = new Redis(url, options);
    const sub = new Redis(url, { ...options, connectionName: `${options.connectionName}:sub` });
    let reported = '';
    const onError = (which: string) => (err: Error) => {
      // ioredis retries by itself; log each distinct failure once instead of once per retry.
      if (err.message !== reported) appLog.warn('redis %s connection: %s', which, err.message);
      reported = err.message;
    };
    cmd.on('error', onError('command'));
    sub.on('error', onError('subscriber'));
    cmd.on('ready', () => (reported = ''));
    const store = new RedisStore(cmd, sub, opts);
    try {
      await cmd.connect();
      await sub.connect();
      await store.#start();
    } catch (err) {
      cmd.disconnect();
      sub.disconnect();
      throw err;
    }
    return store;
  }

  async #start(): Promise<void> {
    this.#sub.on('message', (channel: string, json: string) => {
      if (channel !== this.#keys.channel) return;
      const message = parseMessage(json);
      if (!message) {
        appLog.warn('redis: ignoring a malformed message on %s', channel);
        return;
      }
      const last = this.lastId();
      if (message.id === last + 1) this.#accept([message]);
      else if (message.id > last)
        void this.#resync(); // a gap: published while we were not listening
      else if (this.since(message.id - 1)[0]?.time !== message.time) void this.#resync(); // a reset room
    });
    await this.#sub.subscribe(this.#keys.channel);
    // Subscribed before reading the list, so a message published in between is in one or both.
    await this.#resync();
    // ioredis re-subscribes after a reconnect; read the list again for what was missed.
    this.#sub.on('ready', () => void this.#resync());
  }

  /** Re-reads the history list and delivers whatever is newer than the local copy. */
  #resync(): Promise<void> {
    this.#syncing = this.#syncing.then(async () => {
      if (this.#closed) return;
      try {
        const raw = await this.#cmd.lrange(this.#keys.history, 0, -1);
        const listed = raw.map(parseMessage).filter((m): m is ChatMessage => m !== null);
        const newest = listed.at(-1);
        // Ids restarted if Redis lost the room (FLUSHDB, a restart without persistence): the list
        // ends below our copy, or holds a different message under an id we know.
        const differs = listed.some((m) => {
          const own = this.since(m.id - 1)[0];
          return own !== undefined && own.id === m.id && own.time !== m.time;
        });
        if ((newest && newest.id < this.lastId()) || differs) {
          // The room was reset (FLUSHDB): start over from what Redis holds now.
          appLog.warn('redis: history restarted at id %d, dropping the local copy', newest?.id ?? 0);
          this.#messages = [];
        }
        const last = this.lastId();
        this.#accept(listed.filter((m) => m.id > last));
      } catch (err) {
        appLog.warn('redis: could not read the history: %s', (err as Error).message);
      }
    });
    return this.#syncing;
  }

  #accept(messages: ChatMessage[]): void {
    for (const message of messages) {
      this.#messages.push(message);
      for (const listener of [...this.#listeners]) listener(message);
    }
    if (this.#messages.length > this.#historySize) {
      this.#messages.splice(0, this.#messages.length - this.#historySize);
    }
  }

  /**
   * The command connection, or {@link StoreUnavailableError} while it is down: a request fails
   * fast with 503 instead of waiting in ioredis's offline queue for the reconnect.
   */
  #ready(): WithAdd {
    if (this.#cmd.status !== 'ready') throw new StoreUnavailableError(`redis is ${this.#cmd.status}`);
    return this.#cmd;
  }

  async add(message: NewMessage): Promise<ChatMessage> {
    const clean = cleanMessage(message);
    const json = JSON.stringify({ ...clean, time: Date.now() });
    const stored = parseMessage(
      await this.#ready().chatAdd(
        this.#keys.seq,
        this.#keys.history,
        json,
        this.#historySize,
        this.#keys.channel,
      ),
    ) as ChatMessage;
    // Deliver it here now, so a client that posts and then polls sees its message: the published
    // copy may arrive later on the other connection and is then ignored as a duplicate.
    if (stored.id === this.lastId() + 1) this.#accept([stored]);
    else if (this.since(stored.id - 1)[0]?.time !== stored.time) await this.#resync(); // a gap, or a reset room
    return stored;
  }

  since(cursor?: number): ChatMessage[] {
    if (cursor === undefined) return this.#messages.slice();
    const first = this.#messages[0];
    if (!first) return [];
    return this.#messages.slice(Math.max(0, cursor - first.id + 1));
  }

  lastId(): number {
    return this.#messages.at(-1)?.id ?? 0;
  }

  subscribe(listener: (message: ChatMessage) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async saveImage(image: StoredImage): Promise<string> {
    const id = randomBytes(16).toString('hex');
    const key = this.#keys.image + id;
    await this.#ready()
      .multi()
      .hset(key, 'type', image.contentType, 'data', image.data)
      .expire(key, this.#imageTtl)
      .exec();
    return id;
  }

  async loadImage(id: string): Promise<StoredImage | null> {
    const [type, data] = await this.#ready().hmgetBuffer(this.#keys.image + id, 'type', 'data');
    if (!type || !data) return null;
    return { contentType: type.toString('latin1'), data };
  }

  async ping(): Promise<void> {
    await this.#ready().ping();
  }

  async reportStats(stats: ProcessStats): Promise<void> {
    await this.#ready().hset(this.#keys.stats, stats.key, JSON.stringify(stats));
  }

  async allStats(): Promise<ProcessStats[]> {
    const all = await this.#ready().hgetall(this.#keys.stats);
    const cutoff = Date.now() - this.#statsTtl * 1000;
    const live: ProcessStats[] = [];
    const stale: string[] = [];
    for (const [key, json] of Object.entries(all)) {
      const stats = JSON.parse(json) as ProcessStats;
      if (stats.updatedAt < cutoff) stale.push(key);
      else live.push(stats);
    }
    if (stale.length > 0) await this.#cmd.hdel(this.#keys.stats, ...stale);
    return live.sort((a, b) => a.key.localeCompare(b.key));
  }

  /** Removes this process's row from `/stats` (on a clean shutdown). */
  async forgetStats(key: string): Promise<void> {
    await this.#ready().hdel(this.#keys.stats, key);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#listeners.clear();
    await this.#syncing;
    // QUIT politely when connected; a connection that is down is just dropped (QUIT would wait
    // in the offline queue for a Redis that may never come back).
    const end = async (c: Redis) => {
      if (c.status !== 'ready') return c.disconnect();
      await c.quit().catch(() => c.disconnect());
    };
    await Promise.all([end(this.#sub), end(this.#cmd)]);
  }
}
