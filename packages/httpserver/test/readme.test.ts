/**
 * The README's echo server runs as written: its code block is bundled against the sources
 * (the package import pointed at src/), started in a child process, asked over HTTP, and stopped
 * with SIGINT (its graceful-stop handler exits 0).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));
const pkg = resolve(here, '..');

async function freePort(): Promise<number> {
  return new Promise((res) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => res(port));
    });
  });
}

let esbuild: typeof import('esbuild') | null = null;
try {
  esbuild = await import('esbuild');
} catch {
  esbuild = null;
}

describe.skipIf(esbuild === null)('README', () => {
  it('the echo server example runs', async () => {
    const readme = readFileSync(join(pkg, 'README.md'), 'utf8');
    const code = /```js\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(code).toBeDefined();
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'httpserver-readme-'));
    try {
      const src = join(dir, 'echo.mts');
      writeFileSync(
        src,
        (code as string)
          .replace("'@tornado-ts/httpserver'", JSON.stringify(join(pkg, 'src/index.ts')))
          .replaceAll('8888', String(port)),
      );
      const out = join(dir, 'echo.mjs');
      await (esbuild as typeof import('esbuild')).build({
        entryPoints: [src],
        bundle: true,
        platform: 'node',
        format: 'esm',
        outfile: out,
        conditions: ['@tornado-ts/source'],
        logLevel: 'error',
        banner: {
          js: "import { createRequire as __readmeCreateRequire } from 'node:module'; const require = __readmeCreateRequire(import.meta.url);",
        },
      });
      const child = spawn(process.execPath, [out], { stdio: ['ignore', 'pipe', 'pipe'] });
      try {
        await new Promise<void>((res, rej) => {
          child.stdout.on('data', (d: Buffer) => {
            if (d.toString().includes('listening on')) res();
          });
          child.on('exit', (c) => rej(new Error(`example exited early with ${c}`)));
        });
        const res = await fetch(`http://127.0.0.1:${port}/some/path`, { method: 'POST', body: 'hi' });
        expect(res.status).toBe(200);
        expect(await res.text()).toBe('You requested POST /some/path with 2 bytes\n');
        const exited = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
        child.kill('SIGINT');
        expect(await exited).toBe(0);
      } finally {
        child.kill('SIGKILL');
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
