import {
  type HTTPConnection,
  HTTPHeaders,
  type HTTPMessageDelegate,
  HTTPServer,
  type HTTPServerConnectionDelegate,
  HTTPServerRequest,
  type RequestStartLine,
  type ResponseStartLine,
} from '@tornado-ts/httpserver';
import { accessLog, appLog } from '@tornado-ts/ioloop';
import { HTTPError, RoutingError } from './errors';
import { ErrorHandler } from './handlers';
import { type CookieOptions, hasStreamRequestBody, RequestHandler } from './request-handler';
import {
  exactPaths,
  type HandlerClass,
  HostMatches,
  type HostRules,
  type InitArgs,
  type PathMatch,
  type RuleSpec,
  toURLSpec,
  type URLSpec,
} from './routing';
import type { CookieSecret } from './signed-value';
import { StaticFileHandler } from './static-file-handler';
import { TemplateLoader } from './template';

/** The settings of an {@link Application} (Tornado's keyword settings, camelCased). */
export interface ApplicationSettings {
  /** Development mode: tracebacks in error pages, no template or static-hash caching. */
  debug?: boolean;
  /** Secret for signed cookies; a `{ version: secret }` map with `keyVersion` for key rotation. */
  cookieSecret?: CookieSecret;
  /** The key version of `cookieSecret` used to sign new cookies. */
  keyVersion?: number;
  /** Require an xsrf token on every POST/PUT/PATCH/DELETE (and other non-safe methods). */
  xsrfCookies?: boolean;
  /** The xsrf cookie's name (`_xsrf`). */
  xsrfCookieName?: string;
  /** Options of the xsrf cookie (`httpOnly`, `secure`, `sameSite`...). */
  xsrfCookieOptions?: CookieOptions;
  /** Where {@link authenticated} redirects anonymous users. */
  loginUrl?: string;
  /** Directory of template files. */
  templatePath?: string;
  /** HTML-escape template output (true by default). */
  autoescape?: boolean;
  /** Cache compiled templates (true unless `debug`). */
  compiledTemplateCache?: boolean;
  /** Directory served under `staticUrlPrefix` by `staticHandlerClass`. */
  staticPath?: string;
  /** URL prefix of static files (`/static/`). */
  staticUrlPrefix?: string;
  /** The handler class for static files ({@link StaticFileHandler}). */
  staticHandlerClass?: typeof StaticFileHandler;
  /** Extra `initialize` arguments of the static handler (`defaultFilename`...). */
  staticHandlerArgs?: InitArgs;
  /** Cache static file content hashes (true unless `debug`). */
  staticHashCache?: boolean;
  /** Gzip compressible responses for clients that accept it. */
  compressResponse?: boolean;
  /** The handler for requests no rule matches (default: a 404 page). */
  defaultHandlerClass?: HandlerClass;
  /** `initialize` arguments of `defaultHandlerClass`. */
  defaultHandlerArgs?: InitArgs;
  /** Host whose rules also serve requests that no host pattern matched (unless proxied). */
  defaultHost?: string;
  /** Replaces the access log: called once per finished request. */
  logFunction?: (handler: RequestHandler) => void;
  /** Put the stack trace in error pages (true when `debug`). */
  serveTraceback?: boolean;
  /** The `Server` response header. */
  serverHeader?: string;
  /** Anything else handlers want to read from `this.settings`. */
  [key: string]: unknown;
}

/** Options of {@link Application.listen}: HTTPServer's options. */
export type ListenOptions = ConstructorParameters<typeof HTTPServer>[1];

interface Found {
  cls: HandlerClass;
  initArgs: InitArgs;
  match: PathMatch | null;
}

/**
 * A web application: a routing table of URL patterns to {@link RequestHandler} classes plus the
 * settings they share. It is an `HTTPServerConnectionDelegate`, so `new HTTPServer(app)` serves
 * it; `app.listen(port)` does that for you.
 *
 * @example
 * ```ts
 * import { Application, RequestHandler } from '@tornado-ts/web';
 *
 * class MainHandler extends RequestHandler {
 *   get() {
 *     this.write('Hello, world');
 *   }
 * }
 * const app = new Application([['/', MainHandler]]);
 * const server = await app.listen(8888);
 * ```
 */
export class Application implements HTTPServerConnectionDelegate {
  /** The settings handlers read as `this.settings`. */
  readonly settings: ApplicationSettings;
  /** Named rules, for {@link reverseUrl}. */
  readonly namedHandlers = new Map<string, URLSpec>();
  /** @internal — read per request by handlers. */
  readonly serverHeader: string;
  /** @internal — the headers every response starts with (`Server`, `Content-Type`), copied per handler. */
  readonly defaultHeaders: HTTPHeaders;
  /** @internal */
  readonly compressResponse: boolean;
  /** @internal */
  readonly xsrfCookies: boolean;
  readonly #hosts: HostRules[] = [];
  readonly #wildcard: HostRules;
  readonly #templateLoaders = new Map<string, TemplateLoader>();
  readonly #default: Found;
  readonly #logFunction: ((h: RequestHandler) => void) | null;

  constructor(handlers: RuleSpec[] = [], settings: ApplicationSettings = {}) {
    const s: ApplicationSettings = { ...settings };
    if (s.debug) {
      s.compiledTemplateCache ??= false;
      s.staticHashCache ??= false;
      s.serveTraceback ??= true;
    }
    this.settings = s;
    this.serverHeader = s.serverHeader ?? 'TornadoServer (tornado-ts)';
    this.defaultHeaders = new HTTPHeaders();
    this.defaultHeaders.set('Server', this.serverHeader);
    this.defaultHeaders.set('Content-Type', 'text/html; charset=UTF-8');
    this.compressResponse = s.compressResponse === true;
    this.xsrfCookies = s.xsrfCookies === true;
    this.#logFunction = s.logFunction ?? null;
    this.#default = {
      cls: s.defaultHandlerClass ?? ErrorHandler,
      initArgs: s.defaultHandlerClass ? (s.defaultHandlerArgs ?? {}) : { statusCode: 404 },
      match: null,
    };
    const rules = [...handlers];
    if (s.staticPath) {
      const prefix = s.staticUrlPrefix ?? '/static/';
      const cls = s.staticHandlerClass ?? StaticFileHandler;
      const args = { ...s.staticHandlerArgs, path: s.staticPath };
      rules.unshift(
        [`${escapeRegex(prefix)}(.*)`, cls, args],
        ['/(favicon\\.ico)', cls, args],
        ['/(robots\\.txt)', cls, args],
      );
    }
    this.#wildcard = { host: new HostMatches('.*'), rules: [] };
    this.#hosts.push(this.#wildcard);
    this.#addRules(this.#wildcard, rules);
  }

  #addRules(target: HostRules, rules: RuleSpec[]): void {
    target.exact = null;
    for (const r of rules) {
      const spec = toURLSpec(r);
      target.rules.push(spec);
      if (spec.name !== null) {
        if (this.namedHandlers.has(spec.name)) {
          appLog.warn('Multiple handlers named %s; replacing previous value', spec.name);
        }
        this.namedHandlers.set(spec.name, spec);
      }
    }
  }

  /**
   * Adds rules for requests whose host name matches `hostPattern` (anchored). Host rules are
   * tried in the order added, before the rules given to the constructor.
   */
  addHandlers(hostPattern: string | RegExp, handlers: RuleSpec[]): void {
    const entry: HostRules = { host: new HostMatches(hostPattern), rules: [] };
    this.#hosts.splice(this.#hosts.length - 1, 0, entry);
    this.#addRules(entry, handlers);
  }

  /** Adds rules to the wildcard host (what the constructor's `handlers` are). */
  addRules(handlers: RuleSpec[]): void {
    this.#addRules(this.#wildcard, handlers);
  }

  /**
   * The URL path of the rule named `name`, its groups filled with `args` (URL-escaped).
   * @throws {RoutingError} for an unknown name or a wrong number of arguments.
   */
  reverseUrl(name: string, ...args: unknown[]): string {
    const spec = this.namedHandlers.get(name);
    if (spec === undefined) throw new RoutingError(`${name} not found in named urls`);
    return spec.reverse(...args);
  }

  /** The handler class, `initialize` arguments and path match for a request. */
  findHandler(request: HTTPServerRequest): Found {
    const path = request.path;
    const hosts = this.#hosts;
    for (let i = 0; i < hosts.length; i++) {
      const h = hosts[i]!;
      if (h !== this.#wildcard && !this.#hostMatches(h, request)) continue;
      const rules = h.rules;
      const exact = h.exact ?? (h.exact = exactPaths(rules));
      let j = 0;
      if (exact.paths !== null) {
        const k = exact.paths.get(path);
        if (k !== undefined && k < exact.firstPattern) return rules[k]!.found;
        j = exact.firstPattern;
      }
      for (; j < rules.length; j++) {
        const spec = rules[j]!;
        const m = spec.matcher.match(path);
        if (m !== null) {
          if (m.args.length === 0 && m.kwargs === null) return spec.found;
          return { cls: spec.handlerClass, initArgs: spec.initArgs, match: m };
        }
      }
    }
    return this.#default;
  }

  #hostMatches(h: HostRules, request: HTTPServerRequest): boolean {
    if (h.host.match(request.hostName)) return true;
    const dh = this.settings.defaultHost;
    return dh !== undefined && !request.headers.has('X-Real-Ip') && h.host.match(dh);
  }

  /** `HTTPServerConnectionDelegate`: a request starts on a connection. */
  startRequest(serverConn: object, requestConn: HTTPConnection): HTTPMessageDelegate {
    return new HandlerDelegate(this, serverConn, requestConn);
  }

  /** `HTTPServerConnectionDelegate`: a connection closed. */
  onClose(_serverConn: object): void {}

  /**
   * Serves the application on `port` (and `address`): creates an HTTPServer with `opts` and
   * starts listening. Resolves with the server (stop it with `server.stop()`).
   */
  async listen(port: number, address?: string, opts?: ListenOptions): Promise<HTTPServer> {
    const server = new HTTPServer(this, opts);
    await server.listen(port, address);
    return server;
  }

  /** The shared template loader for a directory (created on first use). */
  templateLoader(path: string): TemplateLoader {
    let l = this.#templateLoaders.get(path);
    if (l === undefined) {
      l = new TemplateLoader(path, {
        autoescape: this.settings.autoescape ?? true,
        noCache: this.settings.compiledTemplateCache === false,
      });
      this.#templateLoaders.set(path, l);
    }
    return l;
  }

  /** The versioned URL of a static file (see {@link StaticFileHandler.makeStaticUrl}). */
  makeStaticUrl(path: string, includeVersion = true): string {
    if (!this.settings.staticPath) throw new RoutingError('the staticPath setting is required for staticUrl');
    const cls = this.settings.staticHandlerClass ?? StaticFileHandler;
    return cls.makeStaticUrl(this.settings, path, includeVersion);
  }

  /**
   * Writes the access log line of a finished request (or calls the `logFunction` setting):
   * info below 400, warn below 500, error from 500.
   */
  logRequest(handler: RequestHandler): void {
    const req = handler.request;
    req.markFinished();
    if (this.#logFunction !== null) {
      this.#logFunction(handler);
      return;
    }
    const status = handler.getStatus();
    const level = status < 400 ? 'info' : status < 500 ? 'warn' : 'error';
    if (!accessLog.isEnabledFor(level)) return;
    accessLog[level](
      '%d %s %s (%s) %sms',
      status,
      req.method,
      req.uri,
      req.remoteIp,
      (req.requestTime() * 1000).toFixed(2),
    );
  }
}

/** A handler's lifecycle handles its own errors; anything that still escapes is logged, never lost. */
function guard(r: void | Promise<void>): void {
  if (r !== undefined)
    r.then(undefined, (e: unknown) => appLog.error('Uncaught exception in handler: %s', e));
}

function isFormContentType(ct: string): boolean {
  const lower = ct.trimStart().toLowerCase();
  return lower.startsWith('application/x-www-form-urlencoded') || lower.startsWith('multipart/form-data');
}

function escapeRegex(s: string): string {
  return s.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&');
}

/** Runs one request through the routing table and a handler (Tornado's `_HandlerDelegate`). */
class HandlerDelegate implements HTTPMessageDelegate {
  readonly app: Application;
  readonly serverConn: object;
  readonly conn: HTTPConnection;
  request: HTTPServerRequest | null = null;
  handler: RequestHandler | null = null;
  found: Found | null = null;
  chunks: Buffer[] | null = null;
  stream = false;

  constructor(app: Application, serverConn: object, conn: HTTPConnection) {
    this.app = app;
    this.serverConn = serverConn;
    this.conn = conn;
  }

  headersReceived(
    startLine: RequestStartLine | ResponseStartLine,
    headers: HTTPHeaders,
  ): void | Promise<void> {
    const request = new HTTPServerRequest({
      startLine: startLine as RequestStartLine,
      headers,
      connection: this.conn,
      serverConnection: this.serverConn,
    });
    this.request = request;
    const found = this.app.findHandler(request);
    this.found = found;
    if (hasStreamRequestBody(found.cls)) {
      this.stream = true;
      const h = this.#create();
      if (h === null) return;
      const prepared = h._preparedPromise();
      guard(h._execute(found.match));
      return prepared;
    }
  }

  #create(): RequestHandler | null {
    const found = this.found!;
    try {
      const h = new found.cls(this.app, this.request!);
      this.handler = h;
      h._init(found.initArgs);
      return h;
    } catch (e) {
      appLog.error('Exception in %s.initialize: %s', found.cls.name, e instanceof Error ? e.stack : e);
      const h = new RequestHandler(this.app, this.request!)._init({});
      this.handler = h;
      h.sendError(500, { error: e });
      return null;
    }
  }

  dataReceived(chunk: Buffer): void | Promise<void> {
    if (this.stream) {
      const h = this.handler;
      if (h === null || h.finished) return;
      try {
        const r = h.dataReceived(chunk);
        if (r != null && typeof (r as Promise<void>).then === 'function') {
          return (r as Promise<void>).then(undefined, (e) => h._fail(e));
        }
      } catch (e) {
        h._fail(e);
      }
      return;
    }
    if (this.chunks === null) this.chunks = [chunk];
    else this.chunks.push(chunk);
  }

  finish(): void {
    if (this.stream) {
      this.handler?._bodyFinished();
      return;
    }
    const request = this.request!;
    const chunks = this.chunks;
    if (chunks !== null) {
      request.body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
      this.chunks = null;
    }
    const ct = request.body.length > 0 ? request.headers.get('Content-Type') : undefined;
    if (ct !== undefined && isFormContentType(ct)) {
      const parsed = request.parseBody() as unknown;
      Promise.resolve(parsed).then(
        () => this.#run(null),
        (e: unknown) => this.#run(e),
      );
      return;
    }
    this.#run(null);
  }

  #run(bodyError: unknown): void {
    const h = this.#create();
    if (h === null) return;
    if (bodyError !== null) {
      h._fail(
        new HTTPError(400, 'Invalid request body: %s', null, [(bodyError as Error).message ?? bodyError]),
      );
      return;
    }
    guard(h._execute(this.found!.match));
  }

  onConnectionClose(): void {
    if (this.stream) this.handler?._connectionClosed();
    this.chunks = null;
  }
}
