import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['services/*/test/**/*.test.ts', 'operator/test/**/*.test.ts', 'test/**/*.test.ts'],
    // Integration tests share one real broker and measure real throughput: one file at a time
    // keeps their timing honest on a 2-core machine.
    fileParallelism: false,
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 180_000,
    reporters: ['default'],
  },
});
