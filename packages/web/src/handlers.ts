import type { HTTPServerRequest } from '@tornado-ts/httpserver';
import { HTTPError } from './errors';
import { RequestHandler } from './request-handler';
import type { InitArgs } from './routing';

/**
 * Answers every request with an error status: `[pattern, ErrorHandler, { statusCode: 410 }]`.
 * It is also the default 404 handler.
 */
export class ErrorHandler extends RequestHandler {
  #status = 404;

  override initialize(args: InitArgs): void {
    this.#status = Number(args.statusCode ?? 404);
  }

  override prepare(): void {
    throw new HTTPError(this.#status);
  }

  /** Skips the xsrf check: the request is refused anyway with the configured status. */
  override checkXsrfCookie(): void {}
}

/**
 * Redirects to a URL: `[ '/old/(.*)', RedirectHandler, { url: '/new/{0}' } ]`. `{0}`, `{1}`... are
 * replaced by the pattern's groups (`{name}` by named groups); `permanent` (default true) chooses
 * 301 or 302, `status` any 3xx. The request's query string is kept.
 */
export class RedirectHandler extends RequestHandler {
  #url = '/';
  #permanent = true;
  #status: number | undefined;

  override initialize(args: InitArgs): void {
    if (typeof args.url !== 'string') throw new TypeError('RedirectHandler needs a url');
    this.#url = args.url;
    this.#permanent = args.permanent !== false;
    this.#status = typeof args.status === 'number' ? args.status : undefined;
  }

  override get(...args: string[]): void {
    const kw = this.pathKwargs;
    let to = this.#url.replace(/\{(\w+)\}/g, (m, key: string) => {
      if (/^\d+$/.test(key)) return args[Number(key)] ?? m;
      return kw[key] ?? m;
    });
    if (this.request.query) to += `${to.includes('?') ? '&' : '?'}${this.request.query}`;
    this.redirect(to, this.#permanent, this.#status);
  }
}

/** A plain HTTP request callback, as `HTTPServer` takes one. */
export type RequestCallback = (request: HTTPServerRequest) => void | Promise<void>;

/**
 * Hands requests to a plain HTTPServer-style callback (`fallback`), which answers through
 * `request.connection` itself — to mount another framework's handler under a path.
 */
export class FallbackHandler extends RequestHandler {
  #fallback: RequestCallback | null = null;

  override initialize(args: InitArgs): void {
    if (typeof args.fallback !== 'function') throw new TypeError('FallbackHandler needs a fallback function');
    this.#fallback = args.fallback as RequestCallback;
  }

  override prepare(): void | Promise<void> {
    const r = this.#fallback!(this.request);
    this._markFinishedExternally();
    if (r && typeof (r as Promise<void>).then === 'function') return r;
  }
}
