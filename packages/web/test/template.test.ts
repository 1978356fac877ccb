import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Application, markSafe, RequestHandler, TemplateLoader } from '../src/index';
import { client, type TestClient } from './helpers';

const templates = join(__dirname, 'fixtures', 'templates');
const staticDir = mkdtempSync(join(tmpdir(), 'web-tpl-static-'));
writeFileSync(join(staticDir, 'app.css'), 'body { color: red }');

class Page extends RequestHandler {
  override getCurrentUser() {
    return 'ann<admin>';
  }
  override get() {
    return this.render('page.html', {
      title: 'T & <T>',
      heading: '<script>alert(1)</script>',
      raw: '<b>bold</b>',
      items: ['<one>', 'two'],
      data: { a: '</script>' },
    });
  }
}

class Item extends RequestHandler {}

let dynDir: string;
class Counter extends RequestHandler {
  override getTemplatePath() {
    return dynDir;
  }
  override get() {
    this.write(this.renderString('counter.html', { n: 1 }));
  }
}
class NoPath extends RequestHandler {
  override get() {
    return this.render('x.html');
  }
}
class Missing extends RequestHandler {
  override get() {
    return this.render('does-not-exist.html');
  }
}

function app(debug: boolean) {
  return new Application(
    [
      ['/page', Page],
      ['/item/(\\d+)', Item, {}, 'item'],
      ['/counter', Counter],
      ['/missing', Missing],
    ],
    { templatePath: templates, staticPath: staticDir, xsrfCookies: true, debug },
  );
}

let c: TestClient;
let d: TestClient;
beforeAll(async () => {
  dynDir = mkdtempSync(join(tmpdir(), 'web-tpl-'));
  c = await client(app(false));
  d = await client(app(true));
});
afterAll(async () => {
  await c.close();
  await d.close();
  rmSync(dynDir, { recursive: true, force: true });
  rmSync(staticDir, { recursive: true, force: true });
});

describe('templates', () => {
  it('renders layouts, blocks and includes with autoescape and the helpers', async () => {
    const r = await c.get('/page');
    expect(r.status).toBe(200);
    const html = r.text();
    expect(html).toContain('<title>T &amp; &lt;T&gt;</title>');
    expect(html).toContain('<h1>&lt;script&gt;alert(1)&lt;/script&gt;</h1><b>bold</b>');
    expect(html).toContain('<li>&lt;one&gt;</li><li>two</li>');
    expect(html).toMatch(
      /<form method="post"><input type="hidden" name="_xsrf" value="2\|[0-9a-f]{8}\|[0-9a-f]{32}\|\d+"\/><\/form>/,
    );
    expect(html).toContain('<a href="/item/42">item</a>');
    expect(html).toContain('user=ann&lt;admin&gt; path=/page handler=GET');
    expect(html).toContain('json={"a":"<\\/script>"}');
    expect(html).toContain('url=a+b%26c sq=x y');
    expect(html).toMatch(/href="\/static\/app\.css\?v=[0-9a-f]{128}"/);
    expect(r.cookies().some((s) => s.startsWith('_xsrf='))).toBe(true);
  });

  it('caches compiled templates, except in debug mode', async () => {
    writeFileSync(join(dynDir, 'counter.html'), 'v1 {{ n }}');
    expect((await c.get('/counter')).text()).toBe('v1 1');
    expect((await d.get('/counter')).text()).toBe('v1 1');
    writeFileSync(join(dynDir, 'counter.html'), 'v2 {{ n }}');
    expect((await c.get('/counter')).text()).toBe('v1 1');
    expect((await d.get('/counter')).text()).toBe('v2 1');
  });

  it('errors for a missing template or templatePath', async () => {
    expect((await c.get('/missing')).status).toBe(500);
    const bare = await client(new Application([['/', NoPath]]));
    try {
      expect((await bare.get('/')).status).toBe(500);
    } finally {
      await bare.close();
    }
  });

  it('TemplateLoader renders files and sources', () => {
    const l = new TemplateLoader(templates);
    expect(l.render('partial.html', { items: ['<a>'] }).trim()).toBe('<li>&lt;a&gt;</li>');
    expect(l.renderSource('{{ x }}', { x: '<' })).toBe('&lt;');
    expect(l.renderSource('{{ x }}', { x: markSafe('<') })).toBe('<');
    const raw = new TemplateLoader(templates, { autoescape: false });
    expect(raw.renderSource('{{ x }}', { x: '<' })).toBe('<');
  });
});
