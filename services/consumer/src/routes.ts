import { maxThroughputPerSec, parse, PausedBy, round } from '@bplab/kit';
import type { Express } from 'express';
import { z } from 'zod';
import type { AutoPause } from './auto-pause.js';
import { MAX_BATCH_SIZE, modeOf } from './batch.js';
import { MAX_PROCESSING_MS } from './config.js';
import { MAX_DOWNSTREAM_LATENCY_MS, type SimulatedDownstream } from './downstream.js';
import type { GroupConsumer } from './group-consumer.js';
import type { ConsumerMetrics } from './metrics.js';
import type { Processor } from './processor.js';

const processingTime = z.coerce.number().int().min(0).max(MAX_PROCESSING_MS);
const slowQuery = z.object({ time_ms: processingTime.default(2000) });
const fastQuery = z.object({ time_ms: processingTime.default(50) });
const configBody = z.strictObject({
  processing_time_ms: z.number().int().min(0).max(MAX_PROCESSING_MS).optional(),
  paused: z.boolean().optional(),
  batch_size: z.number().int().min(1).max(MAX_BATCH_SIZE).optional(),
  auto_pause: z.boolean().optional(),
});
const downstreamBody = z.strictObject({
  latency_ms: z.number().int().min(0).max(MAX_DOWNSTREAM_LATENCY_MS).optional(),
  error_rate: z.number().min(0).max(1).optional(),
});

export interface ConsumerDeps {
  consumerId: string;
  groupId: string;
  topic: string;
  sinkTopic: string;
  group: GroupConsumer;
  processor: Processor;
  downstream: SimulatedDownstream;
  autoPause: AutoPause;
  metrics: ConsumerMetrics;
}

export function consumerRoutes(deps: ConsumerDeps) {
  const { consumerId, group, processor, downstream, autoPause, metrics } = deps;
  const labels = { consumer: consumerId };

  const setProcessingTime = (ms: number) => {
    processor.settings.processingTimeMs = ms;
    metrics.processingTime.set(labels, ms);
  };
  const setBatchSize = (size: number) => {
    processor.settings.batchSize = size;
    metrics.batchSize.set(labels, size);
  };
  const setDownstream = (change: { latency_ms?: number | undefined; error_rate?: number | undefined }) => {
    if (change.latency_ms !== undefined) downstream.settings.latencyMs = change.latency_ms;
    if (change.error_rate !== undefined) downstream.settings.errorRate = change.error_rate;
    metrics.downstreamLatency.set(labels, downstream.settings.latencyMs);
    metrics.downstreamErrorRate.set(labels, downstream.settings.errorRate);
  };
  /** A manual pause holds until a manual resume; a manual resume also lifts the downstream's pause. */
  const setPaused = (paused: boolean) => {
    if (!paused) autoPause.release('manual resume');
    group.setPaused(PausedBy.manual, paused);
  };
  // The gauges of configured values start at the configuration.
  setProcessingTime(processor.settings.processingTimeMs);
  setBatchSize(processor.settings.batchSize);
  setDownstream({});

  const currentConfig = () => {
    const throughput = maxThroughputPerSec({
      batchSize: processor.settings.batchSize,
      processingTimeMs: processor.settings.processingTimeMs,
      downstreamLatencyMs: downstream.settings.latencyMs,
    });
    return {
      consumer_id: consumerId,
      group_id: deps.groupId,
      topic: deps.topic,
      sink_topic: deps.sinkTopic,
      processing_time_ms: processor.settings.processingTimeMs,
      mode: modeOf(processor.settings.batchSize),
      batch_size: processor.settings.batchSize,
      paused: group.state.paused,
      paused_by: group.state.paused_by,
      auto_pause: autoPause.settings.enabled,
      dlq_topic: processor.deadLetterSink.topic,
      dlq_max_retries: processor.settings.maxRetries,
      dlq_retry_backoff_ms: processor.settings.retryBackoffMs,
      // batch_size x 1000 / (processing time + downstream latency): the seed's 1000 / processing
      // time at batch size 1 with a healthy downstream.
      max_throughput_per_sec: throughput === null ? null : round(throughput),
    };
  };

  const downstreamView = () => {
    const stats = autoPause.stats();
    return {
      latency_ms: downstream.settings.latencyMs,
      error_rate: downstream.settings.errorRate,
      writes: downstream.writes,
      probes: downstream.probes,
      health: {
        level: stats.level,
        samples: stats.samples,
        p50_latency_ms: stats.p50LatencyMs,
        error_rate: stats.errorRate === null ? null : round(stats.errorRate),
      },
      auto_pause: {
        enabled: autoPause.settings.enabled,
        state: autoPause.state,
        pauses: autoPause.pauses,
        resumes: autoPause.resumes,
        last_transition_at: autoPause.lastTransitionAt,
        last_reason: autoPause.lastReason,
        thresholds: {
          pause_p50_ms: autoPause.thresholds.pauseP50Ms,
          resume_p50_ms: autoPause.thresholds.resumeP50Ms,
          pause_error_rate: autoPause.thresholds.pauseErrorRate,
          resume_error_rate: autoPause.thresholds.resumeErrorRate,
          hold_ms: autoPause.thresholds.holdMs,
          window_ms: autoPause.thresholds.windowMs,
          min_samples: autoPause.thresholds.minSamples,
          probe_interval_ms: autoPause.settings.probeIntervalMs,
        },
      },
    };
  };

  return (app: Express) => {
    app.post('/pause', (_req, res) => {
      setPaused(true);
      res.json(currentConfig());
    });
    app.post('/resume', (_req, res) => {
      setPaused(false);
      res.json(currentConfig());
    });
    app.post('/slow', (req, res) => {
      setProcessingTime(parse(slowQuery, req.query, 'query').time_ms);
      res.json(currentConfig());
    });
    app.post('/fast', (req, res) => {
      setProcessingTime(parse(fastQuery, req.query, 'query').time_ms);
      res.json(currentConfig());
    });
    app.post('/config', (req, res) => {
      const change = parse(configBody, req.body, 'body');
      if (change.processing_time_ms !== undefined) setProcessingTime(change.processing_time_ms);
      if (change.batch_size !== undefined) setBatchSize(change.batch_size);
      if (change.auto_pause !== undefined) autoPause.setEnabled(change.auto_pause);
      if (change.paused !== undefined) setPaused(change.paused);
      res.json(currentConfig());
    });
    app.get('/config', (_req, res) => {
      res.json(currentConfig());
    });
    app.post('/downstream', (req, res) => {
      setDownstream(parse(downstreamBody, req.body, 'body'));
      res.json(downstreamView());
    });
    app.get('/downstream', (_req, res) => {
      res.json(downstreamView());
    });
    app.get('/dead-letters', (_req, res) => {
      const deadLetters = processor.deadLetterLog.recent();
      res.json({ count: deadLetters.length, dead_letters: deadLetters });
    });
    app.get('/stats', (_req, res) => {
      res.json({
        consumer_id: consumerId,
        processed: processor.processed,
        batches: processor.batches,
        retries: processor.retries,
        dead_lettered: processor.deadLettered,
        rate_10s: metrics.rate.rate(10),
        rate_60s: metrics.rate.rate(60),
        last_processed_at: processor.lastProcessedAt ?? null,
        processing_time_ms: processor.settings.processingTimeMs,
        mode: modeOf(processor.settings.batchSize),
        batch_size: processor.settings.batchSize,
        ...group.state,
        auto_pauses: autoPause.pauses,
        auto_resumes: autoPause.resumes,
        downstream: downstreamView(),
      });
    });
  };
}
