import { describe, expect, it } from 'vitest';
import {
  Application,
  HostMatches,
  PathMatches,
  RequestHandler,
  RoutingError,
  URLSpec,
  url,
} from '../src/index';
import { fakeRequest } from './helpers';

class Echo extends RequestHandler {
  override get(...args: unknown[]) {
    this.finish({ args, kwargs: { ...this.pathKwargs }, cls: this.constructor.name, init: this.init });
  }
  init: unknown = null;
  override initialize(a: Record<string, unknown>) {
    this.init = a;
  }
}
class Other extends Echo {}

describe('PathMatches', () => {
  it('anchors string patterns at both ends', () => {
    const m = new PathMatches('/a/(\\d+)');
    expect(m.regex.source.startsWith('^') && m.regex.source.endsWith('$')).toBe(true);
    expect(m.match('/a/12')).toEqual({ args: ['12'], kwargs: null });
    expect(m.match('/a/12/')).toBeNull();
    expect(m.match('/x/a/12')).toBeNull();
  });

  it('anchors RegExp patterns and keeps their flags', () => {
    const m = new PathMatches(/\/CaSe\/(\w+)/i);
    expect(m.match('/case/x')).toEqual({ args: ['x'], kwargs: null });
    expect(m.match('/case/x/y')).toBeNull();
    expect(m.literal).toBeNull();
  });

  it('matches literal patterns by string comparison', () => {
    const m = new PathMatches('/favicon\\.ico');
    expect(m.literal).toBe('/favicon.ico');
    expect(m.match('/favicon.ico')).toEqual({ args: [], kwargs: null });
    expect(m.match('/faviconxico')).toBeNull();
  });

  it('gives named groups as kwargs, Python syntax accepted', () => {
    const m = new PathMatches('/(?P<year>\\d{4})/(?<slug>[a-z-]+)');
    expect(m.match('/2024/hello-you')).toEqual({ args: [], kwargs: { year: '2024', slug: 'hello-you' } });
    expect(m.groupNames).toEqual(['year', 'slug']);
  });

  it('refuses mixing positional and named groups, naming the rule', () => {
    expect(() => new URLSpec('/(\\d+)/(?<name>\\w+)', Echo, null, 'mixed')).toThrow(RoutingError);
    expect(() => new URLSpec('/(\\d+)/(?<name>\\w+)', Echo, null, 'mixed')).toThrow(/'mixed'/);
    expect(() => new PathMatches('/(?:\\d+)/(?<name>\\w+)')).not.toThrow();
  });

  it('refuses invalid patterns', () => {
    expect(() => new PathMatches('/(unclosed')).toThrow(RoutingError);
    expect(() => url('/x', 'nope' as unknown as typeof Echo)).toThrow(RoutingError);
  });

  it('reverses simple patterns with escaping', () => {
    const m = new PathMatches('/story/([0-9]+)/(.*)\\.html');
    expect(m.reverse(42, 'a b/c?d&é')).toBe('/story/42/a%20b/c%3Fd%26%C3%A9.html');
    expect(() => m.reverse(1)).toThrow(/required number of arguments/);
    expect(new PathMatches('/plain').reverse()).toBe('/plain');
    expect(new PathMatches('/b/(?<x>\\w+)').reverse('y')).toBe('/b/y');
    expect(new PathMatches('/b/(?<x>\\w+)').reverse(Buffer.from('z'))).toBe('/b/z');
  });

  it('refuses to reverse complex patterns', () => {
    expect(() => new PathMatches('/a/((x)|y)').reverse('x', 'x')).toThrow(/cannot reverse/);
    expect(() => new PathMatches('/a/\\d(x)').reverse('x')).toThrow(/cannot reverse/);
  });
});

describe('HostMatches', () => {
  it('anchors and ignores case', () => {
    const h = new HostMatches('www\\.example\\.com');
    expect(h.match('www.example.com')).toBe(true);
    expect(h.match('WWW.EXAMPLE.COM')).toBe(true);
    expect(h.match('www.example.com.evil')).toBe(false);
    expect(new HostMatches(/.*\.example\.com$/).match('a.example.com')).toBe(true);
  });
});

describe('Application routing', () => {
  it('passes percent-decoded positional args', async () => {
    const app = new Application([['/p/([^/]+)/(.*)', Echo]]);
    const r = await fakeRequest(app, 'GET', '/p/a%20b/%C3%A9%2Fx?q=1');
    expect(r.json().args).toEqual(['a b', 'é/x']);
  });

  it('answers 400 for invalid UTF-8 in path args', async () => {
    const app = new Application([['/p/(.*)', Echo]]);
    const r = await fakeRequest(app, 'GET', '/p/%FF%FE');
    expect(r.status).toBe(400);
  });

  it('keeps malformed escapes literally', async () => {
    const app = new Application([['/p/(.*)', Echo]]);
    const r = await fakeRequest(app, 'GET', '/p/100%25%zz');
    expect(r.json().args).toEqual(['100%%zz']);
  });

  it('passes named groups as pathKwargs and as one argument', async () => {
    const app = new Application([['/n/(?<id>\\d+)', Echo]]);
    const r = await fakeRequest(app, 'GET', '/n/7');
    const body = r.json();
    expect(body.kwargs).toEqual({ id: '7' });
    expect(body.args).toEqual([{ id: '7' }]);
  });

  it('uses the first matching rule, with initArgs', async () => {
    const app = new Application([
      url('/a', Echo, { n: 1 }, 'first'),
      ['/a', Other, { n: 2 }],
      ['/(b)?', Other],
    ]);
    const r = await fakeRequest(app, 'GET', '/a');
    expect(r.json()).toMatchObject({ cls: 'Echo', init: { n: 1 } });
    const r2 = await fakeRequest(app, 'GET', '/');
    expect(r2.json().args).toEqual([null]);
  });

  it('keeps rule order between literal and pattern rules (literal-path index)', async () => {
    class Third extends Echo {}
    const app = new Application([
      ['/lit', Echo, { rule: 0 }],
      ['/(pat|lit2|lit)', Other, { rule: 1 }],
      ['/lit2', Third, { rule: 2 }],
      ['/lit', Third, { rule: 3 }],
      ['/late', Third, { rule: 4 }],
      ['/late', Echo, { rule: 5 }],
    ]);
    const init = async (path: string) => (await fakeRequest(app, 'GET', path)).json().init;
    expect(await init('/lit')).toEqual({ rule: 0 }); // literal before any pattern: no scan
    expect(await init('/lit2')).toEqual({ rule: 1 }); // an earlier pattern beats a later literal
    expect(await init('/pat')).toEqual({ rule: 1 });
    expect(await init('/late')).toEqual({ rule: 4 }); // the first of two equal literals
    expect((await fakeRequest(app, 'GET', '/nope')).status).toBe(404);
    // rules added after requests were served are seen (the index is rebuilt)
    app.addRules([['/added', Other, { rule: 6 }]]);
    expect(await init('/added')).toEqual({ rule: 6 });
    const lits = new Application([
      ['/a', Echo, { rule: 0 }],
      ['/b', Other, { rule: 1 }],
    ]);
    expect((await fakeRequest(lits, 'GET', '/b')).json().init).toEqual({ rule: 1 });
    expect((await fakeRequest(lits, 'GET', '/c')).status).toBe(404);
    lits.addRules([['/(c)', Other, { rule: 2 }]]);
    expect((await fakeRequest(lits, 'GET', '/c')).json().init).toEqual({ rule: 2 });
    expect((await fakeRequest(lits, 'GET', '/a')).json().init).toEqual({ rule: 0 });
  });

  it('keeps rule order with many literal rules (looked up by path, not scanned)', async () => {
    const rules: [string, typeof Echo, Record<string, unknown>][] = [];
    for (let i = 0; i < 12; i++) rules.push([`/l${i}`, Echo, { rule: i }]);
    rules.push(['/l2', Other, { rule: 'dup' }]); // a later duplicate never wins
    rules.push(['/(p|l20)', Other, { rule: 'pattern' }]);
    rules.push(['/l20', Echo, { rule: 'late literal' }]); // after a pattern that matches it
    rules.push(['/l21', Echo, { rule: 'late literal 21' }]);
    const app = new Application(rules);
    const init = async (path: string) => (await fakeRequest(app, 'GET', path)).json().init;
    expect(await init('/l0')).toEqual({ rule: 0 });
    expect(await init('/l11')).toEqual({ rule: 11 });
    expect(await init('/l2')).toEqual({ rule: 2 });
    expect(await init('/p')).toEqual({ rule: 'pattern' });
    expect(await init('/l20')).toEqual({ rule: 'pattern' });
    expect(await init('/l21')).toEqual({ rule: 'late literal 21' });
    expect((await fakeRequest(app, 'GET', '/l99')).status).toBe(404);
    app.addRules([['/l99', Other, { rule: 'added' }]]);
    expect(await init('/l99')).toEqual({ rule: 'added' });
  });

  it('routes by host, falling through to the wildcard rules', async () => {
    const app = new Application([['/', Echo]]);
    app.addHandlers('www\\.example\\.com', [
      ['/', Other],
      ['/only-www', Other],
    ]);
    app.addHandlers('.*\\.example\\.org', [['/', Other, { org: true }]]);
    expect(JSON.parse((await fakeRequest(app, 'GET', '/')).text()).cls).toBe('Echo');
    const www = await fakeRequest(app, 'GET', '/', { headers: { Host: 'www.example.com:8080' } });
    expect(www.json().cls).toBe('Other');
    const org = await fakeRequest(app, 'GET', '/', { headers: { Host: 'a.example.org' } });
    expect(org.json().init).toEqual({ org: true });
    expect((await fakeRequest(app, 'GET', '/only-www')).status).toBe(404);
    expect(
      (await fakeRequest(app, 'GET', '/only-www', { headers: { Host: 'www.example.com' } })).status,
    ).toBe(200);
  });

  it('serves a default host for unmatched hosts unless proxied', async () => {
    const app = new Application([], { defaultHost: 'www.example.com' });
    app.addHandlers('www\\.example\\.com', [['/', Other]]);
    expect((await fakeRequest(app, 'GET', '/', { headers: { Host: 'other' } })).status).toBe(200);
    expect(
      (await fakeRequest(app, 'GET', '/', { headers: { Host: 'other', 'X-Real-Ip': '1.2.3.4' } })).status,
    ).toBe(404);
  });

  it('uses defaultHandlerClass for unmatched paths', async () => {
    const app = new Application([['/', Echo]], {
      defaultHandlerClass: Other,
      defaultHandlerArgs: { dflt: 1 },
    });
    const r = await fakeRequest(app, 'GET', '/missing');
    expect(r.json()).toMatchObject({ cls: 'Other', init: { dflt: 1 } });
  });

  it('reverses named urls', () => {
    const app = new Application([
      url('/story/([0-9]+)', Echo, null, 'story'),
      ['/u/(?<name>[^/]+)/(?<tab>\\w+)', Echo, {}, 'user'],
    ]);
    app.addRules([['/late', Echo, {}, 'late']]);
    expect(app.reverseUrl('story', 7)).toBe('/story/7');
    expect(app.reverseUrl('user', 'a b', 'x')).toBe('/u/a%20b/x');
    expect(app.reverseUrl('late')).toBe('/late');
    expect(() => app.reverseUrl('nope')).toThrow(/nope not found/);
  });

  it('rejects malformed rules', () => {
    expect(() => new Application([['/x'] as unknown as [string, typeof Echo]])).toThrow(RoutingError);
    expect(String(url('/x', Echo, null, 'n'))).toContain('Echo, name=n');
  });
});
