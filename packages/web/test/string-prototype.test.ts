import { execFileSync } from 'node:child_process';
import { setFlagsFromString } from 'node:v8';
import { describe, expect, it } from 'vitest';

// V8 intrinsics, to see the shape of String.prototype (parsed after the flag is on).
setFlagsFromString('--allow-natives-syntax');
const hasFastProperties = new Function('o', 'return %HasFastProperties(o)') as (o: object) => boolean;

describe('String.prototype stays a fast V8 object', () => {
  it('is fast once the package (and nunjucks with it) is loaded', async () => {
    await import('nunjucks');
    await import('../src/index');
    expect(hasFastProperties(String.prototype)).toBe(true);
  });

  it('nunjucks alone leaves it slow; restoreFastStringPrototype makes it fast (plain node)', async () => {
    // A fresh process without the test runner (whose coverage mode changes V8's object shapes).
    const template = await import('../src/template');
    const code = `
      await import('nunjucks');
      const before = %HasFastProperties(String.prototype);
      ${template.restoreFastStringPrototype.toString()}
      ${template.loadThroughString.toString()}
      restoreFastStringPrototype();
      const after = %HasFastProperties(String.prototype);
      restoreFastStringPrototype();
      console.log(JSON.stringify([before, after, %HasFastProperties(String.prototype)]));
    `;
    const out = execFileSync(
      process.execPath,
      ['--allow-natives-syntax', '--input-type=module', '-e', code],
      {
        cwd: __dirname,
        encoding: 'utf8',
        timeout: 15_000,
      },
    );
    expect(JSON.parse(out)).toEqual([false, true, true]);
  });

  it('stays fast while templates render and handlers run', async () => {
    const { Application, RequestHandler, TemplateLoader } = await import('../src/index');
    const { fakeRequest } = await import('./helpers');
    const loader = new TemplateLoader(__dirname);
    expect(
      loader.renderSource('{{ a }} {{ b | safe }} {{ c | upper }}', { a: '<x>', b: '<y>', c: 'z' }),
    ).toBe('&lt;x&gt; <y> Z');
    class Hello extends RequestHandler {
      override get() {
        this.write(this.application.templateLoader(__dirname).renderSource('{{ n }}', { n: 'hi' }));
      }
    }
    const r = await fakeRequest(new Application([['/', Hello]]), 'GET', '/');
    expect(r.text()).toBe('hi');
    expect(hasFastProperties(String.prototype)).toBe(true);
  });
});
