import { RateWindow } from '@bplab/kit';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export function producerMetrics(registry: Registry) {
  return {
    produced: new Counter({ name: 'kafka_messages_produced_total', help: 'Orders acknowledged by Kafka', labelNames: ['topic'], registers: [registry] }),
    errors: new Counter({ name: 'kafka_produce_errors_total', help: 'Failed produce calls by error type', labelNames: ['topic', 'reason'], registers: [registry] }),
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
}
export type ProducerMetrics = ReturnType<typeof producerMetrics>;
