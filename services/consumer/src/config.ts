import { commonEnv, env, LAB, loadConfig } from '@bplab/kit';
import { z } from 'zod';

/** A message may not take longer than this: it must stay well inside the session timeout. */
export const MAX_PROCESSING_MS = 10_000;

const schema = z
  .object({
    ...commonEnv,
    PORT: env.port(LAB.ports.consumerBase),
    TOPIC: env.string(LAB.kafka.topic),
    GROUP_ID: env.string(LAB.kafka.group),
    SINK_TOPIC: env.string(LAB.kafka.sinkTopic),
    PROCESSING_TIME_MS: env.int(500, 0, MAX_PROCESSING_MS),
    /** Names this instance in the sink, in metrics and in /stats; defaults to consumer-<port>. */
    CONSUMER_ID: z.string().min(1).optional(),
    SESSION_TIMEOUT_MS: env.int(30_000, 6_000, 300_000),
    HEARTBEAT_INTERVAL_MS: env.int(3_000, 100, 60_000),
  })
  .transform((c) => ({ ...c, CONSUMER_ID: c.CONSUMER_ID ?? `consumer-${c.PORT}` }));

export type Config = z.infer<typeof schema>;

export function readConfig(source: NodeJS.ProcessEnv = process.env): Config {
  return loadConfig(schema, source);
}
