import { RateWindow } from '@bplab/kit';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { PRODUCE_ERROR_REASONS } from './sender.js';

export function producerMetrics(registry: Registry, topic: string) {
  const m = {
    produced: new Counter({ name: 'kafka_messages_produced_total', help: 'Orders acknowledged by Kafka', labelNames: ['topic'], registers: [registry] }),
    errors: new Counter({ name: 'kafka_produce_errors_total', help: 'Failed produce calls by reason', labelNames: ['topic', 'reason'], registers: [registry] }),
    latency: new Histogram({
      name: 'kafka_produce_latency_seconds',
      help: 'Time from send to acknowledgement (acks=all), per produce call',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    running: new Gauge({ name: 'kafka_auto_producer_running', help: '1 while the auto-producer runs', registers: [registry] }),
    rateMs: new Gauge({ name: 'kafka_auto_producer_rate_ms', help: 'Auto-producer interval between batches', registers: [registry] }),
    batchSize: new Gauge({ name: 'kafka_auto_producer_batch_size', help: 'Orders per auto-producer batch', registers: [registry] }),
    rate: new RateWindow(),
  };
  // Every series exists from start-up, so a dashboard shows 0 rather than "No data" before the first order.
  m.produced.inc({ topic }, 0);
  for (const reason of PRODUCE_ERROR_REASONS) m.errors.inc({ topic, reason }, 0);
  return m;
}
export type ProducerMetrics = ReturnType<typeof producerMetrics>;
