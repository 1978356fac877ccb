import { defineConfig } from 'tsup';

/**
 * The demo is an application, not a library: one ESM entry (`dist/main.js`, what `npm start`
 * runs), no type declarations. The tornado-ts layers and ioredis stay external and are loaded
 * from their own builds.
 */
export default defineConfig({
  entry: { main: 'src/main.ts' },
  format: ['esm'],
  target: 'node20',
  platform: 'node',
  sourcemap: true,
  clean: true,
  splitting: false,
  dts: false,
});
