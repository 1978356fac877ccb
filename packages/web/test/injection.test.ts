import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Application, addslash, authenticated, HTTPError, RequestHandler, removeslash } from '../src/index';
import { client, type TestClient } from './helpers';

/** Sends raw bytes, resolves with everything the server sent until it closed the connection. */
function rawRequest(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    const out: Buffer[] = [];
    s.on('data', (d) => out.push(d));
    s.on('error', reject);
    s.on('close', () => resolve(Buffer.concat(out).toString('latin1')));
    s.end(bytes);
  });
}

class Reflector extends RequestHandler {
  override get() {
    const what = this.getArgument('what', '');
    if (what === 'reason') throw new HTTPError(400, 'log <script>alert(1)</script>', '<script>x</script>');
    if (what === 'crlf') this.redirect('/x\r\nSet-Cookie: pwned=1');
    if (what === 'header') this.setHeader('X-A', 'a\nSet-Cookie: pwned=1');
    if (what === 'cookie-domain') this.setCookie('a', 'b', { domain: 'x.com; HttpOnly\r\nX: y' });
    if (what === 'cookie-path') this.setCookie('a', 'b', { path: '/;Domain=evil.com' });
    if (what === 'json') this.write({ html: '</script><script>alert(1)</script>' });
    this.write('ok');
  }
}

class Unsendable extends RequestHandler {
  override get() {
    const w = this.getArgument('w');
    if (w === 'redirect') this.redirect('/caf\u00e9/\u4e2d?q=\u4e2d');
    else if (w === 'value') this.setHeader('X-Name', '\u4e2d');
    else if (w === 'name') this.setHeader('X Bad', 'v');
    else if (w === 'reason') this.setStatus(299, '\u4e2d');
    else if (w === 'add') this.addHeader('X-Name:', 'v');
    this.write('ok');
  }
}

class AsyncBadFinish extends RequestHandler {
  override async get() {
    await Promise.resolve();
    this.setStatus(304);
    this.write('a 304 cannot carry this');
  }
}

class BadDefaults extends RequestHandler {
  override setDefaultHeaders() {
    if (this.request.query === 'bad') this.#bad();
  }
  #bad() {
    // bypasses nothing: any route to the headers must refuse it, even from setDefaultHeaders
    this.setHeader('X-Name', '\u4e2d');
  }
  override get() {
    this.write('ok');
  }
}

class Slashes extends RequestHandler {
  @addslash
  override get() {
    this.write('added');
  }
  @removeslash
  override post() {
    this.write('removed');
  }
}

class Login extends RequestHandler {
  override getLoginUrl() {
    return '/login';
  }
  @authenticated
  override get() {
    this.write('secret');
  }
}

describe('reflection and injection', () => {
  let c: TestClient;
  let port: number;
  beforeAll(async () => {
    c = await client(
      new Application([
        ['/r', Reflector],
        ['/(.*)', Login],
      ]),
    );
    port = Number(new URL(c.url('/')).port);
  });
  afterAll(() => c.close());

  it('escapes the reason phrase in the error page and never shows the log message', async () => {
    const r = await c.get('/r?what=reason');
    expect(r.status).toBe(400);
    expect(r.text()).not.toContain('<script>');
    expect(r.text()).not.toContain('alert');
  });

  it('refuses CR/LF in redirects, headers and cookie attributes', async () => {
    for (const w of ['crlf', 'header', 'cookie-domain', 'cookie-path']) {
      const r = await c.get(`/r?what=${w}`);
      expect(r.status, w).toBe(500);
      expect(r.cookies(), w).toEqual([]);
    }
  });

  it('escapes </ in JSON output', async () => {
    const r = await c.get('/r?what=json');
    expect(r.text()).not.toContain('</script>');
    expect(JSON.parse(r.text().slice(0, -2)).html).toBe('</script><script>alert(1)</script>');
  });

  it('never makes a protocol-relative next= from a path starting with //', async () => {
    for (const path of ['//evil.com/x', '/\\evil.com/x', '///evil.com']) {
      const raw = await rawRequest(port, `GET ${path} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n`);
      const loc = /\r\nLocation: ([^\r]*)/i.exec(raw)?.[1];
      expect(loc, path).toBeDefined();
      const next = new URL(loc!, 'http://a').searchParams.get('next')!;
      expect(next, path).toMatch(/^\/[^/\\]/);
      expect(new URL(next, 'http://a').host).toBe('a');
    }
  });

  it('addslash and removeslash never redirect to another host', async () => {
    // a catch-all rule, so the path may start with a backslash or several slashes
    const app = new Application([['(.*)', Slashes]]);
    const cl = await client(app);
    const p = Number(new URL(cl.url('/')).port);
    try {
      for (const [method, path] of [
        ['GET', '/\\evil.com'],
        ['GET', '//evil.com'],
        ['GET', '/\\/evil.com'],
      ]) {
        const raw = await rawRequest(p, `${method} ${path} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n`);
        const loc = /\r\nLocation: ([^\r]*)/i.exec(raw)?.[1];
        expect(loc, path).toBeDefined();
        expect(new URL(loc!, 'http://a').host, path).toBe('a');
      }
      // the post with removeslash: not a GET, so 404 rather than a redirect
      const raw = await rawRequest(
        p,
        'POST /\\evil.com/ HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nConnection: close\r\n\r\n',
      );
      expect(raw.startsWith('HTTP/1.1 404')).toBe(true);
    } finally {
      await cl.close();
    }
  });

  it('answers a header the connection cannot send with a 500, never an unhandled rejection', async () => {
    const app = new Application([
      ['/u', Unsendable],
      ['/d', BadDefaults],
      ['/a', AsyncBadFinish],
    ]);
    const cl = await client(app);
    const p = Number(new URL(cl.url('/')).port);
    const get = (path: string) =>
      rawRequest(p, `GET ${path} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n`);
    try {
      // a redirect to a non-ASCII URL is sent percent-encoded, as browsers would request it
      const r = await get('/u?w=redirect');
      expect(r).toMatch(/^HTTP\/1\.1 302 /);
      expect(/\r\nLocation: ([^\r]*)/.exec(r)?.[1]).toBe('/caf%C3%A9/%E4%B8%AD?q=%E4%B8%AD');
      for (const w of ['value', 'name', 'reason', 'add']) {
        const res = await get(`/u?w=${w}`);
        expect(res, w).toMatch(/^HTTP\/1\.1 500 /);
        expect(res, w).toContain('<html><title>500: Internal Server Error</title>');
      }
      // even when the default headers themselves cannot be sent, the client gets an answer
      expect(await get('/d?bad')).toMatch(/^HTTP\/1\.1 500 /);
      expect(await get('/d')).toMatch(/^HTTP\/1\.1 200 /);
      // the automatic finish() after an async method fails: an error page, not a lost rejection
      expect(await get('/a')).toMatch(/^HTTP\/1\.1 500 /);
    } finally {
      await cl.close();
    }
  });
});
