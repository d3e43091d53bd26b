import { BrokerProbe, close, createApp, createKafka, createLogger, createRegistry, listen, onShutdown, run, startTelemetry } from '@bplab/kit';
import { Partitioners } from 'kafkajs';
import { readConfig } from './config.js';
import { GroupConsumer } from './group-consumer.js';
import { consumerMetrics } from './metrics.js';
import { Processor } from './processor.js';
import { consumerRoutes } from './routes.js';
import { KafkaSink } from './sink.js';

run(async () => {
  const config = readConfig();
  const service = config.SERVICE_NAME ?? 'consumer';
  const consumerId = config.CONSUMER_ID;
  const logger = createLogger(service, config.LOG_LEVEL).child({ consumer: consumerId });
  const telemetry = startTelemetry(service, config.OTEL_EXPORTER_OTLP_ENDPOINT);
  const registry = createRegistry(service);
  const metrics = consumerMetrics(registry, consumerId, config.TOPIC);

  const kafka = createKafka(consumerId, config.KAFKA_BROKERS, logger);
  const probe = new BrokerProbe(kafka);
  await probe.start();
  const sinkProducer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
  const consumer = kafka.consumer({
    groupId: config.GROUP_ID,
    sessionTimeout: config.SESSION_TIMEOUT_MS,
    heartbeatInterval: config.HEARTBEAT_INTERVAL_MS,
    // Fetch little at a time: one message is processed at a time, and a small fetch keeps a
    // rebalance from waiting on a large batch.
    maxBytesPerPartition: 64 * 1024,
    maxWaitTimeInMs: 1000,
  });
  const processor = new Processor(
    { processingTimeMs: config.PROCESSING_TIME_MS },
    consumerId,
    new KafkaSink(sinkProducer, config.SINK_TOPIC),
    (topic, partition, offset) => consumer.commitOffsets([{ topic, partition, offset }]),
    telemetry.tracer,
    metrics,
    logger,
  );
  const group = new GroupConsumer(consumer, config.TOPIC, consumerId, metrics, logger, {
    handle: processor.handle,
    prepare: () => sinkProducer.connect(),
    drain: () => processor.drain(),
  });

  const app = createApp({
    logger,
    registry,
    health: () => ({ healthy: probe.current.up && group.state.running, paused: group.state.paused, consumer_id: consumerId, kafka: probe.current, group: group.state }),
    routes: consumerRoutes({ consumerId, groupId: config.GROUP_ID, topic: config.TOPIC, sinkTopic: config.SINK_TOPIC, group, processor, metrics }),
  });
  const server = await listen(app, config.PORT, logger);
  const started = group.start();

  onShutdown(logger, async () => {
    await group.stop();
    await started;
    await sinkProducer.disconnect();
    await close(server);
    await probe.stop();
    await telemetry.shutdown();
    logger.info({ processed: processor.processed }, 'left the group cleanly');
  });
});
