import { RateWindow } from '@bplab/kit';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export function consumerMetrics(registry: Registry, consumer: string, topic: string) {
  const labels = ['consumer'] as const;
  const m = {
    consumed: new Counter({ name: 'kafka_messages_consumed_total', help: 'Orders processed and stored in the sink (acknowledged; their commit follows in the background)', labelNames: [...labels, 'topic'], registers: [registry] }),
    errors: new Counter({ name: 'kafka_consume_errors_total', help: 'Messages whose processing, sink write or commit failed (they are retried)', labelNames: labels, registers: [registry] }),
    paused: new Gauge({ name: 'kafka_consumer_paused', help: '1 while consumption is paused (by hand or by the downstream)', labelNames: labels, registers: [registry] }),
    processing: new Histogram({
      name: 'kafka_message_processing_seconds',
      help: "Time to process one order, up to its sink write's acknowledgement (in batch mode, its batch's time)",
      labelNames: labels,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10],
      registers: [registry],
    }),
    processingTime: new Gauge({ name: 'kafka_consumer_processing_time_ms', help: 'Configured simulated processing time per batch (per message at batch size 1)', labelNames: labels, registers: [registry] }),
    assigned: new Gauge({ name: 'kafka_consumer_assigned_partitions', help: 'Partitions assigned to this consumer', labelNames: labels, registers: [registry] }),
    rebalances: new Counter({ name: 'kafka_consumer_rebalances_total', help: 'Group joins (each rebalance ends in one)', labelNames: labels, registers: [registry] }),
    batchSize: new Gauge({ name: 'kafka_consumer_batch_size', help: 'Configured messages per batch (1: one at a time)', labelNames: labels, registers: [registry] }),
    batches: new Counter({ name: 'kafka_consumer_batches_total', help: 'Batches processed and stored in the sink (one downstream write each)', labelNames: labels, registers: [registry] }),
    autoPaused: new Gauge({ name: 'kafka_consumer_auto_paused', help: '1 while the downstream controller holds consumption paused', labelNames: labels, registers: [registry] }),
    autoPauses: new Counter({ name: 'kafka_consumer_auto_pauses_total', help: 'Automatic pauses: the downstream reached a high-water mark', labelNames: labels, registers: [registry] }),
    autoResumes: new Counter({ name: 'kafka_consumer_auto_resumes_total', help: 'Automatic resumes: the downstream stayed below the low-water marks for the hold time', labelNames: labels, registers: [registry] }),
    downstreamCalls: new Histogram({
      name: 'kafka_consumer_downstream_call_seconds',
      help: 'Latency of each call to the downstream (kind: write or probe; result: ok or error)',
      labelNames: [...labels, 'kind', 'result'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60],
      registers: [registry],
    }),
    downstreamLatency: new Gauge({ name: 'kafka_consumer_downstream_latency_ms', help: "The simulated downstream's configured added latency per call", labelNames: labels, registers: [registry] }),
    downstreamErrorRate: new Gauge({ name: 'kafka_consumer_downstream_error_rate', help: "The simulated downstream's configured share of refused calls (0..1)", labelNames: labels, registers: [registry] }),
    retries: new Counter({ name: 'kafka_consumer_retries_total', help: 'Retries of records whose processing failed (poison records), one per record per retry', labelNames: labels, registers: [registry] }),
    deadLetters: new Counter({ name: 'kafka_consumer_dead_letters_total', help: 'Records written to the dead letter topic once their retries were used up', labelNames: labels, registers: [registry] }),
    rate: new RateWindow(),
  };
  // Every series exists from start-up, so a dashboard shows 0 rather than "No data" before the
  // first message. The routes set the gauges of configured values (processing time, batch size,
  // the downstream's settings) from the configuration.
  for (const gauge of [m.paused, m.assigned, m.autoPaused]) gauge.set({ consumer }, 0);
  m.consumed.inc({ consumer, topic }, 0);
  for (const counter of [m.rebalances, m.errors, m.batches, m.autoPauses, m.autoResumes, m.retries, m.deadLetters]) counter.inc({ consumer }, 0);
  m.processing.zero({ consumer });
  for (const kind of ['write', 'probe']) for (const result of ['ok', 'error']) m.downstreamCalls.zero({ consumer, kind, result });
  return m;
}
export type ConsumerMetrics = ReturnType<typeof consumerMetrics>;
