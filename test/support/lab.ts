import { expect, inject, vi } from 'vitest';
import { createTopics, readRecords, readTopic, type StoredRecord } from './kafka.js';
import { getJson, startService, type RunningService } from './services.js';

export interface Lab {
  brokers: string;
  topic: string;
  sink: string;
  /** The dead letter topic the consumers write poison orders to (DLQ_TOPIC). */
  dlq: string;
  group: string;
  producer: RunningService;
  monitor: RunningService;
  consumers: RunningService[];
  addConsumer(env?: Record<string, string>, index?: number): Promise<RunningService>;
  lag(): Promise<any>;
  /** Waits until the monitor has seen every order the producer got acknowledged, and lag is 0. */
  drained(timeout?: number): Promise<void>;
  stopAll(): Promise<void>;
  /** Order ids in the orders topic (everything Kafka acknowledged) and in the sink. */
  producedIds(): Promise<string[]>;
  processed(): Promise<{ order_id: string; consumer: string; partition: number; offset: string; processed_at: string; trace_id?: string }[]>;
  /** The records in the dead letter topic, value and headers as text. */
  deadLetters(): Promise<StoredRecord[]>;
}

/**
 * A producer, a lag monitor and N consumers as real processes on the test broker, with a topic
 * pair of their own. Consumers use the minimum session timeout the broker allows, so a killed
 * consumer's partitions move on within seconds.
 */
export async function startLab(prefix: string, opts: { consumers?: number; consumerEnv?: Record<string, string>; producerEnv?: Record<string, string>; brokers?: string } = {}): Promise<Lab> {
  const brokers = opts.brokers ?? inject('kafkaBrokers');
  const { topic, sink, dlq, group } = await createTopics(brokers, prefix);
  const common = { KAFKA_BROKERS: brokers, TOPIC: topic, GROUP_ID: group };
  const producer = await startService('producer', { ...common, ...opts.producerEnv }, `${prefix}-producer`);
  // As local-up and the chart: the monitor watches this lab's producer's throttle.
  const monitor = await startService('lag-monitor', { ...common, POLL_INTERVAL_MS: '250', RATE_WINDOW_MS: '2000', PRODUCER_URL: producer.url }, `${prefix}-lag-monitor`);
  const consumers: RunningService[] = [];
  const addConsumer = async (env: Record<string, string> = {}, index = consumers.length + 1) => {
    const consumer = await startService(
      'consumer',
      { ...common, SINK_TOPIC: sink, DLQ_TOPIC: dlq, CONSUMER_ID: `consumer-${index}`, SESSION_TIMEOUT_MS: '6000', HEARTBEAT_INTERVAL_MS: '1000', ...opts.consumerEnv, ...env },
      `${prefix}-consumer-${index}`,
    );
    consumers.push(consumer);
    return consumer;
  };
  for (let i = 0; i < (opts.consumers ?? 1); i++) await addConsumer();
  // Healthy means connected: the consumers have joined the group and the monitor has polled.
  for (const service of [producer, monitor, ...consumers]) {
    await vi.waitFor(async () => expect((await fetch(`${service.url}/health`)).status).toBe(200), { timeout: 30_000, interval: 100 });
  }
  return {
    brokers,
    topic,
    sink,
    dlq,
    group,
    producer,
    monitor,
    consumers,
    addConsumer,
    lag: () => getJson(`${monitor.url}/lag`),
    drained: async (timeout = 30_000) => {
      const { produced } = await getJson(`${producer.url}/stats`);
      await vi.waitFor(
        async () => {
          const lag = await getJson(`${monitor.url}/lag`);
          expect(lag.partitions.reduce((sum: number, p: { end_offset: number }) => sum + p.end_offset, 0)).toBeGreaterThanOrEqual(produced);
          expect(lag.total_lag).toBe(0);
        },
        { timeout, interval: 250 },
      );
    },
    stopAll: async () => {
      await Promise.all([producer, monitor, ...consumers].map((s) => s.stop('SIGTERM')));
    },
    producedIds: async () => (await readTopic<{ id: string }>(brokers, topic)).map((o) => o.id),
    processed: () => readTopic(brokers, sink),
    deadLetters: () => readRecords(brokers, dlq),
  };
}

/** Messages per second from processing timestamps: (n - 1) intervals over first..last. */
export function rateOf(timestamps: string[]): number {
  const times = timestamps.map((t) => Date.parse(t)).sort((a, b) => a - b);
  return (times.length - 1) / ((times.at(-1)! - times[0]!) / 1000);
}
