import { execFile } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleSources } from './helpers';

let bundle: { file: string; cleanup: () => void };
beforeAll(async () => {
  bundle = await bundleSources();
});
afterAll(() => bundle?.cleanup());

/** Runs an ES module snippet (with `ioloop` imported as a namespace) in a fresh Node process. */
function run(
  code: string,
  args: string[] = [],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const src = `import * as ioloop from ${JSON.stringify(pathToFileURL(bundle.file).href)};\n${code}`;
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [...args, '--input-type=module', '-e', src],
      { timeout: 15_000, env: { ...process.env, VITEST: '', TORNADO_TS_LOG_LEVEL: 'debug' } },
      (err, stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('process lifetime', () => {
  it('a pending timeout keeps the process alive until it fires', async () => {
    const r = await run(`ioloop.IOLoop.current().callLater(0.05, () => console.log('fired'));`);
    expect(r.stdout.trim()).toBe('fired');
    expect(r.code).toBe(0);
  });

  it('a removed timeout does not keep the process alive (it would take 60 s)', async () => {
    const r = await run(`
      const loop = ioloop.IOLoop.current();
      const ts = [];
      for (let i = 0; i < 2000; i++) ts.push(loop.callLater(60, () => console.log('never')));
      for (const t of ts) loop.removeTimeout(t);
      loop.addCallback(() => console.log('done'));`);
    expect(r.stdout.trim()).toBe('done');
    expect(r.code).toBe(0);
  });

  it('start() keeps the process alive until stop()', async () => {
    const r = await run(`
      const loop = ioloop.IOLoop.current();
      setTimeout(() => loop.stop(), 50).unref();
      await loop.start();
      console.log('stopped');`);
    expect(r.stdout.trim()).toBe('stopped');
    expect(r.code).toBe(0);
  });

  it('logs to stderr by default, with Tornado-style prefixes', async () => {
    const r = await run(`
      const loop = ioloop.IOLoop.current();
      loop.addCallback(function failing() { throw new Error('kaboom'); });
      loop.addCallback(() => ioloop.accessLog.info('200 GET /%s', 'x'));`);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(
      /\[E \d{6} [\d:]{8} tornado\.application\] Exception in callback failing: Error: kaboom/,
    );
    expect(r.stdout).toMatch(/\[I \d{6} [\d:]{8} tornado\.access\] 200 GET \/x/);
  });

  it('a Future whose exception nobody retrieved is logged when collected', async () => {
    const r = await run(
      `
      (() => { const f = new ioloop.Future(); f.setException(new Error('lost error')); })();
      (() => { const f = new ioloop.Future(); f.setException(new Error('seen error')); f.exception(); })();
      for (let i = 0; i < 10; i++) { globalThis.gc(); await new Promise((r) => setTimeout(r, 10)); }`,
      ['--expose-gc'],
    );
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('Future exception was never retrieved: Error: lost error');
    expect(r.stderr).not.toContain('seen error');
  });
});
