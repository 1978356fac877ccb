import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Application, parseRequestRange, RequestHandler, StaticFileHandler } from '../src/index';
import { client, type TestClient } from './helpers';

const top = mkdtempSync(join(tmpdir(), 'web-static-'));
const root = join(top, 'root');
const big = Buffer.alloc(300 * 1024);
for (let i = 0; i < big.length; i++) big[i] = (i * 7 + (i >> 8)) & 0xff;
const css = 'body { color: red; }\n'.repeat(100);

class UsesStaticUrl extends RequestHandler {
  override get() {
    this.write(
      `${this.staticUrl('style.css')} ${this.staticUrl('missing.css')} ${this.staticUrl('style.css', true)}`,
    );
  }
}

let c: TestClient;
let gz: TestClient;
beforeAll(async () => {
  mkdirSync(join(root, 'sub'), { recursive: true });
  mkdirSync(join(root, 'docs'), { recursive: true });
  mkdirSync(join(root, 'emptydir'), { recursive: true });
  writeFileSync(join(root, 'hello.txt'), 'Hello, static world\n');
  writeFileSync(join(root, 'style.css'), css);
  writeFileSync(join(root, 'data.bin'), big);
  writeFileSync(join(root, 'noext'), 'x');
  writeFileSync(join(root, 'robots.txt'), 'User-agent: *\n');
  writeFileSync(join(root, 'sub', 'inner.json'), '{"ok":true}');
  writeFileSync(join(root, 'docs', 'index.html'), '<h1>docs</h1>');
  writeFileSync(join(top, 'secret.txt'), 'top secret');
  symlinkSync(join(top, 'secret.txt'), join(root, 'escape.txt'));
  symlinkSync(join(root, 'hello.txt'), join(root, 'alias.txt'));
  utimesSync(join(root, 'hello.txt'), new Date('2020-01-02T03:04:05Z'), new Date('2020-01-02T03:04:05Z'));
  const app = new Application(
    [
      ['/uses', UsesStaticUrl],
      ['/files/(.*)', StaticFileHandler, { path: root, defaultFilename: 'index.html' }],
    ],
    {
      staticPath: root,
    },
  );
  c = await client(app);
  gz = await client(
    new Application([], { staticPath: root, compressResponse: true, staticUrlPrefix: '/assets/' }),
  );
});
afterAll(async () => {
  await c.close();
  await gz.close();
  rmSync(top, { recursive: true, force: true });
  StaticFileHandler.resetCache();
});

const sha512 = (b: Buffer | string) => createHash('sha512').update(b).digest('hex');

describe('StaticFileHandler', () => {
  it('serves files with type, length, validators', async () => {
    const r = await c.get('/static/hello.txt');
    expect(r.status).toBe(200);
    expect(r.text()).toBe('Hello, static world\n');
    expect(r.header('content-type')).toBe('text/plain; charset=utf-8');
    expect(r.header('content-length')).toBe('20');
    expect(r.header('accept-ranges')).toBe('bytes');
    expect(r.header('etag')).toBe(`"${sha512('Hello, static world\n')}"`);
    expect(r.header('last-modified')).toBe('Thu, 02 Jan 2020 03:04:05 GMT');
    expect(r.header('cache-control')).toBeUndefined();
    expect((await c.get('/static/sub/inner.json')).header('content-type')).toBe(
      'application/json; charset=utf-8',
    );
    expect((await c.get('/static/noext')).header('content-type')).toBe('application/octet-stream');
    expect((await c.get('/robots.txt')).text()).toBe('User-agent: *\n');
    expect((await c.get('/static/alias.txt')).text()).toBe('Hello, static world\n');
  });

  it('streams large files intact', async () => {
    const r = await c.get('/static/data.bin');
    expect(r.status).toBe(200);
    expect(r.body.length).toBe(big.length);
    expect(r.body.equals(big)).toBe(true);
  });

  it('answers HEAD with headers only', async () => {
    const r = await c.request('HEAD', '/static/data.bin');
    expect(r.status).toBe(200);
    expect(r.header('content-length')).toBe(String(big.length));
    expect(r.body.length).toBe(0);
  });

  it('answers 304 for If-None-Match (taking precedence) and If-Modified-Since', async () => {
    const etag = (await c.get('/static/hello.txt')).header('etag')!;
    expect((await c.get('/static/hello.txt', { headers: { 'If-None-Match': etag } })).status).toBe(304);
    const ims = { 'If-Modified-Since': 'Thu, 02 Jan 2020 03:04:05 GMT' };
    const r = await c.get('/static/hello.txt', { headers: ims });
    expect(r.status).toBe(304);
    expect(r.body.length).toBe(0);
    expect(
      (
        await c.get('/static/hello.txt', {
          headers: { 'If-Modified-Since': 'Wed, 01 Jan 2020 00:00:00 GMT' },
        })
      ).status,
    ).toBe(200);
    expect((await c.get('/static/hello.txt', { headers: { 'If-Modified-Since': 'nonsense' } })).status).toBe(
      200,
    );
    expect(
      (await c.get('/static/hello.txt', { headers: { ...ims, 'If-None-Match': '"other"' } })).status,
    ).toBe(200);
  });

  it('serves single byte ranges with 206', async () => {
    const r = await c.get('/static/data.bin', { headers: { Range: 'bytes=100-199' } });
    expect(r.status).toBe(206);
    expect(r.header('content-range')).toBe(`bytes 100-199/${big.length}`);
    expect(r.header('content-length')).toBe('100');
    expect(r.body.equals(big.subarray(100, 200))).toBe(true);
    const suffix = await c.get('/static/data.bin', { headers: { Range: 'bytes=-10' } });
    expect(suffix.status).toBe(206);
    expect(suffix.body.equals(big.subarray(big.length - 10))).toBe(true);
    const open = await c.get('/static/data.bin', { headers: { Range: 'bytes=307000-' } });
    expect(open.body.equals(big.subarray(307000))).toBe(true);
    const past = await c.get('/static/hello.txt', { headers: { Range: 'bytes=5-1000' } });
    expect(past.status).toBe(206);
    expect(past.text()).toBe(', static world\n');
    const whole = await c.get('/static/hello.txt', { headers: { Range: 'bytes=0-' } });
    expect(whole.status).toBe(200);
    const huge = await c.get('/static/hello.txt', { headers: { Range: 'bytes=-1000' } });
    expect(huge.status).toBe(200);
    expect(huge.text()).toBe('Hello, static world\n');
  });

  it('answers 416 for unsatisfiable ranges, ignores unsupported ones', async () => {
    const r = await c.get('/static/hello.txt', { headers: { Range: 'bytes=100-200' } });
    expect(r.status).toBe(416);
    expect(r.header('content-range')).toBe('bytes */20');
    expect((await c.get('/static/hello.txt', { headers: { Range: 'bytes=5-2' } })).status).toBe(416);
    expect((await c.get('/static/hello.txt', { headers: { Range: 'bytes=-0' } })).status).toBe(416);
    expect((await c.get('/static/hello.txt', { headers: { Range: 'bytes=0-1,4-5' } })).status).toBe(200);
    expect((await c.get('/static/hello.txt', { headers: { Range: 'items=0-1' } })).status).toBe(200);
  });

  it('refuses traversal out of the root with 403', async () => {
    for (const p of [
      '/static/../secret.txt',
      '/static/%2e%2e/secret.txt',
      '/static/..%2fsecret.txt',
      '/static/sub/../../secret.txt',
      `/static/${encodeURIComponent(join(top, 'secret.txt'))}`,
      '/static/escape.txt',
    ]) {
      const r = await c.get(p);
      expect(r.status, p).toBe(403);
      expect(r.text()).not.toContain('top secret');
    }
    expect((await c.get('/static/sub/../hello.txt')).status).toBe(200);
    expect((await c.get('/static/hello.txt%00.png')).status).toBe(404);
  });

  it('answers 404 for missing files, 403 for directories', async () => {
    expect((await c.get('/static/nope.txt')).status).toBe(404);
    expect((await c.get('/static/sub')).status).toBe(403);
    expect((await c.get('/static/')).status).toBe(403);
  });

  it('serves a default file for directories, redirecting to the slash form', async () => {
    const r = await c.get('/files/docs');
    expect(r.status).toBe(301);
    expect(r.header('location')).toBe('/files/docs/');
    expect((await c.get('/files/docs/')).text()).toBe('<h1>docs</h1>');
    expect((await c.get('/files/emptydir/')).status).toBe(404);
  });

  it('makes versioned urls whose responses are cacheable for a year', async () => {
    const r = await c.get('/uses');
    const [url, missing, full] = r.text().split(' ');
    expect(url).toBe(`/static/style.css?v=${sha512(css)}`);
    expect(missing).toBe('/static/missing.css');
    expect(full).toMatch(/^http:\/\/[^/]+\/static\/style\.css\?v=/);
    const v = await c.get(url!);
    expect(v.header('cache-control')).toBe('max-age=31536000');
    expect(Date.parse(v.header('expires')!)).toBeGreaterThan(Date.now() + 364 * 86400_000);
  });

  it('gzips compressible static files when compressResponse is on', async () => {
    const r = await gz.get('/assets/style.css', { headers: { 'Accept-Encoding': 'gzip' } });
    expect(r.status).toBe(200);
    expect(r.header('content-encoding')).toBe('gzip');
    expect(gunzipSync(r.body).toString()).toBe(css);
    const range = await gz.get('/assets/style.css', {
      headers: { 'Accept-Encoding': 'gzip', Range: 'bytes=0-9' },
    });
    expect(range.status).toBe(206);
    expect(range.header('content-encoding')).toBeUndefined();
    expect(range.text()).toBe(css.slice(0, 10));
  });

  it('recomputes the hash when the file changes', async () => {
    const p = join(root, 'changing.txt');
    writeFileSync(p, 'one');
    const a = (await c.get('/static/changing.txt')).header('etag');
    writeFileSync(p, 'two!');
    const b = (await c.get('/static/changing.txt')).header('etag');
    expect(a).toBe(`"${sha512('one')}"`);
    expect(b).toBe(`"${sha512('two!')}"`);
    expect(StaticFileHandler.getVersion(join(root, 'nothing-here'))).toBeNull();
    expect(StaticFileHandler.makeStaticUrl({ staticPath: root }, '../secret.txt')).toBe(
      '/static/../secret.txt',
    );
    expect(StaticFileHandler.makeStaticUrl({}, 'x.css')).toBe('/static/x.css');
  });
});

describe('StaticFileHandler and disconnects', () => {
  it('stops reading the file when the client goes away, and keeps serving', async () => {
    const { connect } = await import('node:net');
    writeFileSync(join(root, 'huge.bin'), Buffer.alloc(8 * 1024 * 1024, 1));
    const port = Number(new URL(c.url('/')).port);
    const s = connect(port, '127.0.0.1');
    s.write('GET /static/huge.bin HTTP/1.1\r\nHost: x\r\n\r\n');
    await new Promise<void>((resolve) => s.once('data', () => resolve()));
    s.destroy();
    await new Promise<void>((resolve) => s.once('close', () => resolve()));
    const r = await c.get('/static/hello.txt');
    expect(r.text()).toBe('Hello, static world\n');
  });
});

describe('parseRequestRange', () => {
  it('parses the forms Tornado accepts', () => {
    expect(parseRequestRange('bytes=0-9')).toEqual([0, 10]);
    expect(parseRequestRange('bytes=5-')).toEqual([5, null]);
    expect(parseRequestRange('bytes=-5')).toEqual([-5, null]);
    expect(parseRequestRange('bytes=-0')).toEqual([null, 0]);
    expect(parseRequestRange('bytes=-')).toBeNull();
    expect(parseRequestRange('bytes=a-b')).toBeNull();
    expect(parseRequestRange('bytes=1-2,3-4')).toBeNull();
    expect(parseRequestRange('lines=1-2')).toBeNull();
    expect(parseRequestRange('garbage')).toBeNull();
  });
});
