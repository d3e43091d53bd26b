import { commonEnv, env, loadConfig } from '@bplab/kit';
import { z } from 'zod';

/** A message may not take longer than this: it must stay well inside the session timeout. */
export const MAX_PROCESSING_MS = 10_000;

const schema = z.object({
  ...commonEnv,
  PORT: env.port(8001),
  TOPIC: env.string('orders'),
  GROUP_ID: env.string('order-processors'),
  SINK_TOPIC: env.string('orders.processed'),
  PROCESSING_TIME_MS: env.int(500, 0, MAX_PROCESSING_MS),
  /** Names this instance in the sink, in metrics and in /stats; defaults to consumer-<port>. */
  CONSUMER_ID: z.string().min(1).optional(),
  SESSION_TIMEOUT_MS: env.int(30_000, 6_000, 300_000),
  HEARTBEAT_INTERVAL_MS: env.int(3_000, 100, 60_000),
});

const parsed = loadConfig(schema);
export const config = { ...parsed, CONSUMER_ID: parsed.CONSUMER_ID ?? `consumer-${parsed.PORT}` };
export type Config = typeof config;
