import { rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { build } from 'tsup';

/** Where the tests' own build of the demo goes (the child-process tests run it). */
export const TEST_DIST = fileURLToPath(new URL('../.test-dist/', import.meta.url));

/**
 * Bundles `src/main.ts` with the TypeScript sources of every tornado-ts layer (the same
 * `@tornado-ts/source` condition vitest uses), so the multi-process and SIGTERM tests run the
 * code under test, not whatever `dist/` builds happen to exist. It sits one level below the
 * package root, like `dist/`, so templates and static files are found the same way.
 */
export async function setup(): Promise<void> {
  await build({
    entry: { main: fileURLToPath(new URL('../src/main.ts', import.meta.url)) },
    outDir: TEST_DIST,
    format: ['esm'],
    platform: 'node',
    target: 'node20',
    noExternal: [/^@tornado-ts\//],
    external: ['ioredis', 'chokidar', 'fsevents'],
    esbuildOptions(options) {
      options.conditions = ['@tornado-ts/source'];
      // CommonJS dependencies (nunjucks) call require() for Node built-ins.
      options.banner = {
        js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
      };
    },
    sourcemap: 'inline',
    splitting: false,
    dts: false,
    silent: true,
    config: false,
  });
}

export async function teardown(): Promise<void> {
  await rm(TEST_DIST, { recursive: true, force: true });
}
