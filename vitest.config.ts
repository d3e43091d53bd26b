import { defineConfig } from 'vitest/config';

/**
 * Two tiers. `unit` (files named *.unit.test.ts) is pure: no broker, no processes, no network
 * beyond an in-process server; `make unit` runs it alone in seconds. `integration` is the rest,
 * on a real broker started by its global setup; `make test` runs both.
 */
const UNIT = ['services/*/test/**/*.unit.test.ts', 'operator/test/**/*.unit.test.ts', 'test/**/*.unit.test.ts'];

export default defineConfig({
  test: {
    reporters: ['default'],
    projects: [
      {
        test: { name: 'unit', include: UNIT },
      },
      {
        test: {
          name: 'integration',
          include: ['services/*/test/**/*.test.ts', 'operator/test/**/*.test.ts', 'test/**/*.test.ts'],
          exclude: [...UNIT, '**/node_modules/**'],
          // Integration tests share one real broker and measure real throughput: one file at a
          // time keeps their timing honest on a 2-core machine.
          fileParallelism: false,
          globalSetup: ['test/support/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});
