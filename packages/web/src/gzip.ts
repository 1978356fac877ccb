import { constants, createGzip, type Gzip, gzipSync } from 'node:zlib';

/** Non-`text/*` content types worth compressing. */
const COMPRESSIBLE = new Set([
  'application/javascript',
  'application/x-javascript',
  'application/xml',
  'application/atom+xml',
  'application/json',
  'application/xhtml+xml',
  'image/svg+xml',
]);

/** Responses shorter than this (when sent in one piece) are not compressed. */
export const GZIP_MIN_LENGTH = 1024;
const GZIP_LEVEL = 6;

/** Whether responses of this content type (parameters ignored) are worth compressing. */
export function compressibleType(contentType: string): boolean {
  const semi = contentType.indexOf(';');
  const ct = (semi < 0 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
  return ct.startsWith('text/') || COMPRESSIBLE.has(ct);
}

/**
 * Whether an `Accept-Encoding` header accepts gzip, honouring q-values (`gzip;q=0` refuses,
 * `*` counts when gzip is not named).
 */
export function acceptsGzip(acceptEncoding: string | undefined | null): boolean {
  if (!acceptEncoding) return false;
  let star: number | null = null;
  for (const part of acceptEncoding.split(',')) {
    const [codingRaw, ...params] = part.split(';');
    const coding = codingRaw!.trim().toLowerCase();
    if (coding !== 'gzip' && coding !== 'x-gzip' && coding !== '*') continue;
    let q = 1;
    for (const p of params) {
      const m = /^\s*q\s*=\s*([0-9.]+)\s*$/i.exec(p);
      if (m) q = Number(m[1]);
    }
    if (coding === '*') star = q;
    else return q > 0;
  }
  return star !== null && star > 0;
}

/** Gzips a whole body in one go. */
export function gzipAll(chunk: string | Uint8Array): Buffer {
  return gzipSync(chunk, { level: GZIP_LEVEL });
}

/** A gzip stream for responses written in several pieces; each piece is flushed as it goes. */
export class GzipStream {
  readonly #z: Gzip = createGzip({ level: GZIP_LEVEL });
  #out: Buffer[] = [];
  #error: Error | null = null;
  constructor() {
    this.#z.on('data', (d: Buffer) => this.#out.push(d));
    this.#z.on('error', (e: Error) => {
      this.#error = e;
    });
  }
  #take(): Buffer {
    const out = this.#out.length === 1 ? this.#out[0]! : Buffer.concat(this.#out);
    this.#out = [];
    return out;
  }
  /** Compresses `chunk` and returns everything compressed so far (sync-flushed). */
  write(chunk: Uint8Array): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      if (this.#error) return reject(this.#error);
      if (chunk.length > 0) this.#z.write(chunk);
      this.#z.flush(constants.Z_SYNC_FLUSH, () =>
        this.#error ? reject(this.#error) : resolve(this.#take()),
      );
    });
  }
  /** Compresses the last chunk and returns the rest of the stream, gzip trailer included. */
  end(chunk: Uint8Array): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      if (this.#error) return reject(this.#error);
      this.#z.once('end', () => resolve(this.#take()));
      this.#z.once('error', reject);
      this.#z.end(chunk);
    });
  }
  /** Releases the zlib stream without finishing it. */
  destroy(): void {
    this.#z.destroy();
  }
}
