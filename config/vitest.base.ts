import { defineConfig } from 'vitest/config';

/**
 * The shared vitest config. Workspace packages resolve to their TypeScript sources through the
 * `@tornado-ts/source` export condition, so a package's tests never wait for another's build.
 * Every package keeps at least 90 % line coverage.
 */
export default defineConfig({
  resolve: { conditions: ['@tornado-ts/source', 'module', 'node', 'development|production'] },
  ssr: { resolve: { conditions: ['@tornado-ts/source', 'module', 'node', 'development|production'] } },
  test: {
    include: ['test/**/*.test.ts', 'src/**/*.test.ts'],
    environment: 'node',
    testTimeout: 20_000,
    hookTimeout: 20_000,
    teardownTimeout: 10_000,
    pool: 'forks',
    coverage: {
      provider: 'v8',
      include: ['src/**/*.ts'],
      exclude: ['src/**/*.test.ts'],
      reporter: ['text-summary'],
      thresholds: { lines: 90 },
    },
  },
});
