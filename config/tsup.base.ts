import { defineConfig } from 'tsup';

/**
 * The one build config every package extends: ESM + CJS + .d.ts, sourcemaps, Node 20.
 * A package's `tsup.config.ts` is a single re-export of this file.
 */
export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm', 'cjs'],
  target: 'node20',
  platform: 'node',
  dts: { compilerOptions: { customConditions: [] } },
  sourcemap: true,
  clean: true,
  shims: true,
  splitting: false,
  treeshake: false,
});
