import { parse, round } from '@bplab/kit';
import type { Express } from 'express';
import { z } from 'zod';
import { MAX_PROCESSING_MS } from './config.js';
import type { GroupConsumer } from './group-consumer.js';
import type { ConsumerMetrics } from './metrics.js';
import type { Processor } from './processor.js';

const processingTime = z.coerce.number().int().min(0).max(MAX_PROCESSING_MS);
const slowQuery = z.object({ time_ms: processingTime.default(2000) });
const fastQuery = z.object({ time_ms: processingTime.default(50) });
const configBody = z.strictObject({
  processing_time_ms: z.number().int().min(0).max(MAX_PROCESSING_MS).optional(),
  paused: z.boolean().optional(),
});

export interface ConsumerDeps {
  consumerId: string;
  groupId: string;
  topic: string;
  sinkTopic: string;
  group: GroupConsumer;
  processor: Processor;
  metrics: ConsumerMetrics;
}

export function consumerRoutes(deps: ConsumerDeps) {
  const { consumerId, group, processor, metrics } = deps;

  const setProcessingTime = (ms: number) => {
    processor.settings.processingTimeMs = ms;
    metrics.processingTime.set({ consumer: consumerId }, ms);
  };
  setProcessingTime(processor.settings.processingTimeMs);

  const currentConfig = () => ({
    consumer_id: consumerId,
    group_id: deps.groupId,
    topic: deps.topic,
    sink_topic: deps.sinkTopic,
    processing_time_ms: processor.settings.processingTimeMs,
    paused: group.state.paused,
    // The seed's math: one message at a time, so 1000 ms / processing time per second.
    max_throughput_per_sec: processor.settings.processingTimeMs === 0 ? null : round(1000 / processor.settings.processingTimeMs),
  });

  return (app: Express) => {
    app.post('/pause', (_req, res) => {
      group.setPaused(true);
      res.json(currentConfig());
    });
    app.post('/resume', (_req, res) => {
      group.setPaused(false);
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
      if (change.paused !== undefined) group.setPaused(change.paused);
      res.json(currentConfig());
    });
    app.get('/config', (_req, res) => {
      res.json(currentConfig());
    });
    app.get('/stats', (_req, res) => {
      res.json({
        consumer_id: consumerId,
        processed: processor.processed,
        rate_10s: metrics.rate.rate(10),
        rate_60s: metrics.rate.rate(60),
        last_processed_at: processor.lastProcessedAt ?? null,
        processing_time_ms: processor.settings.processingTimeMs,
        ...group.state,
      });
    });
  };
}
