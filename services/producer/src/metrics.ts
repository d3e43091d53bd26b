import { RateWindow } from '@bplab/kit';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { PRODUCE_ERROR_REASONS } from './sender.js';
import { POLL_RESULTS, THROTTLE_MODES } from './throttle.js';

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
    throttleMode: new Gauge({
      name: 'kafka_producer_throttle_mode',
      help: 'Throttle mode: 1 for the current one of off, open, throttled, holding; 0 for the others',
      labelNames: ['mode'],
      registers: [registry],
    }),
    throttleLimit: new Gauge({
      name: 'kafka_producer_throttle_limit',
      help: 'Orders per second the throttle lets through: +Inf without a limit (off, open), 0 while holding',
      registers: [registry],
    }),
    throttleWaiting: new Gauge({ name: 'kafka_producer_throttle_waiting_orders', help: 'Orders waiting for the throttle', registers: [registry] }),
    throttlePolls: new Counter({ name: 'kafka_producer_throttle_polls_total', help: "Reads of the lag monitor's GET /lag by result", labelNames: ['result'], registers: [registry] }),
    rate: new RateWindow(),
  };
  // Every series exists from start-up, so a dashboard shows 0 rather than "No data" before the first order.
  m.produced.inc({ topic }, 0);
  for (const reason of PRODUCE_ERROR_REASONS) m.errors.inc({ topic, reason }, 0);
  // The throttle loop sets the mode and the limit as it starts; until then, off and no limit.
  for (const mode of THROTTLE_MODES) m.throttleMode.set({ mode }, mode === 'off' ? 1 : 0);
  m.throttleLimit.set(Infinity);
  m.throttleWaiting.set(0);
  for (const result of POLL_RESULTS) m.throttlePolls.inc({ result }, 0);
  return m;
}
export type ProducerMetrics = ReturnType<typeof producerMetrics>;
