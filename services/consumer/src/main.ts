import { BrokerProbe, close, type ConsumerState, createApp, createKafka, createLogger, createRegistry, KeyPartitioner, listen, onShutdown, run, startTelemetry } from '@bplab/kit';
import { AutoPause } from './auto-pause.js';
import { readConfig, thresholdsOf } from './config.js';
import { Commits } from './commits.js';
import { CallKind, SimulatedDownstream } from './downstream.js';
import { GroupConsumer } from './group-consumer.js';
import { consumerMetrics } from './metrics.js';
import { Processor } from './processor.js';
import { consumerRoutes } from './routes.js';
import { TopicWriter } from './sink.js';

run(async () => {
  const config = readConfig();
  const service = config.SERVICE_NAME ?? 'consumer';
  const consumerId = config.CONSUMER_ID;
  const logger = createLogger(service, config.LOG_LEVEL).child({ consumer: consumerId });
  const telemetry = await startTelemetry(service, config.OTEL_EXPORTER_OTLP_ENDPOINT);
  const registry = createRegistry(service);
  const metrics = consumerMetrics(registry, consumerId, config.TOPIC);

  const kafka = createKafka(consumerId, config.KAFKA_BROKERS, logger);
  const probe = new BrokerProbe(kafka);
  // Checked while the consumer connects and joins below, not before them: a scale-up waits on the
  // join, and /health says "not checked yet" meanwhile.
  const probing = probe.start();
  const sinkProducer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: KeyPartitioner });
  const consumer = kafka.consumer({
    groupId: config.GROUP_ID,
    sessionTimeout: config.SESSION_TIMEOUT_MS,
    heartbeatInterval: config.HEARTBEAT_INTERVAL_MS,
    // Fetch little at a time: a small fetch keeps a rebalance from waiting on a large run of
    // messages. 64 KB holds a few hundred orders per partition, enough for most batch sizes.
    maxBytesPerPartition: 64 * 1024,
    maxWaitTimeInMs: 1000,
  });
  // Every write and probe of the downstream feeds the auto-pause controller and the metrics.
  const downstream = new SimulatedDownstream(
    { latencyMs: config.DOWNSTREAM_LATENCY_MS, errorRate: config.DOWNSTREAM_ERROR_RATE },
    new TopicWriter(sinkProducer, config.SINK_TOPIC),
    (observation, kind: CallKind) => {
      metrics.downstreamCalls.observe({ consumer: consumerId, kind, result: observation.ok ? 'ok' : 'error' }, observation.latencyMs / 1000);
      autoPause.observe(observation);
    },
  );
  const processor = new Processor(
    { processingTimeMs: config.PROCESSING_TIME_MS, batchSize: config.BATCH_SIZE, maxRetries: config.DLQ_MAX_RETRIES, retryBackoffMs: config.DLQ_RETRY_BACKOFF_MS },
    consumerId,
    downstream,
    (offsets): Promise<void> => commits.commit(offsets),
    (): boolean => group.state.paused,
    config.HEARTBEAT_INTERVAL_MS,
    telemetry.tracer,
    metrics,
    logger,
    new TopicWriter(sinkProducer, config.DLQ_TOPIC),
  );
  // Every commit says whether this consumer is paused, and how large its batches are.
  const commits = new Commits(
    consumer,
    kafka.admin(),
    config.GROUP_ID,
    config.TOPIC,
    (): ConsumerState => ({ consumer: consumerId, member: group.state.member_id ?? '', paused_by: group.state.paused_by, batch_size: processor.settings.batchSize }),
    logger,
  );
  const group = new GroupConsumer(consumer, config.TOPIC, consumerId, metrics, logger, {
    handle: processor.handle,
    prepare: () => sinkProducer.connect(),
    drain: () => processor.drain(),
    publishState: (partitions): Promise<void> => commits.publish(partitions),
  });
  const autoPause = new AutoPause(
    { enabled: config.AUTO_PAUSE, probeIntervalMs: config.DOWNSTREAM_PROBE_MS },
    thresholdsOf(config),
    group,
    downstream,
    consumerId,
    metrics,
    logger,
  );

  const app = createApp({
    logger,
    registry,
    health: () => ({
      healthy: probe.current.up && group.state.running,
      paused: group.state.paused,
      paused_by: group.state.paused_by,
      consumer_id: consumerId,
      kafka: probe.current,
      group: group.state,
    }),
    routes: consumerRoutes({ consumerId, groupId: config.GROUP_ID, topic: config.TOPIC, sinkTopic: config.SINK_TOPIC, group, processor, downstream, autoPause, metrics }),
  });
  // The join first, the HTTP API while it runs.
  const started = group.start();
  const server = await listen(app, config.PORT, logger);
  autoPause.start();

  onShutdown(logger, async () => {
    autoPause.stop();
    await group.stop();
    await started;
    await commits.close();
    await sinkProducer.disconnect();
    await close(server);
    await probing;
    await probe.stop();
    await telemetry.shutdown();
    logger.info({ processed: processor.processed }, 'left the group cleanly');
  });
});
