import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync, type Stats, statSync } from 'node:fs';
import { open, realpath, stat } from 'node:fs/promises';
import { isAbsolute, join, resolve, sep } from 'node:path';
import mime from 'mime-types';
import type { ApplicationSettings } from './application';
import { HTTPError } from './errors';
import { RequestHandler } from './request-handler';
import type { InitArgs } from './routing';

const CHUNK_SIZE = 64 * 1024;

interface HashEntry {
  mtimeMs: number;
  size: number;
  hash: string;
}

/**
 * Parses a `Range` header (`bytes=0-99`, `bytes=-5`, `bytes=10-`) into Python-style slice
 * bounds `[start, end)` (a negative start counts from the end); `null` for anything else
 * (other units, several ranges, garbage).
 */
export function parseRequestRange(header: string): [number | null, number | null] | null {
  const eq = header.indexOf('=');
  if (eq < 0 || header.slice(0, eq).trim() !== 'bytes') return null;
  const m = /^\s*([0-9]*)\s*-\s*([0-9]*)\s*$/.exec(header.slice(eq + 1));
  if (!m || (m[1] === '' && m[2] === '')) return null;
  let start: number | null = m[1] === '' ? null : Number(m[1]);
  let end: number | null = m[2] === '' ? null : Number(m[2]);
  if (end !== null) {
    if (start === null) {
      if (end !== 0) {
        start = -end;
        end = null;
      }
    } else {
      end += 1;
    }
  }
  return [start, end];
}

/**
 * Serves files from a directory: `[ '/files/(.*)', StaticFileHandler, { path: '/srv/files' } ]`
 * (the `staticPath` setting adds this rule under `/static/` by itself).
 *
 * GET and HEAD; Content-Type from the file name; `Last-Modified` / `If-Modified-Since`; a strong
 * `Etag` (hash of the content, cached) with `If-None-Match` taking precedence; one `Range` →
 * 206 (unsatisfiable → 416); files are streamed from disk in 64 KiB pieces, each written only
 * when the previous one was flushed. Paths outside the root (`..`, encoded, absolute, symlinks
 * that lead out) and directories get 403 — or, with `defaultFilename`, a directory serves that file.
 * Requests with a `v` argument (from `staticUrl`) are cacheable for a year.
 */
export class StaticFileHandler extends RequestHandler {
  /** Max-age of versioned requests (one year, in seconds). */
  static CACHE_MAX_AGE = 365 * 86400;
  static #hashes = new Map<string, HashEntry>();
  static #roots = new Map<string, string>();

  /** The root directory. */
  root = '';
  /** Served for directory requests (e.g. `index.html`); directories are refused without it. */
  defaultFilename: string | null = null;
  /** The requested path relative to the root. */
  path = '';
  /** The validated absolute path of the file being served. */
  absolutePath: string | null = null;
  /** The file's modification time. */
  modified: Date | null = null;
  #stat: Stats | null = null;
  #hash: string | null = null;

  override initialize(args: InitArgs): void {
    if (typeof args.path !== 'string') throw new TypeError('StaticFileHandler needs a path');
    this.root = args.path;
    this.defaultFilename = typeof args.defaultFilename === 'string' ? args.defaultFilename : null;
  }

  /** Forgets every cached content hash. */
  static resetCache(): void {
    StaticFileHandler.#hashes.clear();
    StaticFileHandler.#roots.clear();
  }

  override head(path: string): Promise<void> {
    return this.get(path, false);
  }

  override async get(path: string, includeBody = true): Promise<void> {
    this.path = this.parseUrlPath(path);
    const absolutePath = this.getAbsolutePath(this.root, this.path);
    this.absolutePath = await this.validateAbsolutePath(this.root, absolutePath);
    if (this.absolutePath === null) return;
    const st = this.#stat!;
    this.modified = st.mtime;
    // hash big files off the event loop before computeEtag() reads the cache synchronously
    this.#hash = await StaticFileHandler.getVersionAsync(
      this.absolutePath,
      this.settings.staticHashCache !== false,
      st,
    );
    this.setHeaders();
    if (this.shouldReturn304()) {
      this.setStatus(304);
      return;
    }
    const size = st.size;
    let start: number | null = null;
    let end: number | null = null;
    const rangeHeader = this.request.headers.get('Range');
    const range = rangeHeader ? parseRequestRange(rangeHeader) : null;
    if (range) {
      [start, end] = range;
      if (start !== null && start < 0) start = Math.max(0, start + size);
      if ((start !== null && (start >= size || (end !== null && start >= end))) || end === 0) {
        this.setStatus(416);
        this.setHeader('Content-Type', 'text/plain');
        this.setHeader('Content-Range', `bytes */${size}`);
        return;
      }
      if (end !== null && end > size) end = size;
      if (size !== (end ?? size) - (start ?? 0)) {
        this.setStatus(206);
        this.setHeader('Content-Range', `bytes ${start ?? 0}-${(end ?? size) - 1}/${size}`);
      }
    }
    const from = start ?? 0;
    const to = end ?? size;
    this.setHeader('Content-Length', to - from);
    if (!includeBody) return;
    await this.#stream(this.absolutePath, from, to);
  }

  async #stream(absolutePath: string, from: number, to: number): Promise<void> {
    const fh = await open(absolutePath, 'r');
    const read = (pos: number) => {
      const n = Math.min(CHUNK_SIZE, to - pos);
      const buf = Buffer.allocUnsafe(n);
      return fh
        .read(buf, 0, n, pos)
        .then(({ bytesRead }) => (bytesRead === n ? buf : buf.subarray(0, bytesRead)));
    };
    let next: Promise<Buffer> | null = null;
    try {
      let pos = from;
      // the next piece is read from disk while earlier ones are being sent; at most three
      // pieces are in memory at a time
      next = pos < to ? read(pos) : null;
      let sending: Promise<void> | null = null;
      while (next !== null) {
        const buf = await next;
        next = null;
        if (buf.length === 0) break;
        pos += buf.length;
        if (pos < to) next = read(pos);
        this.write(buf);
        const flushed = this.flush();
        flushed.catch(() => undefined);
        try {
          // keep at most two pieces queued on the connection
          if (sending !== null) await sending;
          sending = flushed;
        } catch {
          return; // the client went away: stop reading the file
        }
      }
      if (sending !== null) await sending.catch(() => undefined);
    } finally {
      if (next !== null) await (next as Promise<Buffer>).catch(() => undefined);
      await fh.close();
    }
  }

  /** Turns the URL path group into a relative file path. */
  parseUrlPath(urlPath: string): string {
    return sep === '/' ? urlPath : urlPath.split('/').join(sep);
  }

  /** The absolute path for `path` under `root` (an absolute `path` stays absolute — and is refused). */
  getAbsolutePath(root: string, path: string): string {
    return resolve(root, path);
  }

  /**
   * Checks that `absolutePath` is a file inside `root` (following symlinks), and returns the
   * path to serve; throws a 403/404 {@link HTTPError}, or redirects a directory URL without a
   * trailing slash (returning null).
   */
  async validateAbsolutePath(root: string, absolutePath: string): Promise<string | null> {
    const lexRoot = resolve(root);
    if (!(`${absolutePath}${sep}`.startsWith(lexRoot + sep) || absolutePath === lexRoot)) {
      throw new HTTPError(403, '%s is not in root static directory', null, [this.path]);
    }
    const realRoot = await StaticFileHandler.#realRoot(lexRoot);
    let real: string;
    try {
      real = await realpath(absolutePath);
    } catch {
      throw new HTTPError(404);
    }
    if (!(real === realRoot || real.startsWith(realRoot + sep))) {
      throw new HTTPError(403, '%s is not in root static directory', null, [this.path]);
    }
    let st = await stat(real);
    if (st.isDirectory()) {
      if (this.defaultFilename === null) throw new HTTPError(403, '%s is a directory', null, [this.path]);
      if (!this.request.path.endsWith('/')) {
        if (/^[/\\]{2}/.test(this.request.path))
          throw new HTTPError(403, 'cannot redirect path with two initial slashes');
        this.redirect(`${this.request.path}/`, true);
        return null;
      }
      try {
        // the default file may itself be a symlink: it must stay inside the root too
        real = await realpath(join(real, this.defaultFilename));
        st = await stat(real);
      } catch {
        throw new HTTPError(404);
      }
      if (!real.startsWith(realRoot + sep)) {
        throw new HTTPError(403, '%s is not in root static directory', null, [this.path]);
      }
    }
    if (!st.isFile()) throw new HTTPError(403, '%s is not a file', null, [this.path]);
    this.#stat = st;
    return real;
  }

  static async #realRoot(root: string): Promise<string> {
    let r = StaticFileHandler.#roots.get(root);
    if (r === undefined) {
      r = await realpath(root).catch(() => root);
      StaticFileHandler.#roots.set(root, r);
    }
    return r;
  }

  /** Sets Accept-Ranges, Etag, Last-Modified, Content-Type and caching headers. */
  setHeaders(): void {
    this.setHeader('Accept-Ranges', 'bytes');
    this.setEtagHeader();
    if (this.modified) this.setHeader('Last-Modified', this.modified);
    this.setHeader('Content-Type', this.getContentType());
    const cacheTime = this.getCacheTime(this.path, this.modified);
    if (cacheTime > 0) {
      this.setHeader('Expires', new Date(Date.now() + cacheTime * 1000));
      this.setHeader('Cache-Control', `max-age=${cacheTime}`);
    }
  }

  /** Whether the client's copy is current (`If-None-Match` first, then `If-Modified-Since`). */
  shouldReturn304(): boolean {
    if (this.request.headers.has('If-None-Match')) return this.checkEtagHeader();
    const ims = this.request.headers.get('If-Modified-Since');
    if (ims && this.modified) {
      const t = Date.parse(ims);
      if (!Number.isNaN(t) && Math.floor(t / 1000) >= Math.floor(this.modified.getTime() / 1000)) return true;
    }
    return false;
  }

  /** The content hash of the file as a strong ETag. */
  override computeEtag(): string | null {
    if (!this.absolutePath) return null;
    if (this.#hash !== null) return `"${this.#hash}"`;
    const h = StaticFileHandler.getVersion(
      this.absolutePath,
      this.settings.staticHashCache !== false,
      this.#stat,
    );
    return h === null ? null : `"${h}"`;
  }

  /** The Content-Type for the file (from its name; `application/octet-stream` if unknown). */
  getContentType(): string {
    const p = this.absolutePath ?? this.path;
    const t = mime.lookup(p);
    if (!t) return 'application/octet-stream';
    return mime.contentType(t) || t;
  }

  /** Seconds the response may be cached: a year for versioned (`?v=`) requests, else 0. */
  getCacheTime(_path: string, _modified: Date | null): number {
    return this.request.queryArguments.v !== undefined
      ? (this.constructor as typeof StaticFileHandler).CACHE_MAX_AGE
      : 0;
  }

  /**
   * The content hash (SHA-512, hex) of a file, read in pieces; cached by path and revalidated by
   * size and mtime. `null` when the file cannot be read.
   */
  static getVersion(absolutePath: string, cache = true, st?: Stats | null): string | null {
    let stats = st ?? null;
    try {
      stats ??= statSync(absolutePath);
    } catch {
      return null;
    }
    const hashes = StaticFileHandler.#hashes;
    const e = hashes.get(absolutePath);
    if (cache && e && e.mtimeMs === stats.mtimeMs && e.size === stats.size) return e.hash;
    let fd: number;
    try {
      fd = openSync(absolutePath, 'r');
    } catch {
      return null;
    }
    const h = createHash('sha512');
    const buf = Buffer.allocUnsafe(CHUNK_SIZE);
    try {
      for (;;) {
        const n = readSync(fd, buf, 0, CHUNK_SIZE, null);
        if (n === 0) break;
        h.update(buf.subarray(0, n));
      }
    } finally {
      closeSync(fd);
    }
    const hash = h.digest('hex');
    if (cache) hashes.set(absolutePath, { mtimeMs: stats.mtimeMs, size: stats.size, hash });
    return hash;
  }

  static #pending = new Map<string, Promise<string | null>>();

  /**
   * {@link getVersion} without blocking the event loop: the file is read asynchronously (once,
   * however many requests ask at the same time) and the result lands in the same cache.
   */
  static async getVersionAsync(
    absolutePath: string,
    cache = true,
    st?: Stats | null,
  ): Promise<string | null> {
    let stats = st ?? null;
    try {
      stats ??= await stat(absolutePath);
    } catch {
      return null;
    }
    const e = StaticFileHandler.#hashes.get(absolutePath);
    if (cache && e && e.mtimeMs === stats.mtimeMs && e.size === stats.size) return e.hash;
    const key = `${absolutePath}\0${stats.mtimeMs}\0${stats.size}`;
    let p = StaticFileHandler.#pending.get(key);
    if (p === undefined) {
      const { mtimeMs, size } = stats;
      p = (async () => {
        const h = createHash('sha512');
        let fh: Awaited<ReturnType<typeof open>> | null = null;
        try {
          fh = await open(absolutePath, 'r');
          const buf = Buffer.allocUnsafe(CHUNK_SIZE);
          for (;;) {
            const { bytesRead } = await fh.read(buf, 0, CHUNK_SIZE, null);
            if (bytesRead === 0) break;
            h.update(buf.subarray(0, bytesRead));
          }
        } catch {
          return null;
        } finally {
          await fh?.close();
          StaticFileHandler.#pending.delete(key);
        }
        const hash = h.digest('hex');
        if (cache) StaticFileHandler.#hashes.set(absolutePath, { mtimeMs, size, hash });
        return hash;
      })();
      StaticFileHandler.#pending.set(key, p);
    }
    return p;
  }

  /** The URL of a static file, with `?v=<content hash>` unless `includeVersion` is false. */
  static makeStaticUrl(settings: ApplicationSettings, path: string, includeVersion = true): string {
    const url = (settings.staticUrlPrefix ?? '/static/') + path;
    if (!includeVersion || !settings.staticPath) return url;
    const rel = path.startsWith('/') ? path.slice(1) : path;
    const abs = resolve(settings.staticPath, rel);
    if (isAbsolute(rel) || !abs.startsWith(resolve(settings.staticPath) + sep)) return url;
    const v = StaticFileHandler.getVersion(abs, settings.staticHashCache !== false);
    return v === null ? url : `${url}?v=${v}`;
  }
}
