import { defineConfig, mergeConfig } from 'vitest/config';
import base from '../../config/vitest.base';

/**
 * The shared config, plus a global setup that bundles the demo for the tests that run it as
 * child processes (several workers, SIGTERM), and longer timeouts for the browser tests.
 */
export default mergeConfig(
  base,
  defineConfig({
    test: {
      globalSetup: ['test/global-setup.ts'],
      testTimeout: 30_000,
      hookTimeout: 30_000,
    },
  }),
);
