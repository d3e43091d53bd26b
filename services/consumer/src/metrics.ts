import { RateWindow } from '@bplab/kit';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export function consumerMetrics(registry: Registry, consumer: string, topic: string) {
  const labels = ['consumer'] as const;
  const m = {
    consumed: new Counter({ name: 'kafka_messages_consumed_total', help: 'Orders processed and committed', labelNames: [...labels, 'topic'], registers: [registry] }),
    errors: new Counter({ name: 'kafka_consume_errors_total', help: 'Messages whose processing, sink write or commit failed (they are retried)', labelNames: labels, registers: [registry] }),
    paused: new Gauge({ name: 'kafka_consumer_paused', help: '1 while consumption is paused', labelNames: labels, registers: [registry] }),
    processing: new Histogram({
      name: 'kafka_message_processing_seconds',
      help: 'Time to process one order, sink write and commit included',
      labelNames: labels,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10],
      registers: [registry],
    }),
    processingTime: new Gauge({ name: 'kafka_consumer_processing_time_ms', help: 'Configured simulated processing time per message', labelNames: labels, registers: [registry] }),
    assigned: new Gauge({ name: 'kafka_consumer_assigned_partitions', help: 'Partitions assigned to this consumer', labelNames: labels, registers: [registry] }),
    rebalances: new Counter({ name: 'kafka_consumer_rebalances_total', help: 'Group joins (each rebalance ends in one)', labelNames: labels, registers: [registry] }),
    rate: new RateWindow(),
  };
  // Every series exists from start-up, so a dashboard shows 0 rather than "No data" before the
  // first message. The routes set kafka_consumer_processing_time_ms from the configured value.
  for (const gauge of [m.paused, m.assigned]) gauge.set({ consumer }, 0);
  m.consumed.inc({ consumer, topic }, 0);
  m.rebalances.inc({ consumer }, 0);
  m.errors.inc({ consumer }, 0);
  m.processing.zero({ consumer });
  return m;
}
export type ConsumerMetrics = ReturnType<typeof consumerMetrics>;
