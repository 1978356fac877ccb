import { Agent, type Dispatcher, request } from 'undici';

/** A response as the tests look at it. */
export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json<T = Record<string, unknown>>(): T;
}

/**
 * A small HTTP client with a cookie jar (one "browser" for the tests): keeps cookies, reads the
 * xsrf token from its cookie, never follows redirects.
 */
export class Session {
  readonly cookies = new Map<string, string>();
  readonly dispatcher: Dispatcher;

  constructor(
    readonly base: string,
    opts: { dispatcher?: Dispatcher } = {},
  ) {
    this.dispatcher = opts.dispatcher ?? new Agent({ connect: { rejectUnauthorized: false } });
  }

  get xsrf(): string {
    return this.cookies.get('_xsrf') ?? '';
  }

  async fetch(
    method: string,
    path: string,
    opts: {
      body?: string | Buffer | AsyncIterable<Buffer>;
      headers?: Record<string, string>;
      signal?: AbortSignal;
    } = {},
  ): Promise<Reply> {
    const cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    const res = await request(this.base + path, {
      method: method as Dispatcher.HttpMethod,
      dispatcher: this.dispatcher,
      headers: { ...(cookie ? { cookie } : {}), ...opts.headers },
      body: opts.body as string,
      signal: opts.signal,
    });
    const setCookie = res.headers['set-cookie'];
    for (const line of Array.isArray(setCookie) ? setCookie : setCookie ? [setCookie] : []) {
      const [pair] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      if (/expires=Thu, 01 Jan 1970/i.test(line) || /max-age=0/i.test(line)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    const text = await res.body.text();
    return {
      status: res.statusCode,
      headers: res.headers as Record<string, string | string[] | undefined>,
      text,
      json: <T>() => JSON.parse(text) as T,
    };
  }

  get(path: string, headers: Record<string, string> = {}): Promise<Reply> {
    return this.fetch('GET', path, { headers });
  }

  /** A form post, with this session's xsrf token unless `xsrf: false`. */
  postForm(path: string, fields: Record<string, string>, opts: { xsrf?: boolean } = {}): Promise<Reply> {
    const form = new URLSearchParams(fields);
    if (opts.xsrf !== false) form.set('_xsrf', this.xsrf);
    return this.fetch('POST', path, {
      body: form.toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
  }

  /** A JSON post with the xsrf token in the X-XSRFToken header unless `xsrf: false`. */
  postJson(path: string, value: unknown, opts: { xsrf?: boolean } = {}): Promise<Reply> {
    return this.fetch('POST', path, {
      body: JSON.stringify(value),
      headers: {
        'content-type': 'application/json',
        accept: 'application/json',
        ...(opts.xsrf === false ? {} : { 'x-xsrftoken': this.xsrf }),
      },
    });
  }

  /** Gets the login page (for the xsrf cookie) and signs in as `name`. */
  async signIn(name: string): Promise<Reply> {
    await this.get('/auth/login');
    return this.postForm('/auth/login', { name, next: '/' });
  }

  #closing: Promise<void> | null = null;

  /** Closes its connections (idempotent). */
  close(): Promise<void> {
    this.#closing ??= this.dispatcher.close();
    return this.#closing;
  }
}

/** A 1x1 PNG. */
export const TINY_PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==',
  'base64',
);
