import { commonEnv, DEFAULT_RATE_WINDOW_MS, env, LAB, loadConfig } from '@bplab/kit';
import { z } from 'zod';

const schema = z
  .object({
    ...commonEnv,
    PORT: env.port(LAB.ports.lagMonitor),
    TOPIC: env.string(LAB.kafka.topic),
    GROUP_ID: env.string(LAB.kafka.group),
    /**
     * Twice a second: while the operator holds a rise for its rate (a poll interval, 1 s by
     * default), a sample half-way can already ask for the upper bound and end the wait.
     */
    POLL_INTERVAL_MS: env.int(500, 100, 60_000),
    LAG_WARNING: env.int(100, 1),
    LAG_CRITICAL: env.int(500, 1),
    /** Lag growth in messages per second that raises a warning. */
    RATE_WARNING: env.number(10),
    /** Rates are slopes over this window: longer is smoother, shorter reacts faster. */
    RATE_WINDOW_MS: env.int(DEFAULT_RATE_WINDOW_MS, 1000, 300_000),
    /** 10 minutes of samples at the default poll interval. */
    HISTORY_SIZE: env.int(1200, 10, 100_000),
    ALERTS_SIZE: env.int(50, 1, 10_000),
    /** How fast recommendations aim to drain a backlog. */
    DRAIN_TARGET_SECONDS: env.int(60, 1, 86_400),
    /**
     * The evaluation's sliding window (OK, WARN, STALL, STOP per partition: evaluate.ts). Make it
     * longer than one message's processing time, or a slow but healthy consumer reads as STALL
     * between its commits. At most 5 minutes: the monitor keeps 10 minutes of samples.
     */
    EVALUATION_WINDOW_MS: env.int(30_000, 1000, 300_000),
    /** The producer, whose throttle /status and the page show; unset: not shown. */
    PRODUCER_URL: z.url({ protocol: /^https?$/ }).optional(),
  })
  .refine((c) => c.LAG_CRITICAL > c.LAG_WARNING, { path: ['LAG_CRITICAL'], message: 'must be greater than LAG_WARNING' })
  // A rate needs two samples inside its window; with polls further apart there would never be one.
  .refine((c) => c.RATE_WINDOW_MS >= 2 * c.POLL_INTERVAL_MS, { path: ['RATE_WINDOW_MS'], message: 'must be at least twice POLL_INTERVAL_MS' })
  // A window judges a trend between samples: it needs at least two polls in it.
  .refine((c) => c.EVALUATION_WINDOW_MS >= 2 * c.POLL_INTERVAL_MS, { path: ['EVALUATION_WINDOW_MS'], message: 'must be at least twice POLL_INTERVAL_MS' });

export type Config = z.infer<typeof schema>;

export function readConfig(source: NodeJS.ProcessEnv = process.env): Config {
  return loadConfig(schema, source);
}
