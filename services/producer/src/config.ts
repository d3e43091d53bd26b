import { commonEnv, env, loadConfig } from '@bplab/kit';
import { z } from 'zod';

export const config = loadConfig(
  z.object({
    ...commonEnv,
    PORT: env.port(8000),
    TOPIC: env.string('orders'),
    /** The auto-producer's settings at start; POST /config changes them at run time. */
    RATE_MS: env.int(1000, 1, 60_000),
    BATCH_SIZE: env.int(1, 1, 1000),
    AUTO_START: env.bool(false),
  }),
);
export type Config = typeof config;
