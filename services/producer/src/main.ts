import { hostname } from 'node:os';
import { BrokerProbe, close, createApp, HttpError, createKafka, createLogger, createRegistry, KeyPartitioner, listen, onShutdown, retryUntilDone, run, startTelemetry } from '@bplab/kit';
import { AutoProducer } from './auto-producer.js';
import { readConfig } from './config.js';
import { producerMetrics } from './metrics.js';
import { RateLimiter } from './rate-limiter.js';
import { producerRoutes } from './routes.js';
import { OrderSender, PRODUCERS } from './sender.js';
import { ThrottleLoop } from './throttle-loop.js';

run(async () => {
  const config = readConfig();
  const service = config.SERVICE_NAME ?? 'producer';
  const producerId = `${service}-${hostname()}`;
  const logger = createLogger(service, config.LOG_LEVEL);
  const telemetry = await startTelemetry(service, config.OTEL_EXPORTER_OTLP_ENDPOINT);
  const registry = createRegistry(service);
  const metrics = producerMetrics(registry, config.TOPIC);

  const kafka = createKafka(producerId, config.KAFKA_BROKERS, logger);
  const producers = Array.from({ length: PRODUCERS }, () => kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: KeyPartitioner }));
  const probe = new BrokerProbe(kafka);
  await probe.start();
  // One limiter for everything the producer sends; the throttle loop sets its limit.
  const limiter = new RateLimiter((orders) => metrics.throttleWaiting.set(orders));
  const throttle = new ThrottleLoop(
    {
      enabled: config.THROTTLE,
      lagMonitorUrl: config.LAG_MONITOR_URL,
      topic: config.TOPIC,
      pollMs: config.THROTTLE_POLL_MS,
      fraction: config.THROTTLE_FRACTION,
      blindMs: config.THROTTLE_BLIND_MS,
    },
    limiter,
    metrics,
    logger,
  );
  const sender = new OrderSender(producerId, producers, config.TOPIC, telemetry.tracer, metrics, probe, limiter);
  // The HTTP API comes up at once and answers writes with 503 until the producer is connected.
  let stopping = false;
  const connected = retryUntilDone(
    'connect to Kafka',
    async () => {
      await Promise.all(producers.map((producer) => producer.connect()));
      sender.connected = true;
    },
    logger,
    () => stopping,
  );

  const auto = new AutoProducer(
    { rate_ms: config.RATE_MS, batch_size: config.BATCH_SIZE, running: config.AUTO_START },
    sender,
    metrics,
    logger,
  );
  const app = createApp({
    logger,
    registry,
    health: () => ({ healthy: probe.current.up && sender.connected, connected: sender.connected, kafka: probe.current, auto_producer_running: auto.current.running }),
    routes: producerRoutes({ topic: config.TOPIC, sender, auto, metrics, throttle }),
  });
  const server = await listen(app, config.PORT, logger);

  onShutdown(logger, async () => {
    stopping = true;
    // Orders still waiting for the throttle (a hold can last) are refused with a 503, never
    // sent after the producer has gone; then the auto-producer's batch in flight can finish.
    await throttle.stop();
    limiter.close(new HttpError(503, 'the producer is shutting down', { retryable: true }));
    await auto.stop();
    await close(server);
    await connected;
    await Promise.all(producers.map((producer) => producer.disconnect()));
    await probe.stop();
    await telemetry.shutdown();
  });
});
