import { commonEnv, env, LAB, loadConfig } from '@bplab/kit';
import { z } from 'zod';

const schema = z.object({
  ...commonEnv,
  PORT: env.port(LAB.ports.producer),
  TOPIC: env.string(LAB.kafka.topic),
  /** The auto-producer's settings at start; POST /config changes them at run time. */
  RATE_MS: env.int(1000, 1, 60_000),
  BATCH_SIZE: env.int(1, 1, 1000),
  AUTO_START: env.bool(false),
});

export type Config = z.infer<typeof schema>;

export function readConfig(source: NodeJS.ProcessEnv = process.env): Config {
  return loadConfig(schema, source);
}
