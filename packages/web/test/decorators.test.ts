import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Application, addslash, RequestHandler, removeslash, StaticFileHandler } from '../src/index';
import { client, type TestClient } from './helpers';

class NoSlash extends RequestHandler {
  @removeslash
  override get() {
    this.write(`no slash ${this.request.path}`);
  }
  @removeslash
  override post() {
    this.write('posted');
  }
}

class WithSlash extends RequestHandler {
  override get() {
    this.write(`slash ${this.request.path}`);
  }
  override post() {
    this.write('posted');
  }
}
WithSlash.prototype.get = addslash(WithSlash.prototype.get);
WithSlash.prototype.post = addslash(WithSlash.prototype.post);

class Prefixed extends StaticFileHandler {
  static override makeStaticUrl(_settings: unknown, path: string) {
    return `/custom/${path}`;
  }
  override getCacheTime() {
    return 60;
  }
}

class StaticUrl extends RequestHandler {
  override get() {
    this.write(this.staticUrl('a.txt'));
  }
}

class NotModified extends RequestHandler {
  override get() {
    this.setHeader('Content-Language', 'en');
    this.write('body that gets dropped');
  }
}

let c: TestClient;
beforeAll(async () => {
  c = await client(
    new Application(
      [
        ['/ns/?', NoSlash],
        ['/ws/?', WithSlash],
        ['/surl', StaticUrl],
        ['/nm', NotModified],
      ],
      { staticPath: __dirname, staticHandlerClass: Prefixed },
    ),
  );
});
afterAll(async () => {
  await c.close();
});

describe('removeslash / addslash', () => {
  it('removeslash redirects GET, 404s other methods', async () => {
    expect((await c.get('/ns')).text()).toBe('no slash /ns');
    const r = await c.get('/ns/?a=1');
    expect(r.status).toBe(301);
    expect(r.header('location')).toBe('/ns?a=1');
    expect((await c.post('/ns/', { body: '' })).status).toBe(404);
    expect((await c.post('/ns', { body: '' })).text()).toBe('posted');
  });

  it('addslash redirects GET, 404s other methods', async () => {
    expect((await c.get('/ws/')).text()).toBe('slash /ws/');
    const r = await c.get('/ws?b=2');
    expect(r.status).toBe(301);
    expect(r.header('location')).toBe('/ws/?b=2');
    expect((await c.post('/ws', { body: '' })).status).toBe(404);
    expect((await c.post('/ws/', { body: '' })).text()).toBe('posted');
  });
});

describe('staticHandlerClass', () => {
  it('uses the custom class for staticUrl and serving', async () => {
    expect((await c.get('/surl')).text()).toBe('/custom/a.txt');
    const r = await c.get('/static/decorators.test.ts');
    expect(r.status).toBe(200);
    expect(r.header('cache-control')).toBe('max-age=60');
  });
});

describe('304 responses', () => {
  it('carry no body and no representation headers', async () => {
    const etag = (await c.get('/nm')).header('etag')!;
    const r = await c.get('/nm', { headers: { 'If-None-Match': etag } });
    expect(r.status).toBe(304);
    expect(r.body.length).toBe(0);
    expect(r.header('content-type')).toBeUndefined();
    expect(r.header('content-language')).toBeUndefined();
    expect(r.header('content-length')).toBeUndefined();
    expect(r.header('etag')).toBe(etag);
  });
});
