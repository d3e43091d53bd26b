import { commonEnv, env, loadConfig } from '@bplab/kit';
import { z } from 'zod';

export const config = loadConfig(
  z
    .object({
      ...commonEnv,
      PORT: env.port(8010),
      TOPIC: env.string('orders'),
      GROUP_ID: env.string('order-processors'),
      POLL_INTERVAL_MS: env.int(1000, 100, 60_000),
      LAG_WARNING: env.int(100, 1),
      LAG_CRITICAL: env.int(500, 1),
      /** Lag growth in messages per second that raises a warning. */
      RATE_WARNING: env.number(10),
      /** Rates are slopes over this window: longer is smoother, shorter reacts faster. */
      RATE_WINDOW_MS: env.int(5000, 1000, 300_000),
      HISTORY_SIZE: env.int(600, 10, 100_000),
      ALERTS_SIZE: env.int(50, 1, 10_000),
      /** How fast recommendations aim to drain a backlog. */
      DRAIN_TARGET_SECONDS: env.int(60, 1, 86_400),
    })
    .refine((c) => c.LAG_CRITICAL > c.LAG_WARNING, { path: ['LAG_CRITICAL'], message: 'must be greater than LAG_WARNING' }),
);
export type Config = typeof config;
