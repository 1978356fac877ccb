import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll } from 'vitest';

const root = resolve(__dirname, '..', '..');

/**
 * Bundles the package sources (public API plus the internals in `internals.ts`, and the
 * workspace packages below it, through the `@tornado-ts/source` condition) into one ESM file that plain `node` can import: child
 * processes in the tests run real scripts against it. Returns the directory holding
 * `tcpserver.mjs`; write child scripts next to it.
 */
export async function bundlePackage(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'tornado-ts-tcpserver-'));
  await build({
    entryPoints: [join(root, 'test', 'helpers', 'internals.ts')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    conditions: ['@tornado-ts/source'],
    outfile: join(dir, 'tcpserver.mjs'),
    logLevel: 'silent',
    banner: {
      js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
    },
  });
  return dir;
}

/**
 * For a file of child-process tests: bundles the package once before its tests ({@link bundlePackage})
 * and removes the bundle after them. `onDir` receives the bundle directory.
 */
export function useBundle(onDir: (dir: string) => void): void {
  let dir = '';
  beforeAll(async () => {
    dir = await bundlePackage();
    onDir(dir);
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
}

/** Writes a child script (plain JS, ESM) into the bundle directory and returns its path. */
export function writeScript(dir: string, name: string, source: string): string {
  const path = join(dir, name);
  writeFileSync(path, source);
  return path;
}
