import { commonEnv, env, LAB, loadConfig } from '@bplab/kit';
import { z } from 'zod';
import { MAX_BATCH_SIZE } from './batch.js';
import { MAX_DLQ_RETRIES, MAX_RETRY_BACKOFF_MS } from './dead-letter.js';
import { MAX_DOWNSTREAM_LATENCY_MS } from './downstream.js';
import type { Thresholds } from './downstream-health.js';

/** A message may not take longer than this: it must stay well inside the session timeout. */
export const MAX_PROCESSING_MS = 10_000;

const rate = (fallback: number) => z.coerce.number().min(0).max(1).default(fallback);

const schema = z
  .object({
    ...commonEnv,
    PORT: env.port(LAB.ports.consumerBase),
    TOPIC: env.string(LAB.kafka.topic),
    GROUP_ID: env.string(LAB.kafka.group),
    SINK_TOPIC: env.string(LAB.kafka.sinkTopic),
    /** Where poison records go once their retries are used up. */
    DLQ_TOPIC: env.string(LAB.kafka.dlqTopic),
    /** Retries of a record whose processing fails, before it is dead-lettered: tried this + 1 times. */
    DLQ_MAX_RETRIES: env.int(3, 0, MAX_DLQ_RETRIES),
    /** The wait before the first retry; it doubles for each next one, up to MAX_RETRY_BACKOFF_MS. */
    DLQ_RETRY_BACKOFF_MS: env.int(100, 0, MAX_RETRY_BACKOFF_MS),
    PROCESSING_TIME_MS: env.int(500, 0, MAX_PROCESSING_MS),
    /** Messages per batch: 1 is one at a time; more is one processing time, write and commit per batch. */
    BATCH_SIZE: env.int(1, 1, MAX_BATCH_SIZE),
    /** Names this instance in the sink, in metrics and in /stats; defaults to consumer-<port>. */
    CONSUMER_ID: z.string().min(1).optional(),
    SESSION_TIMEOUT_MS: env.int(30_000, 6_000, 300_000),
    /**
     * With Kafka's eager rebalance a joining consumer waits until every member has heard of the
     * rebalance, and a member hears of it at its next heartbeat: this bounds a scale-up's wait.
     * Kafka's own default is 3000; a heartbeat is one small request to the coordinator. Measured
     * on 2 cores, 5 consumers started at once beside a busy one, spawn to all 6 consuming (5-6
     * rounds each): 0.94-1.30 s at 500, 0.93-1.05 s at 250, 0.93-1.11 s at 100 (before the
     * consumer was bundled: 1.29-1.77, 1.28-1.41 and 1.12-1.77 s). 250 cuts the slow tail; less
     * gains nothing more.
     */
    HEARTBEAT_INTERVAL_MS: env.int(250, 100, 60_000),
    /** The simulated downstream at start-up (POST /downstream changes it). */
    DOWNSTREAM_LATENCY_MS: env.int(0, 0, MAX_DOWNSTREAM_LATENCY_MS),
    DOWNSTREAM_ERROR_RATE: rate(0),
    /** Automatic pause/resume on the downstream's health; off by default (POST /config auto_pause). */
    AUTO_PAUSE: env.bool(false),
    AUTO_PAUSE_P50_MS: env.int(1_000, 1, MAX_DOWNSTREAM_LATENCY_MS),
    AUTO_RESUME_P50_MS: env.int(250, 0, MAX_DOWNSTREAM_LATENCY_MS),
    AUTO_PAUSE_ERROR_RATE: rate(0.5),
    AUTO_RESUME_ERROR_RATE: rate(0.1),
    AUTO_RESUME_HOLD_MS: env.int(5_000, 0, 600_000),
    DOWNSTREAM_WINDOW_MS: env.int(5_000, 500, 600_000),
    /** One slow answer (or one call unanswered past AUTO_PAUSE_P50_MS) is evidence enough by default. */
    DOWNSTREAM_MIN_SAMPLES: env.int(1, 1, 1_000),
    DOWNSTREAM_PROBE_MS: env.int(1_000, 100, 60_000),
  })
  // Hysteresis needs a gap between the marks: resume strictly below where it pauses.
  .refine((c) => c.AUTO_RESUME_P50_MS < c.AUTO_PAUSE_P50_MS, { path: ['AUTO_RESUME_P50_MS'], message: 'must be below AUTO_PAUSE_P50_MS' })
  .refine((c) => c.AUTO_RESUME_ERROR_RATE < c.AUTO_PAUSE_ERROR_RATE, { path: ['AUTO_RESUME_ERROR_RATE'], message: 'must be below AUTO_PAUSE_ERROR_RATE' })
  .transform((c) => ({ ...c, CONSUMER_ID: c.CONSUMER_ID ?? `consumer-${c.PORT}` }));

export type Config = z.infer<typeof schema>;

export function readConfig(source: NodeJS.ProcessEnv = process.env): Config {
  return loadConfig(schema, source);
}

/** The auto-pause controller's thresholds from the configuration. */
export function thresholdsOf(config: Config): Thresholds {
  return {
    pauseP50Ms: config.AUTO_PAUSE_P50_MS,
    resumeP50Ms: config.AUTO_RESUME_P50_MS,
    pauseErrorRate: config.AUTO_PAUSE_ERROR_RATE,
    resumeErrorRate: config.AUTO_RESUME_ERROR_RATE,
    windowMs: config.DOWNSTREAM_WINDOW_MS,
    minSamples: config.DOWNSTREAM_MIN_SAMPLES,
    holdMs: config.AUTO_RESUME_HOLD_MS,
  };
}
