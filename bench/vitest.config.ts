import { defineConfig } from 'vitest/config';

/** The harness's pure parts only: no server, no load generation. */
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    environment: 'node',
    testTimeout: 10_000,
    coverage: {
      provider: 'v8',
      include: ['lib/stats.mjs', 'lib/wrk.mjs', 'lib/report.mjs', 'lib/profile.mjs'],
      reporter: ['text-summary'],
      thresholds: { lines: 90 },
    },
  },
});
