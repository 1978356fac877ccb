import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Application, authenticated, createSignedValue, RequestHandler } from '../src/index';
import { client, type TestClient } from './helpers';

class SetCookies extends RequestHandler {
  override get() {
    this.setCookie('plain', 'v1');
    this.setCookie('full', 'v2', {
      domain: 'example.com',
      path: '/app',
      maxAge: 60,
      httpOnly: true,
      secure: true,
      sameSite: 'Lax',
    });
    this.setCookie('days', 'v3', { expiresDays: 2 });
    this.setCookie('abs', 'v4', { expires: 2_000_000_000 });
    this.setCookie('date', 'v5', {
      expires: new Date(Date.UTC(2030, 0, 1)),
      sameSite: 'strict',
      partitioned: true,
      priority: 'high',
      secure: true,
    });
    this.setCookie('twice', 'first');
    this.setCookie('twice', 'second');
    if (this.getArgument('bad', null)) this.setCookie('bad', 'a;b');
  }
}

class ReadCookies extends RequestHandler {
  override get() {
    this.finish({
      a: this.getCookie('a', null),
      missing: this.getCookie('missing', 'dflt'),
      all: { ...this.cookies },
    });
  }
}

class ClearCookies extends RequestHandler {
  override get() {
    if (this.getArgument('all', null)) this.clearAllCookies({ path: '/p' });
    else this.clearCookie('a', { domain: 'example.com' });
  }
}

class Signed extends RequestHandler {
  override get() {
    this.finish({
      value: this.getSignedCookie('user'),
      short: this.getSignedCookie('user', null, { maxAgeDays: 0 }),
    });
  }
  override post() {
    this.setSignedCookie('user', this.getArgument('name'));
  }
}

class NoSecret extends RequestHandler {
  override get() {
    this.setSignedCookie('user', 'x');
  }
}

class Form extends RequestHandler {
  override get() {
    this.write(this.xsrfFormHtml());
    this.write(`|${this.xsrfToken}`);
  }
  override post() {
    this.write('posted');
  }
  override put() {
    this.write('put ok');
  }
}

class User extends RequestHandler {
  override getCurrentUser() {
    return this.getCookie('user', null);
  }
  @authenticated
  override get() {
    this.write(`hi ${this.currentUser}`);
  }
  @authenticated
  override post() {
    this.write('posted');
  }
}

class AsyncUser extends RequestHandler {
  override async getCurrentUser() {
    await new Promise((r) => setImmediate(r));
    const u = this.getCookie('user', null);
    if (u === 'boom') throw new Error('user lookup failed');
    return u ? { name: u } : null;
  }
  override get() {
    this.write(`async hi ${(this.currentUser as { name: string }).name}`);
  }
}
// the wrapper form (no decorator syntax)
AsyncUser.prototype.get = authenticated(AsyncUser.prototype.get);

class AbsoluteLogin extends User {
  override getLoginUrl() {
    return 'https://login.example.com/auth';
  }
}
class QueryLogin extends User {
  override getLoginUrl() {
    return '/login?from=app';
  }
}
class Assigned extends RequestHandler {
  override prepare() {
    this.currentUser = 'assigned';
  }
  override get() {
    this.write(String(this.currentUser));
  }
}

let c: TestClient;
let x: TestClient;
beforeAll(async () => {
  c = await client(
    new Application(
      [
        ['/set', SetCookies],
        ['/read', ReadCookies],
        ['/clear', ClearCookies],
        ['/signed', Signed],
        ['/user', User],
        ['/async-user', AsyncUser],
        ['/abs-login', AbsoluteLogin],
        ['/query-login', QueryLogin],
        ['/assigned', Assigned],
      ],
      { cookieSecret: 'k3y', loginUrl: '/login' },
    ),
  );
  x = await client(
    new Application(
      [
        ['/form', Form],
        ['/nosecret', NoSecret],
      ],
      { xsrfCookies: true, xsrfCookieOptions: { httpOnly: true } },
    ),
  );
});
afterAll(async () => {
  await c.close();
  await x.close();
});

function cookieValue(setCookies: string[], name: string): string | undefined {
  const line = setCookies.find((s) => s.startsWith(`${name}=`));
  return line?.slice(name.length + 1).split(';')[0];
}

describe('cookies', () => {
  it('sets cookies with their attributes, last write of a name wins', async () => {
    const r = await c.get('/set');
    const sc = r.cookies();
    expect(sc).toContain('plain=v1; Path=/');
    const full = sc.find((s) => s.startsWith('full='))!;
    expect(full).toMatch(/Domain=example\.com/);
    expect(full).toMatch(/Path=\/app/);
    expect(full).toMatch(/Max-Age=60/);
    expect(full).toMatch(/HttpOnly/);
    expect(full).toMatch(/Secure/);
    expect(full).toMatch(/SameSite=Lax/);
    const days = sc.find((s) => s.startsWith('days='))!;
    const exp = Date.parse(/Expires=([^;]+)/.exec(days)![1]!);
    expect(Math.abs(exp - (Date.now() + 2 * 86400_000))).toBeLessThan(120_000);
    expect(sc.find((s) => s.startsWith('abs='))).toMatch(/Expires=Wed, 18 May 2033 03:33:20 GMT/);
    const date = sc.find((s) => s.startsWith('date='))!;
    expect(date).toMatch(/Expires=Tue, 01 Jan 2030 00:00:00 GMT/);
    expect(date).toMatch(/SameSite=Strict/);
    expect(date).toMatch(/Partitioned/);
    expect(date).toMatch(/Priority=High/);
    expect(sc.filter((s) => s.startsWith('twice='))).toEqual(['twice=second; Path=/']);
    expect((await c.get('/set?bad=1')).status).toBe(500);
  });

  it('reads request cookies', async () => {
    const r = await c.get('/read', { headers: { Cookie: 'a=1; b="quoted"' } });
    expect(r.json()).toEqual({ a: '1', missing: 'dflt', all: { a: '1', b: 'quoted' } });
  });

  it('clears one cookie or all of them', async () => {
    const one = (await c.get('/clear')).cookies();
    expect(one).toHaveLength(1);
    expect(one[0]).toMatch(
      /^a=; Domain=example\.com; Path=\/; Expires=.*; Max-Age=0$|^a=; Max-Age=0; Domain=example\.com; Path=\/; Expires=/,
    );
    expect(Date.parse(/Expires=([^;]+)/.exec(one[0]!)![1]!)).toBeLessThan(Date.now());
    const all = (await c.get('/clear?all=1', { headers: { Cookie: 'x=1; y=2' } })).cookies();
    expect(all.map((s) => s.split('=')[0])).toEqual(['x', 'y']);
    expect(all.every((s) => s.includes('Path=/p'))).toBe(true);
  });
});

describe('signed cookies', () => {
  it('round-trips a signed cookie', async () => {
    const set = await c.post('/signed', {
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: 'name=al%C3%AFce',
    });
    const value = cookieValue(set.cookies(), 'user')!;
    expect(value).toMatch(/^2\|1:0\|10:\d{10}\|4:user\|8:/);
    expect(set.cookies()[0]).toMatch(/Expires=/);
    const r = await c.get('/signed', { headers: { Cookie: `user=${value}` } });
    expect(r.json()).toEqual({ value: 'alïce', short: null });
  });

  it('reads tampered, foreign-named, missing and malformed cookies as null', async () => {
    const good = createSignedValue('k3y', 'user', 'bob');
    const tampered = good.replace('4:Ym9i', '4:ZXZl');
    const otherName = createSignedValue('k3y', 'admin', 'bob');
    const otherKey = createSignedValue('other', 'user', 'bob');
    for (const v of [tampered, otherName, otherKey, 'garbage', '2|1:0|']) {
      const r = await c.get('/signed', { headers: { Cookie: `user=${v}` } });
      expect(r.json()).toEqual({ value: null, short: null });
    }
    expect((await c.get('/signed')).json()).toEqual({ value: null, short: null });
    expect((await c.get('/signed', { headers: { Cookie: `user=${good}` } })).json()).toMatchObject({
      value: 'bob',
    });
  });

  it('rotates keys with a secret map and keyVersion', async () => {
    const secrets = { 1: 'old-key', 2: 'new-key' };
    const rot = await client(
      new Application([['/signed', Signed]], { cookieSecret: secrets, keyVersion: 2 }),
    );
    try {
      const set = await rot.post('/signed', {
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: 'name=kim',
      });
      const value = cookieValue(set.cookies(), 'user')!;
      expect(value.startsWith('2|1:2|')).toBe(true);
      const old = createSignedValue(secrets, 'user', 'lee', { keyVersion: 1 });
      expect((await rot.get('/signed', { headers: { Cookie: `user=${old}` } })).json()).toMatchObject({
        value: 'lee',
      });
      const unknown = createSignedValue({ 9: 'x' }, 'user', 'eve', { keyVersion: 9 });
      expect((await rot.get('/signed', { headers: { Cookie: `user=${unknown}` } })).json()).toMatchObject({
        value: null,
      });
      expect((await rot.get('/signed', { headers: { Cookie: `user=${value}` } })).json()).toMatchObject({
        value: 'kim',
      });
    } finally {
      await rot.close();
    }
  });

  it('needs cookieSecret', async () => {
    expect((await x.get('/nosecret')).status).toBe(500);
  });
});

describe('xsrf', () => {
  it('sets the xsrf cookie and a masked token in forms', async () => {
    const r = await x.get('/form');
    const text = r.text();
    const html = text.slice(0, text.indexOf('"/>|') + 3);
    const token = text.slice(text.indexOf('"/>|') + 4);
    expect(html).toBe(`<input type="hidden" name="_xsrf" value="${token}"/>`);
    expect(token).toMatch(/^2\|[0-9a-f]{8}\|[0-9a-f]{32}\|\d+$/);
    const cookie = r.cookies().find((s) => s.startsWith('_xsrf='))!;
    expect(cookie).toMatch(/HttpOnly/);
    // the same cookie gives a differently masked token each time, and no new cookie
    const cv = cookieValue(r.cookies(), '_xsrf')!;
    const again = await x.get('/form', { headers: { Cookie: `_xsrf=${cv}` } });
    expect(again.cookies()).toEqual([]);
    expect(again.text().slice(again.text().indexOf('"/>|') + 4)).not.toBe(cv);
  });

  it('refuses unsafe methods without a matching token, accepts argument and headers', async () => {
    const r = await x.get('/form');
    const cv = cookieValue(r.cookies(), '_xsrf')!;
    const token = r.text().split('"')[5]!;
    const form = { 'Content-Type': 'application/x-www-form-urlencoded', Cookie: `_xsrf=${cv}` };
    expect((await x.post('/form', { headers: { Cookie: `_xsrf=${cv}` }, body: '' })).status).toBe(403);
    expect(
      (await x.post('/form', { headers: form, body: `_xsrf=${encodeURIComponent(token)}` })).text(),
    ).toBe('posted');
    expect((await x.post('/form', { headers: form, body: `_xsrf=${encodeURIComponent(cv)}` })).status).toBe(
      200,
    );
    expect(
      (await x.request('PUT', '/form', { headers: { Cookie: `_xsrf=${cv}`, 'X-XSRFToken': token } })).status,
    ).toBe(200);
    expect(
      (await x.request('PUT', '/form', { headers: { Cookie: `_xsrf=${cv}`, 'X-CSRFToken': token } })).status,
    ).toBe(200);
    // a token from another cookie, a malformed token, no cookie at all
    const other = await x.get('/form');
    const otherToken = other.text().split('"')[5]!;
    expect(
      (await x.post('/form', { headers: form, body: `_xsrf=${encodeURIComponent(otherToken)}` })).status,
    ).toBe(403);
    expect((await x.post('/form', { headers: form, body: '_xsrf=2%7Czz%7C00%7C1' })).status).toBe(403);
    expect(
      (
        await x.post('/form', {
          headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
          body: `_xsrf=${encodeURIComponent(token)}`,
        })
      ).status,
    ).toBe(403);
    // safe methods are not checked
    expect((await x.get('/form')).status).toBe(200);
  });
});

describe('authentication', () => {
  it('redirects anonymous GET to loginUrl with next, refuses other methods with 403', async () => {
    const r = await c.get('/user?x=1');
    expect(r.status).toBe(302);
    expect(r.header('location')).toBe('/login?next=%2Fuser%3Fx%3D1');
    expect((await c.post('/user', { body: '' })).status).toBe(403);
    const ok = await c.get('/user', { headers: { Cookie: 'user=ann' } });
    expect(ok.text()).toBe('hi ann');
    expect((await c.post('/user', { headers: { Cookie: 'user=ann' }, body: '' })).text()).toBe('posted');
  });

  it('uses the full url for absolute login urls and keeps login urls with a query', async () => {
    const r = await c.get('/abs-login');
    expect(r.header('location')).toMatch(
      /^https:\/\/login\.example\.com\/auth\?next=http%3A%2F%2F[^%]+(?:%3A\d+)?%2Fabs-login$/,
    );
    expect((await c.get('/query-login')).header('location')).toBe('/login?from=app');
  });

  it('resolves an async getCurrentUser before the method', async () => {
    expect((await c.get('/async-user')).status).toBe(302);
    expect((await c.get('/async-user', { headers: { Cookie: 'user=zed' } })).text()).toBe('async hi zed');
    expect((await c.get('/async-user', { headers: { Cookie: 'user=boom' } })).status).toBe(500);
  });

  it('lets prepare assign currentUser', async () => {
    expect((await c.get('/assigned')).text()).toBe('assigned');
  });
});
