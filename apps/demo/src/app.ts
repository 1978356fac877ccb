import { fileURLToPath } from 'node:url';
import { accessLog, appLog, IOLoop, type Timeout } from '@tornado-ts/ioloop';
import {
  Application,
  type ApplicationSettings,
  authenticated,
  HTTPError,
  RequestHandler,
  streamRequestBody,
} from '@tornado-ts/web';
import type { Counters } from './stats';
import {
  cleanName,
  IMAGE_ID_PATTERN,
  InvalidMessageError,
  MAX_BODY_LENGTH,
  MAX_NAME_LENGTH,
  type MessageStore,
  type ProcessStats,
} from './store';

/** The package root (`src/` and `dist/` both sit one level below it). */
const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Where the templates and static files live. */
export const TEMPLATE_PATH = `${ROOT}templates`;
export const STATIC_PATH = `${ROOT}static`;

/** The signed cookie holding the user's name. */
export const USER_COOKIE = 'chatdemo_user';

/** Image types accepted for upload, with the bytes their files start with. */
const IMAGE_SIGNATURES: Record<string, (b: Buffer) => boolean> = {
  'image/png': (b) => b.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])),
  'image/jpeg': (b) => b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff,
  'image/gif': (b) => /^GIF8[79]a/.test(b.subarray(0, 6).toString('latin1')),
  'image/webp': (b) =>
    b.subarray(0, 4).toString('latin1') === 'RIFF' && b.subarray(8, 12).toString('latin1') === 'WEBP',
};

/** Options of {@link makeApp}. */
export interface ChatAppOptions {
  store: MessageStore;
  counters: Counters;
  cookieSecret: string;
  debug?: boolean;
  /** Largest image upload, bytes (default 2 MiB). */
  maxUpload?: number;
  /** Seconds a long poll waits for a message (default 25). */
  pollTimeout?: number;
}

/** One parked long poll: resolves `true` when woken by a message, `false` on timeout or cancel. */
export interface PendingWait {
  readonly promise: Promise<boolean>;
  /** Drops the wait at once (its timer too): used when the client goes away. */
  cancel(): void;
}

/**
 * The long polls parked in this process. Every new message (from any process, through the
 * store's subscription) wakes them all; a wait can be cancelled, which removes it and its timer
 * at once — nothing is left behind by clients that went away.
 */
export class Waiters {
  readonly #pending = new Set<(woken: boolean) => void>();
  readonly #off: () => void;
  /** Set by the SIGTERM drain: waiting long polls are answered now, new ones do not wait. */
  draining = false;

  constructor(store: MessageStore) {
    this.#off = store.subscribe(() => this.wakeAll());
  }

  /** How many long polls are parked now. */
  get count(): number {
    return this.#pending.size;
  }

  /** Parks until the next message or `timeout` seconds. */
  wait(timeout: number): PendingWait {
    const loop = IOLoop.current();
    let settle!: (woken: boolean) => void;
    const promise = new Promise<boolean>((resolve) => {
      let timer: Timeout | null = null;
      settle = (woken) => {
        if (!this.#pending.delete(settle)) return;
        if (timer !== null) loop.removeTimeout(timer);
        resolve(woken);
      };
      this.#pending.add(settle);
      timer = loop.callLater(timeout, () => {
        timer = null;
        settle(false);
      });
    });
    return { promise, cancel: () => settle(false) };
  }

  /** Wakes every parked long poll (on a message, and when draining). */
  wakeAll(): void {
    for (const settle of [...this.#pending]) settle(true);
  }

  /** Stops listening to the store. */
  close(): void {
    this.#off();
  }
}

/** What every handler of the app receives through its rule's init args. */
export interface ChatContext {
  store: MessageStore;
  counters: Counters;
  waiters: Waiters;
  maxUpload: number;
  pollTimeout: number;
}

function formatBytes(n: number): string {
  if (n >= 1024 * 1024) return `${+(n / 1024 / 1024).toFixed(1)} MiB`;
  if (n >= 1024) return `${+(n / 1024).toFixed(1)} KiB`;
  return `${n} bytes`;
}

function two(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** Shared by every page and API handler: the user cookie, the context, JSON errors for the API. */
class BaseHandler extends RequestHandler {
  declare ctx: ChatContext;

  #inFlight = false;

  override initialize(args: { ctx: ChatContext }): void {
    this.ctx = args.ctx;
    this.ctx.counters.inFlight++;
    this.#inFlight = true;
    this.setDefaultHeaders();
  }

  override setDefaultHeaders(): void {
    // Called on construction (before initialize) and again when an error page resets the response.
    if (this.ctx) this.setHeader('X-Served-By', this.ctx.counters.key);
  }

  /** Stops counting this request as in flight (the SIGTERM drain waits for the count to reach 0). */
  #release(): void {
    if (!this.#inFlight) return;
    this.#inFlight = false;
    this.ctx.counters.inFlight--;
  }

  override onFinish(): void {
    this.#release();
  }

  override onConnectionClose(): void {
    this.#release();
  }

  override getCurrentUser(): string | null {
    return this.getSignedCookie(USER_COOKIE);
  }

  get user(): string | null {
    return this.currentUser as string | null;
  }

  /** Renders a page of the layout with what every page shows. */
  page(name: string, vars: Record<string, unknown> = {}): Promise<void> {
    this.setHeader('Cache-Control', 'no-store');
    return this.render(name, {
      user: this.user,
      servedBy: this.ctx.counters.key,
      storeKind: this.ctx.store.kind,
      ...vars,
    });
  }

  /**
   * Awaits a store operation, turning a refused message into 400 and a store that does not
   * answer (Redis down) into 503, so clients get a clear answer instead of a 500.
   */
  async room<T>(op: Promise<T>): Promise<T> {
    try {
      return await op;
    } catch (err) {
      if (err instanceof InvalidMessageError) throw new HTTPError(400, err.message);
      appLog.warn('store: %s', (err as Error).message);
      throw new HTTPError(503, 'the room is unavailable right now');
    }
  }

  /** API clients get JSON errors; browsers get the HTML page. */
  override writeError(status: number, info: { error?: unknown; reason?: string } = {}): void | Promise<void> {
    if (!this.request.path.startsWith('/api/') && !this.#wantsJson()) return super.writeError(status, info);
    const error = info.error;
    const message =
      error instanceof HTTPError && error.logMessage
        ? String(error.logMessage)
        : error instanceof Error && this.settings.serveTraceback
          ? error.message
          : (info.reason ?? `HTTP ${status}`);
    this.setHeader('Content-Type', 'application/json; charset=UTF-8');
    this.finish(JSON.stringify({ error: message, status }));
  }

  #wantsJson(): boolean {
    return (this.request.headers.get('Accept') ?? '').includes('application/json');
  }
}

/** `GET /`: the room (last 200 messages, the forms); anonymous users go to the sign-in page. */
class MainHandler extends BaseHandler {
  override get(): void | Promise<void> {
    const messages = this.ctx.store.since();
    return this.page('index.html', {
      messages,
      cursor: this.ctx.store.lastId(),
      maxBodyLength: MAX_BODY_LENGTH,
      maxUploadText: formatBytes(this.ctx.maxUpload),
      clock: (ms: number) => {
        const d = new Date(ms);
        return `${two(d.getHours())}:${two(d.getMinutes())}`;
      },
      isoTime: (ms: number) => new Date(ms).toISOString(),
    });
  }
  static {
    MainHandler.prototype.get = authenticated(MainHandler.prototype.get);
  }
}

/** Where `next` may point: a local path only (no open redirect). */
function safeNext(next: string): string {
  return next.startsWith('/') && !next.startsWith('//') && !next.startsWith('/\\') ? next : '/';
}

/** `/auth/login`: pick a name; it is kept in a signed cookie. */
class LoginHandler extends BaseHandler {
  override get(): Promise<void> {
    return this.page('login.html', {
      next: safeNext(this.getArgument('next', '/')),
      name: '',
      error: null,
      maxNameLength: MAX_NAME_LENGTH,
    });
  }

  override post(): Promise<void> | undefined {
    const raw = this.getArgument('name', '');
    const next = safeNext(this.getArgument('next', '/'));
    let name: string;
    try {
      name = cleanName(raw);
    } catch (err) {
      if (!(err instanceof InvalidMessageError)) throw err;
      this.setStatus(400);
      return this.page('login.html', { next, name: raw, error: err.message, maxNameLength: MAX_NAME_LENGTH });
    }
    this.setSignedCookie(USER_COOKIE, name, {
      httpOnly: true,
      sameSite: 'lax',
      secure: this.request.protocol === 'https',
      expiresDays: 30,
    });
    this.redirect(next);
  }
}

/** `POST /auth/logout`. */
class LogoutHandler extends BaseHandler {
  override post(): void {
    this.clearCookie(USER_COOKIE);
    this.redirect('/auth/login');
  }
}

/** `POST /a/message/new`: the form fallback for browsers without JavaScript. */
class MessageFormHandler extends BaseHandler {
  override async post(): Promise<void> {
    await this.room(this.ctx.store.add({ from: this.user!, body: this.getArgument('body', '') }));
    this.redirect('/');
  }
  static {
    MessageFormHandler.prototype.post = authenticated(
      MessageFormHandler.prototype.post,
    ) as () => Promise<void>;
  }
}

/**
 * The JSON API.
 *
 * `GET /api/messages?cursor=N` answers the kept messages newer than N (all of them without a
 * cursor) to a signed-in user. With `wait=1` and nothing newer, it long-polls: the request waits until a message
 * arrives (from any process) or the poll timeout passes. A client that goes away is dropped at
 * once: `onConnectionClose` cancels its wait.
 *
 * `POST /api/messages` with `{"body": "..."}` (JSON) or `body=...` (form) posts as the signed-in
 * user; the xsrf token goes in the `X-XSRFToken` header or the `_xsrf` argument.
 */
class MessagesApiHandler extends BaseHandler {
  #wait: PendingWait | null = null;
  #gone = false;

  override async get(): Promise<void> {
    if (!this.user) throw new HTTPError(403, 'sign in to read the room');
    const raw = this.getArgument('cursor', '');
    if (raw !== '' && !/^\d+$/.test(raw)) throw new HTTPError(400, 'cursor must be a message id');
    const cursor = raw === '' ? undefined : Number(raw);
    const wait = this.getArgument('wait', '0') !== '0';
    const { store, waiters, counters } = this.ctx;
    let messages = store.since(cursor);
    if (messages.length === 0 && wait && !waiters.draining) {
      counters.longPolls++;
      try {
        const deadline = Date.now() + this.ctx.pollTimeout * 1000;
        while (messages.length === 0 && !waiters.draining && !this.#gone) {
          const left = (deadline - Date.now()) / 1000;
          if (left <= 0) break;
          this.#wait = waiters.wait(left);
          await this.#wait.promise;
          this.#wait = null;
          messages = store.since(cursor);
        }
      } finally {
        counters.longPolls--;
      }
    }
    if (this.#gone) return;
    this.setHeader('Cache-Control', 'no-store');
    this.write({ messages, cursor: messages.at(-1)?.id ?? cursor ?? store.lastId() });
  }

  override async post(): Promise<void> {
    let body: unknown;
    const type = this.request.headers.get('Content-Type') ?? '';
    if (type.startsWith('application/json')) {
      try {
        body = (JSON.parse(this.request.body.toString('utf8')) as { body?: unknown }).body;
      } catch {
        throw new HTTPError(400, 'the request body is not JSON');
      }
    } else {
      body = this.getArgument('body', undefined);
    }
    if (typeof body !== 'string') throw new HTTPError(400, 'a "body" string is required');
    const message = await this.room(this.ctx.store.add({ from: this.user!, body }));
    this.setStatus(201);
    this.write({ message });
  }

  override onConnectionClose(): void {
    super.onConnectionClose();
    this.#gone = true;
    this.#wait?.cancel();
  }

  static {
    MessagesApiHandler.prototype.post = authenticated(
      MessagesApiHandler.prototype.post,
    ) as () => Promise<void>;
  }
}

/**
 * `POST /upload`: an image as the raw request body (`Content-Type: image/png`...), streamed in
 * chunks through `dataReceived` and refused past the size limit (413) without being buffered;
 * the image is kept by the store and posted as a message.
 */
const UploadHandler = streamRequestBody(
  class UploadHandler extends BaseHandler {
    #chunks: Buffer[] = [];
    #size = 0;
    #type = '';

    override prepare(): void {
      if (!this.user) throw new HTTPError(403, 'sign in to upload');
      this.#type = (this.request.headers.get('Content-Type') ?? '').split(';')[0]!.trim().toLowerCase();
      if (!Object.hasOwn(IMAGE_SIGNATURES, this.#type)) {
        throw new HTTPError(415, `only ${Object.keys(IMAGE_SIGNATURES).join(', ')} images are accepted`);
      }
      const length = Number(this.request.headers.get('Content-Length') ?? 0);
      if (length > this.ctx.maxUpload) {
        throw new HTTPError(413, `an image is at most ${formatBytes(this.ctx.maxUpload)}`);
      }
      // Bodies without a Content-Length (chunked) are cut off by the HTTP layer at the same size.
      (this.request.connection as { setMaxBodySize?: (n: number) => void }).setMaxBodySize?.(
        this.ctx.maxUpload,
      );
    }

    override dataReceived(chunk: Buffer): void {
      this.#size += chunk.length;
      if (this.#size > this.ctx.maxUpload) {
        throw new HTTPError(413, `an image is at most ${formatBytes(this.ctx.maxUpload)}`);
      }
      this.#chunks.push(chunk);
    }

    override async post(): Promise<void> {
      const data = Buffer.concat(this.#chunks, this.#size);
      this.#chunks = [];
      if (data.length === 0) throw new HTTPError(400, 'the image is empty');
      if (!IMAGE_SIGNATURES[this.#type]!(data))
        throw new HTTPError(400, `that does not look like a ${this.#type} file`);
      const id = await this.room(this.ctx.store.saveImage({ data, contentType: this.#type }));
      const message = await this.room(
        this.ctx.store.add({ from: this.user!, body: '', image: `/images/${id}` }),
      );
      this.setStatus(201);
      this.write({ message });
    }
  },
);

/** `GET /images/<id>`: an uploaded image, served with its own type and never sniffed. */
class ImageHandler extends BaseHandler {
  override async get(id: string): Promise<void> {
    if (!IMAGE_ID_PATTERN.test(id)) throw new HTTPError(404);
    const image = await this.room(this.ctx.store.loadImage(id));
    if (!image) throw new HTTPError(404);
    this.setHeader('Content-Type', image.contentType);
    this.setHeader('X-Content-Type-Options', 'nosniff');
    this.setHeader('Content-Security-Policy', "default-src 'none'");
    this.setHeader('Cache-Control', 'public, max-age=86400, immutable');
    this.write(image.data);
  }
}

/** `GET /healthz`: 200 while serving and the store answers, 503 otherwise (and while draining). */
class HealthHandler extends BaseHandler {
  override async get(): Promise<void> {
    const { store, counters, waiters } = this.ctx;
    let storeOk = true;
    try {
      await store.ping();
    } catch {
      storeOk = false;
    }
    const ok = storeOk && !waiters.draining;
    this.setStatus(ok ? 200 : 503);
    this.setHeader('Cache-Control', 'no-store');
    this.write({
      status: ok ? 'ok' : waiters.draining ? 'draining' : 'store unavailable',
      store: store.kind,
      pid: counters.pid,
      taskId: counters.taskId,
      uptime: (Date.now() - counters.startedAt) / 1000,
    });
  }
}

/** `GET /stats` (HTML) and `GET /stats.json`: every process's counters, through the store. */
class StatsHandler extends BaseHandler {
  override async get(format?: string): Promise<void> {
    const { store, counters } = this.ctx;
    await this.room(store.reportStats(counters.snapshot()));
    const processes = (await this.room(store.allStats())).map((p: ProcessStats) => ({
      ...p,
      task: p.taskId === null ? '–' : String(p.taskId),
    }));
    const totals = { requests: 0, openConnections: 0, longPolls: 0, lineClients: 0 };
    for (const p of processes) {
      totals.requests += p.requests;
      totals.openConnections += p.openConnections;
      totals.longPolls += p.longPolls;
      totals.lineClients += p.lineClients;
    }
    const self = counters.key;
    if (format === '.json') {
      this.setHeader('Cache-Control', 'no-store');
      this.write({ self, store: store.kind, totals, processes, byStatus: counters.byStatus });
      return;
    }
    await this.page('stats.html', {
      self,
      processes,
      totals,
      messageCount: store.since().length,
      lastId: store.lastId(),
    });
  }
}

/**
 * Builds the chat's {@link Application}: routes, templates with a layout, static files with
 * versioned URLs, signed cookies, xsrf on every form and API post.
 */
export function makeApp(opts: ChatAppOptions): { app: Application; ctx: ChatContext } {
  const ctx: ChatContext = {
    store: opts.store,
    counters: opts.counters,
    waiters: new Waiters(opts.store),
    maxUpload: opts.maxUpload ?? 2 * 1024 * 1024,
    pollTimeout: opts.pollTimeout ?? 25,
  };
  const init = { ctx };
  const settings: ApplicationSettings = {
    debug: opts.debug ?? false,
    cookieSecret: opts.cookieSecret,
    xsrfCookies: true,
    loginUrl: '/auth/login',
    templatePath: TEMPLATE_PATH,
    staticPath: STATIC_PATH,
    logFunction: (handler: RequestHandler) => {
      const status = handler.getStatus();
      opts.counters.countRequest(status);
      const log = status < 400 ? accessLog.info : status < 500 ? accessLog.warn : accessLog.error;
      log(
        '%d %s %s (%s) %sms',
        status,
        handler.request.method,
        handler.request.uri,
        handler.request.remoteIp,
        (handler.request.requestTime() * 1000).toFixed(2),
      );
    },
  };
  const app = new Application(
    [
      ['/', MainHandler, init],
      ['/auth/login', LoginHandler, init],
      ['/auth/logout', LogoutHandler, init],
      ['/a/message/new', MessageFormHandler, init],
      ['/api/messages', MessagesApiHandler, init],
      ['/upload', UploadHandler, init],
      ['/images/([^/]+)', ImageHandler, init],
      ['/healthz', HealthHandler, init],
      ['/stats(\\.json)?', StatsHandler, init],
    ],
    settings,
  );
  return { app, ctx };
}
