import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Application, RequestHandler } from '../src/index';
import { client, type TestClient } from './helpers';

class PathArgsInPrepare extends RequestHandler {
  seen: unknown[] = [];
  override prepare() {
    this.seen = [...this.pathArgs];
  }
  override get(a: string) {
    this.finish({ prepare: this.seen, get: a });
  }
}

class CustomDecode extends RequestHandler {
  override decodeArgument(value: string, name?: string) {
    return `<${value}:${name ?? 'path'}>`;
  }
  override get(a: string) {
    this.write(a);
  }
}

class WebDav extends RequestHandler {
  static override SUPPORTED_METHODS = [...RequestHandler.SUPPORTED_METHODS, 'PROPFIND'];
  propfind() {
    this.setStatus(207);
    this.write('multi');
  }
  override options() {
    this.setHeader('Access-Control-Allow-Methods', 'PROPFIND');
    this.setStatus(204);
  }
  override patch() {
    this.write(`patched ${this.request.body.toString()}`);
  }
}

class Cleared extends RequestHandler {
  override get() {
    this.setHeader('X-Before', '1');
    this.write('dropped');
    this.clear();
    this.setStatus(202);
    this.write('kept');
  }
}

class Flushing extends RequestHandler {
  override async get() {
    this.write('one,');
    await this.flush();
    this.write('two,');
    await this.flush();
    this.finish('three');
  }
}

class HeadOwn extends RequestHandler {
  override get() {
    this.write('get body');
  }
  override head() {
    this.setHeader('X-Head', 'own');
  }
}

class LazyUser extends RequestHandler {
  override get() {
    this.write(`user=${String(this.currentUser)}`);
  }
}

let c: TestClient;
beforeAll(async () => {
  c = await client(
    new Application([
      ['/pa/(\\w+)', PathArgsInPrepare],
      ['/decode/(.*)', CustomDecode],
      ['/dav', WebDav],
      ['/cleared', Cleared],
      ['/flushing', Flushing],
      ['/head-own', HeadOwn],
      ['/lazy-user', LazyUser],
    ]),
  );
});
afterAll(async () => {
  await c.close();
});

describe('handler lifecycle details', () => {
  it('has pathArgs in prepare', async () => {
    expect((await c.get('/pa/xyz')).json()).toEqual({ prepare: ['xyz'], get: 'xyz' });
  });

  it('lets decodeArgument be overridden', async () => {
    expect((await c.get('/decode/a%20b')).text()).toBe('<a%20b:path>');
  });

  it('supports extra methods through SUPPORTED_METHODS, OPTIONS and PATCH', async () => {
    const r = await c.request('PROPFIND', '/dav');
    expect(r.status).toBe(207);
    expect(r.text()).toBe('multi');
    const o = await c.request('OPTIONS', '/dav');
    expect(o.status).toBe(204);
    expect(o.header('access-control-allow-methods')).toBe('PROPFIND');
    expect((await c.request('PATCH', '/dav', { body: 'x' })).text()).toBe('patched x');
    const no = await c.get('/dav');
    expect(no.status).toBe(405);
    expect(no.header('allow')).toBe('PATCH, OPTIONS, PROPFIND');
  });

  it('clear() resets headers, status and body', async () => {
    const r = await c.get('/cleared');
    expect(r.status).toBe(202);
    expect(r.text()).toBe('kept');
    expect(r.header('x-before')).toBeUndefined();
  });

  it('flushes in pieces (chunked) and finishes', async () => {
    const r = await c.get('/flushing');
    expect(r.text()).toBe('one,two,three');
    expect(r.header('transfer-encoding')).toBe('chunked');
    expect(r.header('etag')).toBeUndefined();
  });

  it('uses an own head() for HEAD', async () => {
    const r = await c.request('HEAD', '/head-own');
    expect(r.header('x-head')).toBe('own');
    expect(r.body.length).toBe(0);
  });

  it('computes currentUser lazily when getCurrentUser is not overridden', async () => {
    expect((await c.get('/lazy-user')).text()).toBe('user=null');
  });
});
