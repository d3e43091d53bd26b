import { defineConfig } from 'vitest/config';

/**
 * Two tiers. `unit` (files named *.unit.test.ts) is pure: no broker, no processes, no network
 * beyond an in-process server; `make unit` runs it alone in seconds. `integration` is the rest,
 * on a real broker started by its global setup; `make test` runs both. `cluster`
 * (test/cluster/*.cluster.test.ts, root only) deploys the lab on the real one-node cluster of
 * hack/cluster with make up, and drives it with port-forward + curl, kubectl and helm.
 */
const UNIT = ['services/*/test/**/*.unit.test.ts', 'operator/test/**/*.unit.test.ts', 'test/**/*.unit.test.ts'];
/** The lab deployed on the real one-node cluster of hack/cluster (root only): project `cluster`. */
const CLUSTER = ['test/cluster/**/*.cluster.test.ts'];

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
          exclude: [...UNIT, ...CLUSTER, '**/node_modules/**'],
          // Integration tests share one real broker and measure real throughput: one file at a
          // time keeps their timing honest on a 2-core machine.
          fileParallelism: false,
          globalSetup: ['test/support/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 180_000,
        },
      },
      {
        test: {
          name: 'cluster',
          include: CLUSTER,
          // One lab in one cluster, shared by the files: one file at a time, after the unit tests
          // (and before the integration files, which vitest runs last as their own group).
          fileParallelism: false,
          sequence: { groupOrder: 1 },
          // make cluster-up (if the node is down) and make up CLUSTER=local; make down afterwards.
          globalSetup: ['test/cluster/global-setup.ts'],
          testTimeout: 300_000,
          hookTimeout: 600_000,
        },
      },
    ],
  },
});
