import { commonEnv, env, LAB, loadConfig } from '@bplab/kit';
import { z } from 'zod';

const schema = z
  .object({
    ...commonEnv,
    PORT: env.port(LAB.ports.producer),
    TOPIC: env.string(LAB.kafka.topic),
    /** The auto-producer's settings at start; POST /config changes them at run time. */
    RATE_MS: env.int(1000, 1, 60_000),
    BATCH_SIZE: env.int(1, 1, 1000),
    AUTO_START: env.bool(false),
    /** The throttle (throttle.ts) at start; POST /throttle turns it on and off at run time. */
    THROTTLE: env.bool(false),
    /** Where the throttle reads GET /lag. */
    LAG_MONITOR_URL: z.url({ protocol: /^https?$/ }).default(`http://127.0.0.1:${LAB.ports.lagMonitor}`),
    /** How often it reads it; each read also times out after this long. */
    THROTTLE_POLL_MS: env.int(1000, 100, 60_000),
    /** Throttled, the producer sends this share of what the consumers commit, so the backlog drains. */
    THROTTLE_FRACTION: z.coerce.number().gt(0).max(1).default(0.8),
    /** Holding lasts at most this long without a fresh lag report; then the producer opens. */
    THROTTLE_BLIND_MS: env.int(30_000, 1000, 3_600_000),
  })
  .refine((c) => c.THROTTLE_BLIND_MS >= c.THROTTLE_POLL_MS, { path: ['THROTTLE_BLIND_MS'], message: 'must be at least THROTTLE_POLL_MS' });

export type Config = z.infer<typeof schema>;

export function readConfig(source: NodeJS.ProcessEnv = process.env): Config {
  return loadConfig(schema, source);
}
